"""Inbetweening: two images fitted in one optimisation, each with its own style, the gap fresh."""

from __future__ import annotations

import numpy as np
import pytest

from engine import invert as inv
from engine.errors import InvalidInput
from engine.geometry import Rect
from engine.inbetween import inbetween, inbetween_support, placement_rects
from engine.models.registry import build_random
from engine.render import Cancelled, Renderer
from engine.variants import surroundings_variant
from engine.world import World

SIDE = 24
#: Far apart horizontally, at different heights (inside tiny InfinityGAN's rows -48..48).
CENTRES = ((40, -20), (1000, 22))


def _mse(a: np.ndarray, b: np.ndarray) -> float:
    return float((((a.astype(np.float64) - b.astype(np.float64)) / 127.5) ** 2).mean())


def _rect(centre: tuple[int, int]) -> Rect:
    return Rect(centre[0] - SIDE // 2, centre[1] - SIDE // 2, SIDE, SIDE)


@pytest.fixture(scope="module", params=["infinitygan", "alis"])
def fitted(request):
    family = request.param
    model = build_random(family, "tiny")
    renderer = Renderer(model, "cpu")
    images = [renderer.render(World(family, seed=7 + k), [_rect(c)])[0] for k, c in enumerate(CENTRES)]
    world = World(family, seed=1)
    placements = list(zip(images, CENTRES, strict=True))
    result = inbetween(model, world, placements, inv.InvertConfig(steps=25))
    return model, renderer, world, images, result


def test_both_images_are_fitted_in_one_optimisation(fitted):
    model, renderer, world, images, result = fitted
    assert len(result.losses) == 25 and result.losses[-1] < 0.7 * result.losses[0]
    assert result.footprints == tuple(_rect(c) for c in CENTRES)
    for image, rect in zip(images, result.footprints, strict=True):
        before = _mse(renderer.render(world, [rect])[0], image)
        after = _mse(renderer.render(result.world, [rect])[0], image)
        assert after < 0.6 * before, (rect, before, after)
    # Both images' latents are in the world: every cell their pixels read is pinned (variants keep them).
    variant = surroundings_variant(model, result.world, result.footprints, seed=3)
    for rect in result.footprints:
        assert np.array_equal(renderer.render(variant, [rect])[0], renderer.render(result.world, [rect])[0])


def test_each_image_has_its_own_style_centre(fitted):
    model, _, _, _, result = fitted
    if model.family == "alis":  # ALIS styles are its anchors, fitted as field cells
        assert result.style_centres == () and result.world.styles == World("alis").styles
        return
    assert len(result.style_centres) == 2
    centres = result.world.styles.centres
    assert centres[-2:] == result.style_centres and result.style_centre == centres[-2]
    for centre, rect in zip(result.style_centres, result.footprints, strict=True):
        assert (centre.x, centre.y) == (rect.x + SIDE // 2, rect.y + SIDE // 2)
        assert centre.latent is not None and centre.width >= 960 / 4 - 1  # reaches across the gap
    assert result.style_centres[0].latent != result.style_centres[1].latent


def test_cancel_raises_and_returns_nothing():
    model = build_random("infinitygan", "tiny")
    image = np.zeros((SIDE, SIDE, 3), np.uint8)
    seen: list[int] = []
    with pytest.raises(Cancelled):
        inbetween(
            model,
            World("infinitygan"),
            [(image, CENTRES[0]), (image, CENTRES[1])],
            inv.InvertConfig(steps=20),
            progress=lambda step, loss: seen.append(step),
            cancelled=lambda: len(seen) >= 2,
        )
    assert seen == [1, 2]


def test_bad_placements_are_one_line_refusals():
    model = build_random("infinitygan", "tiny")
    small = np.zeros((SIDE, SIDE, 3), np.uint8)
    huge = np.lib.stride_tricks.as_strided(small, (inv.MAX_SIDE + 1, SIDE, 3), small.strides)
    cases = {
        "overlap": [(small, (0, 0)), (small, (10, 5))],
        "rows": [(small, (0, 0)), (small, (200, 60))],
        "at most": [(small, (0, 0)), (huge, (300, 0))],
        "2 to": [(small, (0, 0))],
    }
    for expected, placements in cases.items():
        with pytest.raises(InvalidInput, match=expected) as error:
            placement_rects(model, placements)
        assert "\n" not in str(error.value)
    infgan = build_random("infgan", "tiny")
    assert inbetween_support(infgan) is not None and inbetween_support(model) is None
    with pytest.raises(InvalidInput, match="cannot inbetween"):
        inbetween(infgan, World("infgan"), [(small, (0, 0)), (small, (100, 0))], inv.InvertConfig(steps=1))
