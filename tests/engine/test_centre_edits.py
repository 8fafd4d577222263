"""Where a style-centre edit can change pixels (:func:`engine.edits.centre_regions`), checked
against fresh renders bit for bit: the prediction must hold every changed pixel and be compact."""

from __future__ import annotations

import dataclasses

import pytest

from engine.edits import centre_regions, changed_regions
from engine.families.infinitygan import model as ig
from engine.geometry import Rect
from engine.models.registry import build_random
from engine.render import Renderer
from engine.style_edits import add_centre, move_centre, remove_centre, set_centre_width
from engine.styles import StyleCentre, StyleLayout
from engine.world import World
from tests.engine.test_edits import changed_mask, inside_any

VIEW = Rect(-352, -160, 832, 384)


def lattice_tiny() -> ig.InfinityGANGenerator:
    """The tiny test model with a style lattice (the shipped InfinityGAN has one)."""
    plain = build_random("infinitygan", "tiny")
    model = ig.InfinityGANGenerator(dataclasses.replace(plain.config, style_cell=96))
    model.load_state_dict(plain.state_dict())
    return model.eval()


@pytest.fixture(scope="module", name="lattice_model")
def lattice_model_fixture() -> ig.InfinityGANGenerator:
    return lattice_tiny()


@pytest.fixture(scope="module")
def start(lattice_model):
    layout = StyleLayout.of([StyleCentre(-200, 0, 11, width=12.0), StyleCentre(250, 40, 22, width=10.0)])
    world = World("infinitygan:tiny", seed=4, styles=layout)
    return world, Renderer(lattice_model, "cpu").render(world, [VIEW])[0]


EDITS = {
    "move": lambda s: move_centre(s, 0, -160, 30),
    "width": lambda s: set_centre_width(s, 1, 16.0),
    "add": lambda s: add_centre(s, 4, StyleCentre(60, -60, 33, width=8.0), implicit=False),
    "delete": lambda s: remove_centre(s, 1),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_a_centre_edit_changes_pixels_only_where_predicted(lattice_model, start, edit):
    world, before = start
    edited = world.with_styles(EDITS[edit](world.styles))
    regions = changed_regions(lattice_model, world, edited, 0)
    assert regions is not None, "a lattice fusion bounds centre edits"
    after = Renderer(lattice_model, "cpu").render(edited, [VIEW])[0]
    changed, predicted = changed_mask(before, after), inside_any(VIEW, regions)
    assert changed.any(), "the edit changed nothing: the test shows nothing"
    assert not (changed & ~predicted).any(), "a pixel changed outside the predicted regions"
    assert predicted.mean() < 0.75, "the prediction is not compact"


def test_centre_edits_are_unbounded_without_a_lattice_or_across_the_first_centre(lattice_model):
    plain = build_random("infinitygan", "tiny")
    one = StyleLayout.of([StyleCentre(0, 0, 1)])
    two = add_centre(one, 0, StyleCentre(300, 0, 2))
    assert centre_regions(plain, one, two, 0, 0) is None  # nearest-centre rule: reaches anywhere
    assert centre_regions(lattice_model, StyleLayout(), one, 0, 0) is None  # separable -> general blend
    assert centre_regions(lattice_model, one, two, 0, 0)
