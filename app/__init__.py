"""Everscape desktop app (PySide6). A thin UI over ``engine``; it never runs torch in the GUI thread."""

from app.refcounts import protect_when_qt_loads as _protect_singletons_when_qt_loads

# Before any widget exists: this PySide6 leaks references to None/True on every call (see refcounts).
_protect_singletons_when_qt_loads()
