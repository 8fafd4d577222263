"""Spatial style fusion: position-only weights, painted strokes, seamless fused tiles, one-centre identity."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from engine.cli import main
from engine.errors import InvalidInput
from engine.fields import LatentSource
from engine.geometry import Rect
from engine.render import Renderer
from engine.styles import StrokeRaster, StyleCentre, StyleFusion, StyleLayout
from engine.world import World
from tests.consistency import check_rect, model_for

FAR = 10**12


def three_centres(x0: int = 0, y0: int = 0) -> StyleLayout:
    return StyleLayout.of(
        [
            StyleCentre(x0 - 60, y0 - 20, 1, 40.0),
            StyleCentre(x0 + 90, y0 + 10, 2),
            StyleCentre(x0 + 10, y0 + 120, 3, 90.0),
        ]
    )


def test_weights_are_a_partition_of_unity():
    strokes = StrokeRaster(16).painted_disc(30, 40, 45, 2).painted_disc(-100, 0, 20, 0)
    fusion = StyleFusion(three_centres().with_strokes(strokes), 0, 64.0)
    w = fusion.weights(-200, -150, 97, 83, 5)
    assert w.shape == (3, 83, 97)
    assert (w >= 0).all()
    assert torch.allclose(w.sum(0), torch.ones(83, 97), atol=1e-6)
    assert (w.max(0).values < 0.99).any(), "no blending anywhere"
    assert (w.max(0).values > 0.999).any(), "no pure region anywhere"


def test_weights_depend_on_world_position_only():
    """Any grid through the same world points gives the same weights: tiles agree on shared cells."""
    layout = three_centres(FAR, -FAR).with_strokes(StrokeRaster(32).painted_disc(FAR + 50, -FAR + 60, 70, 0))
    fusion = StyleFusion(layout, 0, 64.0)
    coarse = fusion.weights(FAR - 150, -FAR - 120, 40, 50, 8)
    part = fusion.weights(FAR - 150 + 8 * 7, -FAR - 120 + 8 * 11, 13, 9, 8)
    assert torch.allclose(coarse[:, 11:20, 7:20], part, atol=1e-6, rtol=0)
    fine = fusion.weights(FAR - 150, -FAR - 120, 80, 100, 4)
    assert torch.allclose(coarse, fine[:, ::2, ::2], atol=1e-6, rtol=0)


def test_distances_exact_far_from_origin():
    """The layout translated by 10^12 gives bit-identical weights at the translated points."""
    strokes_near = StrokeRaster(32).painted_disc(0, 0, 50, 1)
    strokes_far = StrokeRaster(32).painted_disc(FAR, -FAR, 50, 1)
    near = StyleFusion(three_centres().with_strokes(strokes_near), 0, 64.0).weights(-123, -77, 60, 50, 3)
    far = StyleFusion(three_centres(FAR, -FAR).with_strokes(strokes_far), 0, 64.0).weights(
        FAR - 123, -FAR - 77, 60, 50, 3
    )
    assert torch.equal(near, far)


def test_voronoi_boundary_and_nearest_centre_far_away():
    layout = StyleLayout.of([StyleCentre(-100, 0, 1, 50.0), StyleCentre(100, 0, 2, 50.0)])
    w = StyleFusion(layout, 0, 64.0).weights(-1000, 0, 3, 1, 1000)  # x = -1000, 0, 1000
    assert torch.allclose(w[:, 0, 1], torch.tensor([0.5, 0.5]))
    assert w[0, 0, 0] > 0.999 and w[1, 0, 2] > 0.999


def test_strokes_take_precedence_over_centres():
    layout = StyleLayout.of([StyleCentre(0, 0, 1), StyleCentre(5000, 0, 2)])
    painted = layout.with_strokes(StrokeRaster(16).painted_disc(200, 200, 80, 1))
    plain = StyleFusion(layout, 0, 64.0)
    fused = StyleFusion(painted, 0, 64.0)
    inside = fused.weights(190, 190, 3, 3, 4)
    assert torch.allclose(inside[1], torch.ones(3, 3)), "painted style must win where painted"
    assert plain.weights(190, 190, 3, 3, 4)[0].min() > 0.999, "the centre rule alone says style 0"
    far = (-3000, 40, 7, 5, 9)
    assert torch.equal(fused.weights(*far), plain.weights(*far)), "strokes reach only their neighbourhood"
    edge = fused.weights(200 + 80, 200, 1, 1, 1)[1, 0, 0]
    assert 0.05 < edge < 0.95, "stroke edges blend smoothly"


def test_stroke_raster_round_trip_and_erase(tmp_path):
    strokes = StrokeRaster(24).painted_disc(-(10**9), 77, 60, 1).painted([(3, -4)], 0)
    layout = three_centres().with_strokes(strokes)
    doc = json.loads(json.dumps(layout.to_json()))
    assert set(doc) == {"centres", "strokes"}
    assert StyleLayout.from_json(doc) == layout
    path = tmp_path / "l.json"
    path.write_text(json.dumps(doc))
    assert StyleLayout.load(path) == layout
    world = World(model="infinitygan:tiny", seed=3, styles=layout)
    world.save(tmp_path / "w.json")
    assert World.load(tmp_path / "w.json").styles == layout
    erased = strokes.painted([(3, -4)], -1)
    assert erased.read(Rect(3, -4, 1, 1))[0, 0] == -1
    assert len(erased.chunks) == len(strokes.chunks) - 1, "empty chunks are dropped"


@pytest.mark.parametrize(
    "doc",
    [
        {"centres": [], "strokes": {"cell": 16, "chunks": {"0,0": [[1] * 16] * 16}}},  # id without a centre
        {"centres": [{"x": 0, "y": 0, "seed": 1}], "strokes": {"cell": 0, "chunks": {}}},
        {"centres": [{"x": 0, "y": 0, "seed": 1}], "strokes": {"chunks": {"a": [[0] * 16] * 16}}},
        {"centres": [{"x": 0, "y": 0, "seed": 1}], "strokes": {"chunks": {"0,0": [[0] * 3]}}},
        {"centres": [{"x": 0, "y": 0, "seed": 1}], "strokes": []},
    ],
)
def test_bad_strokes_are_one_line_errors(doc):
    with pytest.raises(InvalidInput):
        StyleLayout.from_json(doc)


def test_one_centre_is_bit_identical_to_the_plain_path():
    model = model_for("infinitygan", "tiny")
    renderer = Renderer(model, "cpu")
    rect = Rect(FAR - 40, 17, 100, 70)
    plain = World(model="infinitygan:tiny", seed=11)
    centred = plain.with_styles(StyleLayout.of([StyleCentre(-FAR, 3, 11, 500.0)]))
    painted = centred.with_styles(centred.styles.with_strokes(StrokeRaster(16).painted_disc(FAR, 40, 50, 0)))
    (a,) = renderer.render(plain, [rect])
    (b,) = renderer.render(centred, [rect])
    (c,) = renderer.render(painted, [rect])
    assert np.array_equal(a, b) and np.array_equal(a, c)


def test_per_pixel_path_agrees_with_per_sample_path():
    """Two centres with the same style take the fused per-pixel path and must give the same image."""
    model = model_for("infinitygan", "tiny")
    same = StyleLayout.of([StyleCentre(0, 0, 4, 30.0), StyleCentre(40, 10, 4, 60.0)])
    one = StyleLayout.of([StyleCentre(0, 0, 4)])
    with torch.no_grad():
        fused = model.render_blocks([(0, 0), (32, -64)], LatentSource(2), same)
        plain = model.render_blocks([(0, 0), (32, -64)], LatentSource(2), one)
    assert torch.allclose(fused, plain, atol=1e-5)


def test_fused_world_is_seamless_across_tiles_far_from_origin():
    """Kit-style: a 3-centre world renders identically whole, tiled (any order/batch) and cropped."""
    model = model_for("infinitygan", "tiny")
    layout = three_centres(FAR, -FAR)
    world = World(model="infinitygan:tiny", seed=5, styles=layout)
    renderer = Renderer(model, "cpu")
    rect = Rect(FAR - 100, -FAR - 40, 200, 170)
    check_rect(renderer, world, rect, 0, seed=3, tiles=((48, 40),))
    (fused,) = renderer.render(world, [rect])
    checked = 0
    for centre in layout.centres:  # near each centre the fused world looks like that centre's world
        alone = World(model="infinitygan:tiny", seed=5, styles=StyleLayout.of([centre]))
        spot = Rect(centre.x - 4, centre.y - 4, 8, 8)
        if rect.contains(spot):
            (expected,) = renderer.render(alone, [spot])
            (whole_alone,) = renderer.render(alone, [rect])
            assert np.abs(fused.astype(int) - whole_alone.astype(int)).mean() > 3, "the other styles show too"
            got = fused[spot.y - rect.y : spot.bottom - rect.y, spot.x - rect.x : spot.right - rect.x]
            assert np.abs(got.astype(int) - expected.astype(int)).mean() < 3
            checked += 1
    assert checked == 3


def test_cli_render_uses_painted_layout(tmp_path):
    layout = StyleLayout.of([StyleCentre(0, 0, 1), StyleCentre(400, 0, 2)])
    painted = layout.with_strokes(StrokeRaster(16).painted_disc(20, 20, 40, 1))
    base = ["render", "--model", "infinitygan:tiny", "--rect", "0,0,48,48"]
    images = []
    for name, doc in (("plain", layout), ("painted", painted)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(doc.to_json()))
        assert main([*base, "--styles", str(path), "--out", str(tmp_path / f"{name}.png")]) == 0
        images.append(np.asarray(Image.open(tmp_path / f"{name}.png")))
    assert not np.array_equal(images[0], images[1])


def test_batched_fused_blocks_match_blocks_rendered_alone():
    """GPUs batch blocks: each block's fusion weights must follow its own origin inside a batch."""
    model = model_for("infinitygan", "tiny")
    layout = three_centres(FAR, -FAR)
    origins = [(FAR - 64, -FAR - 32), (FAR + 32, -FAR + 64), (FAR, -FAR)]
    with torch.no_grad():
        batched = model.render_blocks(origins, LatentSource(7), layout)
        alone = torch.cat([model.render_blocks([o], LatentSource(7), layout) for o in origins])
    assert torch.allclose(batched, alone, atol=1e-5)
    assert not torch.allclose(batched[0], batched[1], atol=1e-2)
