"""Edits on the canvas: the view never blanks, and worlds shown before come back from the cache."""

from __future__ import annotations

import itertools

import numpy as np

from app.painting import BACKGROUND
from app.qimage import qimage_to_array
from app.staging import preview_of
from app.tiles import downsample_box
from engine.edits import changed_regions
from engine.geometry import Rect
from engine.render import Renderer
from engine.style_edits import move_centre
from engine.styles import StyleCentre, StyleLayout
from tests.app.fakes import FakeConfig, FakeModel, loader_for
from tests.engine.test_centre_edits import lattice_tiny


def background_pixels(canvas) -> int:
    frame = qimage_to_array(canvas.grab().toImage())[..., :3]
    return int((frame == np.array([BACKGROUND.red(), BACKGROUND.green(), BACKGROUND.blue()])).all(axis=-1).sum())


def frames_until_complete(qtbot, canvas) -> list[int]:
    """Background pixels of every frame painted while the view refills."""
    counts = []
    while not canvas.is_complete():
        counts.append(background_pixels(canvas))
        qtbot.wait(5)
    return counts


def slow_canvas(qtbot, make_canvas):
    canvas = make_canvas(FakeModel(FakeConfig(block=256), delay=0.03), size=(640, 480), batch_tiles=1, prefetch=0)
    qtbot.waitUntil(canvas.is_complete, timeout=10000)
    return canvas


def test_an_edit_anywhere_keeps_every_tile_on_screen_until_its_new_pixels_arrive(qtbot, make_canvas):
    canvas = slow_canvas(qtbot, make_canvas)
    complete = background_pixels(canvas)
    shown = {(k.tx, k.ty): canvas.cache.get(k) for k in canvas.visible_keys()}
    canvas.set_world(canvas.world.with_seed(2))  # no damage given: every tile renders again
    assert all(canvas.cache.get(k) is None for k in canvas.visible_keys())
    counts = frames_until_complete(qtbot, canvas)
    assert len(counts) >= 3, "the refill was too quick to watch"
    assert max(counts) <= complete, "a frame showed the background where a tile was"
    assert all(canvas.cache.get(k) is not shown[k.tx, k.ty] for k in canvas.visible_keys())


def test_a_local_edit_re_renders_only_damaged_tiles_and_shows_their_old_pixels_meanwhile(qtbot, make_canvas):
    canvas = slow_canvas(qtbot, make_canvas)
    worker = canvas.worker
    complete = background_pixels(canvas)
    rendered = worker.tiles_rendered
    damage = [Rect(10, 10, 20, 20)]  # inside tile (0, 0) only
    canvas.set_world(canvas.world.with_seed(7), lambda level: damage)
    missing = [k for k in canvas.visible_keys() if k not in canvas.cache]
    assert [(k.tx, k.ty) for k in missing] == [(0, 0)]
    assert max(frames_until_complete(qtbot, canvas) or [0]) <= complete
    qtbot.wait(100)
    assert worker.tiles_rendered - rendered == 1


def test_undo_redo_and_returning_to_an_earlier_state_render_nothing(qtbot, window):
    model = FakeModel()
    win = window(model)
    canvas, worker, tools = win.canvas, win.worker, win.tools
    canvas.prefetch = 0
    start = win.world
    tools.apply(start.with_seed(start.seed + 1), label="Seed")
    qtbot.waitUntil(canvas.is_complete, timeout=10000)
    qtbot.waitUntil(lambda: worker.pending() == 0, timeout=10000)
    rendered = worker.tiles_rendered
    tools.undo_action.trigger()
    assert win.world is start and canvas.is_complete(), "undo: every visible tile should be cached"
    tools.redo_action.trigger()
    assert canvas.is_complete(), "redo: every visible tile should be cached"
    tools.apply(win.world.with_seed(start.seed), label="Seed")  # a new world equal to the first
    assert canvas.is_complete(), "an edit back to an earlier state finds its tiles"
    qtbot.wait(200)
    assert worker.tiles_rendered == rendered


def test_a_style_centre_move_re_renders_exactly_the_predicted_tiles(qtbot, open_window):
    model = lattice_tiny()
    win = open_window(model=model, size=(700, 500), model_ref="infinitygan:tiny")
    canvas, worker = win.canvas, win.worker
    canvas.prefetch = 0
    # Each centre in the middle of its own tile (4 are visible), each reaching about 40 px.
    layout = StyleLayout.of([StyleCentre(-128, 128, 11, width=8.0), StyleCentre(128, -128, 22, width=8.0)])
    win.tools.open(win.world.with_styles(layout))
    qtbot.waitUntil(lambda: canvas.is_complete() and worker.pending() == 0, timeout=120000)
    before, rendered = win.world, worker.tiles_rendered
    edited = before.with_styles(move_centre(before.styles, 0, -114, 140))
    win.tools.apply(edited, label="Move style centre")
    visible = canvas.visible_keys()
    regions = changed_regions(model, before, edited, 0)
    predicted = {k for k in visible if any(k.world_rect().intersection(r) for r in regions)}
    assert {k for k in visible if k not in canvas.cache} == predicted
    assert 0 < len(predicted) < len(visible)
    qtbot.waitUntil(lambda: canvas.is_complete() and worker.pending() == 0, timeout=120000)
    assert worker.tiles_rendered - rendered == len(predicted)
    kept = sorted(set(visible) - predicted, key=lambda k: (abs(k.tx), abs(k.ty)))[:1]
    fresh = Renderer(model, "cpu").render(edited, [k.world_rect() for k in kept])
    for key, pixels in zip(kept, fresh, strict=True):  # what the cache kept is what a new render gives
        assert np.array_equal(canvas.cache.get(key)[1][..., 2::-1], pixels)


def test_the_zoom_pyramid_is_built_from_one_render(qtbot, make_canvas):
    model = FakeModel(FakeConfig(block=256))
    canvas = make_canvas(model, size=(512, 512), prefetch=0)
    canvas.centre_on(256, 256)  # level-0 tiles (0..1, 0..1): the children of level-1 tile (0, 0)
    qtbot.waitUntil(lambda: canvas.is_complete() and canvas.worker.pending() == 0, timeout=10000)
    level0 = {k: canvas.cache.get(k)[1] for k in canvas.visible_keys()}
    calls = len(model.calls)
    canvas.zoom_by(-1)  # level-1 tile (0, 0) from the cached level-0 tiles: assembled, not rendered
    qtbot.waitUntil(canvas.is_complete, timeout=10000)
    centre = canvas.visible_keys()[0]
    assert (centre.level, centre.tx, centre.ty) == (1, 0, 0)
    rendered = [o for _, origins in model.calls[calls:] for o in origins]
    assert rendered and not [(x, y) for x, y in rendered if 0 <= x < 512 and 0 <= y < 512]
    children = [level0[c] for c in centre.children(1)]
    top, bottom = np.concatenate(children[:2], axis=1), np.concatenate(children[2:], axis=1)
    assert np.array_equal(canvas.cache.get(centre)[1], downsample_box(np.concatenate([top, bottom]), 1))
    canvas.zoom_by(-1)  # level 2 is rendered (from 1024 px) ...
    qtbot.waitUntil(lambda: canvas.is_complete() and canvas.worker.pending() == 0, timeout=10000)
    qtbot.wait(100)  # the last children, queued behind their parent
    calls, rendered = len(model.calls), canvas.worker.tiles_rendered
    canvas.zoom_by(1)  # ... and its level-1 children came with it
    assert canvas.is_complete()
    qtbot.wait(100)
    assert len(model.calls) == calls and canvas.worker.tiles_rendered == rendered


def test_zooming_out_reaches_1_16_and_synthesised_tiles_come_one_per_model_call(qtbot, make_canvas):
    model = FakeModel(FakeConfig(block=512), delay=0.02)
    canvas = make_canvas(model, size=(300, 300), prefetch=0, batch_tiles=4)
    qtbot.waitUntil(lambda: canvas.is_complete() and canvas.worker.pending() == 0, timeout=10000)
    calls = len(model.calls)
    canvas.zoom_by(-10)
    assert canvas.view.zoom == -4  # a single-level model: four synthesised levels by default
    arrivals: list[int] = []  # blocks rendered when each level-2 tile arrived
    canvas.worker.sig_tile_ready.connect(
        lambda key, _: arrivals.append(sum(len(o) for _, o in model.calls[calls:])) if key.level == 2 else None
    )
    canvas.zoom_by(2)  # level 2: each tile is 1024 level-0 px, four 512-px blocks
    qtbot.waitUntil(lambda: canvas.is_complete() and canvas.worker.pending() == 0, timeout=10000)
    # One tile per model call: each arrives while the next renders (a batch would bring them together).
    assert len(arrivals) > 1 and all(a < b for a, b in itertools.pairwise(arrivals))


def test_another_generator_under_the_same_name_shows_none_of_the_old_pixels(qtbot, make_canvas):
    canvas = make_canvas(FakeModel(), size=(300, 300), prefetch=0)
    qtbot.waitUntil(canvas.is_complete, timeout=10000)
    old_state, world = canvas.state, canvas.world
    other = FakeModel(FakeConfig(block=128))  # same reference "fake:test", no checkpoint hash
    with qtbot.waitSignal(canvas.worker.sig_model_ready, timeout=10000) as blocker:
        canvas.worker.open_model("fake:test", lambda ref: loader_for(other)(ref))
    canvas.set_model(blocker.args[0])
    canvas.set_world(world)  # an equal world: without the model change it would be a cache hit
    assert len(canvas.cache) == 0 and canvas.state != old_state and not canvas.standins
    qtbot.waitUntil(canvas.is_complete, timeout=10000)
    assert other.calls


def test_a_preview_has_its_own_state_accepting_it_renders_nothing_and_discarding_shows_the_world(qtbot, make_canvas):
    canvas = make_canvas(prefetch=0)
    qtbot.waitUntil(canvas.is_complete, timeout=10000)
    world, world_state = canvas.world, canvas.state
    world_tiles = {k: canvas.cache.get(k) for k in canvas.visible_keys()}
    variant = world.with_seed(5)
    canvas.set_preview(preview_of(variant), lambda level: [Rect(10, 10, 20, 20)])  # inside tile (0, 0)
    assert canvas.world is world and canvas.state != world_state
    assert [(k.tx, k.ty) for k in canvas.visible_keys() if k not in canvas.cache] == [(0, 0)]
    qtbot.waitUntil(canvas.is_complete, timeout=10000)
    preview_state, rendered = canvas.state, canvas.worker.tiles_rendered
    canvas.set_preview(preview_of(variant))  # the same variant under another preview version: same pixels
    assert canvas.state == preview_state and canvas.is_complete()
    canvas.set_preview(None)  # discard: the world's own tiles, none rendered again
    assert canvas.state == world_state and canvas.is_complete()
    assert all(canvas.cache.get(k) is world_tiles[k] for k in canvas.visible_keys())
    canvas.set_preview(preview_of(variant))
    canvas.set_world(variant)  # accept: the variant under its natural version shows the preview's tiles
    assert canvas.preview is None and canvas.state == preview_state and canvas.is_complete()
    qtbot.wait(100)
    assert canvas.worker.tiles_rendered == rendered
