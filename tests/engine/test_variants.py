"""Multi-modal outpainting: variants keep the inverted footprint bit-exact and redraw the rest."""

from __future__ import annotations

import numpy as np
import pytest

from engine import invert as inv
from engine.errors import InvalidInput
from engine.geometry import Rect
from engine.models.registry import build_random
from engine.render import Renderer
from engine.variants import surroundings_variant
from engine.world import World

RECT = Rect(64, -16, 32, 32)


@pytest.fixture(scope="module", params=["infinitygan", "alis"])
def inverted(request):
    family = request.param
    model = build_random(family, "tiny")
    renderer = Renderer(model, "cpu")
    target = renderer.render(World(family, seed=5), [RECT])[0]
    result = inv.invert(model, World(family, seed=1), target, (RECT.x, RECT.y), inv.InvertConfig(steps=3))
    return model, renderer, result


def test_invert_states_its_footprint(inverted):
    _, _, result = inverted
    assert result.footprints == (RECT,)


def test_variants_differ_outside_and_match_inside_the_footprint(inverted):
    model, renderer, result = inverted
    edited = result.world
    beside = Rect(RECT.right + 48, RECT.y, 48, 48)
    first = surroundings_variant(model, edited, result.footprints, seed=1)
    second = surroundings_variant(model, edited, result.footprints, seed=2)
    inside = [renderer.render(w, [RECT])[0] for w in (edited, first, second)]
    assert np.array_equal(inside[0], inside[1]) and np.array_equal(inside[0], inside[2])
    around = [renderer.render(w, [beside])[0] for w in (edited, first, second)]
    assert not np.array_equal(around[0], around[1])
    assert not np.array_equal(around[1], around[2])
    again = surroundings_variant(model, edited, result.footprints, seed=1)
    assert again == first
    assert np.array_equal(renderer.render(again, [beside])[0], around[1])


def test_a_footprint_the_inversion_did_not_pin_is_refused(inverted):
    model, _, result = inverted
    with pytest.raises(InvalidInput, match="not pinned"):
        surroundings_variant(model, result.world, [Rect(RECT.x + 400, RECT.y, 16, 16)], seed=1)
    with pytest.raises(InvalidInput):
        surroundings_variant(model, result.world, [], seed=1)
