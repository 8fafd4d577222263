"""The staging strip: a bar under the canvas with the staged edit's variants and what to do with them.

It shows a :class:`~app.staging.StagedEdit` (thumbnails of its variants, the current one selected,
a status line while a job makes it) and offers the session's actions as buttons (Previous, Next,
Generate more, Accept, Discard: the same ``QAction`` objects as the Edit ▸ Staging menu, so buttons,
menu and shortcuts cannot disagree). Passive: :mod:`app.staging_session` decides; clicking a
thumbnail asks it to select that variant (:attr:`sig_select`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.qimage import rgb32_to_qimage, rgb_to_rgb32
from app.staging import StagedEdit

THUMB = 72  # thumbnail side on screen (pixels)


def thumbnail_icon(pixels: np.ndarray) -> QIcon:
    """An ``(h, w, 3)`` uint8 render as an icon scaled to :data:`THUMB`, keeping its aspect ratio."""
    image = rgb32_to_qimage(rgb_to_rgb32(np.ascontiguousarray(pixels)))
    pixmap = QPixmap.fromImage(image).scaled(
        THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )
    return QIcon(pixmap)


class StagingStrip(QWidget):
    """See the module docstring. ``actions``: previous, next, more, accept, discard."""

    sig_select = Signal(int)

    def __init__(self, actions: Sequence[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        self.status = QLabel()
        self.status.setStyleSheet("color: #909090")
        for label in (self.title, self.status):  # long names elide; the strip never widens the window
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setFlow(QListWidget.Flow.LeftToRight)
        self.list.setWrapping(False)
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setFixedHeight(THUMB + 36)
        self.list.setMovement(QListWidget.Movement.Static)
        self.list.currentRowChanged.connect(self._on_row)
        self.buttons: list[QToolButton] = []
        buttons = QGridLayout()
        buttons.setSpacing(2)
        for number, action in enumerate(actions):
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            buttons.addWidget(button, number // 2, number % 2)
            self.buttons.append(button)
        column = QVBoxLayout(self)
        column.setContentsMargins(4, 2, 4, 2)
        heading = QHBoxLayout()
        heading.addWidget(self.title)
        heading.addWidget(self.status, 1)
        column.addLayout(heading)
        row = QHBoxLayout()
        row.addWidget(self.list, 1)
        row.addLayout(buttons)
        column.addLayout(row)
        self._filling = False
        self._edit: StagedEdit | None = None

    def show_edit(self, edit: StagedEdit | None, status: str = "") -> None:
        """Show ``edit``'s variants (``None``: nothing staged) and ``status``."""
        self._filling = True
        try:
            if edit is not self._edit:  # another edit: none of the thumbnails shown are its own
                self.list.clear()
                self._edit = edit
            count = 0 if edit is None else len(edit.variants)
            while self.list.count() > count:
                self.list.takeItem(self.list.count() - 1)
            for index in range(self.list.count(), count):
                item = QListWidgetItem(f"{index + 1}")
                item.setSizeHint(QSize(THUMB + 12, THUMB + 28))
                self.list.addItem(item)
            if edit is not None:
                for index, pixels in edit.thumbnails.items():
                    if not self.has_thumbnail(index):  # called on every job tick: convert each once
                        self.set_thumbnail(index, pixels)
                self.list.setCurrentRow(edit.index)
                self.title.setText(f"<b>{edit.label}</b> — variant {edit.index + 1} of {count}")
            else:
                self.title.setText("<b>Nothing staged</b>" if not status else "")
            self.status.setText(status)
        finally:
            self._filling = False

    def set_thumbnail(self, index: int, pixels: np.ndarray) -> None:
        item = self.list.item(index)
        if item is not None:
            item.setIcon(thumbnail_icon(pixels))

    def has_thumbnail(self, index: int) -> bool:
        item = self.list.item(index)
        return item is not None and not item.icon().isNull()

    def _on_row(self, row: int) -> None:
        if not self._filling and row >= 0:
            self.sig_select.emit(row)
