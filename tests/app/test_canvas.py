"""The canvas and its worker together, offscreen, with fake (fast, slow, failing, multi-level) models."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.qimage import qimage_to_array
from app.tiles import TILE, visible_keys
from engine.world import World
from tests.app.fakes import FakeConfig, FakeModel


def wait_complete(qtbot, canvas, timeout=20000):
    qtbot.waitUntil(canvas.is_complete, timeout=timeout)


def fake_pixels(model, seed, wx, wy, level=0):
    """What FakeModel draws at world pixel (wx, wy) of a native level (RGB uint8)."""
    b = model.config.block
    delay, model.delay = model.delay, 0.0
    out = model.render_blocks([(wx - wx % b, wy - wy % b)], type("S", (), {"seed": seed})(), None, level)
    model.calls.pop()
    model.delay = delay
    rgb = ((out[0, :, wy % b, wx % b].clamp(-1, 1) + 1) * 127.5 + 0.5).floor().to(dtype=int)
    return tuple(int(v) for v in rgb)


def test_tiles_arrive_and_are_painted(qtbot, make_canvas):
    model = FakeModel()
    canvas = make_canvas(model, size=(400, 300))
    wait_complete(qtbot, canvas)
    image = qimage_to_array(canvas.grab().toImage())
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50
    for sx, sy in [(0, 0), (200, 150), (399, 299), (123, 77)]:
        wx, wy = canvas.view.screen_to_world(sx + 0.5, sy + 0.5)
        assert tuple(image[sy, sx]) == fake_pixels(model, 1, wx, wy)


def test_panning_requests_exactly_the_newly_visible_tiles(qtbot, make_canvas):
    canvas = make_canvas(size=(500, 300), prefetch=0)
    wait_complete(qtbot, canvas)
    before = set(canvas.visible_keys())
    canvas.submitted.clear()
    canvas.pan_by(-300, 130)
    qtbot.waitUntil(lambda: bool(canvas.submitted), timeout=5000)
    after = set(canvas.visible_keys())
    assert set(canvas.submitted[-1]) == after - before
    wait_complete(qtbot, canvas)


def test_prefetch_ring_is_requested_after_the_visible_tiles(qtbot, make_canvas):
    canvas = make_canvas(FakeModel(delay=0.05), size=(300, 300), prefetch=1)
    qtbot.waitUntil(lambda: bool(canvas.submitted), timeout=5000)
    first = canvas.submitted[0]
    visible = set(canvas.visible_keys())
    assert set(first[: len(visible)]) == visible and len(first) > len(visible)


def test_changing_the_world_cancels_stale_work(qtbot, make_canvas):
    model = FakeModel(FakeConfig(block=256), delay=0.1)
    canvas = make_canvas(model, size=(768, 512), batch_tiles=1, prefetch=0)
    qtbot.waitUntil(model.entered.is_set, timeout=5000)
    old = canvas.world
    canvas.set_world(old.with_seed(2))
    calls_at_switch = len(model.calls)
    wait_complete(qtbot, canvas)
    # At most the forward running at the switch finished for the old world; its tiles were dropped.
    assert not [k for k in canvas.cache.key_list() if k.state == canvas.state and k not in canvas.visible_keys()]
    assert len(model.calls) - calls_at_switch <= len(canvas.visible_keys()) + 1
    assert calls_at_switch < len(canvas.visible_keys())  # the old world's queue really was cut short


def test_cache_never_exceeds_its_budget_while_panning(qtbot, make_canvas):
    budget = 10 * TILE * TILE * 4
    canvas = make_canvas(size=(400, 300), cache_bytes=budget, prefetch=0)
    for _ in range(6):
        canvas.pan_by(-200, 0)
        wait_complete(qtbot, canvas)
        assert canvas.cache.bytes <= budget
    assert len(canvas.cache) == 10


def test_gui_thread_is_never_blocked_by_a_slow_model(qtbot, make_canvas):
    model = FakeModel(delay=0.4)
    canvas = make_canvas(model, size=(512, 512), batch_tiles=4)
    qtbot.waitUntil(model.entered.is_set, timeout=5000)
    ticks = []
    timer_start = time.perf_counter()
    while time.perf_counter() - timer_start < 0.8:
        qtbot.wait(10)
        canvas.pan_by(3, 0)  # the user keeps dragging
        ticks.append(time.perf_counter())
    gaps = np.diff([timer_start, *ticks])
    assert canvas.worker.pending() > 0  # the model is still busy
    assert gaps.max() < 0.3, f"event loop stalled for {gaps.max():.2f}s"


def test_shutdown_while_rendering_is_clean(qtbot, make_canvas):
    model = FakeModel(delay=0.3)
    canvas = make_canvas(model, size=(512, 512))
    qtbot.waitUntil(model.entered.is_set, timeout=5000)
    start = time.perf_counter()
    canvas.worker.shutdown()
    assert not canvas.worker.isRunning()
    assert time.perf_counter() - start < 5


def test_pending_tiles_show_a_scaled_ancestor_not_a_hole(qtbot, make_canvas):
    model = FakeModel()
    canvas = make_canvas(model, size=(512, 512), prefetch=0)
    canvas.zoom_by(-2)
    wait_complete(qtbot, canvas)
    model.delay = 1.0  # from now on nothing new arrives in time
    canvas.zoom_by(2, (256, 256))  # level 0: two levels in (one level in came with level 2)
    qtbot.wait(50)
    assert not canvas.is_complete()
    image = qimage_to_array(canvas.grab().toImage())
    background = np.array([38, 40, 44])
    assert not (image == background).all(axis=2).any()
    model.delay = 0.0


@pytest.mark.parametrize(
    ("failure", "reported"), [("kaboom", "kaboom"), ("CUDA out of memory. Tried to allocate 2 GiB", "out of memory")]
)
def test_model_failure_is_reported_and_the_app_survives(qtbot, make_canvas, failure, reported):
    model = FakeModel(fail=failure)
    canvas = make_canvas(model, size=(300, 300))
    with qtbot.waitSignal(canvas.worker.sig_failed, timeout=5000) as blocker:
        pass
    assert reported in blocker.args[1]
    qtbot.waitUntil(canvas.is_complete, timeout=10000)  # every tile failed, none pending forever
    model.fail = None
    canvas.set_world(canvas.world.with_seed(5))  # a new world retries
    qtbot.waitUntil(lambda: len(canvas.cache) > 0, timeout=10000)


def test_native_levels_come_from_the_model_and_further_ones_are_downsampled(qtbot, make_canvas):
    model = FakeModel(FakeConfig(block=256, levels=2))
    canvas = make_canvas(model, size=(256, 256), prefetch=0, synth_levels=1)
    canvas.zoom_by(-5)
    assert canvas.view.zoom == -2  # level 1 native + one synthesised level
    wait_complete(qtbot, canvas)
    assert {level for level, _ in model.calls} == {1}  # level 2 was made from level-1 renders
    canvas.zoom_by(1)
    wait_complete(qtbot, canvas)
    image = qimage_to_array(canvas.grab().toImage())
    wx, wy = canvas.view.screen_to_world(10.5, 10.5)
    assert tuple(image[10, 10]) == fake_pixels(model, 1, wx >> 1, wy >> 1, level=1)


def test_late_tiles_of_an_old_world_are_never_cached(qtbot, make_canvas):
    canvas = make_canvas(size=(256, 256))
    wait_complete(qtbot, canvas)
    key = canvas.visible_keys()[0]
    shown = canvas.cache.get(key)
    canvas.set_world(World("fake:test", seed=9, version=canvas.world.version + 1))
    stale = np.zeros((TILE, TILE, 4), np.uint8)
    canvas._on_worker_tile(key, stale)
    assert canvas.cache.get(key) is shown  # the old world's tile stays as it was (a stand-in)
    assert key.state != canvas.state and not [k for k in canvas.cache.key_list() if k.state == canvas.state]


def test_visible_keys_match_the_view(qtbot, make_canvas):
    canvas = make_canvas(size=(300, 200))
    assert set(canvas.visible_keys()) == set(visible_keys(canvas.view, canvas.plan, canvas.state))


def test_a_flick_keeps_gliding_and_comes_to_rest(qtbot, make_canvas):
    from PySide6.QtCore import QPointF

    canvas = make_canvas(size=(256, 256))
    canvas.glide.velocity = QPointF(2.0, 0.0)  # px/ms, as measured from a fast drag to the right
    canvas.glide.timer.start()
    qtbot.waitUntil(lambda: not canvas.glide.timer.isActive(), timeout=5000)
    x, y = canvas.view.centre
    assert y == 0 and x < -200  # the content moved right, so the view centre moved left


def test_wheel_zooms_around_the_cursor(qtbot, make_canvas):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent

    canvas = make_canvas(size=(400, 300))
    anchor = QPointF(50, 60)
    before = canvas.view.screen_to_world(anchor.x(), anchor.y())
    event = QWheelEvent(
        anchor,
        canvas.mapToGlobal(anchor),
        QPoint(),
        QPoint(0, 120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    canvas.wheelEvent(event)
    assert canvas.view.zoom == 1
    assert canvas.view.screen_to_world(anchor.x(), anchor.y()) == before
