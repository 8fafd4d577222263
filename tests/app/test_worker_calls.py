"""One door to the model: calls run in the tile worker, and tiles keep coming between their steps."""

from __future__ import annotations

import threading

import pytest

from engine.errors import EverscapeError
from engine.render import Cancelled
from tests.app.fakes import FakeModel


def test_a_long_call_runs_in_the_worker_and_serves_tiles_between_steps(qtbot, make_canvas):
    canvas = make_canvas(FakeModel(delay=0.01), size=(512, 384))
    worker = canvas.worker
    qtbot.waitUntil(canvas.is_complete, timeout=10000)
    seen: dict[str, object] = {}
    steps: list[int] = []
    gate = threading.Event()

    def call(renderer, serve_tiles):
        seen["thread"] = threading.current_thread()
        seen["renderer"] = renderer
        gate.wait(10)  # the GUI queues a new view's tiles while the call has the worker
        for _step in range(200):
            steps.append(worker.tiles_rendered)
            serve_tiles()
            if canvas.worker.pending() == 0:
                break
        return "fitted"

    future = worker.call(call)
    qtbot.waitUntil(lambda: "thread" in seen, timeout=10000)
    canvas.centre_on(100000, 100000)
    assert worker.pending() > 0
    gate.set()
    assert future.result(timeout=30) == "fitted"
    assert seen["thread"] is not threading.main_thread() and seen["renderer"] is worker._renderer
    assert steps[-1] > steps[0]  # tiles were rendered between the call's steps, by the same thread
    qtbot.waitUntil(canvas.is_complete, timeout=10000)  # and they reached the canvas


def test_call_errors_and_shutdown(qtbot, make_canvas):
    canvas = make_canvas(FakeModel())
    worker = canvas.worker

    def broken(renderer, serve_tiles):
        raise EverscapeError("bad latents")

    with pytest.raises(EverscapeError, match="bad latents"):
        worker.call(broken).result(timeout=10)
    assert worker.call(lambda renderer, serve: 7).result(timeout=10) == 7  # the worker carries on
    worker.shutdown()
    with pytest.raises(Cancelled):
        worker.call(lambda renderer, serve: 1).result(timeout=1)


def test_idle_calls_wait_for_every_queued_tile_and_every_other_call(qtbot, make_canvas):
    canvas = make_canvas(FakeModel(delay=0.01), size=(512, 384))
    worker = canvas.worker
    qtbot.waitUntil(canvas.is_complete, timeout=10000)
    order: list[str] = []
    gate = threading.Event()
    blocker = worker.call(lambda renderer, serve: gate.wait(10))  # holds the worker while work queues up
    idle = worker.call_idle(lambda renderer, serve: order.append(f"idle after {worker.pending()} pending"))
    canvas.centre_on(100000, 100000)  # a new view: its tiles queue behind the running call
    qtbot.waitUntil(lambda: canvas.worker.pending() > 0, timeout=10000)
    worker.call(lambda renderer, serve: order.append("urgent"))
    gate.set()
    blocker.result(timeout=10)
    idle.result(timeout=30)
    assert order == ["urgent", "idle after 0 pending"]  # calls first, then every tile, then the idle call
    worker.shutdown()
    with pytest.raises(Cancelled):
        worker.call_idle(lambda renderer, serve: 1).result(timeout=1)
