"""The rectangle-select tool: a world rectangle that File ▸ Export offers as "Selected rectangle".

Drag on empty canvas to draw a selection; drag a corner or edge handle to adjust it, its inside to
move it; Escape cancels a drag, Delete clears the selection. The selection is not an edit of the
world (it decides no pixel), so it is kept here, not in the undo history. Its outline and size in
pixels stay drawn in every tool (an overlay of the canvas), so what Export will write is always in
view; the handles appear only while this tool is active.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QAction, QColor, QKeyEvent, QKeySequence, QMouseEvent, QPainter, QPen

from app.tiles import SUB
from app.tools.base import CanvasTool
from app.tools.resample import span_rect
from engine.geometry import Rect

OUTLINE = QColor(80, 170, 255)
HANDLE_PX = 5.0  # half the side of a drawn handle; also how near (screen px) a press grabs one
#: Handle name -> which edges it moves: (left, top, right, bottom).
HANDLES: dict[str, tuple[bool, bool, bool, bool]] = {
    "top-left": (True, True, False, False),
    "top": (False, True, False, False),
    "top-right": (False, True, True, False),
    "right": (False, False, True, False),
    "bottom-right": (False, False, True, True),
    "bottom": (False, False, False, True),
    "bottom-left": (True, False, False, True),
    "left": (True, False, False, False),
}


def screen_rect(rect: Rect, view) -> QRectF:
    """``rect`` (world pixels) in widget coordinates of ``view``."""
    x0, y0 = view.world_to_screen(rect.x, rect.y)
    scale = SUB / view.unit
    return QRectF(x0, y0, rect.w * scale, rect.h * scale)


def handle_points(area: QRectF) -> dict[str, QPointF]:
    """Where each handle of a selection drawn at ``area`` sits on screen."""
    cx, cy = area.center().x(), area.center().y()
    left, top, right, bottom = area.left(), area.top(), area.right(), area.bottom()
    return {
        "top-left": QPointF(left, top),
        "top": QPointF(cx, top),
        "top-right": QPointF(right, top),
        "right": QPointF(right, cy),
        "bottom-right": QPointF(right, bottom),
        "bottom": QPointF(cx, bottom),
        "bottom-left": QPointF(left, bottom),
        "left": QPointF(left, cy),
    }


def adjusted(rect: Rect, handle: str, dx: int, dy: int) -> Rect:
    """``rect`` with the edges of ``handle`` moved by ``(dx, dy)`` world pixels, never below 1 px
    and never turned inside out (an edge dragged past its opposite stops one pixel short)."""
    move_left, move_top, move_right, move_bottom = HANDLES[handle]
    left, top, right, bottom = rect.x, rect.y, rect.right, rect.bottom
    if move_left:
        left = min(left + dx, right - 1)
    if move_right:
        right = max(right + dx, left + 1)
    if move_top:
        top = min(top + dy, bottom - 1)
    if move_bottom:
        bottom = max(bottom + dy, top + 1)
    return Rect(left, top, right - left, bottom - top)


class SelectionOverlay:
    """Draws the selection (outline, size label) over the tiles whatever the active tool."""

    def __init__(self, tool: SelectRectTool) -> None:
        self.tool = tool

    def paint(self, painter: QPainter, view) -> None:
        rect = self.tool.shown_rect()
        if rect is None:
            return
        area = screen_rect(rect, view)
        painter.save()
        painter.setPen(QPen(OUTLINE, 1.5, Qt.PenStyle.DashLine))
        painter.setBrush(QColor(OUTLINE.red(), OUTLINE.green(), OUTLINE.blue(), 28))
        painter.drawRect(area)
        label = f"{rect.w} × {rect.h} px"
        painter.setPen(QPen(QColor(255, 255, 255)))
        metrics = painter.fontMetrics()
        width, height = metrics.horizontalAdvance(label) + 8, metrics.height() + 2
        box = QRectF(area.left(), area.top() - height - 2, width, height)
        painter.fillRect(box, QColor(0, 0, 0, 150))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, label)
        painter.restore()


class SelectRectTool(CanvasTool):
    """See the module docstring; :attr:`selection` is the selected world rectangle or None."""

    short_name = "Select"
    name = "Select rectangle"

    def __init__(self, canvas, report_error=None) -> None:
        super().__init__(canvas, lambda *args: None, report_error)
        self.selection: Rect | None = None
        self.active = False
        self._grab: str | None = None  # "new", "move" or a handle name while dragging
        self._start: tuple[int, int] | None = None  # world pixel where the drag began
        self._before: Rect | None = None  # the selection when the drag began
        self._current: Rect | None = None  # what the drag would make of it
        canvas.overlays.append(SelectionOverlay(self))

    def shown_rect(self) -> Rect | None:
        return self._current if self._grab is not None else self.selection

    def set_selection(self, rect: Rect | None) -> None:
        self.selection = rect
        self.canvas.update()

    def activate(self) -> None:
        self.active = True

    def deactivate(self) -> None:
        self.active = False
        self._grab = self._start = self._before = self._current = None
        self.canvas.update()

    def grab_at(self, pos: QPointF) -> str:
        """What a press at screen ``pos`` takes hold of: a handle, the inside ("move") or nothing ("new")."""
        if self.selection is None:
            return "new"
        area = screen_rect(self.selection, self.canvas.view)
        for name, point in handle_points(area).items():
            if abs(point.x() - pos.x()) <= HANDLE_PX + 1 and abs(point.y() - pos.y()) <= HANDLE_PX + 1:
                return name
        return "move" if area.contains(pos) else "new"

    def press(self, event: QMouseEvent) -> bool:
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        self._grab = self.grab_at(event.position())
        self._start = self.world_at(event)
        self._before = self.selection
        self._current = span_rect(self._start, self._start) if self._grab == "new" else self.selection
        self.canvas.update()
        return True

    def move(self, event: QMouseEvent) -> bool:
        if self._grab is None or self._start is None:
            return False
        x, y = self.world_at(event)
        dx, dy = x - self._start[0], y - self._start[1]
        if self._grab == "new":
            self._current = span_rect(self._start, (x, y))
        elif self._grab == "move" and self._before is not None:
            self._current = Rect(self._before.x + dx, self._before.y + dy, self._before.w, self._before.h)
        elif self._before is not None:
            self._current = adjusted(self._before, self._grab, dx, dy)
        self.canvas.update()
        return True

    def release(self, event: QMouseEvent) -> bool:
        if self._grab is None or event.button() != Qt.MouseButton.LeftButton:
            return self._grab is not None
        self.move(event)
        if self._grab != "new" or self._current is None or self._current.w > 1 or self._current.h > 1:
            self.selection = self._current  # a bare click on empty canvas keeps the selection
        self._grab = self._start = self._before = self._current = None
        self.canvas.update()
        return True

    def key(self, event: QKeyEvent) -> bool:
        if event.key() == Qt.Key.Key_Escape and self._grab is not None:
            self._grab = self._start = self._before = self._current = None
            self.canvas.update()
            return True
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.selection is not None:
            self.set_selection(None)
            return True
        return False

    def paint(self, painter: QPainter, view) -> None:
        rect = self.shown_rect()
        if rect is None:
            return
        painter.save()
        painter.setPen(QPen(OUTLINE, 1.0))
        painter.setBrush(QColor(255, 255, 255))
        for point in handle_points(screen_rect(rect, view)).values():
            painter.drawRect(QRectF(point.x() - HANDLE_PX, point.y() - HANDLE_PX, 2 * HANDLE_PX, 2 * HANDLE_PX))
        painter.restore()


def install_select_rect(window) -> SelectRectTool:
    """The tool on the Tools toolbar (shortcut M, "marquee"), and Edit ▸ Select none."""
    tools = window.tools
    tool = SelectRectTool(window.canvas, window.show_error)
    action: QAction = tools.add_tool(tool, "Drag a rectangle for File ▸ Export; drag its handles to adjust it")
    action.setShortcut(QKeySequence("M"))
    tools.select_action = action
    clear = tools.edit_menu.addAction("Select &none", QKeySequence("Ctrl+Shift+A"), lambda: tool.set_selection(None))
    clear.setToolTip("Forget the selected rectangle")
    return tool
