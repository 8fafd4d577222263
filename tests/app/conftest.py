"""App test fixtures: a private settings folder, and canvases wired to a started worker (always joined)."""

from __future__ import annotations

import asyncio

import pytest

from app.canvas import Canvas
from app.main_window import MainWindow
from app.settings import Settings
from app.worker import TileWorker
from engine.world import World
from tests.app.fakes import FakeModel, loader_for


@pytest.fixture(scope="session", autouse=True)
def qasync_loop(qapp):
    """The app's jobs are coroutines on a qasync loop over Qt's. pytest-qt spins Qt's loop in its
    waits, so the loop is installed as already running (qasync's mode for a running application);
    it is stopped and closed once the session ends."""
    from app.jobs import install_loop

    loop = install_loop(qapp, already_running=True)
    yield loop
    loop.stop()
    asyncio.events._set_running_loop(None)  # what qasync's run_forever does on leaving
    loop.close()


@pytest.fixture(autouse=True)
def new_worlds_open_at_the_origin(monkeypatch):
    """App tests place things by screen position, so new worlds stay where they open; the probe that
    picks a first place (app.first_view) is tested on its own in tests/app/test_first_view.py."""
    from app.first_view import FirstView

    monkeypatch.setattr(FirstView, "probe", lambda self: None)


@pytest.fixture(autouse=True)
def private_config(tmp_path, monkeypatch):
    folder = tmp_path / "config"
    monkeypatch.setenv("EVERSCAPE_CONFIG_DIR", str(folder))
    return folder


@pytest.fixture
def make_canvas(qtbot):
    workers: list[TileWorker] = []

    def make(model: FakeModel | None = None, size=(512, 384), **canvas_kwargs) -> Canvas:
        model = model or FakeModel()
        worker = TileWorker(batch_tiles=canvas_kwargs.pop("batch_tiles", 4))
        workers.append(worker)
        canvas = Canvas(worker, **canvas_kwargs)
        qtbot.addWidget(canvas)
        canvas.resize(*size)
        worker.start()
        with qtbot.waitSignal(worker.sig_model_ready, timeout=10000) as blocker:
            worker.open_model("fake:test", loader_for(model))
        canvas.set_model(blocker.args[0])
        canvas.set_world(World("fake:test", seed=1))
        canvas.show()
        return canvas

    yield make
    for worker in workers:
        worker.shutdown()
        assert not worker.isRunning()


class ScriptedPrompts:
    """Answers for the project controller's questions: no modal dialog may block a test.

    Defaults discard unsaved changes and decline restores; tests set the attributes to script a
    session, and read ``asked`` to check what was asked.
    """

    def __init__(self) -> None:
        from app.project_controller import SaveChoice

        self.unsaved_answer = SaveChoice.DISCARD
        self.restore_answer = False
        self.open_answer: str | None = None
        self.save_answer: str | None = None
        self.asked: list[tuple[str, str]] = []

    def prompts(self):
        from app.project_controller import ProjectPrompts

        def unsaved(parent, name):
            self.asked.append(("unsaved", name))
            return self.unsaved_answer

        def restore(parent, text):
            self.asked.append(("restore", text))
            return self.restore_answer

        def open_path(parent, folder):
            self.asked.append(("open", folder))
            return self.open_answer

        def save_path(parent, suggested):
            self.asked.append(("save", suggested))
            return self.save_answer

        return ProjectPrompts(unsaved, restore, open_path, save_path)


@pytest.fixture(autouse=True)
def scripted_prompts(monkeypatch):
    import app.project_controller

    script = ScriptedPrompts()
    monkeypatch.setattr(app.project_controller, "default_prompts", script.prompts)
    return script


@pytest.fixture
def open_window(qtbot):
    """Main windows on a fake model, shown and with a world open; closed and joined afterwards.

    ``autosave_ms`` shortens the project autosave debounce (project tests); teardown answers
    "discard" to the unsaved-changes question and "yes" to cancelling running jobs whatever a test
    scripted, so closing never blocks.
    """
    from app.main_window import MainWindow
    from app.project_controller import SaveChoice
    from app.settings import Settings

    windows: list[MainWindow] = []

    def make(model=None, size=(700, 500), autosave_ms: int | None = None, **kwargs) -> MainWindow:
        model = model or FakeModel()
        loader = kwargs.pop("loader", None) or loader_for(model)  # a loader of its own: several models
        window = MainWindow(Settings(), kwargs.pop("model_ref", "fake:test"), loader=loader, **kwargs)
        if autosave_ms is not None:
            window.project.set_autosave_interval(autosave_ms)
        qtbot.addWidget(window)
        windows.append(window)
        window.resize(*size)
        window.show()
        qtbot.waitUntil(lambda: window.world is not None, timeout=10000)
        return window

    yield make
    for window in windows:
        window.project.prompts.unsaved = lambda parent, name: SaveChoice.DISCARD
        window.jobs_dock.ask = lambda parent, count: True  # cancel what still runs: no modal question
        window.close()
        assert not window.worker.isRunning()


@pytest.fixture
def window(qtbot):
    """A factory of shown main windows on a fake model (closed, worker joined, at the end)."""
    windows: list[MainWindow] = []

    def make(model=None) -> MainWindow:
        model = model or FakeModel()
        win = MainWindow(Settings(), "fake:test", seed=3, persist=False, loader=loader_for(model))
        qtbot.addWidget(win)
        windows.append(win)
        win.resize(700, 500)
        win.show()
        qtbot.waitUntil(lambda: win.world is not None, timeout=10000)
        qtbot.waitUntil(win.canvas.is_complete, timeout=10000)
        return win

    yield make
    for win in windows:
        win.close()
        assert not win.worker.isRunning()
