"""Running ``torchrun`` from tests without leaking its workers.

``subprocess.run(timeout=...)`` SIGKILLs the launcher on timeout, and a SIGKILLed torchrun cannot
stop its workers: they sit in rendezvous for the process group's whole timeout (seen here: an
hour). This runs torchrun with a short engine-side timeout and, on our own timeout, sends SIGTERM
first, which torchrun forwards to its workers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


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


def states_of_two_processes(tmp_path: Path, body: str) -> tuple[dict, dict]:
    """Run ``body`` in two CPU processes under torchrun and return each rank's ``state``.

    ``body`` sees ``torch`` and ``rank`` (the process group is joined) and must leave a dict of
    tensors named ``state``; the two dicts come back in rank order, for tests of statistics that
    every process must hold alike.
    """
    from safetensors.torch import load_file

    prelude = "import sys, torch\nfrom engine.train import distributed\n"
    prelude += "distributed.initialise(torch.device('cpu'))\nrank = distributed.rank()\n"
    save = "from safetensors.torch import save_file\n"
    save += "save_file({k: v.contiguous() for k, v in state.items()}, sys.argv[1] + f'/rank{rank}.safetensors')\n"
    script = tmp_path / "two_processes.py"
    script.write_text(prelude + textwrap.dedent(body) + save)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = run_torchrun(["--standalone", "--nproc-per-node", "2", str(script), str(tmp_path)], env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    a, b = (load_file(tmp_path / f"rank{r}.safetensors") for r in (0, 1))
    return a, b


__all__ = ["run_torchrun", "states_of_two_processes", "torchrun_path"]
