"""Benchmark and model shipping as jobs: ``python -m engine.cli bench|models ship ...`` child processes.

Like training (:mod:`app.panels.training_job`), these run outside the app's process: they load their
own models, take minutes, and an out-of-memory error or a crash must end the job, not the viewer.
:func:`cli_coroutine` is the one shape for them: stderr lines are the job's log and status (and its
progress where a line says ``[i/n] name``, as ``everscape bench`` prints before each benchmark),
stdout is the result, a non-zero exit is a failed job whose error is the CLI's last stderr line
(its one-line ``everscape: error: ...``). Cancel interrupts the child (SIGINT: the CLI stops and
exits 130, every write being atomic) and kills it if it has not ended after a grace period.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QProcess, QTimer

from app.jobs import Job, current_loop
from engine.errors import EverscapeError
from engine.train.progress import LineBuffer

STEP_LINE = re.compile(r"^\[(\d+)/(\d+)\]\s*(.*)$")
GRACE_MS = 5000


@dataclass(frozen=True)
class CliResult:
    """What a finished command left: its stdout, and the file it was asked to write (if any)."""

    stdout: str
    output: Path | None = None


def progress_of(line: str) -> tuple[float | None, str]:
    """A stderr line as (fraction done or None, status): ``[2/5] render`` is 2 of 5 done."""
    match = STEP_LINE.match(line.strip())
    if match is None:
        return None, line.strip()
    done, count = int(match.group(1)), int(match.group(2))
    return (done / count if count else None), match.group(3) or line.strip()


def _interrupt(process: QProcess) -> None:
    pid = process.processId()
    if os.name == "posix" and pid > 0:
        os.kill(pid, signal.SIGINT)
    else:  # no SIGINT for a child on Windows
        process.terminate()


def cli_coroutine(
    arguments: Sequence[str], output: Path | None = None, python: str | None = None, grace_ms: int = GRACE_MS
) -> Callable[[Job], Any]:
    """``run(job)`` for :class:`~app.jobs.JobManager`: ``engine.cli ARGUMENTS`` in a child process,
    awaited on the qasync loop; returns a :class:`CliResult` (a retry runs the command again)."""

    async def run(job: Job) -> CliResult:
        process = QProcess()
        process.setProgram(python or sys.executable)
        process.setArguments(["-m", "engine.cli", *arguments])
        ended: asyncio.Future = current_loop().create_future()
        stdout, stderr, out_lines = LineBuffer(), LineBuffer(), []
        last_error = [""]

        def take_stderr(lines: list[str]) -> None:
            for line in lines:
                if line.strip():
                    job.add_log(line)
                    last_error[0] = line.strip()
                    fraction, status = progress_of(line)
                    job.progress(fraction if fraction is not None else job.fraction, status)

        def read() -> None:
            out_lines.extend(stdout.feed(bytes(process.readAllStandardOutput().data())))
            take_stderr(stderr.feed(bytes(process.readAllStandardError().data())))

        def finished(code: int, status: QProcess.ExitStatus) -> None:
            read()
            out_lines.extend(stdout.flush())
            take_stderr(stderr.flush())
            if not ended.done():
                ended.set_result(None if status == QProcess.ExitStatus.CrashExit else code)

        def failed_to_start(error: QProcess.ProcessError) -> None:
            if error == QProcess.ProcessError.FailedToStart and not ended.done():
                ended.set_exception(EverscapeError(f"could not start {process.program()}: {process.errorString()}"))

        process.readyReadStandardOutput.connect(read)
        process.readyReadStandardError.connect(read)
        process.finished.connect(finished)
        process.errorOccurred.connect(failed_to_start)
        job.add_log("everscape " + " ".join(arguments))
        started = time.monotonic()
        process.start()
        try:
            code = await asyncio.shield(ended)
        except asyncio.CancelledError:
            if process.state() != QProcess.ProcessState.NotRunning:
                _interrupt(process)
                QTimer.singleShot(grace_ms, process, process.kill)  # not after it is gone
                await asyncio.wait([ended])
            raise
        finally:
            process.deleteLater()
        if code != 0:
            reason = last_error[0].removeprefix("everscape: error: ")
            raise EverscapeError(reason or ("the command crashed" if code is None else f"it exited with {code}"))
        job.add_log(f"finished in {time.monotonic() - started:.1f} s")
        return CliResult("\n".join(out_lines), output)

    return run


def benchmark_arguments(quick: bool, device: str, json_path: Path) -> list[str]:
    """``everscape bench`` as the app runs it: the JSON report where the job's result points."""
    return ["bench", *(["--quick"] if quick else []), "--device", device, "--json", str(json_path)]


def ship_arguments(run_dir: Path, name: str, dest: Path, device: str, quick: bool = False) -> list[str]:
    """``everscape models ship`` into the user's checkpoint folder (the model picker lists it)."""
    arguments = ["models", "ship", str(run_dir), "--name", name, "--dest", str(dest)]
    arguments += ["--gallery-dir", str(dest / "gallery"), "--device", device]
    return arguments + (["--quick"] if quick else [])
