"""Inversion: fits a target, edits only the latents under it, cancels, and rejects bad images."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine import invert as inv
from engine.edits import changed_regions
from engine.errors import InvalidInput
from engine.geometry import Rect
from engine.models.registry import build_random
from engine.render import Cancelled, Renderer
from engine.world import World

RECT = Rect(5, 7, 48, 48)


def _mse(a: np.ndarray, b: np.ndarray) -> float:
    return float((((a.astype(np.float64) - b.astype(np.float64)) / 127.5) ** 2).mean())


@pytest.fixture(scope="module", params=["reference", "infinitygan"])
def setup(request):
    family = request.param
    model = build_random(family, "tiny")
    renderer = Renderer(model, "cpu")
    target = renderer.render(World(family, seed=2), [RECT])[0]  # reachable: another world of the same model
    return family, model, renderer, target


@pytest.mark.parametrize("style", [False, True])
def test_inversion_fits_target_and_changes_only_its_support(setup, style):
    family, model, renderer, target = setup
    world = World(family, seed=1)
    result = inv.invert(model, world, target, (RECT.x, RECT.y), inv.InvertConfig(steps=30, style=style))
    assert result.losses[-1] < 0.5 * result.losses[0]
    before = _mse(renderer.render(world, [RECT])[0], target)
    after = _mse(renderer.render(result.world, [RECT])[0], target)
    assert after < before / 3, (before, after)
    # Exactly the footprint cells of every field are overridden.
    expected = {spec.name: spec.footprint(RECT) for spec in model.field_specs(0)}
    assert {p.field: p.cells for p in result.world.overrides} == expected
    if style and family == "infinitygan":
        assert result.style_centre is not None and result.style_centre.latent is not None
        assert result.world.styles.centres[-1] == result.style_centre
        return
    assert result.style_centre is None and result.world.styles == world.styles
    supports = changed_regions(model, world, result.world, 0)
    assert supports
    far = Rect(max(r.right for r in supports) + 1, RECT.y, 40, 40)
    assert all(r.intersection(far) is None for r in supports)
    a, b = renderer.render(world, [far])[0], renderer.render(result.world, [far])[0]
    assert np.array_equal(a, b)


def test_cancel_stops_early(setup):
    family, model, _, target = setup
    seen: list[int] = []
    with pytest.raises(Cancelled):
        inv.invert(
            model,
            World(family, seed=1),
            target,
            (0, 0),
            inv.InvertConfig(steps=50),
            progress=lambda step, loss: seen.append(step),
            cancelled=lambda: len(seen) >= 3,
        )
    assert seen == [1, 2, 3]


def test_bad_images_give_one_line_errors(tmp_path, monkeypatch):
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(good)
    assert inv.load_image(good).shape == (20, 30, 3)
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(good.read_bytes()[:60])
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    monkeypatch.setattr(inv, "MAX_FILE_PIXELS", 100)
    for path in (truncated, text, tmp_path / "missing.png", good):
        with pytest.raises(InvalidInput) as error:
            inv.load_image(path)
        assert "\n" not in str(error.value)
    with pytest.raises(InvalidInput, match="at most"):
        inv.check_image(np.zeros((inv.MAX_SIDE + 1, 8, 3), np.uint8))
    with pytest.raises(InvalidInput):
        inv.check_image(np.zeros((8, 8), np.uint8))
