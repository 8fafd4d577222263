"""Keep None, True and False alive under a Qt binding that returns them without a reference.

Why this exists: with shiboken6/PySide6 6.12.0 on CPython 3.11, every call of a ``void`` Qt method
(``QApplication.processEvents``, ``QWidget.update``, ``QPainter.drawImage``, ``QTimer.start``, ...)
returns ``None`` without taking a reference to it, and ``Signal.emit`` does the same with ``True``.
Each call therefore takes one reference away from the singleton. A busy canvas makes thousands of
such calls a second, so after a minute or so ``None`` (about 55 000 references in a loaded app)
reaches zero and CPython aborts the whole process with ``Fatal Python error: none_dealloc`` -- in
whichever thread happens to drop the last reference, often the tile worker in the middle of a
model forward, which is what made the crash look like a threading bug. No hand-off between the
worker and the GUI thread avoids it: the GUI thread alone leaks on every paint.

CPython 3.12 made these singletons immortal (PEP 683): their reference count starts so high that no
number of decrements reaches zero, and deallocating them is never attempted. :func:`protect` does
the same on older interpreters, and only where :func:`binding_leaks` finds the fault: it raises the
three reference counts by :data:`RESERVE`, which at a million leaked references a second lasts far
longer than any session. The objects are static and never freed, so an oversized count has no other
effect. Remove this module once the binding is fixed (a newer PySide6, or CPython >= 3.12).
"""

from __future__ import annotations

import ctypes
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types

#: References added to each singleton: 2^60 decrements is ~36 000 years at a million per second.
RESERVE = 2**60
_PROBE_CALLS = 64
_protected = False


def binding_leaks() -> bool:
    """Whether a ``void`` Qt call on this binding takes a reference from ``None`` (measured, not guessed)."""
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(_PROBE_CALLS):
        probe.setObjectName("")
    return sys.getrefcount(None) <= before - _PROBE_CALLS // 2


def protect() -> bool:
    """Make ``None``, ``True`` and ``False`` effectively immortal if the binding leaks them.

    Returns whether it did; idempotent, and a no-op on CPython >= 3.12 (already immortal) or on a
    binding that counts correctly.
    """
    global _protected
    if _protected:
        return True
    if os.environ.get("EVERSCAPE_NO_REFCOUNT_GUARD"):  # to check whether a binding still needs this
        return False
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython" or not binding_leaks():
        return False
    for singleton in (None, True, False):
        # ob_refcnt is the first field of every CPython object (a Py_ssize_t); the GIL is held here.
        count = ctypes.c_ssize_t.from_address(id(singleton))
        count.value += RESERVE
    _protected = True
    return True


class _ProtectOnQtImport(importlib.abc.MetaPathFinder):
    """Runs :func:`protect` right after ``PySide6.QtCore`` loads, before anything can call into it.

    ``import app`` must not load Qt itself: the command line imports ``app.commands`` to list the
    ``gui`` command, and ``everscape doctor`` or ``render`` must work where Qt's libraries cannot load.
    """

    def find_spec(self, name: str, path: object, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if name != "PySide6.QtCore":
            return None
        sys.meta_path.remove(self)  # find the real spec without finding ourselves
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            load = spec.loader.exec_module

            def exec_and_protect(module: types.ModuleType) -> None:
                load(module)
                protect()

            spec.loader.exec_module = exec_and_protect
        return spec


def protect_when_qt_loads() -> None:
    """:func:`protect` now if Qt is already loaded, else as soon as ``PySide6.QtCore`` is imported."""
    if "PySide6.QtCore" in sys.modules:
        protect()
    elif not any(isinstance(finder, _ProtectOnQtImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _ProtectOnQtImport())


def is_protected() -> bool:
    return _protected
