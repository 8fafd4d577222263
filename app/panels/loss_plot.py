"""Live curves for training (and any other ``name -> [(x, value), ...]`` series), on pyqtgraph.

pyqtgraph draws, pans, zooms and keeps up with long runs: each curve reduces itself to the min and
max per pixel (``peak`` downsampling) and to the visible x range (``clipToView``) before drawing, so
hundreds of thousands of points update without stutter. Around the plot this widget adds what a
training read-out needs: the x axis in steps or in wall time since the first point, a log y axis,
an exponential moving average (raw values stay as a faint line behind the smoothed one, as in
TensorBoard) and a hover read-out of every curve's value under the cursor.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

COLOURS = ("#4e9ae0", "#e0804e", "#6cc070", "#c070c0", "#d0c050", "#60c8c8")
X_AXES = ("step", "wall time (s)")


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """Bias-corrected exponential moving average (``weight`` 0 = raw): early points are not pulled to 0."""
    if weight <= 0 or len(values) == 0:
        return values
    out = np.empty_like(values, dtype=np.float64)
    average, norm = 0.0, 0.0
    for index, value in enumerate(values):
        average = weight * average + (1 - weight) * value
        norm = weight * norm + (1 - weight)
        out[index] = average / norm
    return out


class LossPlot(QWidget):
    """``set_series({name: [(step, value), ...]}, wall_times={step: seconds})`` and it redraws.

    ``wall_times`` (seconds since the run began, per step) lets the x axis show time instead of
    steps; steps without a time are left out of the time view.
    """

    def __init__(self, parent: QWidget | None = None, x_label: str = "step", y_label: str = "loss") -> None:
        super().__init__(parent)
        self.series: dict[str, list[tuple[float, float]]] = {}
        self.wall_times: dict[int, float] = {}
        self.x_label = x_label
        self.widget = pg.PlotWidget(background="#1e1e1e")
        self.widget.setMinimumHeight(140)
        self.item = self.widget.getPlotItem()
        self.item.showGrid(x=True, y=True, alpha=0.25)
        self.item.setLabel("bottom", x_label)
        self.item.setLabel("left", y_label)
        self.item.setDownsampling(auto=True, mode="peak")
        self.item.setClipToView(True)
        self.legend = self.item.addLegend(offset=(-10, 10))
        self.raw_curves: dict[str, pg.PlotDataItem] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.readout = QLabel(" ")
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.x_axis = QComboBox()
        self.x_axis.addItems(X_AXES if x_label == "step" else (x_label,))
        self.x_axis.currentIndexChanged.connect(lambda _index: self._redraw(auto_range=True))
        self.log_y = QCheckBox("log y")
        self.log_y.toggled.connect(self._on_log_toggled)
        self.smoothing = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=99)
        self.smoothing.setToolTip("Exponential moving average weight (0 = raw values)")
        self.smoothing.valueChanged.connect(lambda _value: self._redraw())
        controls = QHBoxLayout()
        controls.addWidget(QLabel("x"))
        controls.addWidget(self.x_axis)
        controls.addWidget(self.log_y)
        controls.addWidget(QLabel("smoothing"))
        controls.addWidget(self.smoothing, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.widget, 1)
        layout.addWidget(self.readout)
        self._mouse_proxy = pg.SignalProxy(self.widget.scene().sigMouseMoved, rateLimit=30, slot=self._on_mouse)

    # -- data ---------------------------------------------------------------------------------------

    def set_series(
        self, series: dict[str, list[tuple[float, float]]], wall_times: dict[int, float] | None = None
    ) -> None:
        self.series = series
        self.wall_times = dict(wall_times or {})
        self._redraw()

    def point_count(self) -> int:
        return sum(len(points) for points in self.series.values())

    def arrays(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The x (steps or seconds, per the axis chosen) and y values plotted for ``name``, smoothed."""
        x, y = self.raw_arrays(name)
        return x, ema(y, self.smoothing.value() / 100)

    def raw_arrays(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The x (steps or seconds) and raw y values of ``name``."""
        points = self.series.get(name) or []
        steps = np.fromiter((p[0] for p in points), dtype=np.float64, count=len(points))
        values = np.fromiter((p[1] for p in points), dtype=np.float64, count=len(points))
        if self.x_axis.currentIndex() == 1:  # wall time: only the steps whose arrival was timed
            times = np.array([self.wall_times.get(int(s), np.nan) for s in steps], dtype=np.float64)
            keep = np.isfinite(times)
            steps, values = times[keep], values[keep]
        return steps, values

    # -- drawing ------------------------------------------------------------------------------------

    def _curve(self, name: str) -> tuple[pg.PlotDataItem, pg.PlotDataItem]:
        if name not in self.curves:
            colour = COLOURS[len(self.curves) % len(COLOURS)]
            faint = pg.mkColor(colour)
            faint.setAlpha(70)
            self.raw_curves[name] = self.item.plot(pen=pg.mkPen(faint, width=1))
            self.curves[name] = self.item.plot(pen=pg.mkPen(colour, width=1.5), name=name)
        return self.raw_curves[name], self.curves[name]

    def _redraw(self, auto_range: bool = False) -> None:
        for name in list(self.curves):
            if name not in self.series:
                self.item.removeItem(self.curves.pop(name))
                self.item.removeItem(self.raw_curves.pop(name))
                self.legend.removeItem(name)
        smoothing = self.smoothing.value() > 0
        for name in self.series:
            raw, smooth = self._curve(name)
            x, y = self.raw_arrays(name)
            smooth.setData(x, ema(y, self.smoothing.value() / 100))
            raw.setData(x if smoothing else [], y if smoothing else [])
        self.item.setLabel("bottom", self.x_axis.currentText())
        if auto_range:
            self.item.enableAutoRange()

    def _on_log_toggled(self, on: bool) -> None:
        self.item.setLogMode(y=on)
        self.item.enableAutoRange()

    # -- hover --------------------------------------------------------------------------------------

    def _on_mouse(self, args) -> None:
        pos: QPointF = args[0]
        if self.item.sceneBoundingRect().contains(pos):
            self.show_readout_at(self.item.vb.mapSceneToView(pos).x())

    def show_readout_at(self, x: float) -> str:
        """Each curve's (smoothed) value at the point nearest ``x``; shown under the plot and returned."""
        parts = []
        for name in self.series:
            xs, ys = self.arrays(name)
            if len(xs) == 0:
                continue
            index = int(np.clip(np.searchsorted(xs, x), 0, len(xs) - 1))
            if index > 0 and abs(xs[index - 1] - x) < abs(xs[index] - x):
                index -= 1
            parts.append(f"{name} {ys[index]:.4g} @ {xs[index]:g}")
        text = "   ".join(parts) or " "
        self.readout.setText(text)
        return text
