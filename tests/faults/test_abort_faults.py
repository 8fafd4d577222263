"""Class 9: the ``none_dealloc`` abort of ``app.bench_ui`` (and of the app).

Cause, measured: on PySide6/shiboken6 6.12.0 with CPython 3.11, each call of a ``void`` Qt method
returns ``None`` without a new reference and each ``Signal.emit`` does the same with ``True``; a
busy canvas drains ``None``'s ~55 000 references within a minute and CPython aborts in whichever
thread drops the last one. :mod:`app.refcounts` makes the singletons immortal (as CPython 3.12 does)
when it detects the leak. These tests run children, so an abort is a failed assertion, not a dead
test session.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.faults.measure import REPO_ROOT

VOID_CALLS = """
import os, sys
{prelude}
from PySide6.QtWidgets import QApplication, QWidget
app = QApplication([])
widget = QWidget()
for _ in range(200_000):
    widget.update()  # void: returns None
print("survived", flush=True)
"""


def run_child(code: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    child_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "QT_QPA_PLATFORM": "offscreen", **env}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=child_env, cwd=REPO_ROOT
    )


def binding_leaks() -> bool:
    probe = run_child("from app.refcounts import binding_leaks; print(binding_leaks())")
    return probe.stdout.strip() == "True"


def test_void_qt_calls_cannot_deallocate_none_once_the_app_is_imported():
    guarded = run_child(VOID_CALLS.format(prelude="import app"))
    assert guarded.returncode == 0 and "survived" in guarded.stdout, guarded.stderr[-2000:]
    if binding_leaks():  # the control: the same loop without the guard is the reported abort
        bare = run_child(VOID_CALLS.format(prelude=""))
        assert bare.returncode != 0 and "none_dealloc" in bare.stderr, (bare.returncode, bare.stderr[-500:])


def test_emit_cannot_deallocate_true_once_the_app_is_imported():
    code = """
import app
from PySide6.QtCore import QObject, Signal
class Source(QObject):
    changed = Signal(int)
source = Source()
for n in range(200_000):
    source.changed.emit(n)  # returns True
print("survived", flush=True)
"""
    done = run_child(code)
    assert done.returncode == 0 and "survived" in done.stdout, done.stderr[-2000:]


@pytest.mark.slow
def test_a_minute_of_panning_and_editing_under_the_real_worker_does_not_abort():
    done = subprocess.run(
        [sys.executable, "-m", "tests.faults.soak_canvas", "50"],
        capture_output=True,
        text=True,
        timeout=400,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "QT_QPA_PLATFORM": "offscreen"},
    )
    assert "Fatal Python error" not in done.stderr, done.stderr[-3000:]
    assert done.returncode == 0 and done.stdout.startswith("soak ok"), (done.returncode, done.stderr[-3000:])
    frames, tiles, guarded = done.stdout.split()[2:5]
    assert int(frames) > 100 and int(tiles) > 0 and guarded == "True"


def test_importing_the_app_loads_no_qt_and_loading_qt_later_protects():
    """The command line imports ``app.commands``; Qt may be unloadable there, so the guard waits for it."""
    code = (
        "import sys, app\n"
        "from app.refcounts import is_protected, binding_leaks\n"
        "assert 'PySide6.QtCore' not in sys.modules\n"
        "from PySide6.QtWidgets import QWidget\n"
        "print(is_protected() or not binding_leaks())\n"
    )
    done = run_child(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
