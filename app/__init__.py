"""Everscape desktop app (PySide6). A thin UI over ``engine``; it never runs torch in the GUI thread."""
