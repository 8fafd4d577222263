"""Keyboard focus goes back to the canvas once a toolbar or dock field has made its edit.

A focused spin box or line edit takes Ctrl+Z for its own text undo before the window's shortcuts
see it, so a width typed into the Tools bar would turn the user's next Ctrl+Z into an edit of the
box instead of an undo of the world. Enter finishes the field's edit and hands the keys back.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractSpinBox, QLineEdit, QWidget


def return_focus_after_edit(canvas: QWidget, *fields: QAbstractSpinBox | QLineEdit) -> None:
    """After Enter in any of ``fields``, focus ``canvas`` (a click elsewhere keeps its own focus)."""
    for field in fields:
        field.editingFinished.connect(partial(_give_back, field, canvas))


def _give_back(field: QWidget, canvas: QWidget) -> None:
    # editingFinished also fires when focus leaves by a click elsewhere: the focus then stays there.
    if field.hasFocus():
        canvas.setFocus(Qt.FocusReason.OtherFocusReason)
