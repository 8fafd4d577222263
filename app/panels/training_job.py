"""One training run as a child process: ``python -m engine.cli train ...`` under a QProcess,
and (:func:`training_coroutine`) as a job of :mod:`app.jobs`, so the Jobs dock lists it.

Training runs outside the app's process so an out-of-memory error or a crash ends the job, not the
viewer. stdout is parsed line by line into a :class:`~engine.train.progress.JobState`; stderr is
kept (its last line is the reason shown for a failed job). Stop is graceful: SIGINT, which the
CLI turns into "finish this step, write a snapshot, exit"; if the process is still alive after
``grace_ms`` it is killed (the last snapshot on disk stays intact, every write being atomic).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QProcess, QTimer, Signal

from app.jobs import Job, current_loop
from engine.errors import EverscapeError
from engine.render import Cancelled
from engine.train.progress import JobSpec, JobState, LineBuffer, parse_line, train_arguments

STDERR_KEEP = 8192  # characters of stderr kept for the failure reason and the log


class TrainingJob(QObject):
    """Create, :meth:`start`; ``sig_changed`` after each batch of output, ``sig_finished`` once."""

    sig_changed = Signal()
    sig_finished = Signal()

    def __init__(self, spec: JobSpec, grace_ms: int = 30000, python: str | None = None, parent=None) -> None:
        super().__init__(parent)
        self.spec = spec
        self.grace_ms = grace_ms
        self.state = JobState()
        self.stderr_tail = ""
        self.step_times: dict[int, float] = {}  # step -> seconds since start, when its line arrived
        self.started = time.monotonic()
        self._stdout = LineBuffer()
        self._stderr = LineBuffer()
        self.process = QProcess(self)
        self.process.setProgram(python or sys.executable)
        self.process.setArguments(["-m", "engine.cli", "train", *train_arguments(spec)])
        self.process.readyReadStandardOutput.connect(self._read_stdout)
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.finished.connect(self._on_finished)
        self.process.errorOccurred.connect(self._on_error)
        self._kill_timer = QTimer(self, singleShot=True, interval=grace_ms)
        self._kill_timer.timeout.connect(self.kill)

    def start(self) -> None:
        self.started = time.monotonic()
        self.process.start()

    @property
    def running(self) -> bool:
        return self.process.state() != QProcess.ProcessState.NotRunning

    def stop(self) -> None:
        """Ask for a snapshot and exit (SIGINT); kill after the grace period, or now if asked twice."""
        if not self.running:
            return
        if self.state.stop_requested:
            self.kill()
            return
        self.state.stop_requested = True
        pid = self.process.processId()
        if os.name == "posix" and pid > 0:
            os.kill(pid, signal.SIGINT)
        else:  # no SIGINT for a child on Windows: terminate (WM_CLOSE / TerminateProcess)
            self.process.terminate()
        self._kill_timer.start()
        self.sig_changed.emit()

    def kill(self) -> None:
        if self.running:
            self.state.stop_requested = True
            self.process.kill()

    def wait(self, ms: int = 30000) -> bool:
        """Block until the process ends (shutdown and tests); True if it has."""
        return not self.running or self.process.waitForFinished(ms)

    # -- process output -----------------------------------------------------------------------------

    def _read_stdout(self) -> None:
        self._consume(self._stdout.feed(bytes(self.process.readAllStandardOutput().data())))

    def _consume(self, lines: list[str]) -> None:
        for line in lines:
            if (event := parse_line(line)) is not None:
                self.state.apply(event)
                if event.kind == "progress":
                    self.step_times.setdefault(self.state.step, time.monotonic() - self.started)
        if lines:
            self.sig_changed.emit()

    def _read_stderr(self) -> None:
        lines = self._stderr.feed(bytes(self.process.readAllStandardError().data()))
        self._keep_stderr(lines)

    def _keep_stderr(self, lines: list[str]) -> None:
        for line in lines:
            self.stderr_tail = (self.stderr_tail + line + "\n")[-STDERR_KEEP:]
            if line.strip():
                self.state.add_log(line)

    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        if self.state.done:
            return
        self._kill_timer.stop()
        self._read_stdout()
        self._consume(self._stdout.flush())
        self._read_stderr()
        self._keep_stderr(self._stderr.flush())
        crashed = exit_status == QProcess.ExitStatus.CrashExit
        self.state.finish(None if crashed else exit_code, self.stderr_tail)
        self.sig_changed.emit()
        self.sig_finished.emit()

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and not self.state.done:
            self.state.finish(None, f"could not start {self.process.program()}: {self.process.errorString()}")
            self.sig_changed.emit()
            self.sig_finished.emit()


def training_coroutine(first: TrainingJob, launch: Callable[[JobSpec], TrainingJob]):
    """``run(job)`` for the job system: follows a training process until it exits.

    The first run follows ``first`` (already started by the panel); a retry launches the same
    spec again. Cancel asks the process to snapshot and stop, and the job ends when it has."""
    pending = [first]

    async def run(job: Job) -> str:
        training = pending.pop() if pending else launch(first.spec)
        ended = current_loop().create_future()

        def changed() -> None:
            state, steps = training.state, training.spec.steps
            job.progress(min(1.0, state.step / steps) if steps else None, state.summary())

        def finished() -> None:
            if not ended.done():
                ended.set_result(None)

        training.sig_changed.connect(changed)
        training.sig_finished.connect(finished)
        if training.state.done:
            finished()
        try:
            await asyncio.shield(ended)
        except asyncio.CancelledError:
            training.stop()
            await ended
            raise
        finally:
            training.sig_changed.disconnect(changed)
            training.sig_finished.disconnect(finished)
        changed()
        if training.state.status == "failed":
            raise EverscapeError(training.state.reason or "training failed")
        if training.state.status == "stopped":
            raise Cancelled("training was stopped")
        return training.spec.out

    return run
