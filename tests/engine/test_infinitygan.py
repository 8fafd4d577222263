"""InfinityGAN model: window planning, coordinates, layers, and the issue's command-line promise."""

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from engine.cli import main
from engine.families.infinitygan import model as infinitygan
from engine.families.infinitygan.structure import coordinate_grid
from engine.fields import LatentSource
from engine.geometry import Rect
from engine.layers.spans import Span
from engine.layers.transposed import ModulatedConvTranspose2d, TransposedUp, linear_up
from engine.models.registry import build_random
from engine.render import Renderer, to_uint8
from engine.styles import StyleCentre, StyleLayout
from engine.world import World


def test_paper_config_plans_the_paper_patch():
    """Block 96 -> 35 z_l cells -> 11 structure cells -> a 101-pixel patch (official numbers)."""
    model = infinitygan.InfinityGANGenerator(infinitygan.CONFIGS["paper"])
    assert model.plan[0].size == 35
    assert model.train_ts_cells == 11
    assert model.patch_size == 101
    assert model.texture.num_styles == 9


def test_config_round_trip_and_validation():
    model = build_random("infinitygan", "tiny")
    doc = model.config_dict()
    assert infinitygan.config_from_dict(doc) == model.config
    with pytest.raises(Exception, match="multiple"):
        infinitygan.InfinityGANConfig(block=100)


def test_horizontal_phase_exact_far_from_origin():
    """Columns congruent modulo the period get bit-identical coordinates, even at 10^12."""
    period = 139
    near = coordinate_grid(5, 0, 40, 3, period, 0.3)
    far = coordinate_grid(period * 10**12 + 5, 0, 40, 3, period, 0.3)
    assert torch.equal(near, far)
    assert not torch.equal(near, coordinate_grid(6, 0, 40, 3, period, 0.3))


def test_vertical_coordinate_is_absolute_and_saturates_exactly():
    grid = coordinate_grid(0, -2, 1, 5, 139, 0.3)
    assert grid[0, 2, 0].item() == 0.0  # world row 0 is the horizon, whatever the canvas
    assert torch.equal(coordinate_grid(0, 10**12, 4, 2, 139, 0.3)[0], torch.ones(2, 4))
    assert torch.equal(coordinate_grid(0, -(10**15), 4, 2, 139, 0.3)[0], -torch.ones(2, 4))


def test_a_linear_vertical_coordinate_spaces_every_latitude_alike_and_holds_the_poles_exactly():
    """A map's rows need the same resolution at the poles as at the equator: the world recipe's
    84 rows under the paper's tanh (0.071 per row) gave the 9 polar rows of each side about 0.01 of
    the coordinate (the shipped model drew no Antarctica); linear gives them 9/84 of it."""
    rows = 42
    tanh = coordinate_grid(0, -rows, 1, 2 * rows + 1, 139, 0.071)[0, :, 0]
    linear = coordinate_grid(0, -rows, 1, 2 * rows + 1, 139, 1 / rows, vertical="linear")[0, :, 0]
    assert (tanh[9] - tanh[0]).item() < 0.015 and (tanh[rows + 6] - tanh[rows - 6]).item() > 0.75
    steps = linear.diff()
    assert linear[0].item() == -1.0 and linear[rows].item() == 0.0 and linear[-1].item() == 1.0
    assert torch.allclose(steps, torch.full_like(steps, 1 / rows))
    beyond = coordinate_grid(0, rows - 2, 3, 6, 139, 1 / rows, vertical="linear")[0, :, 0]
    assert torch.equal(beyond[2:], torch.ones(4))  # the pole holds beyond the band
    far = coordinate_grid(0, 10**15, 3, 2, 139, 1 / rows, vertical="linear")
    assert torch.equal(far[0], torch.ones(2, 3)) and torch.equal(
        far, coordinate_grid(0, 10**6, 3, 2, 139, 1 / rows, (0, 0), "linear")
    )
    with pytest.raises(ValueError, match="must be one of tanh, linear"):
        coordinate_grid(0, 0, 1, 1, 139, 0.3, vertical="sine")
    with pytest.raises(Exception, match="vertical must be one of"):
        infinitygan.InfinityGANConfig(vertical="sine")


def test_a_linear_latitude_model_passes_the_kit_across_its_poles():
    """Tiles meet bit-exactly where the coordinate saturates too (the tiny band's pole at row 12)."""
    from tests.consistency import check_rect

    config = dataclasses.replace(infinitygan.CONFIGS["tiny"], vertical="linear", v_per_cell=1 / 12)
    model = infinitygan.build(config).eval()
    pole = 12 * model.scale
    rect = Rect(10**12 + 5, pole - 60, 150, 130)
    check_rect(Renderer(model, "cpu"), World(model="infinitygan:tiny", seed=2), rect, 0, seed=3, tiles=((53, 41),))


def test_a_latitude_embedding_moves_one_band_alone_and_blends_between_knots():
    """Each knot owns the rows near it: a row at a knot reads that knot only, a row between two
    reads both in proportion, and the gradient of one row's offset reaches its two knots only (the
    southern ice can change without the ocean a band north of it)."""
    from engine.families.infinitygan.structure import LatitudeEmbedding

    embedding = LatitudeEmbedding(5, 2)  # knots at -1, -0.5, 0, 0.5, 1
    assert torch.equal(embedding(torch.zeros(1, 1, 1)), torch.zeros(1, 2, 1, 1))  # starts as a no-op
    with torch.no_grad():
        embedding.table.copy_(torch.arange(10.0).view(5, 2) / embedding.LR_MUL)
    v = torch.tensor([[[-1.0, -0.75, 0.5, 1.0, 3.0]]])  # (N, h, w)
    out = embedding(v)[0, :, 0]  # (C, w)
    assert torch.allclose(out[0], torch.tensor([0.0, 1.0, 6.0, 8.0, 8.0]))  # beyond the pole: the pole's
    embedding.zero_grad()
    embedding(torch.tensor([[[-0.9]]])).sum().backward()
    touched = embedding.table.grad.abs().sum(1)
    assert touched[0] > 0 and touched[1] > 0 and torch.equal(touched[2:], torch.zeros(3))
    with pytest.raises(ValueError, match="at least 2 bands"):
        LatitudeEmbedding(1, 2)
    with pytest.raises(Exception, match="latitude_bands must be 0"):
        infinitygan.InfinityGANConfig(latitude_bands=1)


def test_a_latitude_wander_shifts_the_row_read_by_the_features_within_its_reach():
    from engine.families.infinitygan.structure import LatitudeWander

    wander = LatitudeWander(3, 0.25)
    v = torch.linspace(-1, 1, 6).view(1, 2, 3)
    features = torch.randn(1, 3, 2, 3) * 50
    assert torch.equal(wander(v, features), v)  # starts as a no-op
    with torch.no_grad():
        wander.weight.copy_(torch.tensor([1.0, -2.0, 0.5]))
    shifted = wander(v, features)
    assert not torch.equal(shifted, v) and (shifted - v).abs().max() <= 0.25
    with pytest.raises(Exception, match="latitude_wander must be 0, or positive with latitude_bands"):
        infinitygan.InfinityGANConfig(latitude_wander=0.2)


def test_a_latitude_embedded_model_passes_the_kit_across_its_poles():
    """The offset is a function of the row and, with a wander, of G_S's features: tiles still meet
    bit-exactly, across a pole too, and a trained (non-zero) table and wander change what is drawn."""
    from tests.consistency import check_rect

    config = dataclasses.replace(
        infinitygan.CONFIGS["tiny"], vertical="linear", v_per_cell=1 / 12, latitude_bands=7, latitude_wander=0.3
    )
    model = infinitygan.build(config).eval()
    before = model.render_blocks([(0, 0)], LatentSource(1), StyleLayout())
    torch.manual_seed(4)
    with torch.no_grad():
        model.structure.latitude.table.normal_(0.0, 2.0)
    tabled = model.render_blocks([(0, 0)], LatentSource(1), StyleLayout())
    assert not torch.equal(tabled, before)
    with torch.no_grad():
        model.structure.wander.weight.normal_(0.0, 1.0)
    assert not torch.equal(model.render_blocks([(0, 0)], LatentSource(1), StyleLayout()), tabled)
    pole = 12 * model.scale
    rect = Rect(-(10**9) + 3, pole - 70, 140, 120)
    check_rect(Renderer(model, "cpu"), World(model="infinitygan:tiny", seed=2), rect, 0, seed=3, tiles=((47, 59),))


def test_transposed_up_window_is_a_crop_of_a_bigger_window():
    """The cropped transposed conv keeps only complete outputs: a window equals a crop of a larger one."""
    torch.manual_seed(0)
    layer = ModulatedConvTranspose2d(4, 5)
    x = torch.randn(1, 4, 9, 9)
    style = torch.randn(1, 4)
    big = layer(x, style)
    small = layer(x[..., 2:7, 3:8], style)
    up = TransposedUp()
    sx, sy = up.gives(Span(3, 8)), up.gives(Span(2, 7))
    whole = up.gives(Span(0, 9))  # what ``big`` holds on both axes
    assert big.shape[-1] == whole.size
    crop = big[..., sy.start - whole.start : sy.stop - whole.start, sx.start - whole.start : sx.stop - whole.start]
    assert torch.allclose(small, crop, atol=1e-6)
    assert linear_up(x).shape[-1] == 17


def test_per_pixel_style_matches_per_sample_style():
    torch.manual_seed(1)
    layer = ModulatedConvTranspose2d(6, 3)
    x, style = torch.randn(2, 6, 7, 7), torch.randn(2, 6)
    per_pixel = layer(x, style[:, :, None, None].expand(2, 6, 7, 7))
    assert torch.allclose(per_pixel, layer(x, style), atol=1e-5)


def test_noise_fields_change_the_image_and_weights_are_finite():
    model = build_random("infinitygan", "tiny")
    with torch.no_grad():
        for noise in (model.texture.up_noises[0], model.texture.conv_noises[-1]):
            noise.weight.fill_(0.5)
    a = model.render_blocks([(0, 0)], LatentSource(1), StyleLayout())
    b = model.render_blocks([(0, 0)], LatentSource(1, overrides=()), StyleLayout())
    assert torch.equal(a, b)
    assert torch.isfinite(a).all() and a.abs().max() <= 1


def test_training_windows_are_uncropped():
    model = build_random("infinitygan", "tiny")
    windows = model.train_windows(model.train_ts_cells)
    assert windows[-1][0].size == model.patch_size
    n_s = len(model.structure.convs)
    assert windows[n_s][0].size == model.train_ts_cells


def test_a_training_patch_is_the_world_at_its_patch_offset():
    """``patch_offset`` is where the world draws what a training window draws: fed the world's own
    latents over its uncropped windows, the patch of a window starting at structure cell ``(c, r)``
    equals the rendered rect at ``(c, r) * scale + patch_offset``. The trainer's fakes and the
    metrics' frames are placed through it, so an offset off by a pixel puts them apart."""
    model = build_random("infinitygan", "tiny")
    renderer = Renderer(model, "cpu")
    world = World(model="infinitygan:tiny", seed=3)
    source = renderer.source(world)
    n_s, col, row = len(model.structure.convs), 5, -7
    first = model.plan[0]

    def world_spans(start: int) -> list[Span]:
        spans = [
            Span(first.start + start - model.plan[n_s].start, first.start + start - model.plan[n_s].start + first.size)
        ]
        for layer in model.span_maps():
            spans.append(layer.gives(spans[-1]))
        return spans

    xs, ys = world_spans(col), world_spans(row)
    rect = [Rect(x.start, y.start, x.size, y.size) for x, y in zip(xs, ys)]
    with torch.no_grad():
        z_l = source.read(infinitygan.Z_LOCAL_FIELD, model.config.z_local, [rect[0]])
        coords = coordinate_grid(
            rect[0].x, rect[0].y, rect[0].w, rect[0].h, model.config.period, model.config.v_per_cell
        )
        noises = [
            source.read(infinitygan.NOISE_FIELD.format(k), 1, [rect[st]]) for k, st in enumerate(model.noise_stages())
        ]
        styles = model.style_source([(0, 0)], source, StyleLayout())
        patch, _ = model.synthesize(z_l, coords[None], noises, list(zip(xs, ys)), styles)
    assert patch.shape[-1] == model.patch_size
    offset = model.patch_offset
    assert (xs[-1].start, ys[-1].start) == (col * model.scale + offset, row * model.scale + offset)
    (expected,) = renderer.render(
        world, [Rect(col * model.scale + offset, row * model.scale + offset, model.patch_size, model.patch_size)]
    )
    drawn = to_uint8(patch.clamp(-1, 1))[0].astype(int)
    assert np.abs(drawn - expected.astype(int)).max() <= 1
    (beside,) = renderer.render(
        world, [Rect(col * model.scale + offset, row * model.scale + offset + 1, model.patch_size, model.patch_size)]
    )
    assert np.abs(drawn - beside.astype(int)).mean() > 5 * np.abs(drawn - expected.astype(int)).mean() + 1


def test_cli_far_rect_identical_when_tiled_and_batched(tmp_path):
    """The issue's Done-when: the same rect at 10^12 whole and as 96-px tiles in batches of 7."""
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    base = ["render", "--model", "infinitygan:tiny", "--rect", "1000000000000,-200,900,300"]
    assert main([*base, "--out", str(a)]) == 0
    assert main([*base, "--out", str(b), "--tile", "96", "--batch", "7"]) == 0
    first, second = np.asarray(Image.open(a)), np.asarray(Image.open(b))
    assert first.shape == (300, 900, 3)
    assert np.array_equal(first, second)
    assert first.std() > 1.0


def test_bench_counts_flops_and_overlap_without_computing():
    """FLOPs are counted on the meta device: the paper config costs nothing to measure."""
    from engine.bench.infinitygan import flops_per_pixel, overlap_rows

    with torch.device("meta"):
        row = overlap_rows(infinitygan.InfinityGANGenerator(infinitygan.CONFIGS["paper"]))
    assert row["patch_px"] == 101 and row["discarded_px_fraction"] == pytest.approx(1 - 96**2 / 101**2)
    assert 9e6 < flops_per_pixel("paper", StyleLayout()) < 11e6
    assert flops_per_pixel("tiny", StyleLayout()) < flops_per_pixel("small", StyleLayout())


@pytest.mark.parametrize("name", ["tiny", "small"])
@pytest.mark.parametrize("layout", ["plain", "fused"])
def test_blocks_stitch_into_one_big_patch(name, layout):
    """No seams: 2x2 blocks equal one block twice as wide computed in a single pass (same weights).

    The consistency kit proves blocks are deterministic; this proves they agree with a network that
    never cut the canvas, which padding or a misplaced crop would break at every block border.
    """
    small = build_random("infinitygan", name)
    config = small.config
    big = infinitygan.build(dataclasses.replace(config, block=2 * config.block)).eval()
    big.load_state_dict(small.state_dict())
    styles = StyleLayout()
    if layout == "fused":
        styles = StyleLayout.of([StyleCentre(-10, 5, 1, 30.0), StyleCentre(3 * config.block, 2 * config.block, 2)])
    b = config.block
    origin = (10**12 * b, -6 * b)  # far from the origin, even multiples of the block
    with torch.no_grad():
        whole = big.render_blocks([origin], LatentSource(3), styles)[0]
        parts = small.render_blocks(
            [(origin[0] + dx, origin[1] + dy) for dy in (0, b) for dx in (0, b)], LatentSource(3), styles
        )
    stitched = torch.cat([torch.cat([parts[0], parts[1]], dim=2), torch.cat([parts[2], parts[3]], dim=2)], dim=1)
    assert torch.allclose(whole, stitched, atol=2e-5), (whole - stitched).abs().max()


def test_small_config_passes_the_kit_far_from_origin():
    """The shipped default's R = 4 window plan, through the kit once (tiny runs in the full kit)."""
    from tests.consistency import check_rect, model_for

    model = model_for("infinitygan", "small")
    rect = Rect(-(10**12) - 75, 10**9 + 3, 170, 120)
    check_rect(Renderer(model, "cpu"), World(model="infinitygan:small", seed=4), rect, 0, seed=1, tiles=((61, 47),))
