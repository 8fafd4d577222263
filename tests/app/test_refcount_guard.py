"""The reserve of references outlives PySide6's lost ones (see app/refcount_guard.py)."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QObject, Signal

from app import refcount_guard


@pytest.mark.skipif(not refcount_guard.needed(), reason="immortal singletons on Python 3.12+")
def test_emits_beyond_the_original_count_do_not_abort(qtbot):
    class Source(QObject):
        sig = Signal(int)

    source = Source()
    source.sig.connect(lambda value: None)
    refcount_guard.top_up()
    start = sys.getrefcount(True)
    for value in range(5000):  # more emits than True had references before the guard
        source.sig.emit(value)
        if value % 1000 == 0:
            refcount_guard.top_up()
    assert sys.getrefcount(True) >= refcount_guard.FLOOR - 1000
    assert start >= refcount_guard.FLOOR
