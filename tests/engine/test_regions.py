"""Regions for every family: a large render computes each family's margins once per region.

ALIS has its own tests (``test_alis_regions``); these cover InfinityGAN and ∞-GAN (every level),
with style centres and the style lattice where InfinityGAN fuses styles per pixel, and the export
of a rect against canvas tiles."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from engine.errors import InvalidInput
from engine.export.plan import ExportPlan, TileRenderer
from engine.families.infinitygan import model as ig
from engine.fields import LatentSource
from engine.geometry import Rect
from engine.models.registry import build_random
from engine.render import Renderer, region_for
from engine.styles import StyleCentre, StyleLayout
from engine.world import World
from tests.consistency import check_rect

FAR = Rect(-(10**9) - 41, 10**7 + 5, 150, 110)


def _max_lsb(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max())


@pytest.mark.parametrize(("family", "config"), [("infinitygan", "tiny"), ("infgan", "tiny")])
def test_region_renders_stitch_exactly_and_match_blocks_within_one_lsb(family, config):
    model = build_random(family, config)
    world = World(f"{family}:{config}", seed=9)
    regions = Renderer(model, "cpu", region=3)
    assert regions.block_size() == 3 * model.block_size()
    for level in range(model.num_levels()):
        check_rect(regions, world, FAR, level, 9, tiles=((37, 53),))
        (by_region,) = regions.render(world, [FAR], level)
        (by_block,) = Renderer(model, "cpu").render(world, [FAR], level)
        assert _max_lsb(by_region, by_block) <= 1, level


def test_infinitygan_regions_fuse_styles_like_blocks():
    """Per-pixel style fusion (centres over a style lattice) reads the region's windows."""
    plain = build_random("infinitygan", "tiny")
    model = ig.InfinityGANGenerator(dataclasses.replace(plain.config, style_cell=64))
    model.load_state_dict(plain.state_dict())
    x, y = FAR.x, FAR.y
    layout = StyleLayout.of([StyleCentre(x + 20, y + 30, 1, 40.0), StyleCentre(x + 120, y + 70, 2, 60.0)])
    world = World("infinitygan:tiny", seed=3, styles=layout)
    regions = Renderer(model, "cpu", region=2)
    check_rect(regions, world, FAR, 0, 3, tiles=((41, 29),))
    (by_region,) = regions.render(world, [FAR])
    (by_block,) = Renderer(model, "cpu").render(world, [FAR])
    assert _max_lsb(by_region, by_block) <= 1


def _flops(model, size: tuple[int, int], level: int = 0) -> float:
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        model.render_blocks([(0, 0)], LatentSource(1), StyleLayout(), level, size=size)
    return counter.get_total_flops() / (size[0] * size[1])


@pytest.mark.parametrize(("family", "config"), [("infinitygan", "tiny"), ("infgan", "tiny")])
def test_a_region_pays_its_margins_once(family, config):
    model = build_random(family, config)
    b = model.block_size()
    block, square = _flops(model, (b, b)), _flops(model, (4 * b, 4 * b))
    assert square < 0.8 * block
    with pytest.raises(InvalidInput, match="whole blocks"):
        model.render_blocks([(0, 0)], LatentSource(1), StyleLayout(), size=(b + 8, b))


@pytest.mark.parametrize(("family", "config"), [("infinitygan", "tiny"), ("infgan", "tiny"), ("alis", "tiny")])
def test_an_export_by_regions_stitches_with_canvas_tiles_within_one_lsb(family, config):
    """What ``everscape render`` does for a large rect (regions, rim regions clipped to the rect, cut
    into output tiles) against what the canvas shows (plain blocks, 256 px tiles)."""
    model = build_random(family, config)
    world = World(f"{family}:{config}", seed=5)
    b = model.block_size()
    rect = Rect(-4 * b - 13, 7 * b + 5, 9 * b, 5 * b)  # off the grid: rim regions on every side
    region = region_for(model, rect, max_side=4 * b)
    assert region == 4
    plan = ExportPlan.make(model, rect, tile_w=96, tile_h=64)
    regions = Renderer(model, "cpu", region=region)
    tiles = TileRenderer(regions, world, plan)
    exported = np.empty((rect.h, rect.w, 3), np.uint8)
    for index in range(plan.num_tiles):
        t = plan.tile(index)
        exported[t.y - rect.y : t.bottom - rect.y, t.x - rect.x : t.right - rect.x] = tiles.render(index)
    canvas = Renderer(model, "cpu")
    stitched = np.empty_like(exported)
    for tile in rect.tiles(256, 256):
        (pixels,) = canvas.render(world, [tile])
        stitched[tile.y - rect.y : tile.bottom - rect.y, tile.x - rect.x : tile.right - rect.x] = pixels
    assert _max_lsb(exported, stitched) <= 1
    # Whole regions would cover 16 x 12 blocks; clipped to the rect's 10 x 6 block cover, only those.
    assert regions.pixels_rendered == 10 * 6 * b * b
    assert tiles.discarded_fraction() == pytest.approx(1 - rect.w * rect.h / regions.pixels_rendered)
