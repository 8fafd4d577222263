"""The consistency kit: the invariant every generator family must keep, as reusable checks.

A world is a pure function from a pixel rectangle to pixels, so for every model, level and world:
a rectangle rendered at once equals the same rectangle stitched from tiles of any size, rendered
in any order and in batches of any size, and equals the matching crop of any larger rectangle;
far from the origin and at negative coordinates too. Bit-exact, on CPU, in float32.

Families register by existing: ``cases()`` enumerates every available family's ``TEST_CONFIGS``
and every level its models render.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np

from engine.geometry import Rect
from engine.models.base import Generator
from engine.models.registry import available_families, build_random, get_family
from engine.render import Renderer
from engine.world import World

#: Rectangles that every model must render consistently (x, y, w, h): odd sizes, odd offsets,
#: negative coordinates, and far from the origin.
PROBE_RECTS = (
    Rect(-37, -61, 173, 129),
    Rect(10**9 + 13, -(10**9) - 5, 150, 97),
    Rect(-(10**12) - 3, 10**12 + 1, 131, 90),
)


def cases() -> Iterator[tuple[str, str, int]]:
    for family in available_families():
        for config in get_family(family).test_configs:
            model = build_random(family, config)
            for level in range(model.num_levels()):
                yield family, config, level


_MODELS: dict[tuple[str, str], Generator] = {}


def model_for(family: str, config: str) -> Generator:
    key = (family, config)
    if key not in _MODELS:
        _MODELS[key] = build_random(family, config)
    return _MODELS[key]


def stitch(
    renderer: Renderer, world: World, rect: Rect, tile_w: int, tile_h: int, level: int, rng: random.Random
) -> np.ndarray:
    """Render ``rect`` as tiles in shuffled order and mixed batch sizes, then paste them."""
    tiles = list(rect.tiles(tile_w, tile_h))
    rng.shuffle(tiles)
    out = np.zeros((rect.h, rect.w, 3), dtype=np.uint8)
    start = 0
    while start < len(tiles):
        group = tiles[start : start + rng.randint(1, 4)]
        renderer.max_batch = rng.randint(1, 7)
        for tile, pixels in zip(group, renderer.render(world, group, level), strict=True):
            out[tile.y - rect.y : tile.bottom - rect.y, tile.x - rect.x : tile.right - rect.x] = pixels
        start += len(group)
    return out


def crop(image: np.ndarray, outer: Rect, inner: Rect) -> np.ndarray:
    return image[inner.y - outer.y : inner.bottom - outer.y, inner.x - outer.x : inner.right - outer.x]


def assert_identical(a: np.ndarray, b: np.ndarray, what: str) -> None:
    if a.shape != b.shape:
        raise AssertionError(f"{what}: shapes differ {a.shape} vs {b.shape}")
    if not np.array_equal(a, b):
        diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
        ys, xs = np.nonzero(diff.max(axis=2))
        raise AssertionError(f"{what}: {len(ys)} pixels differ (max {diff.max()}), first at row {ys[0]}, col {xs[0]}")


def check_rect(
    renderer: Renderer,
    world: World,
    rect: Rect,
    level: int,
    seed: int = 0,
    tiles: tuple[tuple[int, int], ...] = ((64, 64), (37, 23)),
) -> None:
    """All the kit's invariants for one rectangle."""
    rng = random.Random(seed)
    renderer.max_batch = 8
    (whole,) = renderer.render(world, [rect], level)
    assert whole.dtype == np.uint8 and whole.shape == (rect.h, rect.w, 3)
    for tile_w, tile_h in (*tiles, (rect.w, 41)):
        tiled = stitch(renderer, world, rect, tile_w, tile_h, level, rng)
        assert_identical(whole, tiled, f"{rect} stitched from {tile_w}x{tile_h} tiles")
    outer = Rect(rect.x - 29, rect.y - 17, rect.w + 61, rect.h + 45)
    renderer.max_batch = 3
    (bigger,) = renderer.render(world, [outer], level)
    assert_identical(whole, crop(bigger, outer, rect), f"{rect} as a crop of {outer}")
