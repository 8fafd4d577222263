"""The app survives PySide6 6.12.0's lost references to None/True (see app.refcount_guard)."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

import app  # noqa: F401 - importing the app pins the singletons
from app.refcount_guard import PIN


def test_void_qt_calls_can_no_longer_free_none_or_true(qtbot):
    assert sys.version_info >= (3, 12) or min(sys.getrefcount(s) for s in (None, True, False)) > PIN // 2
    for _ in range(2000):  # each may drop a reference; far fewer than the pin
        QApplication.processEvents()
    assert sys.version_info >= (3, 12) or sys.getrefcount(None) > PIN // 2
