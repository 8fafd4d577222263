"""Run the command line in a child process and report its exit code, stderr and peak memory.

Refusals must be cheap: a file that *declares* a huge size must be refused before anything of that
size is allocated. The child's peak resident set size comes from ``/usr/bin/time -v`` (the figure
the kernel keeps for the process), not from a clock, so the check is stable on a loaded machine.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
GNU_TIME = Path("/usr/bin/time")
# What every refusal must stay under (the bound), with the interpreter, torch and Qt loaded.
REFUSAL_RSS_BUDGET = int(1.5 * 2**30)


@dataclass(frozen=True)
class CliRun:
    """The observable result of one command-line run."""

    returncode: int
    stdout: str
    stderr: str
    max_rss_bytes: int | None  # None where /usr/bin/time is not installed

    @property
    def message(self) -> str:
        """The user-facing stderr lines, without the resource report ``time -v`` appends."""
        time_report = r"^(?:Command exited with non-zero status \d+\n)?\tCommand being timed:"
        return re.split(time_report, self.stderr, flags=re.M)[0].strip()


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300, env: dict[str, str] | None = None) -> CliRun:
    """``python -m engine.cli ARGS`` in a child process, measured by ``/usr/bin/time -v`` when present."""
    command = [sys.executable, "-m", "engine.cli", *args]
    measured = GNU_TIME.exists()
    if measured:
        command = [str(GNU_TIME), "-v", *command]
    child_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "QT_QPA_PLATFORM": "offscreen", **(env or {})}
    done = subprocess.run(command, cwd=cwd or REPO_ROOT, capture_output=True, text=True, timeout=timeout, env=child_env)
    rss = None
    if measured:
        found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
        rss = int(found.group(1)) * 1024 if found else None
    return CliRun(done.returncode, done.stdout, done.stderr, rss)


def assert_refused(run: CliRun, *needles: str) -> None:
    """A refusal: exit code 2, one line naming what is wrong, no traceback, within the memory budget."""
    assert run.returncode == 2, (run.returncode, run.stderr[-2000:])
    message = run.message
    assert "Traceback" not in message, message
    assert len(message.splitlines()) == 1, message
    for needle in needles:
        assert needle.lower() in message.lower(), (needle, message)
    if run.max_rss_bytes is not None:
        assert run.max_rss_bytes < REFUSAL_RSS_BUDGET, f"refusal peaked at {run.max_rss_bytes / 2**20:.0f} MiB"


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far (the kernel's high-water mark), for in-process
    fuzzing: the growth of the mark over a run bounds what any one input made it allocate."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux
