"""Brush size and hardness, and the fusion overlay's toggle and opacity, under the styles palette."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QFormLayout, QSlider, QSpinBox, QWidget

from app.fusion_overlay import FusionOverlay
from app.tools.brush import SIZE_STEPS, BrushSettings


def _slider(value: int) -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(0, 100)
    slider.setValue(value)
    return slider


class PaintOptions(QWidget):
    """Edits :class:`BrushSettings` and the overlay; :meth:`show_settings` follows ``[``/``]`` keys."""

    def __init__(self, settings: BrushSettings, overlay: FusionOverlay, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings, self.overlay = settings, overlay
        self.size_box = QSpinBox()
        self.size_box.setRange(SIZE_STEPS[0], SIZE_STEPS[-1])
        self.size_box.setSuffix(" px")
        self.size_box.setToolTip("Brush diameter on screen ([ and ] step it)")
        self.hardness = _slider(round(settings.hardness * 100))
        self.hardness.setToolTip("Soft (left) to hard (right) edge (Shift+[ and Shift+] step it)")
        self.overlay_box = QCheckBox("Fusion overlay")
        self.overlay_box.setToolTip("Tint the canvas by style: the map being painted and its blend zones")
        self.opacity = _slider(round(overlay.opacity * 100))
        self.opacity.setToolTip("Opacity of the fusion overlay")
        form = QFormLayout(self)
        form.setContentsMargins(4, 0, 4, 4)
        form.addRow("Brush size", self.size_box)
        form.addRow("Hardness", self.hardness)
        form.addRow(self.overlay_box)
        form.addRow("Opacity", self.opacity)
        self.show_settings()
        self.size_box.valueChanged.connect(self._on_size)
        self.hardness.valueChanged.connect(self._on_hardness)
        self.overlay_box.toggled.connect(overlay.set_enabled)
        self.opacity.valueChanged.connect(lambda value: overlay.set_opacity(value / 100))

    def _on_size(self, value: int) -> None:
        self.settings.size = value

    def _on_hardness(self, value: int) -> None:
        self.settings.hardness = value / 100

    def show_settings(self) -> None:
        hardness = round(self.settings.hardness * 100)
        for widget, value in ((self.size_box, self.settings.size), (self.hardness, hardness)):
            widget.blockSignals(True)
            widget.setValue(value)
            widget.blockSignals(False)
