"""The style-centre tool: place, move, re-width and remove InfinityGAN's style centres.

Gestures (left button unless said):

- click on empty ground: a new centre there, with a fresh seed (a new style);
- drag a centre: move it (one edit on release; the marker follows the mouse meanwhile);
- right-click a centre, or Delete/Backspace on the selected one: remove it;
- Ctrl + wheel over a centre (or the selected one): widen or narrow its blend width by 25 % a
  notch, one undo step per gesture; :meth:`StyleCentreTool.set_width` (the toolbar's spin box) sets
  the width of the selected centre and of centres placed later.

Every change is one ``world.with_styles(...)`` edit (:mod:`engine.style_edits`). Families that
ignore style layouts simply render the same. Centres are drawn as markers in the canvas's paint
pass, with a dashed ring at their blend width when one is set: clearly while this tool (or a paint
tool) is active, faintly under every other tool (:class:`FaintCentres`), so the world's styles
are never hidden state.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPen, QWheelEvent

from app.tiles import SUB
from app.tools.base import CanvasTool, Commit
from engine.errors import EverscapeError
from engine.models.base import Generator
from engine.style_edits import add_centre, move_centre, nearest_centre, remove_centre, set_centre_width
from engine.styles import StyleCentre

HIT_RADIUS = 10  # screen pixels within which a click picks a centre
MARKER_RADIUS = 7  # screen pixels
WIDTH_STEP = 1.25  # blend width factor per wheel notch
WIDTH_LABEL = "Change style width"  # one label for wheel and spin box: a gesture merges into one step
FAINT_OPACITY = 0.35  # the markers under other tools: visible, but not in the way
FALLBACK_WIDTH = 128.0  # first width a wheel gesture scales when a centre uses the model's default


def random_seed() -> int:
    return random.SystemRandom().randrange(2**31)


def centre_colour(seed: int) -> QColor:
    """A distinct, saturated marker colour per style seed."""
    return QColor.fromHsv((seed * 47) % 360, 200, 255)


class StyleCentreTool(CanvasTool):
    short_name = "Styles"
    name = "Style centres"

    def __init__(
        self,
        canvas,
        commit: Commit,
        report_error: Callable[[str], None] | None = None,
        seed_source: Callable[[], int] = random_seed,
        model: Callable[[], Generator | None] = lambda: None,
    ) -> None:
        super().__init__(canvas, commit, report_error)
        self.seed_source = seed_source
        self.model = model  # the shown world's model, if loaded: whether an empty layout has an implicit centre
        self.new_width: float | None = None  # blend width of centres placed from now on (None: default)
        self._selected: int | None = None
        self.selection_listeners: list[Callable[[int | None], None]] = []  # the styles palette follows
        self.on_select: Callable[[float | None], None] = lambda width: None  # shows the picked centre's width
        self._drag: int | None = None
        self._drag_to: tuple[int, int] | None = None
        canvas.overlays.append(FaintCentres(self))

    @property
    def selected(self) -> int | None:
        """Index of the selected centre (the brush paints its style), shared with the styles palette."""
        return self._selected

    @selected.setter
    def selected(self, index: int | None) -> None:
        if index != self._selected:
            self._selected = index
            for listener in self.selection_listeners:
                listener(index)
            self.canvas.update()

    # -- helpers ------------------------------------------------------------------------------------

    def _hit(self, x: int, y: int) -> int | None:
        if self.world is None:
            return None
        radius = max(1, math.ceil(HIT_RADIUS * self.canvas.view.unit / SUB))
        return nearest_centre(self.world.styles, x, y, radius)

    def _edit(self, make_layout, label: str, merge=None) -> None:
        world = self.world
        if world is None:
            return
        try:
            world = world.with_styles(make_layout(world.styles))
        except EverscapeError as error:
            self.report_error(str(error))
            return
        self.commit(world, merge, label)

    def deactivate(self) -> None:
        self._drag = self._drag_to = None
        self.canvas.update()

    # -- gestures -----------------------------------------------------------------------------------

    def press(self, event: QMouseEvent) -> bool:
        if self.world is None:
            return False
        x, y = self.world_at(event)
        hit = self._hit(x, y)
        if event.button() == Qt.MouseButton.RightButton:
            if hit is not None:
                self.remove(hit)
            return True
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        if hit is not None:
            self.selected, self._drag, self._drag_to = hit, hit, None
            self.on_select(self.world.styles.centres[hit].width)
            self.canvas.update()
        else:
            self.add(x, y)
        return True

    def move(self, event: QMouseEvent) -> bool:
        if self._drag is None:
            return False
        self._drag_to = self.world_at(event)
        self.canvas.update()
        return True

    def release(self, event: QMouseEvent) -> bool:
        if self._drag is None or event.button() != Qt.MouseButton.LeftButton:
            return self._drag is not None
        index, target = self._drag, self._drag_to
        self._drag = self._drag_to = None
        centres = self.world.styles.centres if self.world is not None else ()
        if target is not None and index < len(centres):
            c = centres[index]
            if (c.x, c.y) != target:
                self._edit(lambda layout: move_centre(layout, index, *target), "Move style centre")
        self.canvas.update()
        return True

    def wheel(self, event: QWheelEvent) -> bool:
        if not event.modifiers() & Qt.KeyboardModifier.ControlModifier or self.world is None:
            return False
        pos = event.position()
        hit = self._hit(*self.canvas.view.screen_to_world(pos.x(), pos.y()))
        index = hit if hit is not None else self.selected
        delta = event.angleDelta().y()
        if index is None or index >= len(self.world.styles.centres) or not delta:
            return True
        self.selected = index
        width = self.world.styles.centres[index].width or self.new_width or FALLBACK_WIDTH
        width *= WIDTH_STEP if delta > 0 else 1 / WIDTH_STEP
        self._edit(lambda layout: set_centre_width(layout, index, width), WIDTH_LABEL, ("style-width", index))
        return True

    def key(self, event: QKeyEvent) -> bool:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.selected is not None:
            self.remove(self.selected)
            return True
        if event.key() == Qt.Key.Key_Escape and self._drag is not None:
            self.deactivate()
            return True
        return False

    # -- edits (also the API tests and menus use) ---------------------------------------------------

    def add(self, x: int, y: int) -> None:
        seed_world = self.world.seed
        centre = StyleCentre(int(x), int(y), self.seed_source(), self.new_width)
        model = self.model()
        implicit = model is None or model.implicit_style_centre
        self._edit(lambda layout: add_centre(layout, seed_world, centre, implicit), "Add style centre")
        self.selected = len(self.world.styles.centres) - 1

    def remove(self, index: int) -> None:
        self._edit(lambda layout: remove_centre(layout, index), "Delete style centre")
        self.selected = None

    def set_width(self, width: float | None) -> None:
        """Width for new centres and, if one is selected, for that centre (``None``: model default)."""
        self.new_width = width
        index = self.selected
        centres = self.world.styles.centres if self.world is not None else ()
        if index is not None and index < len(centres) and centres[index].width != width:
            self._edit(lambda layout: set_centre_width(layout, index, width), WIDTH_LABEL, ("style-width", index))

    # -- overlay ------------------------------------------------------------------------------------

    def paint(self, painter: QPainter, view) -> None:
        centres = self.world.styles.centres
        if not centres:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for index, c in enumerate(centres):
            x, y = (c.x, c.y) if index != self._drag or self._drag_to is None else self._drag_to
            sx, sy = view.world_to_screen(x, y)
            if not (-500 < sx < view.width + 500 and -500 < sy < view.height + 500):
                continue
            point = QPointF(sx + 0.5 * SUB / view.unit, sy + 0.5 * SUB / view.unit)  # the pixel's centre
            if c.width is not None:
                ring = c.width * SUB / view.unit
                painter.setPen(QPen(QColor(255, 255, 255, 160), 1.0, Qt.PenStyle.DashLine))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawEllipse(point, ring, ring)
            radius = MARKER_RADIUS + (3 if index == self.selected else 0)
            painter.setPen(QPen(QColor(0, 0, 0), 3.0))
            painter.setBrush(centre_colour(c.seed))
            painter.drawEllipse(point, radius, radius)
            painter.setPen(QPen(QColor(255, 255, 255), 1.5))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(point, radius, radius)
        painter.restore()


class FaintCentres:
    """A canvas overlay: ``tool``'s markers, faint, whenever neither it nor a tool showing them is active."""

    def __init__(self, tool: StyleCentreTool) -> None:
        self.tool = tool

    def paint(self, painter: QPainter, view) -> None:
        active = self.tool.canvas.tool
        if self.tool.world is None or active is self.tool or getattr(active, "markers", None) is self.tool:
            return  # the active tool draws them clearly
        painter.save()
        painter.setOpacity(FAINT_OPACITY)
        self.tool.paint(painter, view)
        painter.restore()
