"""A small live line plot for training curves, drawn with QPainter (no plotting dependency).

Long runs log hundreds of thousands of points; drawing all of them every update would stall the
UI. Each series is reduced to at most two points (min and max) per horizontal pixel before
drawing, which keeps spikes visible (the idea of pyqtgraph's peak downsampling, in a few lines).
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

COLOURS = ("#4e9ae0", "#e0804e", "#6cc070", "#c070c0", "#d0c050", "#60c8c8")


def downsample(points: list[tuple[int, float]], buckets: int) -> list[tuple[int, float]]:
    """At most ``2 * buckets`` points: each bucket of consecutive points keeps its min and max, in order."""
    if len(points) <= 2 * buckets or buckets < 1:
        return list(points)
    size = len(points) / buckets
    out: list[tuple[int, float]] = []
    for b in range(buckets):
        chunk = points[int(b * size) : int((b + 1) * size)]
        if not chunk:
            continue
        lo = min(range(len(chunk)), key=lambda i: chunk[i][1])
        hi = max(range(len(chunk)), key=lambda i: chunk[i][1])
        out.extend(chunk[i] for i in sorted({lo, hi}))
    return out


class LossPlot(QWidget):
    """``set_series({name: [(step, value), ...]})`` and it repaints; a legend names each colour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.series: dict[str, list[tuple[int, float]]] = {}
        self.setMinimumHeight(140)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_series(self, series: dict[str, list[tuple[int, float]]]) -> None:
        self.series = series
        self.update()

    def point_count(self) -> int:
        return sum(len(points) for points in self.series.values())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#1e1e1e"))
        margin = 6
        width, height = self.width() - 2 * margin, self.height() - 2 * margin - 14
        points = [p for values in self.series.values() for p in values]
        if not points or width < 4 or height < 4:
            return
        x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
        y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
        if x1 == x0:
            x1 = x0 + 1
        if math.isclose(y0, y1):
            y0, y1 = y0 - 0.5, y1 + 0.5
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for index, (name, values) in enumerate(self.series.items()):
            colour = QColor(COLOURS[index % len(COLOURS)])
            painter.setPen(QPen(colour, 1.5))
            shown = downsample(values, max(1, width // 2))
            polygon = QPolygonF(
                [
                    QPointF(margin + (x - x0) / (x1 - x0) * width, margin + 14 + (y1 - y) / (y1 - y0) * height)
                    for x, y in shown
                ]
            )
            if len(shown) == 1:
                painter.drawEllipse(polygon[0], 2, 2)
            else:
                painter.drawPolyline(polygon)
            painter.drawText(margin + index * 90, margin + 10, name)
        painter.setPen(QColor("#909090"))
        painter.drawText(
            self.rect().adjusted(0, margin - 2, -margin, 0),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop,
            f"{y0:.3g} … {y1:.3g}  (step {x0}–{x1})",
        )
