"""The navigator (minimap): the neighbourhood of the view, drawn small from tiles already known.

It shows the canvas's cache ``NAVIGATOR_ZOOM_OUT`` powers of two further out than the canvas, with
the canvas's view as a rectangle, and it never asks the model for anything: what it shows is what
the canvas has seen (stand-ins included), so it costs only blits. Click or drag to move the view:
it sets the session's view (the canvas follows the session), and redraws on the session's events.

Signals
-------
sig_centre_requested(int, int)
    The user clicked the world pixel to centre the canvas on.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPen
from PySide6.QtWidgets import QWidget

from app.canvas import Canvas
from app.painting import paint_view
from app.session import weakly
from app.tiles import LevelPlan, View

NAVIGATOR_ZOOM_OUT = 3


class Navigator(QWidget):
    sig_centre_requested = Signal(object, object)

    def __init__(self, canvas: Canvas, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.setMinimumSize(160, 120)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        session = canvas.session
        session.view_changed.connect(weakly(self._on_tile))  # weakly: the session outlives no widget
        session.world_changed.connect(weakly(self._on_tile))
        canvas.worker.sig_tile_ready.connect(self._on_tile)
        self.sig_centre_requested.connect(lambda x, y: session.centre_on(x, y))

    def sizeHint(self) -> QSize:
        return QSize(240, 160)

    def mini_view(self) -> View:
        """The navigator's own view: centred with the canvas, ``NAVIGATOR_ZOOM_OUT`` levels further out."""
        v = self.canvas.view
        return View(v.cx, v.cy, v.zoom - NAVIGATOR_ZOOM_OUT, max(1, self.width()), max(1, self.height()))

    def _on_tile(self, *_args) -> None:
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        canvas = self.canvas
        mini = self.mini_view()
        # Its own plan: no zoom limit here, stand-ins reach down the levels the canvas has.
        plan = LevelPlan(1, max(0, -mini.zoom))
        state = canvas.state if canvas.plan is not None else None
        paint_view(
            painter,
            mini,
            plan,
            state,
            canvas.cache,
            max_up=2,
            max_down=NAVIGATOR_ZOOM_OUT + 1,
            standins=canvas.fallbacks,
        )
        # The canvas's view as a rectangle.
        view = canvas.view
        scale = mini.unit
        w, h = view.width * view.unit / scale, view.height * view.unit / scale
        rect = QRectF(mini.width / 2 - w / 2, mini.height / 2 - h / 2, w, h)
        painter.setPen(QPen(QColor(255, 220, 80), 1.5))
        painter.drawRect(rect)
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._centre_at(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._centre_at(event)

    def _centre_at(self, event: QMouseEvent) -> None:
        pos = event.position()
        x, y = self.mini_view().screen_to_world(pos.x(), pos.y())
        self.sig_centre_requested.emit(x, y)
