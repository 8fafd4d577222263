"""File ▸ Export: choose a region, scale, format and file; export in the background with progress.

The dialog only collects choices and shows progress; the work is :func:`engine.export.export`,
run by an :class:`ExportJob` in its own ``QThread`` with its own ``Renderer`` (from the factory it
is given), so the canvas keeps painting while a huge export streams to disk. Cancel sets a flag
the exporter polls between blocks; the exporter's atomic write guarantees that a cancelled or
failed export leaves no file under the chosen name.

Signals
-------
export_finished(str)
    The path of a completed export.
export_failed(str)
    A one-line reason (or "cancelled").
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QRegularExpression, QThread, Signal, Slot
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

from engine.errors import EverscapeError
from engine.export import COMPRESSIONS, ExportOptions, ExportProgress, estimate, export
from engine.geometry import Rect
from engine.render import Cancelled, Renderer
from engine.world import World

RendererFactory = Callable[[], Renderer]
FORMATS = {"TIFF (tiled, BigTIFF when large)": ".tif", "PNG (streamed)": ".png"}
MAX_SCALE_LEVEL = 8


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if count < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return ""


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "estimating…"
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"


class ExportJob(QObject):
    """One export, run by :meth:`run` in a worker thread.

    Signals
    -------
    progressed(float, str)
        Fraction done and a line of status (rate, ETA).
    finished(str)
        The written path.
    failed(str)
        A one-line reason; "cancelled" after :meth:`cancel`.
    """

    progressed = Signal(float, str)
    finished = Signal(str)
    failed = Signal(str)

    def __init__(self, factory: RendererFactory, world: World, rect: Rect, path: Path, options: ExportOptions) -> None:
        super().__init__()
        self.factory, self.world, self.rect, self.path, self.options = factory, world, rect, path, options
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Thread-safe: the exporter stops at its next block and removes its temporary file."""
        self._cancel.set()

    @Slot()
    def run(self) -> None:
        try:
            renderer = self.factory()
            export(
                renderer, self.world, self.rect, self.path, self.options,
                progress=self._report, cancelled=self._cancel.is_set,
            )  # fmt: skip
        except Cancelled:
            self.failed.emit("cancelled")
        except EverscapeError as error:
            self.failed.emit(str(error))
        except Exception as error:  # noqa: BLE001 - shown to the user, never lost in a thread
            self.failed.emit(f"internal error: {type(error).__name__}: {error}")
        else:
            self.finished.emit(str(self.path))

    def _report(self, report: ExportProgress) -> None:
        rate = report.done / report.elapsed / 1e6 if report.elapsed > 0 else 0.0
        self.progressed.emit(report.fraction, f"{report.stage}: {rate:.2f} Mpx/s, {format_eta(report.eta)} left")


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
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.world, self.factory, self.view, self.selection = world, factory, view, selection
        self.job: ExportJob | None = None
        self.thread_: QThread | None = None
        self._build(default_path or Path.home() / "everscape-export.tif")
        self._refresh()

    # -- layout ------------------------------------------------------------------------------------

    def _build(self, default_path: str | Path) -> None:
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

    # -- state -------------------------------------------------------------------------------------

    def chosen_rect(self) -> Rect | None:
        """The chosen world rectangle, or None while the custom fields are incomplete."""
        if self.view_radio.isChecked():
            return self.view
        if self.selection_radio.isChecked() and self.selection is not None:
            return self.selection
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
        self.job = ExportJob(self.factory, self.world, rect, self.path(), self.options())
        self.thread_ = QThread(self)
        self.job.moveToThread(self.thread_)
        self.thread_.started.connect(self.job.run)
        self.job.progressed.connect(self._on_job_progressed)
        self.job.finished.connect(self._on_job_finished)
        self.job.failed.connect(self._on_job_failed)
        self.progress_bar.setValue(0)
        self.status_label.setText("Starting…")
        self.cancel_button.setEnabled(True)
        self._refresh()
        self.thread_.start()

    @Slot()
    def cancel_export(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.status_label.setText("Cancelling…")

    def _on_job_progressed(self, fraction: float, text: str) -> None:
        self.progress_bar.setValue(int(fraction * 1000))
        self.status_label.setText(text)

    def _on_job_finished(self, path: str) -> None:
        self._stop_thread()
        self.progress_bar.setValue(1000)
        self.status_label.setText(f"Exported {path}")
        self.export_finished.emit(path)

    def _on_job_failed(self, message: str) -> None:
        self._stop_thread()
        self.status_label.setText("Export cancelled." if message == "cancelled" else f"Export failed: {message}")
        self.export_failed.emit(message)

    def _stop_thread(self) -> None:
        if self.thread_ is not None:
            self.thread_.quit()
            self.thread_.wait()
        self.job, self.thread_ = None, None
        self.cancel_button.setEnabled(False)
        self._refresh()

    def done(self, result: int) -> None:
        """Closing the dialog cancels a running export and waits for its thread to stop."""
        if self.job is not None:
            self.job.cancel()
            if self.thread_ is not None:
                self.thread_.quit()
                self.thread_.wait()
            self.job, self.thread_ = None, None
        super().done(result)
