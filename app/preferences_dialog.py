"""The preferences dialog: memory budget, prefetch ring, zoom-out depth, theme, device, developer models.

Edits a :class:`~app.settings.Preferences` copy; the caller saves and applies it on accept. Memory,
prefetch and zoom-out depth apply at once; device and batch size when the app next starts, since
the worker owns the device for its whole life.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from app.settings import Preferences
from app.theme import THEMES

DEVICES = ("auto", "cpu", "cuda", "mps")


class PreferencesDialog(QDialog):
    def __init__(self, prefs: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self._prefs = dataclasses.replace(prefs)
        form = QFormLayout(self)
        self.memory = QSpinBox(minimum=128, maximum=256 * 1024, singleStep=256, suffix=" MiB", value=prefs.memory_mib)
        self.memory.setToolTip(
            "One budget for what the app keeps: half for display tiles, a quarter for latents, the rest for "
            "work in flight; the least recently seen are dropped beyond it. The model itself comes on top."
        )
        form.addRow("Memory budget", self.memory)
        self.prefetch = QSpinBox(minimum=0, maximum=4, value=prefs.prefetch, suffix=" tiles")
        self.prefetch.setToolTip("How far beyond the view to render ahead while idle")
        form.addRow("Render ahead", self.prefetch)
        self.synth = QSpinBox(minimum=0, maximum=4, value=prefs.synth_levels)
        self.synth.setToolTip("Zoom-out levels beyond the model's own; each one costs 4x the work per view")
        form.addRow("Extra zoom-out levels", self.synth)
        self.theme = QComboBox()
        self.theme.addItems([name.capitalize() for name in THEMES])
        self.theme.setCurrentIndex(THEMES.index(prefs.theme) if prefs.theme in THEMES else 0)
        self.theme.setToolTip("System follows the desktop's dark or light setting; applies at once")
        form.addRow("Theme", self.theme)
        self.kinetic = QCheckBox("Keep gliding after a flick", checked=prefs.kinetic)
        form.addRow("", self.kinetic)
        self.device = QComboBox()
        self.device.addItems(list(DEVICES) if prefs.device in DEVICES else [*DEVICES, prefs.device])
        self.device.setCurrentText(prefs.device)
        form.addRow("Device", self.device)
        self.batch = QSpinBox(minimum=1, maximum=64, value=prefs.batch_tiles, suffix=" tiles")
        form.addRow("Tiles per step", self.batch)
        self.developer = QCheckBox("Offer random FAMILY:CONFIG models", checked=prefs.developer)
        form.addRow("Developer", self.developer)
        form.addRow(QLabel("Device and tiles per step apply after a restart."))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def preferences(self) -> Preferences:
        """The edited preferences (the dialog's input, nothing saved)."""
        return dataclasses.replace(
            self._prefs,
            memory_mib=self.memory.value(),
            prefetch=self.prefetch.value(),
            synth_levels=self.synth.value(),
            kinetic=self.kinetic.isChecked(),
            theme=THEMES[self.theme.currentIndex()],
            device=self.device.currentText(),
            batch_tiles=self.batch.value(),
            developer=self.developer.isChecked(),
        )
