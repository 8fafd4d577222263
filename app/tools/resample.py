"""The resample-region tool (InfinityGAN's red box): drag a rectangle, get new content inside it.

On release the rectangle (world pixels, level 0) is resampled with a fresh seed by
:func:`engine.edits.resample_region`: ALIS redraws the anchors inside it, other families the latent
cells inside it. Pixels beyond the edit's support stay bit-identical, and the canvas keeps their
tiles. A rectangle too small to hold a whole latent cell (or anchor) is reported, not applied.
Escape cancels a drag; the middle button still pans.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPen

from app.tiles import SUB
from app.tools.base import CanvasTool, Commit
from app.tools.style_centres import random_seed
from engine.edits import resample_region
from engine.errors import EverscapeError
from engine.geometry import Rect
from engine.world import World

BOX = QColor(230, 40, 40)


def span_rect(a: tuple[int, int], b: tuple[int, int]) -> Rect:
    """The world pixels between two corner pixels, both included."""
    x0, x1 = min(a[0], b[0]), max(a[0], b[0])
    y0, y1 = min(a[1], b[1]), max(a[1], b[1])
    return Rect(x0, y0, x1 - x0 + 1, y1 - y0 + 1)


class ResampleTool(CanvasTool):
    short_name = "Resample"
    name = "Resample region"

    def __init__(
        self,
        canvas,
        commit: Commit,
        model: Callable[[], object | None],
        report_error: Callable[[str], None] | None = None,
        seed_source: Callable[[], int] = random_seed,
    ) -> None:
        super().__init__(canvas, commit, report_error)
        self.model = model  # the open model, read for its latent geometry only (never run here)
        self.seed_source = seed_source
        self._start: tuple[int, int] | None = None
        self._end: tuple[int, int] | None = None
        # The staging strip's hook (app.staging_session): ``stage(base, edited, rect, seed)`` shows
        # the result as a staged candidate instead of committing it. Unset: commit at once.
        self.stage: Callable[[World, World, Rect, int], None] | None = None

    def deactivate(self) -> None:
        self._start = self._end = None
        self.canvas.update()

    def press(self, event: QMouseEvent) -> bool:
        if event.button() != Qt.MouseButton.LeftButton or self.world is None:
            return False
        self._start = self._end = self.world_at(event)
        self.canvas.update()
        return True

    def move(self, event: QMouseEvent) -> bool:
        if self._start is None:
            return False
        self._end = self.world_at(event)
        self.canvas.update()
        return True

    def release(self, event: QMouseEvent) -> bool:
        if self._start is None or event.button() != Qt.MouseButton.LeftButton:
            return self._start is not None
        rect = span_rect(self._start, self.world_at(event))
        self.deactivate()
        self.resample(rect)
        return True

    def key(self, event: QKeyEvent) -> bool:
        if event.key() == Qt.Key.Key_Escape and self._start is not None:
            self.deactivate()
            return True
        return False

    def resample(self, rect: Rect) -> None:
        """Resample ``rect`` of the shown world with a fresh seed (one edit)."""
        world, model = self.world, self.model()
        if world is None or model is None:
            self.report_error("no model is open yet")
            return
        seed = self.seed_source()
        try:
            edited = resample_region(world, model, rect, seed)
        except EverscapeError as error:
            self.report_error(str(error))
            return
        if self.stage is not None:
            self.stage(world, edited, rect, seed)
        else:
            self.commit(edited, label="Resample region")

    def paint(self, painter: QPainter, view) -> None:
        if self._start is None or self._end is None:
            return
        rect = span_rect(self._start, self._end)
        x0, y0 = view.world_to_screen(rect.x, rect.y)
        scale = SUB / view.unit
        painter.save()
        painter.setPen(QPen(BOX, 2.0))
        painter.setBrush(QColor(BOX.red(), BOX.green(), BOX.blue(), 40))
        painter.drawRect(QRectF(x0, y0, rect.w * scale, rect.h * scale))
        painter.restore()
