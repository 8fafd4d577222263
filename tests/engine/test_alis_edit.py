"""ALIS region resampling: exactly the predicted support changes, and it stays connected."""

import numpy as np
import pytest

from engine.errors import InvalidInput
from engine.families.alis import config as alis_config
from engine.families.alis.edit import anchors_in, resample, resample_patch, resample_support
from engine.geometry import Rect
from engine.models.registry import build_random
from engine.render import Renderer
from engine.world import World
from tests.engine.test_alis import _panorama_model


@pytest.fixture(scope="module")
def before_after():
    model = build_random("alis", "tiny")
    renderer = Renderer(model, "cpu")
    d = model.config.spacing  # 64
    world = World("alis:tiny", seed=3)
    # A user rectangle around the anchor at world (2d, d) (cell (2, 1)), far from the origin in x.
    base_x = 10**12 // d * d
    region = Rect(base_x + 2 * d - 10, d - 10, 20, 20)
    edited = resample(world, model, region, seed=99)
    cells = anchors_in(model, region)
    support = resample_support(model, cells)
    area = Rect(support.x - 48, support.y - 48, support.w + 96, support.h + 96)  # larger than the support
    a, b = renderer.render(world, [area])[0], renderer.render(edited, [area])[0]
    return model, cells, support, area, a, b


def test_rectangle_selects_the_anchor_cells_inside_it(before_after):
    model, cells, *_ = before_after
    d = model.config.spacing
    assert (cells.x % (10**12 // d), cells.y, cells.w, cells.h) == (2, 1, 1, 1)
    assert anchors_in(model, Rect(0, 0, 3 * d, 2 * d + 1)) == Rect(0, 0, 3, 3)
    with pytest.raises(InvalidInput):
        anchors_in(model, Rect(1, 1, d - 2, d - 2))  # between anchors: nothing to resample


def test_resampling_changes_only_the_support(before_after):
    model, cells, support, area, a, b = before_after
    changed = np.abs(a.astype(int) - b).max(axis=2) > 0
    ys, xs = np.nonzero(changed)
    assert len(ys) > 0, "resampling changed nothing"
    changed_box = Rect(int(xs.min()) + area.x, int(ys.min()) + area.y, int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1)
    assert support.contains(changed_box), f"{changed_box} leaks outside the lattice support {support}"
    tight = model.anchor_influence(cells)
    assert tight.contains(changed_box), f"{changed_box} leaks outside the tight influence {tight}"
    # ...and it is the predicted region, not a small part of it: the anchor blends over two cells
    # each side, so changes reach well beyond one spacing from the anchor in every direction.
    d = model.config.spacing
    anchor_x, anchor_y = cells.x * d, cells.y * d
    inner = Rect(anchor_x - d + d // 4, anchor_y - d + d // 4, 2 * d - d // 2, 2 * d - d // 2)
    assert changed_box.contains(inner)


def test_resampled_region_stays_connected(before_after):
    model, cells, _, area, a, b = before_after
    tight = model.anchor_influence(cells)
    delta = np.abs(a.astype(float) - b).mean(axis=2)
    # The edit fades out towards the edge of its influence: no hard border.
    x0, x1 = tight.x - area.x, tight.right - area.x
    y0, y1 = tight.y - area.y, tight.bottom - area.y
    core = delta[y0 + 48 : y1 - 48, x0 + 48 : x1 - 48].mean()
    rim = np.concatenate([delta[y0:y1, x0 : x0 + 8].ravel(), delta[y0:y1, x1 - 8 : x1].ravel()]).mean()
    assert rim < 0.2 * core
    # Neighbour differences across the influence edge look like neighbour differences anywhere.
    grad = np.abs(np.diff(b.astype(float), axis=1)).mean(axis=2)
    assert grad[y0:y1, x0 - 1].mean() < 2.0 * grad.mean()
    assert grad[y0:y1, x1 - 1].mean() < 2.0 * grad.mean()


def test_given_cells_and_patch_shape():
    model = build_random("alis", "tiny")
    patch = resample_patch(model, Rect(-3, 5, 2, 1), seed=1)
    assert patch.field == alis_config.ANCHOR_FIELD and tuple(patch.values.shape) == (model.config.z_dim, 1, 2)
    world = resample(World("alis:tiny"), model, Rect(0, 0, 1, 1), seed=1, cells=Rect(-3, 5, 2, 1))
    assert world.version == 1 and world.overrides[0].cells == Rect(-3, 5, 2, 1)


def test_panorama_resampling_edits_a_column_band_of_the_strip():
    model = _panorama_model()
    renderer = Renderer(model, "cpu")
    world = World("alis:tiny-panorama", seed=2)
    edited = resample(world, model, Rect(3 * 64 - 5, 10**6, 10, 10), seed=7)  # y does not matter
    assert edited.overrides[-1].cells == Rect(3, 0, 1, 1)
    tight = model.anchor_influence(Rect(3, 0, 1, 1))
    for y in (0, 10**6):
        area = Rect(tight.x - 32, y, tight.w + 64, 32)
        a, b = renderer.render(world, [area])[0], renderer.render(edited, [area])[0]
        columns = np.nonzero(np.abs(a.astype(int) - b).max(axis=(0, 2)))[0] + area.x
        assert len(columns) > 64 and tight.x <= columns.min() and columns.max() < tight.right
