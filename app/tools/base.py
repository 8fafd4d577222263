"""The interface between the canvas and a tool.

The canvas offers every mouse, wheel and key event to its active tool first; a hook returns True
when it used the event (the canvas then does nothing more), False to let the canvas pan and zoom as
usual. :meth:`CanvasTool.paint` draws overlays after the tiles, in the same paint pass, so it must
be cheap: a few shapes, no model work.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from PySide6.QtGui import QKeyEvent, QMouseEvent, QPainter, QWheelEvent

from engine.world import World

#: ``commit(world, merge=None, label="Edit")``: record an edited world (``merge``: see
#: :class:`app.history.History`; ``label``: what the edit did, shown as "Undo <label>").
Commit = Callable[..., None]


class CanvasTool:
    """Base tool: uses no event and draws nothing (subclasses override what they need)."""

    name = "tool"
    short_name = "tool"  # toolbar text

    def __init__(self, canvas, commit: Commit, report_error: Callable[[str], None] | None = None) -> None:
        self.canvas = canvas
        self._commit = commit
        self.report_error = report_error or (lambda message: None)

    @property
    def world(self) -> World | None:
        return self.canvas.world

    def commit(self, world: World, merge: Hashable | None = None, label: str = "Edit") -> None:
        self._commit(world, merge, label)

    def world_at(self, event) -> tuple[int, int]:
        pos = event.position()
        return self.canvas.view.screen_to_world(pos.x(), pos.y())

    def activate(self) -> None:
        """Became the canvas's tool."""

    def deactivate(self) -> None:
        """Another tool (or none) took over: drop any gesture in progress."""

    def press(self, event: QMouseEvent) -> bool:
        return False

    def move(self, event: QMouseEvent) -> bool:
        return False

    def release(self, event: QMouseEvent) -> bool:
        return False

    def wheel(self, event: QWheelEvent) -> bool:
        return False

    def key(self, event: QKeyEvent) -> bool:
        return False

    def paint(self, painter: QPainter, view) -> None:
        """Overlays, in widget coordinates for ``view``."""
