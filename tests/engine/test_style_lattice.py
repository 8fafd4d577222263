"""InfinityGAN's style lattice: an endless lattice of global latents as a world's background style.

One global latent per world made a 100 000 px strip of the trained model much less varied than
frames drawn from many worlds (∞-SWD 1.63x the frame SWD). These tests pin the weights (a
partition of unity that depends on world position only, exact far away), that lattice worlds are
seamless, that the lattice field is declared with a footprint that bounds what a cell changes,
that added style centres stay local, and that a model without a lattice renders as before.
"""

import dataclasses

import numpy as np
import pytest
import torch

from engine import invert as inv
from engine.families.infinitygan import model as ig
from engine.fields import FieldPatch, LatentSource
from engine.geometry import Rect
from engine.layers.style_maps import blend_separable, blend_styles
from engine.models.registry import build_random
from engine.render import Renderer
from engine.style_edits import add_centre
from engine.styles import StyleCentre, StyleFusion, StyleLayout, lattice_weights
from engine.world import World
from tests.consistency import PROBE_RECTS, check_rect

FAR = 10**12
CELL = 96


def lattice_model(cell: int = CELL) -> ig.InfinityGANGenerator:
    """The tiny test model (random weights) with a style lattice; the same weights as without one."""
    plain = build_random("infinitygan", "tiny")
    model = ig.InfinityGANGenerator(dataclasses.replace(plain.config, style_cell=cell))
    model.load_state_dict(plain.state_dict())
    return model.eval()


def render(model, world: World, rect: Rect) -> np.ndarray:
    (image,) = Renderer(model, "cpu").render(world, [rect])
    return image


# -- weights ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("x0, y0", [(-130, 17), (FAR + 5, -FAR - 77)])
def test_lattice_weights_are_a_trimmed_partition_of_unity_of_position_only(x0, y0):
    cells, weights = lattice_weights(x0, y0, 70, 40, 3, CELL)
    assert weights.shape == (cells.w * cells.h, 40, 70) and weights.dtype == torch.float64
    assert torch.allclose(weights.sum(0), torch.ones(40, 70, dtype=torch.float64), atol=1e-12)
    per_cell = weights.flatten(1).amax(1)
    rows, cols = per_cell.view(cells.h, cells.w).amax(1), per_cell.view(cells.h, cells.w).amax(0)
    assert rows.min() > 0 and cols.min() > 0  # trimmed: every kept row and column of cells is used
    assert per_cell.max() <= 0.75**2 + 1e-12  # a quadratic B-spline peaks at 3/4 per axis
    # A sub-grid (every other point, shifted) gets the same weights cell by cell, bit for bit.
    sub_cells, sub = lattice_weights(x0 + 3 * 5, y0 + 3 * 2, 20, 12, 6, CELL)
    for k in range(sub.shape[0]):
        qx, qy = sub_cells.x + k % sub_cells.w, sub_cells.y + k // sub_cells.w
        mine = (qy - cells.y) * cells.w + (qx - cells.x)
        assert torch.equal(sub[k], weights[mine, 2 : 2 + 24 : 2, 5 : 5 + 40 : 2]), (qx, qy)


def test_the_row_by_row_blend_of_a_lattice_alone_equals_the_full_blend_exactly_per_position():
    """A lattice alone has product weights, so models blend a row of cells at a time (3 full-size
    multiply-adds per value instead of 9): the same blend, and a sub-grid repeats it bit for bit."""
    fusion = StyleFusion(StyleLayout(), world_seed=1, default_width=100.0, lattice_cell=CELL)
    assert fusion.separable
    cells, rows, cols = fusion.lattice_factors(-130, 17, 70, 40, 3)
    assert (cells, torch.outer(rows[0], cols[0]).shape) == (fusion.lattice_weights(-130, 17, 70, 40, 3)[0], (40, 70))
    styles = torch.randn(cells.h * cells.w, 8, generator=torch.Generator().manual_seed(0))
    full = blend_styles(fusion.lattice_weights(-130, 17, 70, 40, 3)[1][None], styles)
    grid = styles.reshape(cells.h, cells.w, -1)
    got = blend_separable(rows.float(), cols.float(), grid)
    assert got.shape == full.shape and torch.allclose(got, full, atol=1e-6)
    sub_cells, sub_rows, sub_cols = fusion.lattice_factors(-130 + 3 * 5, 17 + 3 * 2, 20, 12, 6)
    y, x = sub_cells.y - cells.y, sub_cells.x - cells.x
    sub_grid = grid[y : y + sub_cells.h, x : x + sub_cells.w]
    sub = blend_separable(sub_rows.float(), sub_cols.float(), sub_grid)
    assert torch.equal(sub, got[..., 2 : 2 + 24 : 2, 5 : 5 + 40 : 2])
    with_centre = StyleFusion(StyleLayout.of([StyleCentre(0, 0, 3)]), 1, 100.0, lattice_cell=CELL)
    assert not with_centre.separable
    with pytest.raises(ValueError, match="non-separable"):
        with_centre.lattice_factors(0, 0, 4, 4)


def test_centres_cover_their_surroundings_and_fade_into_the_lattice():
    width = 40.0
    fusion = StyleFusion(StyleLayout.of([StyleCentre(FAR, 0, 1, width)]), 0, 48.0, lattice_cell=CELL)
    assert fusion.count == 1 and not fusion.single  # one centre no longer means one style everywhere
    cells, weights = fusion.lattice_weights(FAR - 400, 0, 801, 1, 1)  # x = FAR - 400 .. FAR + 400
    assert torch.allclose(weights.sum(0), torch.ones(1, 801), atol=1e-6)
    centre = weights[0, 0]
    distance = torch.arange(-400, 401).abs()
    assert torch.all(centre[distance <= 2 * width] == 1)  # full cover out to two widths
    assert torch.all(centre[distance >= 4 * width] == 0)  # the lattice alone from four widths
    fading = (distance > 2 * width) & (distance < 4 * width)
    assert torch.all((centre[fading] > 0) & (centre[fading] < 1))
    assert weights.shape[0] == 1 + cells.w * cells.h
    with pytest.raises(ValueError, match="lattice_weights"):
        fusion.weights(0, 0, 4, 4)


# -- rendering -------------------------------------------------------------------------------------


@pytest.mark.parametrize("rect", PROBE_RECTS[:2])
def test_lattice_worlds_are_seamless(rect):
    check_rect(Renderer(lattice_model(), "cpu"), World("m", seed=4), rect, 0, tiles=((61, 37),))


def test_with_centres_lattice_worlds_stay_seamless():
    layout = StyleLayout.of([StyleCentre(-10, 30, 7, 30.0), StyleCentre(120, -40, 8)])
    world = World("m", seed=4, styles=layout)
    check_rect(Renderer(lattice_model(), "cpu"), world, PROBE_RECTS[0], 0, tiles=((45, 29),))


def test_the_style_changes_across_the_world_and_a_cell_changes_only_its_support():
    model = lattice_model()
    world = World("m", seed=4)
    (spec,) = [s for s in model.field_specs() if s.name == ig.STYLE_LATTICE_FIELD]
    assert spec.channels == model.config.z_global and spec.lattice.stride == CELL
    cell = Rect(3, -2, 1, 1)
    values = LatentSource(world.seed).read_cpu(ig.STYLE_LATTICE_FIELD, spec.channels, cell)
    edited = world.with_override(FieldPatch(ig.STYLE_LATTICE_FIELD, cell, values + 3.0))
    support = spec.lattice.support(cell)
    view = Rect(support.x - 64, support.y - 64, support.w + 128, support.h + 128)
    before, after = render(model, world, view), render(model, edited, view)
    changed = np.argwhere((before != after).any(axis=2))
    assert len(changed) > 0  # the cell's latent reaches the image...
    inside = (
        (changed[:, 1] >= 64)
        & (changed[:, 1] < 64 + support.w)
        & (changed[:, 0] >= 64)
        & (changed[:, 0] < 64 + support.h)
    )
    assert inside.all()  # ...and nothing outside the declared support


def test_an_added_centre_restyles_its_neighbourhood_not_the_world():
    model = lattice_model()
    assert not model.implicit_style_centre and build_random("infinitygan", "tiny").implicit_style_centre
    world = World("m", seed=4)
    centre = StyleCentre(1000, 200, 99, 24.0)
    layout = add_centre(world.styles, world.seed, centre, model.implicit_style_centre)
    assert layout.centres == (centre,)
    far = Rect(1000 - 600, 200 - 32, 64, 64)  # ~570 px away: beyond 4 widths plus the model's reach
    near = Rect(1000 - 32, 200 - 32, 64, 64)
    styled = world.with_styles(layout)
    assert np.array_equal(render(model, world, far), render(model, styled, far))
    assert not np.array_equal(render(model, world, near), render(model, styled, near))


def test_without_a_lattice_one_global_style_as_before():
    plain, model = build_random("infinitygan", "tiny"), lattice_model()
    assert plain.config.style_cell == 0
    assert ig.STYLE_LATTICE_FIELD not in {s.name for s in plain.field_specs()}
    rect = Rect(-50, 20, 90, 70)
    assert not np.array_equal(render(plain, World("m", seed=4), rect), render(model, World("m", seed=4), rect))


def test_inversion_in_a_lattice_world_fits_a_local_centre():
    model = lattice_model()
    rect = Rect(5, 7, 32, 32)
    target = render(model, World("m", seed=2), rect)
    result = inv.invert(model, World("m", seed=1), target, (rect.x, rect.y), inv.InvertConfig(steps=4))
    assert result.losses[-1] < result.losses[0]
    assert len(result.world.styles.centres) == 1  # no implicit world-seed centre joined it


def test_the_structure_style_is_the_affine_of_a_norm_preserving_blend_of_z_g():
    """z(p) = sum_k m_k z_k / |m|_2 (a standard Gaussian again, where the plain blend of the cells
    around p has about half the norm), applied through the affine's parts: A z(p) + b."""
    model = lattice_model()
    source = LatentSource(4)
    origin = (2 * CELL + 32, -CELL)
    styles = model.style_source([origin], source, World("m").styles)
    affine = model.structure.affines[0]
    window = (model.plan[0], model.plan[0])  # the first structure conv's input: the z_l window
    scale = model.scale
    got = styles.structure(affine, window, scale)  # (1, C, h, w)
    ((m, z, _),) = styles.blocks(window, scale)
    plain = (m[0, :, None] * z[:, :, None, None]).sum(0)  # (Z, h, w): the plain blend
    a = m[0] / m[0].square().sum(0).sqrt()
    assert torch.allclose(a.square().sum(0), torch.ones_like(a[0]), atol=1e-6)
    blended = (a[:, None] * z[:, :, None, None]).sum(0)
    j, i = got.shape[2] // 2, got.shape[3] // 3
    expected = affine(blended[:, j, i][None])[0]
    assert torch.allclose(got[0, :, j, i], expected, atol=1e-5)
    assert blended.square().mean() > 1.5 * plain.square().mean()  # the plain blend shrinks z_g
