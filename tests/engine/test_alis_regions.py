"""ALIS at the released compute: transposed up-sampling, and regions that compute margins once."""

import dataclasses

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from engine.errors import EverscapeError, InvalidInput
from engine.families.alis import config as alis_config
from engine.families.alis import model as alis
from engine.fields import LatentSource
from engine.geometry import Rect
from engine.layers.spans import Span
from engine.layers.transposed import PairBox, box2
from engine.models.registry import INIT_SEED, build_random
from engine.render import MAX_REGION_SIDE, REGION_ROW_BYTES, Renderer, region_for
from engine.styles import StyleLayout
from engine.world import World
from tests.consistency import check_rect

TRANSPOSED = dataclasses.replace(alis_config.CONFIGS["tiny"], upsample="transposed")


def _model(config: alis_config.ALISConfig) -> alis.ALISGenerator:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(INIT_SEED)
        return alis.build(config).eval().requires_grad_(False)


def _flops_per_px(config: alis_config.ALISConfig, size: tuple[int, int] | None = None) -> float:
    with torch.device("meta"):
        model = alis.build(config)
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        model.render_blocks([(0, 0)], LatentSource(1, device="meta"), StyleLayout(), size=size)
    width, height = size or (config.block, config.block)
    return counter.get_total_flops() / (width * height)


def test_transposed_upsampling_is_bit_exact_anywhere_and_not_flat():
    model = _model(TRANSPOSED)
    renderer = Renderer(model, "cpu")
    check_rect(renderer, World("alis:tiny", seed=4), Rect(10**9 + 13, -(10**9) - 5, 70, 45), 0, 4)
    (image,) = renderer.render(World("alis:tiny", seed=4), [Rect(-20, 3, 64, 64)])
    assert image.std() > 2.0


def test_transposed_reads_stay_inside_declared_footprints():
    model = _model(TRANSPOSED)
    renderer = Renderer(model, "cpu")
    world = World("alis:tiny", seed=5)
    source = renderer.source(world)
    source.reads = []
    block = model.config.block
    model.render_blocks([(3 * block, -7 * block)], source, world.styles)
    specs = {spec.name: spec for spec in model.field_specs()}
    for name, cells in source.reads:
        assert specs[name].footprint(Rect(3 * block, -7 * block, block, block)).contains(cells), name


def test_up_convolutions_run_on_the_coarse_grid():
    """The released up-sampling costs a conv on the coarse grid, not on the up-sampled map
    (``paper`` uses it; ``everscape bench --only alis_flops`` counts the paper config)."""
    assert alis_config.CONFIGS["paper"].upsample == "transposed"
    bilinear = _flops_per_px(alis_config.CONFIGS["tiny"])
    assert _flops_per_px(TRANSPOSED) < 0.8 * bilinear


def test_a_region_pays_its_margins_once():
    block = _flops_per_px(TRANSPOSED)
    b = TRANSPOSED.block
    strip = _flops_per_px(TRANSPOSED, (4 * b, b))
    square = _flops_per_px(TRANSPOSED, (4 * b, 4 * b))
    assert square < strip < 0.85 * block


def test_region_renders_stitch_exactly_and_match_blocks_within_one_lsb():
    model = build_random("alis", "tiny")
    world = World("alis:tiny", seed=9)
    regions = Renderer(model, "cpu", region=3)
    assert regions.block_size() == 3 * model.config.block
    rect = Rect(-(10**9) - 41, 10**7 + 5, 150, 110)
    check_rect(regions, world, rect, 0, 9, tiles=((37, 53),))
    (by_region,) = regions.render(world, [rect])
    (by_block,) = Renderer(model, "cpu").render(world, [rect])
    assert np.abs(by_region.astype(np.int16) - by_block).max() <= 1


def test_region_is_ignored_by_models_without_regions_and_checked():
    model = build_random("reference", "tiny")
    assert Renderer(model, "cpu", region=4).block_size() == model.block_size()
    with pytest.raises(EverscapeError, match="region"):
        Renderer(model, "cpu", region=0)
    with pytest.raises(InvalidInput, match="whole blocks"):
        build_random("alis", "tiny").render_blocks([(0, 0)], LatentSource(1), StyleLayout(), size=(40, 32))


def test_unknown_upsampling_is_refused():
    with pytest.raises(InvalidInput, match="upsample"):
        alis.build(dataclasses.replace(alis_config.CONFIGS["tiny"], upsample="nearest"))


def test_exports_use_the_largest_region_that_fits_the_rect_and_the_memory_cap():
    model = build_random("alis", "tiny")
    b = model.config.block
    assert region_for(model, Rect(-5, 7, 10**6, 4 * b + 3)) == 4
    assert region_for(model, Rect(-5, 7, 10**6, 4 * b - 1)) == 2
    assert region_for(model, Rect(0, 0, b - 1, 10**6)) == 1
    assert region_for(model, Rect(0, 0, 2**16, 10**6)) * b == MAX_REGION_SIDE  # the bench's export
    assert region_for(model, Rect(0, 0, 10**6, 10**6), max_side=3 * b) == 2
    assert region_for(model, Rect(0, 0, 2**22, 10**6)) * b * 2**22 * 3 <= REGION_ROW_BYTES  # a very wide export
    assert region_for(model, Rect(0, 0, 2**22, 10**6)) < MAX_REGION_SIDE // b
    assert region_for(build_random("reference", "tiny"), Rect(0, 0, 10**6, 10**6)) == 1


def test_box_filter_of_a_crop_is_the_crop_of_the_box_filter():
    x = torch.randn(1, 5, 23, 31, generator=torch.Generator().manual_seed(0))
    whole = box2(x, 2.0)
    assert whole.shape[-2:] == (22, 30)
    assert torch.equal(box2(x[..., 4:15, 7:20], 2.0), whole[..., 4:14, 7:19])
    assert PairBox().gives(Span(3, 10)) == Span(3, 9) and PairBox().needs(Span(3, 9)) == Span(3, 10)
