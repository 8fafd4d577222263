"""View ▸ Training: start, watch, stop and resume training runs, and open their result on the canvas.

Each job is a :class:`~app.panels.training_job.TrainingJob` (a child process), so training can
crash or run out of memory without taking the viewer down. The panel shows the selected job:
its loss curves (every metric whose name ends in ``loss``), the newest sample grid, a status line
(step, img/s, ETA, or why it failed) and the lines of its output that were not progress.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.jobs import JobManager
from app.panels.loss_plot import LossPlot
from app.panels.training_job import TrainingJob, training_coroutine
from app.qimage import array_to_qimage
from engine.errors import EverscapeError, InvalidInput
from engine.imageio import read_image
from engine.train.progress import JobSpec

#: The maps ``--data`` knows by name; File…/Folder… fill in a path instead.
DATA_SOURCES = ("bluemarble", "shadedrelief", "etopo")


def _families() -> list[str]:
    from engine.models.registry import available_families, get_family

    return [f for f in available_families() if get_family(f).trainable]


def _recipes() -> list[str]:
    from engine.train.recipes import RECIPES

    return list(RECIPES)


def _same_folder(a: str, b: str) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def plotted(metrics: dict[str, list[tuple[int, float]]]) -> dict[str, list[tuple[int, float]]]:
    """The curves worth plotting: the losses if any were logged, else every metric."""
    losses = {name: points for name, points in metrics.items() if name.endswith("loss")}
    return losses or metrics


class TrainingPanel(QWidget):
    """The form, the job list and the selected job's read-outs. Call :meth:`shutdown` before closing."""

    def __init__(
        self,
        open_model: Callable[[str], None] | None = None,
        grace_ms: int = 30000,
        parent: QWidget | None = None,
        jobs: JobManager | None = None,
        ship_run: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.open_model = open_model
        self.ship_run = ship_run  # "Ship…": a finished run's folder, shipped as a model (a job)
        self.job_manager = jobs
        self.grace_ms = grace_ms
        self.jobs: list[TrainingJob] = []
        self._log_shown: tuple[TrainingJob | None, int] = (None, 0)
        self._build_form()
        self._build_jobs()
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addLayout(self._start_row)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.job_list)
        splitter.addWidget(self.plot)
        splitter.addWidget(self.preview)
        splitter.addWidget(self.log_view)
        layout.addWidget(splitter, 1)
        layout.addLayout(self._job_row)
        layout.addWidget(self.status_label)
        self._update_buttons()

    # -- construction -------------------------------------------------------------------------------

    def _build_form(self) -> None:
        self.form = QFormLayout()
        self.kind = QComboBox()
        self.kind.addItems(["family", "recipe"])
        self.kind.currentTextChanged.connect(self._fill_models)
        self.model = QComboBox()
        kind_row = QHBoxLayout()
        kind_row.addWidget(self.kind)
        kind_row.addWidget(self.model, 1)
        self.form.addRow("Train", kind_row)
        self.config = QLineEdit()
        self.config.setPlaceholderText("tiny (recipe: its own)")
        self.form.addRow("Config", self.config)
        self.data = QComboBox()
        self.data.setEditable(True)
        self.data.addItems(DATA_SOURCES)
        self.browse_file = QPushButton("File…")
        self.browse_file.clicked.connect(lambda: self._browse_data(folder=False))
        self.browse_folder = QPushButton("Folder…")
        self.browse_folder.clicked.connect(lambda: self._browse_data(folder=True))
        data_row = QHBoxLayout()
        data_row.addWidget(self.data, 1)
        data_row.addWidget(self.browse_file)
        data_row.addWidget(self.browse_folder)
        self.form.addRow("Data", data_row)
        self.out = QLineEdit()
        self.out.setPlaceholderText("run folder")
        out_browse = QPushButton("Browse…")
        out_browse.clicked.connect(self._browse_out)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out, 1)
        out_row.addWidget(out_browse)
        self.form.addRow("Output", out_row)
        self.steps = QSpinBox(maximum=10**9, specialValueText="—")
        self.minutes = QDoubleSpinBox(maximum=10**6, decimals=1, specialValueText="—")
        budget_row = QHBoxLayout()
        budget_row.addWidget(QLabel("steps"))
        budget_row.addWidget(self.steps, 1)
        budget_row.addWidget(QLabel("max minutes"))
        budget_row.addWidget(self.minutes, 1)
        self.form.addRow("Budget", budget_row)
        self.device = QComboBox()
        self.device.setEditable(True)
        self.device.addItems(["auto", "cpu", "cuda"])
        self.resume = QCheckBox("Resume the run in the output folder")
        self.form.addRow("Device", self.device)
        self.form.addRow("", self.resume)
        self.extra = QLineEdit()
        self.extra.setPlaceholderText("more flags, e.g. --batch 8 --log-every 5")
        self.form.addRow("Flags", self.extra)
        self.start_button = QPushButton("Start training")
        self.start_button.clicked.connect(self._start_from_form)
        self._start_row = QHBoxLayout()
        self._start_row.addStretch(1)
        self._start_row.addWidget(self.start_button)
        self._fill_models(self.kind.currentText())

    def _build_jobs(self) -> None:
        self.job_list = QListWidget()
        self.job_list.currentRowChanged.connect(lambda _row: self._show_selected())
        self.plot = LossPlot()
        self.preview = QLabel("no sample yet")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumHeight(96)
        self.log_view = QPlainTextEdit(readOnly=True)
        self.log_view.setMaximumBlockCount(2000)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Write a snapshot and stop (killed after the grace period); again: kill now")
        self.stop_button.clicked.connect(lambda: self.selected() and self.selected().stop())
        self.resume_button = QPushButton("Resume")
        self.resume_button.clicked.connect(self._resume_selected)
        self.open_button = QPushButton("Open in canvas")
        self.open_button.clicked.connect(self._open_selected)
        self.ship_button = QPushButton("Ship…")
        self.ship_button.setToolTip("Measure the run's checkpoint and ship it by name with a model card")
        self.ship_button.clicked.connect(self._ship_selected)
        self._job_row = QHBoxLayout()
        for button in (self.stop_button, self.resume_button, self.open_button, self.ship_button):
            self._job_row.addWidget(button)
        self.status_label = QLabel("no job")
        self.status_label.setWordWrap(True)

    def _fill_models(self, kind: str) -> None:
        self.model.clear()
        self.model.addItems(_recipes() if kind == "recipe" else _families())

    def _browse_data(self, folder: bool) -> None:
        if folder:
            path = QFileDialog.getExistingDirectory(self, "Training images folder")
        else:
            images = "Images (*.png *.jpg *.jpeg *.tif *.tiff)"
            path, _ = QFileDialog.getOpenFileName(self, "Training image", "", images)
        if path:
            self.data.setCurrentText(path)

    def _browse_out(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Run folder")
        if path:
            self.out.setText(path)

    # -- jobs ---------------------------------------------------------------------------------------

    def spec_from_form(self) -> JobSpec:
        recipe = self.kind.currentText() == "recipe"
        name = self.model.currentText() or None
        return JobSpec(
            out=self.out.text().strip(),
            family=None if recipe else name,
            recipe=name if recipe else None,
            config=self.config.text().strip() or None,
            data=self.data.currentText().strip() or None,
            steps=self.steps.value() or None,
            max_minutes=self.minutes.value() or None,
            device=self.device.currentText().strip() or "auto",
            resume=self.resume.isChecked(),
            extra=tuple(self.extra.text().split()),
        )

    def start(self, spec: JobSpec) -> TrainingJob:
        """Start ``spec`` as a new job and select it; bad arguments end it as failed, with the CLI's reason.

        Two live jobs writing one run folder would overwrite each other's snapshots: that is refused.
        """
        job = self._launch(spec)
        if self.job_manager is not None:
            run = training_coroutine(job, self._launch)
            self.job_manager.start(f"Train {spec.title}", run, show_result=self._show_run, kind="training")
        return job

    def _launch(self, spec: JobSpec) -> TrainingJob:
        if spec.out and any(job.running and _same_folder(job.spec.out, spec.out) for job in self.jobs):
            raise InvalidInput(f"a running job already writes {spec.out}: stop it first or choose another folder")
        job = TrainingJob(spec, grace_ms=self.grace_ms, parent=self)
        self.jobs.append(job)
        self.job_list.addItem(spec.title)
        job.sig_changed.connect(lambda job=job: self._on_job_changed(job))
        job.start()
        self.job_list.setCurrentRow(len(self.jobs) - 1)
        self._on_job_changed(job)
        return job

    def _show_run(self, out: str) -> None:
        """ "Show result" of a training job: select its run here and open its snapshot."""
        rows = [row for row, job in enumerate(self.jobs) if _same_folder(job.spec.out, out)]
        if rows:
            self.job_list.setCurrentRow(rows[-1])
            self.window().show()
            self._open_selected()

    def _start_from_form(self) -> None:
        try:
            self.start(self.spec_from_form())
        except EverscapeError as error:
            self.status_label.setText(str(error))

    def selected(self) -> TrainingJob | None:
        row = self.job_list.currentRow()
        return self.jobs[row] if 0 <= row < len(self.jobs) else None

    def _resume_selected(self) -> None:
        job = self.selected()
        if job is not None and not job.running:
            self.start(job.spec.resumed())

    def _open_selected(self) -> None:
        job = self.selected()
        if job is None or self.open_model is None:
            return
        path = Path(job.spec.out) / "last.safetensors"
        if path.exists():
            self.open_model(str(path))
        else:
            self.status_label.setText(f"{path} does not exist yet (no snapshot written)")

    def _ship_selected(self) -> None:
        job = self.selected()
        if job is not None and self.ship_run is not None:
            self.ship_run(job.spec.out)

    def _on_job_changed(self, job: TrainingJob) -> None:
        row = self.jobs.index(job)
        self.job_list.item(row).setText(f"[{job.state.status}] {job.spec.title}")
        if job is self.selected():
            self._show_selected()

    def _show_selected(self) -> None:
        job = self.selected()
        self._update_buttons()
        if job is None:
            return
        state = job.state
        self.status_label.setText(state.summary())
        self.plot.set_series(plotted(state.metrics), job.step_times)
        if state.last_sample and state.last_sample != self.preview.property("path"):
            try:  # the one image loader: a thumbnail, decoded no larger than shown
                thumbnail = read_image(state.last_sample, max_side=256)
            except EverscapeError:
                thumbnail = None  # a sample being replaced or damaged: keep the last preview
            if thumbnail is not None:
                self.preview.setProperty("path", state.last_sample)
                self.preview.setPixmap(QPixmap.fromImage(array_to_qimage(thumbnail)))
        shown_job, shown = self._log_shown
        if shown_job is not job or shown > len(state.log):  # another job, or its log was trimmed
            self.log_view.clear()
            shown = 0
        for line in state.log[shown:]:
            self.log_view.appendPlainText(line)
        self._log_shown = (job, len(state.log))

    def _update_buttons(self) -> None:
        job = self.selected()
        running = job is not None and job.running
        self.stop_button.setEnabled(running)
        self.stop_button.setText("Kill" if running and job.state.stop_requested else "Stop")
        self.resume_button.setEnabled(job is not None and not running)
        self.open_button.setEnabled(job is not None and self.open_model is not None)
        self.ship_button.setEnabled(job is not None and not running and self.ship_run is not None)

    def shutdown(self, wait_ms: int = 10000) -> None:
        """Stop every running job (snapshot first), killing what does not end within ``wait_ms``."""
        for job in self.jobs:
            job.stop()
        for job in self.jobs:
            if not job.wait(wait_ms):
                job.kill()
                job.wait(5000)
