"""Make ``None``, ``True`` and ``False`` effectively immortal, as Python 3.12 does.

PySide6 6.12.0 returns ``None`` (and ``SignalInstance.emit`` returns ``True``) from its wrappers
without taking a reference, so every call of a void Qt method from Python (``processEvents``,
``update``, ``repaint``, every ``emit``) drops one reference to a singleton it does not own. On
Python 3.11 the count of ``None`` (about 57 000 at start) or ``True`` (about 11 000) then reaches
zero after a minute or so of painting, panning or waiting on events, and the interpreter aborts
("none_dealloc" / "bool_dealloc"). Raising their counts by 2^40 keeps them alive for any session;
Python 3.12+ (immortal singletons) needs nothing.
"""

from __future__ import annotations

import ctypes
import sys

PIN = 2**40


def pin_singletons() -> None:
    """Raise the reference counts of ``None``, ``True`` and ``False`` by :data:`PIN` (once, 3.11 only)."""
    if sys.version_info >= (3, 12) or sys.getrefcount(None) > PIN:
        return
    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value += PIN
