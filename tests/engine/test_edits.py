"""Region resampling and layout edits: what changes, where, and that nothing else does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.edits import cells_inside, changed_regions, resample_fields, resample_patches, resample_region
from engine.errors import InvalidInput
from engine.geometry import Lattice, Rect
from engine.models.base import FieldSpec
from engine.models.registry import load_model
from engine.render import Renderer
from engine.style_edits import add_centre, move_centre, nearest_centre, remove_centre, set_centre_width
from engine.styles import StrokeRaster, StyleCentre, StyleLayout
from engine.world import World


def changed_mask(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return (before != after).any(axis=-1)


def inside_any(view: Rect, rects: list[Rect]) -> np.ndarray:
    """Boolean (h, w) mask of ``view``'s pixels that lie in any of ``rects``."""
    mask = np.zeros((view.h, view.w), dtype=bool)
    for r in rects:
        part = r.intersection(view)
        if part is not None:
            mask[part.y - view.y : part.bottom - view.y, part.x - view.x : part.right - view.x] = True
    return mask


@pytest.mark.parametrize(
    ("ref", "region", "view"),
    [
        ("reference:tiny", Rect(40, 36, 64, 50), Rect(-64, -64, 256, 256)),
        ("alis:tiny", Rect(60, 50, 10, 20), Rect(-96, -96, 384, 384)),
        ("infinitygan:tiny", Rect(32, 40, 40, 32), Rect(-32, -32, 192, 192)),
        ("infgan:tiny", Rect(32, 40, 40, 32), Rect(-32, -32, 192, 192)),
    ],
)
def test_resample_changes_pixels_only_within_the_support(ref, region, view):
    model = load_model(ref).model
    renderer = Renderer(model, "cpu")
    world = World(ref, seed=5)
    edited = resample_region(world, model, region, seed=11)
    assert edited.version == world.version + 1 and len(edited.overrides) >= 1
    for level in range(model.num_levels()):  # ∞-GAN: coarser levels read the same fields
        at = Rect(view.x >> level, view.y >> level, view.w >> level, view.h >> level)
        support = changed_regions(model, world, edited, level)
        assert support is not None  # a known, bounded support
        before, after = (renderer.render(w, [at], level)[0] for w in (world, edited))
        changed = changed_mask(before, after)
        allowed = inside_any(at, support)
        assert changed.any() or level > 0, "resampling changed nothing"
        assert not (changed & ~allowed).any(), f"a pixel outside the predicted support changed (level {level})"
        assert (~allowed).sum() > at.w * at.h // 4  # the check covered plenty of unchanged ground


def test_resample_patches_cover_whole_cells_inside_the_rect_and_are_seeded():
    model = load_model("reference:tiny").model
    rect = Rect(3, 5, 30, 21)
    patches = resample_patches(model, rect, seed=1)
    for patch, spec in zip(patches, model.field_specs(0), strict=True):
        assert patch.field == spec.name
        s = spec.lattice.stride
        area = Rect(patch.cells.x * s, patch.cells.y * s, patch.cells.w * s, patch.cells.h * s)
        assert rect.contains(area)
        assert patch.values.shape == (spec.channels, patch.cells.h, patch.cells.w)
    again = resample_patches(model, rect, seed=1)
    other = resample_patches(model, rect, seed=2)
    assert all(torch.equal(a.values, b.values) for a, b in zip(patches, again, strict=True))
    assert not torch.equal(patches[0].values, other[0].values)
    only_z = resample_fields(World("reference:tiny"), model, rect, seed=1, fields=["z"])
    assert [p.field for p in only_z.overrides] == ["z"]


def test_resample_rejects_rects_without_a_whole_cell_and_unknown_fields():
    model = load_model("reference:tiny").model
    assert cells_inside(FieldSpec("z", 1, Lattice(4)), Rect(1, 1, 6, 6)) is None
    with pytest.raises(InvalidInput, match="no whole latent cell"):
        resample_patches(model, Rect(1, 1, 2, 2), seed=0, fields=["z"])
    with pytest.raises(InvalidInput, match="reads no field"):
        resample_patches(model, Rect(0, 0, 64, 64), seed=0, fields=["nope"])
    with pytest.raises(InvalidInput, match="no anchor"):
        resample_region(World("alis:tiny"), load_model("alis:tiny").model, Rect(1, 1, 10, 10), seed=0)


def test_changed_regions_is_symmetric_and_unknown_for_global_edits():
    model = load_model("reference:tiny").model
    world = World("reference:tiny", seed=2)
    one = resample_region(world, model, Rect(0, 0, 32, 32), seed=1)
    two = resample_region(one, model, Rect(200, 0, 32, 32), seed=2)
    forward = changed_regions(model, one, two, 0)
    assert forward == changed_regions(model, two, one, 0)  # undo damages what the edit did
    assert all(r.x >= 100 for r in forward)  # only the second edit's support
    assert len(changed_regions(model, world, two, 0)) == 2 * len(forward)
    assert changed_regions(model, two, two, 0) == []
    assert changed_regions(model, one, one.with_seed(3), 0) is None
    assert changed_regions(model, one, one.with_styles(StyleLayout.of([StyleCentre(0, 0, 9)])), 0) is None
    sibling = resample_region(world, model, Rect(0, 0, 32, 32), seed=1)  # equal values, another branch
    assert changed_regions(model, one, sibling, 0) is None


def test_style_edits():
    empty = StyleLayout(extra=(("alis.psi", 0.7),))
    layout = add_centre(empty, 42, StyleCentre(100, -5, 7))
    assert layout.centres == (StyleCentre(0, 0, 42), StyleCentre(100, -5, 7))  # the implicit style stays
    assert layout.extra == empty.extra
    layout = add_centre(layout, 42, StyleCentre(-300, 0, 8))
    assert move_centre(layout, 1, 5, 6).centres[1] == StyleCentre(5, 6, 7)
    assert set_centre_width(layout, 2, 64).centres[2].width == 64.0
    assert set_centre_width(layout, 2, None).centres[2].width is None
    with pytest.raises(InvalidInput):
        set_centre_width(layout, 2, 0)
    with pytest.raises(InvalidInput):
        move_centre(layout, 3, 0, 0)
    assert nearest_centre(layout, 98, -4, 5) == 1 and nearest_centre(layout, 50, 50, 5) is None
    strokes = StrokeRaster(32).painted([(0, 0)], 0).painted([(1, 0)], 1).painted([(2, 0)], 2)
    painted = layout.with_strokes(strokes)
    removed = remove_centre(painted, 1)
    assert removed.centres == (layout.centres[0], layout.centres[2])
    assert removed.strokes.read(Rect(0, 0, 3, 1)).tolist() == [[0, -1, 1]]  # erased and renumbered
    assert remove_centre(remove_centre(removed, 1), 0).centres == ()
