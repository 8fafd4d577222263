"""ALIS model: exact positions far away, anchor blending, panorama (1-D) mode, configs."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import InvalidInput
from engine.families.alis import config as alis_config
from engine.families.alis import model as alis
from engine.families.alis.blocks import coordinate_channels, fourier_periods
from engine.geometry import Rect
from engine.layers.anchor_grid import (
    AnchorWindow,
    anchor_axis,
    blend_weight_norm,
    interpolate_anchors,
    interpolate_deviations,
)
from engine.models.registry import INIT_SEED, build_random
from engine.render import Renderer
from engine.world import World
from tests.consistency import check_rect


def _panorama_model():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(INIT_SEED)
        model = alis.build(dataclasses.replace(alis_config.CONFIGS["tiny"], panorama=True))
    return model.eval().requires_grad_(False)


def test_fourier_phases_exact_at_1e12():
    periods = fourier_periods(64, 2)
    assert periods == (122, 62, 26, 14, 6)  # 2 x the primes 61, 31, 13, 7, 3 (octaves of 64)
    common = math.lcm(*(p // 2 for p in periods))  # in stage pixels
    far = 10**12 - (10**12 % common) + 5  # same phase as stage pixel 5, about 2e12 world px out
    near = coordinate_channels([AnchorWindow((0, 0), 5, -3, 7, 6, 2)], periods, torch.device("cpu"), torch.float32)
    away = coordinate_channels([AnchorWindow((0, 0), far, -3, 7, 6, 2)], periods, torch.device("cpu"), torch.float32)
    assert torch.equal(near, away)
    # And the value is right: the phase of world x = 2 * far for the longest period.
    expected = math.cos(2 * math.pi * ((2 * far) % 122) / 122)
    assert near[0, 0, 0, 0].item() == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("spacing, scale", [(64, 1), (64, 2), (256, 1), (256, 32)])
def test_a_shift_by_one_period_realigns_that_wave_alone(spacing, scale):
    """The repetition fix: with octave periods a shift by one period brought every finer wave back
    in phase (the whole encoding echoed); with prime periods only the shifted wave's channels match."""
    periods = fourier_periods(spacing, scale)
    assert len(periods) >= 3 and periods[0] > spacing  # still octave-like, the longest past one anchor gap
    assert all(math.gcd(a // scale, b // scale) == 1 for a in periods for b in periods if a != b)

    def x_channels(x: int) -> torch.Tensor:  # (2 * waves, W): the cos/sin rows along x
        window = AnchorWindow((0, 0), x, 0, 16, 1, scale)
        return coordinate_channels([window], periods, torch.device("cpu"), torch.float32)[0, : 2 * len(periods), 0]

    here = x_channels(7)
    for i, period in enumerate(periods):
        same = (x_channels(7 + period // scale) == here).all(dim=1).view(-1, 2).all(dim=1)
        assert same.tolist() == [j == i for j in range(len(periods))], period


def test_anchor_weights_exact_far_and_strictly_inside():
    idx, t = anchor_axis(10**12, 40, 4, 64, 10**12 * 4 // 64 - 1)
    idx0, t0 = anchor_axis(0, 40, 4, 64, -1)  # 10^12 * 4 is a multiple of 64: same phase
    assert torch.equal(idx, idx0) and torch.equal(t, t0)
    assert bool(((t > 0) & (t < 1)).all())
    # Pixel centres (q + 0.5) * 4: weight of the right anchor is the fraction of the way there.
    assert t0[3].item() == pytest.approx((3.5 * 4) / 64)


def test_interpolation_is_bilinear_between_anchors():
    grid = torch.arange(9, dtype=torch.float32).view(1, 1, 3, 3)  # value = 3 j + i
    window = AnchorWindow((0, 0), 0, 0, 32, 32, 1)  # spacing 16: a pixel's value is its position / 16
    out = interpolate_anchors(grid, [window], 16)[0, 0]
    ys, xs = torch.meshgrid(torch.arange(32) + 0.5, torch.arange(32) + 0.5, indexing="ij")
    assert torch.allclose(out, 3 * ys / 16 + xs / 16, atol=1e-5)
    row = interpolate_anchors(grid, [window], 16, rows=False)
    assert row.shape == (1, 1, 1, 32)  # panorama: one row, broadcast over y


def test_panorama_reads_one_anchor_row_and_renders_an_endless_strip():
    model = _panorama_model()
    renderer = Renderer(model, "cpu")
    world = World("alis:tiny-panorama", seed=4)
    source = renderer.source(world)
    source.reads = []
    for y in (0, 32 * 10**6, -(10**12)):
        model.render_blocks([(10**12, y)], source, world.styles)
    anchor_reads = {cells for name, cells in source.reads if name == alis_config.ANCHOR_FIELD}
    assert len(anchor_reads) == 1 and next(iter(anchor_reads)).y == 0 and next(iter(anchor_reads)).h == 1
    # The declared footprint says so too, so generic clients (edit supports) stay honest.
    (spec,) = [s for s in model.field_specs() if s.name == alis_config.ANCHOR_FIELD]
    for y in (0, 32 * 10**6, -(10**12)):
        assert spec.footprint(Rect(10**12, y, 32, 32)) == next(iter(anchor_reads))
    support = spec.lattice.support(Rect(5, 0, 1, 1))
    assert support.y < -(10**15) and support.bottom > 10**15  # an anchor edits a column band of the strip
    # The strip continues seamlessly at 10^12 (any rect equals its tiles and crops).
    check_rect(renderer, world, Rect(10**12 - 50, 0, 150, 32), 0, tiles=((37, 23),))
    (strip,) = renderer.render(world, [Rect(10**12, 0, 256, 32)])
    assert strip.std() > 1.0


def test_truncation_to_zero_removes_anchor_variety():
    model = build_random("alis", "tiny")
    renderer = Renderer(model, "cpu")
    base = World("alis:tiny", seed=1)
    from engine.families.alis.edit import with_truncation

    flat = with_truncation(base, 0.0)
    rect = Rect(0, 0, 64, 64)
    a = renderer.render(flat, [rect])[0]
    b = renderer.render(flat.with_seed(2), [rect])[0]
    # With psi = 0 every anchor is the mean: only noise differs between seeds, so images are closer.
    c = renderer.render(base, [rect])[0]
    d = renderer.render(base.with_seed(2), [rect])[0]
    assert np.abs(a.astype(int) - b).mean() < np.abs(c.astype(int) - d).mean()
    with pytest.raises(InvalidInput):
        with_truncation(base, 3.0)


def test_configs_are_valid_and_round_trip():
    for name, config in alis_config.CONFIGS.items():
        assert alis_config.config_from_dict(dataclasses.asdict(config)) == config, name
        assert alis_config.real_crop_size(config) == config.frame
    assert alis_config.CONFIGS["paper"].spacing == 512  # the released d = 2 frame widths
    with pytest.raises(InvalidInput):
        alis_config.config_from_dict({"frame": 32, "bogus": 1})
    with pytest.raises(InvalidInput):
        alis.build(dataclasses.replace(alis_config.CONFIGS["tiny"], block=48))  # not a divisor of the spacing


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    x=st.integers(-(10**12), 10**12),
    y=st.integers(-(10**12), 10**12),
    w=st.integers(1, 90),
    h=st.integers(1, 90),
    tile=st.integers(7, 61),
    seed=st.integers(0, 2**31),
)
def test_any_rect_is_bit_exact(x, y, w, h, tile, seed):
    """Hypothesis picks rectangles anywhere and tile sizes: stitched == whole == crop of bigger."""
    model = build_random("alis", "tiny")
    check_rect(Renderer(model, "cpu"), World("alis:tiny", seed=seed), Rect(x, y, w, h), 0, seed, tiles=((tile, tile),))


def test_blend_weight_norm_is_one_on_anchors_and_a_quarter_amid_four_at_any_distance():
    near = blend_weight_norm([AnchorWindow((0, 0), 0, 0, 64, 64, 1)], 64)[0, 0]
    far_x = 10**12 * 64
    far = blend_weight_norm([AnchorWindow((10**12, 0), far_x, 0, 64, 64, 1)], 64)[0, 0]
    assert torch.equal(near, far)
    assert near[0, 0].item() == pytest.approx(1.0, abs=0.02)  # pixel centre 0.5 px from the anchor
    assert near[31, 31].item() == pytest.approx(0.5, abs=1e-3)  # sqrt(1/4): centre of four anchors
    row = blend_weight_norm([AnchorWindow((0, 0), 0, 0, 64, 64, 1)], 64, rows=False)
    assert row.shape == (1, 1, 1, 64) and row[0, 0, 0, 31].item() == pytest.approx(math.sqrt(0.5), abs=1e-3)


def test_variance_blend_keeps_the_styles_spread_at_every_phase_where_the_linear_one_shrinks_it():
    """The envelope's cause: between anchors a plain blend averages the anchors' styles, so they
    vary less there than on the anchors (a quarter of the variance amid four); the variance blend
    rescales the deviations from the centre and keeps mean and spread at every phase."""
    generator = torch.Generator().manual_seed(0)
    centre = torch.tensor([1.0, -2.0, 0.5])
    grid = centre.view(1, 3, 1, 1) + torch.randn(4000, 3, 2, 2, generator=generator)
    windows = [AnchorWindow((0, 0), 0, 0, 16, 16, 1)] * len(grid)
    linear = interpolate_anchors(grid, windows, 16)
    preserved = interpolate_deviations(grid, centre, windows, 16)
    anchor, amid = (0, 0), (8, 8)  # a pixel beside anchor (0, 0); the centre of the four
    for out in (linear, preserved):
        assert torch.allclose(out[:, :, 8, 8].mean(0), centre, atol=0.08)
    spread = {name: out.var(0).mean(0) for name, out in (("linear", linear), ("variance", preserved))}
    assert spread["linear"][amid] / spread["linear"][anchor] < 0.3
    assert spread["variance"][amid] / spread["variance"][anchor] == pytest.approx(1.0, abs=0.1)


def test_tiny_blends_variance_preserving_and_that_changes_its_render():
    """``tiny`` is what the consistency kit (tests/engine/test_consistency.py) renders, so the
    variance blend is held to bit-exact any-rect rendering there; here: it is really in use."""
    model = build_random("alis", "tiny")
    assert model.config.blend == "variance"
    renderer = Renderer(model, "cpu")
    linear = build_random("alis", "tiny")
    linear.load_state_dict(model.state_dict())
    for conv in [*linear.convs, linear.to_rgb]:
        conv.blend = "linear"
    rect = Rect(5, 9, 40, 30)
    (a,) = renderer.render(World("alis:tiny", seed=2), [rect])
    (b,) = Renderer(linear, "cpu").render(World("alis:tiny", seed=2), [rect])
    assert np.abs(a.astype(int) - b.astype(int)).max() > 0


def test_unknown_blend_is_refused():
    with pytest.raises(ValueError, match="unknown anchor blend"):
        alis.build(dataclasses.replace(alis_config.CONFIGS["tiny"], blend="cubic"))
