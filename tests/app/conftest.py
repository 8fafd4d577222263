"""App test fixtures: a private settings folder, and canvases wired to a started worker (always joined)."""

from __future__ import annotations

import pytest

from app.canvas import Canvas
from app.worker import TileWorker
from engine.world import World
from tests.app.fakes import FakeModel, loader_for


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
