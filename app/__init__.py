"""Everscape desktop app (PySide6). A thin UI over ``engine``; it never runs torch in the GUI thread."""

from app.refcount_guard import pin_singletons

pin_singletons()  # PySide6 6.12.0 drops references to None/True on every void call (see the module)
