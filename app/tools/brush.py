"""Brush, eraser and fill: painting the selected style onto the world's stroke raster.

- **Brush** (left drag): round dabs of the selected style (the styles palette's or the style-centre
  tool's selection) along the drag; **Eraser**: the same, returning the area to the centre rule;
  **Fill** (click): the closed region of equal paint under the cursor (:func:`engine.stroke_paint.flood_fill`).
- Size is in *screen* pixels, so a stroke covers what the user saw at any zoom (world radius =
  screen radius x world pixels per screen pixel); ``[``/``]`` make the brush smaller/larger and
  Shift+``[``/``]`` softer/harder, as in painting programs. The outline follows the cursor.

A stroke is collected while the button is down (dabs drawn as a preview) and becomes **one**
``world.with_styles`` edit on release, so one undo step, saved in the project with the world; the
canvas re-renders only the tiles :func:`engine.edits.changed_regions` says it can have changed.
Families without style layouts (ALIS, ∞-GAN) get a one-line message instead of a silent no-op.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPen

from app.fusion_overlay import style_rgb
from app.tiles import SUB
from app.tools.base import CanvasTool, Commit
from engine.errors import EverscapeError
from engine.models.base import Generator
from engine.stroke_paint import Dab, flood_fill, paint_stroke

SIZE_STEPS = (1, 2, 3, 5, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)  # brush diameters, screen px
HARDNESS_STEP = 0.25
DAB_SPACING = 0.25  # dabs per radius along a drag: dense enough that a stroke has no gaps


@dataclass
class BrushSettings:
    """Shared by brush and eraser (and shown in the paint options): diameter in screen px, hardness."""

    size: int = 48
    hardness: float = 0.75

    def step_size(self, up: bool) -> None:
        bigger = [s for s in SIZE_STEPS if s > self.size]
        smaller = [s for s in SIZE_STEPS if s < self.size]
        self.size = (bigger[0] if bigger else self.size) if up else (smaller[-1] if smaller else self.size)

    def step_hardness(self, up: bool) -> None:
        self.hardness = min(1.0, max(0.0, round(self.hardness + (HARDNESS_STEP if up else -HARDNESS_STEP), 2)))


class PaintTool(CanvasTool):
    """What brush, eraser and fill share: the style to paint, the model check, keys and the outline."""

    def __init__(
        self,
        canvas,
        commit: Commit,
        report_error: Callable[[str], None],
        model: Callable[[], Generator | None],
        selection: Callable[[], int | None],
        settings: BrushSettings,
        markers: CanvasTool | None = None,
    ) -> None:
        super().__init__(canvas, commit, report_error)
        self.model = model
        self.selection = selection
        self.settings = settings
        self.markers = markers  # the style-centre tool, whose markers stay visible while painting
        self.on_settings: Callable[[], None] = lambda: None  # the paint options follow [ and ]
        self.hover: QPointF | None = None

    def paintable(self) -> bool:
        """Whether the shown world's model paints styles at all; says why not when it does not."""
        world, model = self.world, self.model()
        if world is None or model is None:
            self.report_error("no model is loaded yet")
            return False
        if model.style_fusion(world.styles, world.seed) is None:
            family = model.family
            self.report_error(f"{family} models have no style layouts: painting styles needs an InfinityGAN model")
            return False
        return True

    def style(self) -> int | None:
        """The centre index to paint with, or None after saying why there is none."""
        if not self.paintable():
            return None
        world = self.world
        index = self.selection()
        if index is None or not 0 <= index < len(world.styles.centres):
            self.report_error("select a style in the Styles palette (or click a centre) to paint with it")
            return None
        return index

    def world_radius(self) -> float:
        """The brush radius in world pixels at the current zoom."""
        return self.settings.size / 2 * self.canvas.view.unit / SUB

    def activate(self) -> None:
        self.canvas.setCursor(Qt.CursorShape.CrossCursor)

    def deactivate(self) -> None:
        self.hover = None
        self.canvas.unsetCursor()
        self.canvas.update()

    def key(self, event: QKeyEvent) -> bool:
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        keys = {Qt.Key.Key_BracketLeft: False, Qt.Key.Key_BracketRight: True}
        braces = {Qt.Key.Key_BraceLeft: False, Qt.Key.Key_BraceRight: True}  # Shift+[ on most layouts
        if event.key() in braces or (shift and event.key() in keys):
            self.settings.step_hardness({**keys, **braces}[event.key()])
        elif event.key() in keys:
            self.settings.step_size(keys[event.key()])
        else:
            return False
        self.on_settings()
        self.canvas.update()
        return True

    def move(self, event: QMouseEvent) -> bool:
        self.hover = event.position()
        self.canvas.update()
        return False

    def _colour(self, style: int | None) -> QColor:
        world = self.world
        if style is None or world is None or not 0 <= style < len(world.styles.centres):
            return QColor(255, 255, 255)
        return QColor(*style_rgb(world.styles.centres[style].seed))

    def paint(self, painter: QPainter, view) -> None:
        if self.markers is not None:
            self.markers.paint(painter, view)
        if self.hover is None:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        radius = self.settings.size / 2
        for pen in (QPen(QColor(0, 0, 0, 200), 3.0), QPen(QColor(255, 255, 255), 1.0)):
            painter.setPen(pen)
            painter.drawEllipse(self.hover, radius, radius)
        if self.settings.hardness < 1.0:  # the inner ring: where the soft edge starts
            painter.setPen(QPen(QColor(255, 255, 255, 140), 1.0, Qt.PenStyle.DotLine))
            painter.drawEllipse(self.hover, radius * self.settings.hardness, radius * self.settings.hardness)
        painter.restore()


class BrushTool(PaintTool):
    """Drag to paint the selected style (``erase=True``: the eraser)."""

    def __init__(self, *args, erase: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.erase = erase
        self.name = "Eraser" if erase else "Brush"
        self.short_name = self.name
        self.dabs: list[Dab] = []
        self._style: int | None = None

    def style(self) -> int | None:
        if self.erase:
            return -1 if self.paintable() else None
        return super().style()

    def press(self, event: QMouseEvent) -> bool:
        if event.button() != Qt.MouseButton.LeftButton or self.world is None:
            return False
        self._style = self.style()
        if self._style is not None:
            x, y = self.world_at(event)
            self.dabs = [Dab(x, y, self.world_radius())]
            self.canvas.update()
        return True  # never pans: the user meant to paint

    def move(self, event: QMouseEvent) -> bool:
        super().move(event)
        if not self.dabs:
            return False
        x, y = self.world_at(event)
        last, radius = self.dabs[-1], self.world_radius()
        spacing = max(1.0, radius * DAB_SPACING)
        steps = math.ceil(math.hypot(x - last.x, y - last.y) / spacing)
        for k in range(1, steps + 1):  # exact int interpolation: fine at x = 10^9
            self.dabs.append(Dab(last.x + (x - last.x) * k // steps, last.y + (y - last.y) * k // steps, radius))
        return True

    def release(self, event: QMouseEvent) -> bool:
        if event.button() != Qt.MouseButton.LeftButton or not self.dabs:
            return event.button() == Qt.MouseButton.LeftButton
        dabs, self.dabs = self.dabs, []
        world, style = self.world, self._style
        try:
            layout = paint_stroke(world.styles, dabs, style, self.settings.hardness)
        except EverscapeError as error:
            self.report_error(str(error))
            return True
        if layout != world.styles:
            self.commit(world.with_styles(layout), label=f"{self.name} stroke")
        self.canvas.update()
        return True

    def deactivate(self) -> None:
        self.dabs = []
        super().deactivate()

    def paint(self, painter: QPainter, view) -> None:
        if self.dabs:  # the stroke so far, until its tiles arrive
            painter.save()
            painter.setPen(Qt.PenStyle.NoPen)
            colour = self._colour(self._style)
            colour.setAlpha(90)
            painter.setBrush(colour)
            for dab in self.dabs[:: max(1, len(self.dabs) // 200)]:
                sx, sy = view.world_to_screen(dab.x, dab.y)
                r = dab.radius * SUB / view.unit
                painter.drawEllipse(QPointF(sx, sy), r, r)
            painter.restore()
        super().paint(painter, view)


class FillTool(PaintTool):
    """Click inside a closed painted outline (or on a painted area) to fill it with the selected style."""

    name = "Fill"
    short_name = "Fill"

    def press(self, event: QMouseEvent) -> bool:
        if event.button() != Qt.MouseButton.LeftButton or self.world is None:
            return False
        style = self.style()
        if style is None:
            return True
        world = self.world
        x, y = self.world_at(event)
        try:
            layout = flood_fill(world.styles, x, y, style, self.canvas.view.world_bounds())
        except EverscapeError as error:
            self.report_error(str(error))
            return True
        if layout != world.styles:
            self.commit(world.with_styles(layout), label="Fill")
        return True

    def release(self, event: QMouseEvent) -> bool:
        return event.button() == Qt.MouseButton.LeftButton
