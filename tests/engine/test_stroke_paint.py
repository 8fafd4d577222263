"""Brush strokes, erasing and flood fill on a layout's stroke raster, and where a stroke changes pixels."""

from __future__ import annotations

import numpy as np
import pytest

from engine.edits import changed_regions
from engine.errors import InvalidInput
from engine.geometry import Rect
from engine.models.registry import build_random
from engine.render import Renderer
from engine.stroke_paint import Dab, flood_fill, paint_stroke, stroke_cells, stroke_changes, weight_support
from engine.style_edits import set_centre_name
from engine.styles import StrokeRaster, StyleCentre, StyleFusion, StyleLayout
from engine.world import World

FAR = 10**9


def two_styles(x0: int = 0) -> StyleLayout:
    return StyleLayout.of([StyleCentre(x0 - 40, 0, 1, 40.0), StyleCentre(x0 + 300, 0, 2, 40.0)])


def test_hard_brush_is_a_disc_and_the_cell_under_a_tiny_dab_is_painted():
    cells = set(stroke_cells([Dab(100, 100, 64.0)], 32, 1.0))
    disc = StrokeRaster(32).painted_disc(100, 100, 64, 0)
    assert cells == {
        (i, j)
        for (ci, cj), ids in disc.chunks
        for k, v in enumerate(ids)
        if v == 0
        for i, j in [(ci * 16 + k % 16, cj * 16 + k // 16)]
    }
    assert stroke_cells([Dab(FAR + 5, -FAR + 7, 0.5)], 32, 1.0) == [(FAR // 32, -FAR // 32)]


def test_soft_brush_dithers_its_edge_into_a_gradual_blend():
    hard = set(stroke_cells([Dab(0, 0, 320.0)], 32, 1.0))
    soft = set(stroke_cells([Dab(0, 0, 320.0)], 32, 0.0))
    assert soft < hard and len(soft) < 0.6 * len(hard)
    layout = two_styles()
    w_hard = StyleFusion(paint_stroke(layout, [Dab(0, 0, 320.0)], 1, 1.0), 0, 40.0).weights(-400, 0, 100, 1, 8)[1]
    w_soft = StyleFusion(paint_stroke(layout, [Dab(0, 0, 320.0)], 1, 0.0), 0, 40.0).weights(-400, 0, 100, 1, 8)[1]
    blend = lambda w: int(((w > 0.05) & (w < 0.95)).sum())  # noqa: E731
    assert blend(w_soft) > 2 * blend(w_hard), "a soft brush leaves a wider blend zone"


def test_erase_returns_to_the_centre_rule_and_bad_styles_are_refused():
    layout = two_styles(FAR)
    painted = paint_stroke(layout, [Dab(FAR, 10, 50.0), Dab(FAR + 40, 10, 50.0)], 1)
    assert painted.strokes is not None and painted.centres == layout.centres
    erased = paint_stroke(painted, [Dab(FAR + 20, 10, 200.0)], -1)
    assert erased == layout  # nothing painted is left: back to no strokes at all
    with pytest.raises(InvalidInput, match="no style 2"):
        paint_stroke(layout, [Dab(0, 0, 5.0)], 2)


def test_flood_fill_fills_a_closed_outline_and_refuses_an_open_one():
    layout = two_styles()
    ring = [Dab(round(200 * np.cos(a)), round(200 * np.sin(a)), 24.0) for a in np.linspace(0, 2 * np.pi, 60)]
    outlined = paint_stroke(layout, ring, 1)
    view = Rect(-1000, -1000, 2000, 2000)
    filled = flood_fill(outlined, 0, 0, 0, view)
    ids = filled.strokes.read(Rect(-2, -2, 4, 4))
    assert (ids == 0).all() and filled.strokes.read(Rect(10, 10, 2, 2)).max() == -1
    recoloured = flood_fill(filled, 200, 0, 0, view)  # the painted ring itself, another style
    assert recoloured.strokes.max_id() == 0
    with pytest.raises(InvalidInput, match="not closed"):
        flood_fill(outlined, 600, 600, 0, view)


def test_stroke_changes_are_exactly_the_cells_that_differ():
    before = StrokeRaster(32).painted_disc(0, 0, 100, 0)
    after = before.painted_disc(90, 30, 60, 1).painted([(FAR, 3)], 0)
    runs = stroke_changes(before, after)
    diff = {(r.x + k, r.y) for r in runs for k in range(r.w)}
    box = Rect(-10, -10, 20, 20)
    a, b = before.read(box), after.read(box)
    expected = {(box.x + i, box.y + j) for j, i in zip(*np.nonzero(a != b), strict=True)} | {(FAR, 3)}
    assert diff == expected
    assert stroke_changes(None, None) == [] and stroke_changes(StrokeRaster(16), StrokeRaster(32)) is None
    assert weight_support(Rect(0, 0, 1, 1), 32) == Rect(-31, -31, 95, 95)


@pytest.mark.parametrize("x0", [0, FAR])
def test_pixels_outside_the_predicted_support_are_identical(x0):
    """A stroke's predicted damage holds every pixel it changes (and some change), near and far."""
    model = build_random("infinitygan", "tiny")
    renderer = Renderer(model, "cpu")
    before = World("infinitygan:tiny", 5, two_styles(x0))
    after = before.with_styles(paint_stroke(before.styles, [Dab(x0 + 40, 20, 30.0), Dab(x0 + 70, 30, 30.0)], 1))
    regions = changed_regions(model, before, after, 0)
    assert regions, "a stroke must damage something"
    area = Rect(x0 - 160, -160, 448, 384)
    old, new = (renderer.render(w, [area])[0] for w in (before, after))
    changed = np.any(old != new, axis=2)
    inside = np.zeros_like(changed)
    for r in regions:
        part = r.intersection(area)
        if part is not None:
            inside[part.y - area.y : part.bottom - area.y, part.x - area.x : part.right - area.x] = True
    assert changed.any() and not (changed & ~inside).any()
    assert not inside.all(), "the prediction must leave most of the area alone"
    renamed = before.with_styles(set_centre_name(before.styles, 1, "sea"))
    assert changed_regions(model, before, renamed, 0) == []
