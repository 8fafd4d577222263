"""Every family, every test config, every level: the consistency kit, bit-exact on CPU."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.geometry import Rect
from engine.render import Renderer
from engine.world import World
from tests.consistency import PROBE_RECTS, cases, check_rect, model_for

CASES = list(cases())
IDS = [f"{f}:{c}@L{lvl}" for f, c, lvl in CASES]


@pytest.mark.parametrize(("family", "config", "level"), CASES, ids=IDS)
@pytest.mark.parametrize("rect", PROBE_RECTS, ids=["near-origin", "far-1e9", "far-1e12"])
def test_rect_equals_tiles_and_crops(family, config, level, rect):
    model = model_for(family, config)
    world = World(model=f"{family}:{config}", seed=11)
    check_rect(Renderer(model, "cpu"), world, rect, level)


@pytest.mark.parametrize(("family", "config", "level"), CASES, ids=IDS)
def test_reads_stay_inside_declared_footprint(family, config, level):
    """A model may only read the cells its FieldSpecs promise, or edit supports would lie."""
    model = model_for(family, config)
    renderer = Renderer(model, "cpu")
    world = World(model=f"{family}:{config}", seed=5)
    block = model.block_size(level)
    source = renderer.source(world)
    source.reads = []
    model.render_blocks([(3 * block, -7 * block)], source, world.styles, level)
    specs = {spec.name: spec for spec in model.field_specs(level)}
    allowed_region = Rect(3 * block, -7 * block, block, block)
    assert source.reads, "the model read no latent field at all"
    for name, cells in source.reads:
        assert name in specs, f"read undeclared field {name!r}"
        assert specs[name].footprint(allowed_region).contains(cells), f"{name} read {cells} outside its footprint"


@pytest.mark.parametrize(("family", "config", "level"), CASES, ids=IDS)
def test_seed_changes_pixels(family, config, level):
    """The kit would pass for a constant model; make sure worlds actually differ."""
    model = model_for(family, config)
    renderer = Renderer(model, "cpu")
    rect = Rect(0, 0, 64, 64)
    (a,) = renderer.render(World(model="m", seed=1), [rect], level)
    (b,) = renderer.render(World(model="m", seed=2), [rect], level)
    assert not np.array_equal(a, b)
    assert a.std() > 0.5, "rendered image is flat"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    x=st.integers(-(10**12), 10**12),
    y=st.integers(-(10**12), 10**12),
    w=st.integers(1, 150),
    h=st.integers(1, 150),
    tile=st.integers(7, 97),
    seed=st.integers(0, 2**31),
)
def test_reference_any_rect(x, y, w, h, tile, seed):
    """Hypothesis picks rectangles and tile sizes for the reference model."""
    model = model_for("reference", "tiny")
    check_rect(
        Renderer(model, "cpu"),
        World(model="reference:tiny", seed=seed),
        Rect(x, y, w, h),
        0,
        seed,
        tiles=((tile, tile),),
    )
