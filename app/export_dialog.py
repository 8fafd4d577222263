"""File ▸ Export: choose a region, scale, format and file; export in the background with progress.

The dialog only collects choices and shows progress; the work is a job (:mod:`app.export_job`)
of the window's :class:`~app.jobs.JobManager`, so it is also listed, cancellable and retriable in
the Jobs dock, and keeps running there if the dialog is closed. A dialog given no manager makes
its own and cancels its job when closed.

Signals
-------
export_finished(str)
    The path of a completed export.
export_failed(str)
    A one-line reason (or "cancelled").
"""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import QRegularExpression, Signal, Slot
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.export_job import RendererFactory, export_coroutine, show_export
from app.jobs import Job, JobManager, JobState
from engine.cyclic import loop_rect
from engine.errors import EverscapeError
from engine.export import COMPRESSIONS, ExportOptions, estimate
from engine.geometry import Rect
from engine.world import World

FORMATS = {"TIFF (tiled, BigTIFF when large)": ".tif", "PNG (streamed)": ".png"}
MAX_SCALE_LEVEL = 8


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if count < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return ""


class ExportDialog(QDialog):
    """The export dialog (see module docstring); ``view`` is the canvas's visible world rect."""

    export_finished = Signal(str)
    export_failed = Signal(str)

    def __init__(
        self,
        world: World,
        factory: RendererFactory,
        view: Rect,
        selection: Rect | None = None,
        parent: QWidget | None = None,
        default_path: str | Path | None = None,
        jobs: JobManager | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.world, self.factory, self.view, self.selection = world, factory, view, selection
        self.own_jobs = jobs is None
        self.jobs = jobs or JobManager(self)
        self.job: Job | None = None
        self._build(default_path or Path.home() / "everscape-export.tif")
        self._refresh()

    # -- layout ------------------------------------------------------------------------------------

    def _build(self, default_path: str | Path) -> None:
        region, options = self._build_region(), self._build_options(default_path)
        self._build_footer(region, options)
        self.format_combo.currentIndexChanged.connect(self._on_format_changed)
        self._on_format_changed()
        self.region_group.idToggled.connect(lambda *_: self._refresh())
        for signal in (
            self.x_edit.textChanged, self.y_edit.textChanged, self.w_spin.valueChanged, self.h_spin.valueChanged,
            self.scale_combo.currentIndexChanged, self.compression_combo.currentIndexChanged,
            self.pyramid_check.toggled, self.path_edit.textChanged,
        ):  # fmt: skip
            signal.connect(lambda *_: self._refresh())
        self.export_button.clicked.connect(self.start_export)
        self.cancel_button.clicked.connect(self.cancel_export)
        self.close_button.clicked.connect(self.close)

    def _build_region(self) -> QGroupBox:
        """Which rectangle: the view, the selection, or typed coordinates."""
        region = QGroupBox("Region")
        grid = QGridLayout(region)
        self.region_group = QButtonGroup(self)
        self.view_radio = QRadioButton(f"Current view ({self.view.w} × {self.view.h})")
        self.selection_radio = QRadioButton(
            f"Selected rectangle ({self.selection.w} × {self.selection.h})" if self.selection else "Selected rectangle"
        )
        self.selection_radio.setEnabled(self.selection is not None)
        self.custom_radio = QRadioButton("Custom")
        for index, radio in enumerate((self.view_radio, self.selection_radio, self.custom_radio)):
            self.region_group.addButton(radio, index)
            grid.addWidget(radio, index, 0, 1, 4)
        (self.selection_radio if self.selection else self.view_radio).setChecked(True)
        self._build_loop_choice(grid)
        integer = QRegularExpressionValidator(QRegularExpression(r"-?\d{1,18}"), self)
        start = self.selection or self.view
        self.x_edit, self.y_edit = QLineEdit(str(start.x)), QLineEdit(str(start.y))
        for edit in (self.x_edit, self.y_edit):
            edit.setValidator(integer)
        self.w_spin, self.h_spin = QSpinBox(), QSpinBox()
        for spin, value in ((self.w_spin, start.w), (self.h_spin, start.h)):
            spin.setRange(1, 2**31 - 1)
            spin.setValue(min(value, 2**31 - 1))
            spin.setSuffix(" px")
        for column, (label, widget) in enumerate(
            (("x", self.x_edit), ("y", self.y_edit), ("width", self.w_spin), ("height", self.h_spin))
        ):
            grid.addWidget(QLabel(label), 3, column * 2)
            grid.addWidget(widget, 3, column * 2 + 1)
        return region

    def _build_loop_choice(self, grid: QGridLayout) -> None:
        """The region "Seamless loop": the world's cyclic panorama (Edit ▸ Make seamless loop…), one
        period wide, so that the written image's right edge continues into its left (engine.cyclic)."""
        try:
            self.loop: Rect | None = loop_rect(self.world)
        except EverscapeError:
            self.loop = None  # no loop (or a damaged loop record): nothing to offer
        text = f"Seamless loop ({self.loop.w} × {self.loop.h}, wraps around)" if self.loop else "Seamless loop"
        self.loop_radio = QRadioButton(text)
        self.loop_radio.setToolTip("Make one with Edit ▸ Make seamless loop… on a dropped image")
        self.loop_radio.setEnabled(self.loop is not None)
        self.region_group.addButton(self.loop_radio, 3)
        grid.addWidget(self.loop_radio, 4, 0, 1, 4)

    def _build_options(self, default_path: str | Path) -> QWidget:
        """Scale, format, compression, pyramid and the output file."""
        options = QWidget()
        form = QFormLayout(options)
        self.scale_combo = QComboBox()
        for level in range(MAX_SCALE_LEVEL + 1):
            self.scale_combo.addItem("1:1 (full resolution)" if level == 0 else f"1:{2**level}", level)
        self.format_combo = QComboBox()
        for name, suffix in FORMATS.items():
            self.format_combo.addItem(name, suffix)
        self.compression_combo = QComboBox()
        self.pyramid_check = QCheckBox("Add a pyramid of reduced levels (opens instantly in viewers)")
        self.pyramid_check.setChecked(True)
        path_row = QHBoxLayout()
        self.path_edit = QLineEdit(str(default_path))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse_clicked)
        path_row.addWidget(self.path_edit)
        path_row.addWidget(browse)
        form.addRow("Scale", self.scale_combo)
        form.addRow("Format", self.format_combo)
        form.addRow("Compression", self.compression_combo)
        form.addRow("", self.pyramid_check)
        form.addRow("File", path_row)
        return options

    def _build_footer(self, region: QGroupBox, options: QWidget) -> None:
        """Size and disk read-outs, progress, the buttons, and the dialog's layout."""
        self.size_label = QLabel()
        self.disk_label = QLabel()
        self.disk_label.setWordWrap(True)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.status_label = QLabel("")
        self.export_button = QPushButton("Export")
        self.cancel_button = QPushButton("Cancel")
        self.close_button = QPushButton("Close")
        self.cancel_button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.export_button, self.cancel_button, self.close_button):
            buttons.addWidget(button)

        layout = QVBoxLayout(self)
        for widget in (region, options, self.size_label, self.disk_label, self.progress_bar, self.status_label):
            layout.addWidget(widget)
        layout.addLayout(buttons)

    # -- state -------------------------------------------------------------------------------------

    def chosen_rect(self) -> Rect | None:
        """The chosen world rectangle, or None while the custom fields are incomplete."""
        if self.view_radio.isChecked():
            return self.view
        if self.selection_radio.isChecked() and self.selection is not None:
            return self.selection
        if self.loop_radio.isChecked() and self.loop is not None:
            return self.loop
        try:
            return Rect(int(self.x_edit.text()), int(self.y_edit.text()), self.w_spin.value(), self.h_spin.value())
        except (ValueError, EverscapeError):
            return None

    def options(self) -> ExportOptions:
        tiff = self.format_combo.currentData() == ".tif"
        return ExportOptions(
            compression=self.compression_combo.currentData() or "zlib",
            pyramid=-1 if tiff and self.pyramid_check.isChecked() else 0,
            scale_level=self.scale_combo.currentData(),
        )

    def path(self) -> Path:
        return Path(self.path_edit.text()).expanduser()

    def _on_format_changed(self) -> None:
        suffix = self.format_combo.currentData()
        kind = "tiff" if suffix == ".tif" else "png"
        self.compression_combo.blockSignals(True)
        self.compression_combo.clear()
        for name in COMPRESSIONS[kind]:
            self.compression_combo.addItem(name, name)
        self.compression_combo.blockSignals(False)
        self.pyramid_check.setEnabled(kind == "tiff")
        path = self.path()
        if path.suffix.lower() not in ((".tif", ".tiff") if kind == "tiff" else (".png",)):
            self.path_edit.setText(str(path.with_suffix(suffix)))
        self._refresh()

    def _on_browse_clicked(self) -> None:
        suffix = self.format_combo.currentData()
        name, _ = QFileDialog.getSaveFileName(self, "Export to", str(self.path()), f"Images (*{suffix})")
        if name:
            self.path_edit.setText(name)

    def _refresh(self) -> None:
        """Recompute the size estimate and the free-space check; enable Export when it can run."""
        if not hasattr(self, "export_button"):
            return
        for edit in (self.x_edit, self.y_edit, self.w_spin, self.h_spin):
            edit.setEnabled(self.custom_radio.isChecked())
        rect, ok = self.chosen_rect(), True
        if rect is None:
            self.size_label.setText("Enter x, y, width and height.")
            ok = False
        else:
            try:
                width, height, raw = estimate(rect, self.path(), self.options())
            except EverscapeError as error:
                self.size_label.setText(str(error))
                ok = False
            else:
                megapixels = width * height / 1e6
                self.size_label.setText(
                    f"{width} × {height} px ({megapixels:,.1f} Mpx), {human_bytes(raw)} uncompressed"
                )
                ok = self._check_disk(raw) and ok
        running = self.job is not None
        self.export_button.setEnabled(ok and not running)

    def _check_disk(self, raw: int) -> bool:
        folder = self.path().parent
        try:
            if not folder.is_dir():
                raise NotADirectoryError(folder)
            free = shutil.disk_usage(folder).free
        except OSError:
            self.disk_label.setText(f"Folder {folder} does not exist.")
            return False
        compression = self.compression_combo.currentData()
        if raw > free and compression == "none":
            self.disk_label.setText(f"Not enough space: {human_bytes(raw)} needed, {human_bytes(free)} free.")
            return False
        if raw > free:
            self.disk_label.setText(
                f"Warning: {human_bytes(free)} free; the file may not fit (up to {human_bytes(raw)} uncompressed)."
            )
        else:
            self.disk_label.setText(f"{human_bytes(free)} free on disk.")
        return True

    # -- the job -----------------------------------------------------------------------------------

    @Slot()
    def start_export(self) -> None:
        rect = self.chosen_rect()
        if rect is None or self.job is not None:
            return
        path = self.path()
        run = export_coroutine(self.factory, self.world, rect, path, self.options())
        self.job = self.jobs.start(f"Export {path.name}", run, show_result=show_export, kind="export")
        self.job.sig_changed.connect(self._on_job_changed)
        self.job.sig_finished.connect(self._on_job_finished)
        self.progress_bar.setValue(0)
        self.status_label.setText("Starting…")
        self.cancel_button.setEnabled(True)
        self._refresh()

    @Slot()
    def cancel_export(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.status_label.setText("Cancelling…")

    def _on_job_changed(self) -> None:
        if self.job is not None and self.job.running:
            self.progress_bar.setValue(int((self.job.fraction or 0.0) * 1000))
            self.status_label.setText(self.job.status)

    def _on_job_finished(self) -> None:
        job, self.job = self.job, None
        self.cancel_button.setEnabled(False)
        self._refresh()
        if job is None:
            return
        if job.state is JobState.DONE:
            self.progress_bar.setValue(1000)
            self.status_label.setText(f"Exported {job.result}")
            self.export_finished.emit(job.result)
        elif job.state is JobState.CANCELLED:
            self.status_label.setText("Export cancelled.")
            self.export_failed.emit("cancelled")
        else:
            self.status_label.setText(f"Export failed: {job.error}")
            self.export_failed.emit(job.error or "")

    def done(self, result: int) -> None:
        """Closing the dialog leaves a running export to the Jobs dock, or cancels it (and waits)
        when the dialog runs its own jobs."""
        job, self.job = self.job, None
        if job is not None:
            job.sig_changed.disconnect(self._on_job_changed)
            job.sig_finished.disconnect(self._on_job_finished)
            if self.own_jobs:
                self.jobs.cancel_all()
        super().done(result)
