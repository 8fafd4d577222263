"""View ▸ Diagnostics ▸ Run benchmark and Ship a training run: menu actions that start CLI jobs.

The work is :mod:`app.cli_jobs` (child processes listed in the Jobs dock); here are the questions
(which run, under which name) and what "show result" opens: the benchmark's report, or the shipped
model's Model info. A benchmark's JSON goes to the user's data folder; a shipped model to the
user's checkpoint folder, so the model picker lists it once the job is done.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QDialog, QFileDialog, QInputDialog, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from app.cli_jobs import CliResult, benchmark_arguments, cli_coroutine, ship_arguments
from app.jobs import Job, JobState
from app.panels.model_info import show_model_info
from engine.checkpoints import user_dir
from engine.folders import data_dir

if TYPE_CHECKING:
    from app.main_window import MainWindow


def show_report(parent: QWidget, title: str, result: CliResult) -> QDialog:
    """A benchmark's Markdown tables, and where its JSON is."""
    dialog = QDialog(parent)
    dialog.setWindowTitle(title)
    layout = QVBoxLayout(dialog)
    if result.output is not None:
        layout.addWidget(QLabel(f"JSON report: {result.output}"))
    text = QPlainTextEdit(result.stdout)
    text.setReadOnly(True)
    layout.addWidget(text)
    dialog.text = text
    dialog.resize(900, 600)
    dialog.show()
    return dialog


def _device(window: MainWindow) -> str:
    return window.prefs.device or "auto"


def start_benchmark(window: MainWindow, quick: bool = True, extra: tuple[str, ...] = ()) -> Job:
    """``everscape bench [--quick]`` as a job; its report opens from the Jobs dock."""
    path = data_dir() / "benchmarks" / time.strftime("bench-%Y%m%d-%H%M%S.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    title = "Quick benchmark" if quick else "Full benchmark"
    run = cli_coroutine([*benchmark_arguments(quick, _device(window), path), *extra], output=path)
    return window.jobs.start(title, run, show_result=lambda result: show_report(window, title, result), kind="bench")


def start_ship(window: MainWindow, run_dir: Path, name: str, quick: bool = False) -> Job:
    """``everscape models ship RUN_DIR --name NAME`` as a job; done, the picker lists NAME."""
    run = cli_coroutine(ship_arguments(Path(run_dir), name, user_dir(), _device(window), quick))
    job = window.jobs.start(
        f"Ship {name}", run, show_result=lambda _result: show_model_info(window, name), kind="ship"
    )
    job.sig_finished.connect(lambda: job.state is JobState.DONE and window.refresh_models())
    return job


def ask_ship(window: MainWindow, run_dir: Path | None = None) -> Job | None:
    """Ask for a name (and the training run's folder, unless given), then ship it (None: the user
    cancelled). The Training panel's "Ship…" gives its run; View ▸ Diagnostics asks for one."""
    folder = str(run_dir) if run_dir is not None else QFileDialog.getExistingDirectory(
        window, "Training run to ship", str(Path.home())
    )
    if not folder:
        return None
    name, ok = QInputDialog.getText(window, "Ship model", "Name to ship under:", text=Path(folder).name)
    if not ok or not name.strip():
        return None
    return start_ship(window, Path(folder), name.strip())


def install_cli_jobs(window: MainWindow) -> None:
    """The Diagnostics menu's benchmark and shipping actions."""
    menu = window.diagnostics_menu
    menu.addSeparator()
    window.quick_bench_action = menu.addAction("Run &quick benchmark", lambda: start_benchmark(window, True))
    window.full_bench_action = menu.addAction("Run &full benchmark", lambda: start_benchmark(window, False))
    window.ship_action = menu.addAction("&Ship a training run…", lambda: ask_ship(window))
