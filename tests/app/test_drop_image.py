"""Dropping an image: inverted in a background thread, staged, accepted as one undoable edit; cancel and errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QThread, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QPushButton

from app.main_window import MainWindow
from app.settings import Settings
from engine.invert import InvertConfig
from engine.models.registry import build_random
from tests.app.fakes import loader_for


@pytest.fixture
def window(qtbot):
    model = build_random("reference", "tiny")
    win = MainWindow(Settings(), "fake:test", seed=3, persist=False, loader=loader_for(model))
    qtbot.addWidget(win)
    win.resize(500, 400)
    win.show()
    qtbot.waitUntil(lambda: win.world is not None and win.tools.model() is not None, timeout=10000)
    errors: list[str] = []
    win.tools.image_dropper.report_error = errors.append
    win.tools.image_dropper.config = InvertConfig(steps=4)
    yield win, errors
    win.jobs_dock.ask = lambda parent, count: True  # a job left running is cancelled, no question
    win.close()
    assert not win.worker.isRunning()


@pytest.fixture
def picture(tmp_path):
    path = tmp_path / "pic.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(path)
    return path


def test_drop_event_inverts_and_undo_restores(qtbot, window, picture):
    win, errors = window
    before = win.canvas.world
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(picture))])
    centre = QPointF(win.canvas.width() / 2, win.canvas.height() / 2)
    actions, none, plain = Qt.DropAction.CopyAction, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
    with warnings.catch_warnings():  # PySide marks Qt 6's only QDragEnterEvent constructor deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(centre.toPoint(), actions, mime, none, plain)
    QApplication.sendEvent(win.canvas, enter)
    assert enter.isAccepted()  # the canvas takes image files
    # Qt delivers a drop only inside a real drag, so the canvas's filter gets the drop directly.
    dropper = win.tools.image_dropper
    assert dropper.eventFilter(win.canvas, QDropEvent(centre, actions, mime, none, plain))
    x, _ = win.canvas.view.screen_to_world(centre.x(), centre.y())
    assert errors == [] and dropper.job is not None  # a job: the tile worker runs it, not the GUI thread
    qtbot.waitUntil(lambda: dropper.job is None, timeout=30000)
    assert errors == [] and win.canvas.world is before and win.staging.edit is not None  # staged, not committed
    win.staging.accept_action.trigger()
    after = win.canvas.world
    assert after is not before and len(after.overrides) == len(before.overrides) + 3
    z = next(p for p in after.overrides if p.field == "z")
    assert z.cells.x * 4 <= x - 16 and x + 16 <= z.cells.right * 4  # the image sits around the drop point
    win.tools.undo()
    assert win.canvas.world is before


def test_inversion_runs_in_the_tile_worker_and_plots_its_loss(qtbot, window, picture, monkeypatch):
    import app.tools.drop_image as drop_image
    from app.jobs import JobState

    win, errors = window
    threads = []
    real_invert = drop_image.invert

    def spy(model, *args, **kwargs):
        threads.append(QThread.currentThread())
        assert model is win.worker._renderer.model  # the worker's own model, no second copy
        return real_invert(model, *args, **kwargs)

    monkeypatch.setattr(drop_image, "invert", spy)
    assert win.tools.image_dropper.drop_file(picture, 0, 0)
    job = win.jobs.jobs[-1]
    assert job.kind == "inversion" and win.jobs_dock.panel.selected() is job  # listed in the Jobs dock
    qtbot.waitUntil(lambda: not job.running, timeout=30000)
    assert job.state is JobState.DONE and errors == [] and threads == [win.worker]
    assert [step for step, _ in job.curves["loss"]] == [1, 2, 3, 4]
    assert len(win.jobs_dock.panel.plot.series["loss"]) == 4  # the dock plots the selected job's loss
    win.canvas.centre_on(5000, 5000)
    assert job.show_result() and win.canvas.view.centre == (0, 0)  # "show result" goes to the edit


def test_cancel_commits_nothing(qtbot, window, picture):
    win, errors = window
    dropper = win.tools.image_dropper
    dropper.config = InvertConfig(steps=100000)
    before = win.canvas.world
    assert dropper.drop_file(picture, 0, 0)
    qtbot.waitUntil(lambda: dropper.dialog is not None and dropper.dialog.value() >= 1, timeout=30000)
    dropper.dialog.findChild(QPushButton).click()  # the dialog's Cancel button
    qtbot.waitUntil(lambda: dropper.job is None, timeout=30000)
    assert win.canvas.world is before and errors == []


def test_bad_file_reports_one_line(qtbot, window, tmp_path):
    win, errors = window
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    before = win.canvas.world
    assert win.tools.image_dropper.drop_file(bad, 0, 0)
    qtbot.waitUntil(lambda: win.tools.image_dropper.job is None, timeout=30000)
    assert len(errors) == 1 and "not an image" in errors[0] and "\n" not in errors[0]
    assert win.canvas.world is before


def test_file_import_runs_the_drop_path_at_the_view_centre(qtbot, window, picture, monkeypatch):
    win, errors = window
    asked: list[str] = []

    def pick(parent, caption, folder, name_filter):
        asked.append(name_filter)
        return str(picture), name_filter

    monkeypatch.setattr(QFileDialog, "getOpenFileName", pick)
    file_menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&File")
    assert win.import_action in file_menu.actions()
    assert win.import_action.shortcut() == QKeySequence("Ctrl+I")
    x = 300
    win.canvas.centre_on(x, -200)
    before = win.canvas.world
    win.import_action.trigger()
    assert len(asked) == 1 and "*.png" in asked[0]
    dropper = win.tools.image_dropper
    assert dropper.job is not None and win.jobs.jobs[-1].kind == "inversion"  # the drop's inversion job
    qtbot.waitUntil(lambda: dropper.job is None, timeout=30000)
    win.staging.accept()
    after = win.canvas.world
    assert errors == [] and len(after.overrides) == len(before.overrides) + 3
    z = next(p for p in after.overrides if p.field == "z")
    assert z.cells.x * 4 <= x - 16 and x + 16 <= z.cells.right * 4  # around the view's centre
    assert win.tools.undo_action.text() == "&Undo Import pic.png"
    win.tools.undo()
    assert win.canvas.world is before


def test_cancelled_import_dialog_changes_nothing(window, monkeypatch):
    win, errors = window
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args: ("", ""))
    before = win.canvas.world
    win.import_action.trigger()
    assert win.tools.image_dropper.job is None and win.canvas.world is before and errors == []
