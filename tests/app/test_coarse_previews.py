"""Coarse previews (app.coarse_previews): zoomed-out views of a model with previews show its cheap
coarse image first, centre first, and the real tiles replace it; nothing else changes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PySide6.QtGui import QImage, QPainter

from app.canvas import Canvas
from app.coarse_previews import BACKGROUND_RGB, CoarsePreviews, coarse_level, coarse_state
from app.painting import paint_view
from app.qimage import rgb32_to_qimage, rgb_to_rgb32
from app.tiles import TILE, LevelPlan, TileCache, TileKey, View, downsample_box, visible_keys
from app.worker import TileWorker, tile_region
from engine.families.infinitygan.config import CONFIGS
from engine.families.infinitygan.model import build
from engine.geometry import Rect
from engine.models.registry import LoadedModel
from engine.render import Renderer
from engine.world import World

PLAN = LevelPlan(1, 4)


def _three_block_model():
    """A tiny InfinityGAN with three texture blocks: previews at level 1 (``tiny`` has two, none)."""
    return build(dataclasses.replace(CONFIGS["tiny"], texture_channels=(16, 12, 8), block=64))


def test_the_preview_level_is_the_views_own_or_the_coarsest_finer_one():
    assert coarse_level(0, (1, 2)) is None  # at 1:1 a real tile is cheaper than a preview
    assert [coarse_level(level, (1, 2)) for level in (1, 2, 3, 4)] == [1, 2, 2, 2]
    assert coarse_level(3, ()) is None


def test_previews_are_asked_first_centre_first_and_not_where_the_real_tile_is():
    view = View.centred(0, 0, -2, 1280, 720)
    cached = {TileKey(7, 2, -1, -1)}
    wanted = CoarsePreviews((1, 2)).requests(view, PLAN, 7, cached.__contains__)
    keys = [key for _, key in wanted]
    assert keys and all(key.state == coarse_state(7) for key in keys)
    assert all(priority[0] < 0 for priority, _ in wanted)  # ahead of every real tile (ring >= 0)
    assert TileKey(coarse_state(7), 2, -1, -1) not in keys  # its real tile is cached
    real_first = visible_keys(view, PLAN, 7)[0]
    assert (real_first.tx, real_first.ty) == (0, 0)  # the tile holding the centre pixel, not (-1, -1)
    glimpse = keys[0]  # the cheaper finest-level preview holding the centre pixel, before all
    assert glimpse.level == 1 and glimpse.world_rect().contains(Rect(0, 0, 1, 1)) and wanted[0][0][0] == -2
    assert all(key.level == 2 for key in keys[1:])
    assert (keys[1].tx, keys[1].ty) == (0, 0)  # then centre first at the view's level
    assert CoarsePreviews((1, 2)).requests(View.centred(0, 0, 0, 640, 480), PLAN, 7, lambda k: False) == []


def test_the_first_glimpse_is_asked_once():
    view, coarse, cache = View.centred(10, 10, -2, 1280, 720), CoarsePreviews((1, 2)), {}
    glimpse = coarse.requests(view, PLAN, 7, cache.__contains__)[0][1]
    pixels = rgb_to_rgb32(np.zeros((TILE, TILE, 3), np.uint8))
    key, composite = coarse.receive(glimpse, pixels, 2, cache.get)
    cache[key] = composite
    after = [key for _, key in coarse.requests(view, PLAN, 7, cache.__contains__)]
    assert glimpse not in after and after[0].level == 2 and after[0].world_rect().contains(Rect(10, 10, 1, 1))


def test_pieces_below_the_view_level_are_composited_into_one_view_level_tile():
    coarse = CoarsePreviews((2,))
    cache: dict[TileKey, np.ndarray] = {}
    piece = rgb_to_rgb32(np.full((TILE, TILE, 3), (200, 10, 90), np.uint8))
    key, composite = coarse.receive(TileKey(-3, 2, 5, 2), piece, 4, cache.get)
    assert key == TileKey(-3, 4, 1, 0)
    side = TILE // 4
    x, y = (5 - 4) * side, 2 * side
    assert (composite[y : y + side, x : x + side] == downsample_box(piece, 2)).all()
    background = rgb_to_rgb32(np.full((1, 1, 3), BACKGROUND_RGB, np.uint8))[0, 0]
    assert (composite[0, 0] == background).all()
    cache[key] = composite
    assert not coarse.covers(TileKey(3, 4, 1, 0), 4, cache.__contains__)
    for j in range(4):
        for i in range(4):
            key, composite = coarse.receive(TileKey(-3, 2, 4 + i, j), piece, 4, cache.get)
            cache[key] = composite
    assert coarse.covers(TileKey(3, 4, 1, 0), 4, cache.__contains__)
    coarse.keep_states({3, 5})
    assert coarse.pieces and coarse.partial
    coarse.keep_states({5})  # state 3 is gone: so is what is known of its previews
    assert not coarse.pieces and not coarse.partial
    whole = rgb_to_rgb32(np.full((4 * TILE, 4 * TILE, 3), (200, 10, 90), np.uint8))
    assert (cache[key] == downsample_box(whole, 2)).all()


def _put(cache: TileCache, key: TileKey, rgb: tuple[int, int, int]) -> None:
    array = rgb_to_rgb32(np.full((TILE, TILE, 3), rgb, np.uint8))
    cache.put(key, (rgb32_to_qimage(array), array), array.nbytes)


def test_a_missing_tile_is_painted_from_its_preview_and_a_real_one_wins(qapp):
    view = View.centred(128, 128, -1, TILE, TILE)  # exactly one level-1 tile
    cache = TileCache(2**24)
    _put(cache, TileKey(coarse_state(4), 1, 0, 0), (250, 0, 0))

    def painted() -> tuple[int, int, int]:
        image = QImage(TILE, TILE, QImage.Format.Format_RGB32)
        painter = QPainter(image)
        paint_view(painter, view, PLAN, 4, cache, standins=[coarse_state(4)])
        painter.end()
        colour = image.pixelColor(TILE // 2, TILE // 2)
        return colour.red(), colour.green(), colour.blue()

    assert painted() == (250, 0, 0)
    _put(cache, TileKey(4, 1, 0, 0), (0, 0, 250))
    assert painted() == (0, 0, 250)


def test_tiles_render_as_one_region_each():
    assert tile_region(_three_block_model()) == TILE // 64
    assert tile_region(build(CONFIGS["tiny"])) == TILE // 32


@pytest.mark.parametrize("zoom", [-1, -2])
def test_a_zoomed_out_canvas_shows_previews_first_then_its_real_tiles(qtbot, zoom):
    model = _three_block_model()
    worker = TileWorker()
    canvas = Canvas(worker, prefetch=0)
    qtbot.addWidget(canvas)
    canvas.resize(512, 384)
    arrived: list[TileKey] = []
    worker.sig_tile_ready.connect(lambda key, _array: arrived.append(key))
    worker.start()
    try:
        with qtbot.waitSignal(worker.sig_model_ready, timeout=20000) as blocker:
            worker.open_model("tiny3", lambda ref: LoadedModel(model, ref, None))
        canvas.set_model(blocker.args[0])
        assert canvas.coarse.levels == (1,)
        canvas.centre_on(0, 0, zoom)
        canvas.set_world(World("tiny3", seed=4))
        canvas.show()
        assert coarse_state(canvas.state) == canvas.fallbacks[0]
        qtbot.waitUntil(canvas.is_complete, timeout=120000)
        first_real = next(i for i, key in enumerate(arrived) if key.state > 0)
        assert arrived[0].state == coarse_state(canvas.state)  # the first thing shown is a preview
        assert all(key.state < 0 for key in arrived[:first_real])
        centre = arrived[0].world_rect()
        assert centre.contains(Rect(0, 0, 1, 1))  # centre first
        # The real tiles are the model's own pixels, whatever previews came before them.
        key = canvas.visible_keys()[0]
        rect, base, halvings = canvas.plan.render_rect(key)
        expected = Renderer(model, region=tile_region(model)).render(World("tiny3", seed=4), [rect], base)[0]
        assert (canvas.cache.get(key)[1][..., 2::-1] == downsample_box(expected, halvings)).all()
    finally:
        worker.shutdown()
