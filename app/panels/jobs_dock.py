"""View ▸ Jobs: every job of the session (export, inversion, training...), running and finished.

One row per job with its state, a progress bar and its status line (rate, ETA, or why it failed).
For the selected job: Cancel, Show result (open the export, go to the edit, open the run), Retry
for a failed or cancelled one, the curves it reports (an inversion's loss, an export's
throughput) and its log. The status bar counts the running jobs, and closing the window with jobs
running asks first (:func:`confirm_quit`).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.jobs import Job, JobManager, JobState
from app.panels.loss_plot import LossPlot

COLUMNS = ("Job", "State", "Progress", "Status")


def ask_quit(parent: QWidget, count: int) -> bool:
    """The default question before quitting with running jobs (tests replace it)."""
    answer = QMessageBox.question(
        parent,
        "Quit Everscape",
        f"{count} job{'s' if count != 1 else ''} still running. Cancel {'them' if count != 1 else 'it'} and quit?",
    )
    return answer == QMessageBox.StandardButton.Yes


class JobsPanel(QWidget):
    """The list and the selected job's controls and read-outs for one :class:`JobManager`."""

    def __init__(self, jobs: JobManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.manager = jobs
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setRootIsDecorated(False)
        self.tree.currentItemChanged.connect(lambda *_: self._show_selected())
        self.rows: dict[Job, QTreeWidgetItem] = {}
        self.bars: dict[Job, QProgressBar] = {}
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(lambda: self.selected() and self.selected().cancel())
        self.show_button = QPushButton("Show result")
        self.show_button.clicked.connect(lambda: self.selected() and self.selected().show_result())
        self.retry_button = QPushButton("Retry")
        self.retry_button.clicked.connect(self._retry_selected)
        buttons = QHBoxLayout()
        for button in (self.cancel_button, self.show_button, self.retry_button):
            buttons.addWidget(button)
        self.plot = LossPlot(x_label="step or seconds", y_label="value")
        self.log_view = QPlainTextEdit(readOnly=True)
        self.log_view.setMaximumBlockCount(2000)
        splitter = QSplitter(Qt.Orientation.Vertical)
        for widget in (self.tree, self.plot, self.log_view):
            splitter.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)
        jobs.sig_added.connect(self._add)
        for job in jobs.jobs:
            self._add(job)
        self._update_buttons()

    def selected(self) -> Job | None:
        item = self.tree.currentItem()
        return next((job for job, row in self.rows.items() if row is item), None)

    def select(self, job: Job) -> None:
        self.tree.setCurrentItem(self.rows[job])

    def _add(self, job: Job) -> None:
        item = QTreeWidgetItem([job.title, "", "", ""])
        self.tree.addTopLevelItem(item)
        bar = QProgressBar()
        bar.setRange(0, 1000)
        self.tree.setItemWidget(item, 2, bar)
        self.rows[job], self.bars[job] = item, bar
        job.sig_changed.connect(lambda job=job: self._update(job))
        job.sig_finished.connect(lambda job=job: self._update(job))
        self._update(job)
        self.select(job)

    def _update(self, job: Job) -> None:
        item, bar = self.rows[job], self.bars[job]
        item.setText(1, job.state.value)
        text = job.error if job.state is JobState.FAILED else job.status
        if job.eta is not None:
            text = f"{text} · {job.eta:.0f} s left"
        item.setText(3, text)
        item.setToolTip(3, text)
        if job.fraction is None and job.running:
            bar.setRange(0, 0)  # busy: the fraction is not known
        else:
            bar.setRange(0, 1000)
            bar.setValue(int((job.fraction or 0.0) * 1000))
        if job is self.selected():
            self._show_selected()

    def _show_selected(self) -> None:
        job = self.selected()
        self._update_buttons()
        if job is None:
            return
        self.plot.set_series(job.curves)
        self.log_view.setPlainText("\n".join(job.log))

    def _update_buttons(self) -> None:
        job = self.selected()
        self.cancel_button.setEnabled(job is not None and job.running)
        self.show_button.setEnabled(job is not None and job.state is JobState.DONE and job.show_result_with is not None)
        self.retry_button.setEnabled(job is not None and job.state in (JobState.FAILED, JobState.CANCELLED))

    def _retry_selected(self) -> None:
        job = self.selected()
        if job is not None:
            self.manager.retry(job)


class JobsDock(QDockWidget):
    """The dock, the status-bar count, and the question before quitting; see the module docstring."""

    def __init__(self, window: QMainWindow, jobs: JobManager, ask: Callable[[QWidget, int], bool] = ask_quit) -> None:
        super().__init__("Jobs", window)
        self.setObjectName("jobs")
        self.jobs, self.ask = jobs, ask
        self.panel = JobsPanel(jobs)
        self.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self)
        self.hide()
        self.count_label = QLabel()
        window.statusBar().addPermanentWidget(self.count_label)
        jobs.sig_running_changed.connect(self._on_running_changed)
        self._on_running_changed(jobs.running_count())

    def _on_running_changed(self, count: int) -> None:
        self.count_label.setText(f"{count} job{'s' if count != 1 else ''} running" if count else "")

    def confirm_quit(self) -> bool:
        """True if no job runs, or the user agreed to cancel them; the running jobs are then cancelled."""
        count = self.jobs.running_count()
        if count and not self.ask(self.parentWidget(), count):
            return False
        self.jobs.cancel_all()
        return True
