"""Kinetic panning: a flick keeps the canvas gliding after the mouse is released, slowing down.

The drag's velocity is a running average of its last moves (px per ms); a release within 60 ms of
the last move, faster than 0.3 px/ms, continues it at 60 Hz, losing ``DECAY`` of it per frame.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QElapsedTimer, QObject, QPointF, QTimer

DECAY = 0.9  # velocity kept per 16 ms frame after a flick
MIN_SPEED = 0.05  # px/ms below which a glide stops
FLICK_SPEED = 0.3  # px/ms a release must exceed to glide
FLICK_WINDOW_MS = 60  # a release later than this after the last move is a stop, not a flick


class Glide(QObject):
    """Tracks a drag and continues it after release by calling ``pan(dx, dy)`` each frame."""

    def __init__(self, pan: Callable[[int, int], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pan = pan
        self.velocity = QPointF(0, 0)
        self.timer = QTimer(self, interval=16)
        self.timer.timeout.connect(self._tick)
        self._clock = QElapsedTimer()
        self._rest = QPointF(0, 0)  # sub-pixel remainder carried to the next frame

    def grab(self) -> None:
        """A drag starts: any glide stops."""
        self.timer.stop()
        self.velocity = QPointF(0, 0)
        self._clock.start()

    def track(self, dx: int, dy: int) -> None:
        """The drag moved by ``(dx, dy)`` px since the last call."""
        elapsed = max(1, self._clock.restart())
        self.velocity = self.velocity * 0.5 + QPointF(dx / elapsed, dy / elapsed) * 0.5

    def release(self) -> None:
        """The drag ends: glide on if it was a flick."""
        speed = (self.velocity.x() ** 2 + self.velocity.y() ** 2) ** 0.5
        if self._clock.elapsed() < FLICK_WINDOW_MS and speed > FLICK_SPEED:
            self._rest = QPointF(0, 0)
            self.timer.start()

    def _tick(self) -> None:
        step = self.velocity * 16 + self._rest
        dx, dy = round(step.x()), round(step.y())
        self._rest = QPointF(step.x() - dx, step.y() - dy)
        self.pan(dx, dy)
        self.velocity *= DECAY
        if (self.velocity.x() ** 2 + self.velocity.y() ** 2) ** 0.5 < MIN_SPEED:
            self.timer.stop()
