"""Running ``torchrun`` from tests without leaking its workers.

``subprocess.run(timeout=...)`` SIGKILLs the launcher on timeout, and a SIGKILLed torchrun cannot
stop its workers: they sit in rendezvous for the process group's whole timeout (seen here: an
hour). This runs torchrun with a short engine-side timeout and, on our own timeout, sends SIGTERM
first, which torchrun forwards to its workers.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def torchrun_path() -> str | None:
    found = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    return found if Path(found).exists() else None


def run_torchrun(args: list[str], *, env: dict[str, str], cwd: str | Path | None = None, timeout: float = 180):
    """``torchrun ARGS``; a timeout stops it (and its workers) cleanly and fails the test."""
    launcher = torchrun_path()
    if launcher is None:
        pytest.skip("torchrun is not available")
    env = {"EVERSCAPE_DIST_TIMEOUT_S": str(int(timeout)), **env}
    proc = subprocess.Popen(
        [launcher, *args], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        pytest.fail(f"torchrun did not finish in {timeout:.0f} s: {err[-2000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


__all__ = ["run_torchrun", "torchrun_path"]
