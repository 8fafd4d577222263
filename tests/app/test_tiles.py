"""Tile maths, request planning, stand-ins and the byte-bounded LRU (no Qt)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from app.tiles import (
    SUB,
    TILE,
    LevelPlan,
    TileCache,
    TileKey,
    View,
    cover_plan,
    downsample_box,
    plan_requests,
    visible_keys,
)


def test_view_pan_and_zoom_keep_positions_exact_far_away():
    far = 10**12 + 3
    view = View.centred(far, -far, 0, 640, 480)
    assert view.screen_to_world(320, 240) == (far, -far)
    assert view.panned(-10, 5).screen_to_world(320, 240) == (far + 10, -far - 5)
    plan = LevelPlan(1, 2)
    # Zooming around a point keeps the world point under it.
    before = view.screen_to_world(100, 50)
    for steps in (1, 2, -1, -2):
        assert view.zoomed(steps, plan, (100, 50)).screen_to_world(100, 50) == before


def test_zoom_is_limited_by_the_level_plan():
    plan = LevelPlan(native_levels=2, synth_levels=2)
    view = View().zoomed(-10, plan)
    assert view.zoom == -plan.max_level == -3
    assert view.level(plan) == 3
    assert plan.source(3) == (1, 2)
    rect, base, halvings = plan.render_rect(TileKey(0, 3, -1, 2))
    assert (base, halvings) == (1, 2) and (rect.x, rect.y, rect.w) == (-1024, 2048, 1024)
    assert View().zoomed(10, plan).zoom == 4


def test_visible_tiles_cover_the_view_and_start_at_the_centre():
    view = View.centred(0, 0, 0, 600, 300)
    keys = visible_keys(view, LevelPlan(), 7)
    assert {(k.tx, k.ty) for k in keys} == {(tx, ty) for tx in range(-2, 2) for ty in range(-1, 1)}
    assert keys[0].state == 7 and view.distance2(0, keys[0].tx, keys[0].ty) == min(
        view.distance2(0, k.tx, k.ty) for k in keys
    )


def test_panning_requests_exactly_the_newly_visible_tiles():
    plan = LevelPlan()
    view = View.centred(1000, -300, 0, 800, 600)
    cached = {key for _, key in plan_requests(view, plan, 0, lambda k: False, prefetch=0)}
    moved = view.panned(-300, 100)
    new = {key for _, key in plan_requests(moved, plan, 0, cached.__contains__, prefetch=0)}
    assert new == set(visible_keys(moved, plan, 0)) - set(visible_keys(view, plan, 0))
    assert new  # the pan did uncover something


def test_requests_put_visible_before_prefetch_and_coarse_native_before_fine():
    plan = LevelPlan(native_levels=3, synth_levels=1)
    view = View.centred(0, 0, 0, 512, 512)
    order = [key for _, key in plan_requests(view, plan, 0, lambda k: False, prefetch=1)]
    levels = [k.level for k in order]
    assert levels[: levels.index(0)] and set(levels[: levels.index(0)]) <= {1, 2}
    assert levels[0] == 2  # coarsest native level first
    visible = set(visible_keys(view, plan, 0))
    first_ring = [k for k in order if k.level == 0]
    assert set(first_ring[: len(visible)]) == visible  # the prefetch ring comes after
    # A single-level model never gets coarse requests (they would cost 4x per level).
    assert {k.level for _, k in plan_requests(view, LevelPlan(1, 2), 0, lambda k: False)} == {0}


def test_cover_plan_prefers_the_nearest_ancestor_and_overlays_finer_children():
    key = TileKey(0, 2, 5, -3)
    grand = key.parent(2)
    child = TileKey(0, 1, 11, -5)
    patches = cover_plan(key, {grand, key.parent(3), child}.__contains__)
    assert patches[0].source == grand and patches[0].side == TILE / 4
    assert (patches[0].sx, patches[0].sy) == ((5 - (grand.tx << 2)) * 64, (-3 - (grand.ty << 2)) * 64)
    assert patches[1].source == child and (patches[1].fx, patches[1].fy, patches[1].fside) == (0.5, 0.5, 0.5)
    assert cover_plan(key, lambda k: False) == []


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(1, 300)), min_size=1, max_size=200), st.integers(1, 1000))
def test_cache_never_exceeds_its_budget(items, budget):
    cache = TileCache(budget)
    for index, (tile, size) in enumerate(items):
        cache.put(TileKey(0, 0, tile, 0), index, size)
        assert cache.bytes <= budget
        assert cache.bytes == cache.counted_bytes()
    cache.set_budget(budget // 2)
    assert cache.bytes <= budget // 2


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 12), st.integers(0, 12)), min_size=1, max_size=120))
def test_shared_images_count_once_and_free_with_their_last_key(steps):
    cache = TileCache(40)
    for put, a, b in steps:
        if put:
            cache.put(TileKey(0, 0, a, 0), object(), b + 1)
        else:
            if cache.alias(TileKey(1, 0, a, 0), TileKey(0, 0, b, 0)):
                assert cache.get(TileKey(1, 0, a, 0)) is cache.get(TileKey(0, 0, b, 0))
        assert cache.bytes == cache.counted_bytes() <= 40
    for key in cache.key_list():
        cache.pop(key)
    assert cache.bytes == 0


def test_cache_evicts_least_recently_used():
    cache = TileCache(3)
    for i in range(3):
        cache.put(TileKey(0, 0, i, 0), i, 1)
    cache.get(TileKey(0, 0, 0, 0))
    cache.put(TileKey(0, 0, 9, 0), 9, 1)
    assert TileKey(0, 0, 1, 0) not in cache and TileKey(0, 0, 0, 0) in cache


def test_downsample_box_is_repeated_rounded_halving():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    once = downsample_box(pixels, 1)
    assert once.shape == (4, 4, 3)
    assert once[0, 0, 0] == (sum(int(v) for v in pixels[:2, :2, 0].ravel()) + 2) // 4
    assert np.array_equal(downsample_box(pixels, 2), downsample_box(once, 1))


def test_sub_pixel_centre_is_integer():
    assert View(zoom=4).unit == SUB >> 4 == 1
