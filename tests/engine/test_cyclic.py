"""Cyclic panoramas: the loop is a real period of the world and its wrapped seam is 0 LSB on CPU."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from engine import cli
from engine.cyclic import check_period, cyclic_panorama, loop_quantum, loop_rect
from engine.errors import InvalidInput
from engine.families.alis.config import CONFIGS as ALIS_CONFIGS
from engine.families.infinitygan.model import CONFIGS as IG_CONFIGS
from engine.geometry import Rect
from engine.invert import InvertConfig
from engine.models.registry import build_initial, build_random
from engine.project import Project, save_project
from engine.render import Renderer
from engine.style_edits import add_centre
from engine.styles import StyleCentre
from engine.variants import surroundings_variant
from engine.world import World

AT = (2000, 0)  # far from the implicit world-seed style centre at the origin
SIDE = 24


def _model(kind: str):
    if kind == "alis":  # tiny ALIS without coordinates (as the shipped small): a loop of a usable period
        return build_initial("alis", replace(ALIS_CONFIGS["tiny"], coordinate_stages=0, stage_inputs=True))
    if kind == "infinitygan-lattice":  # a background style lattice (as the shipped small) coarser than a block
        return build_initial("infinitygan", replace(IG_CONFIGS["tiny"], style_cell=64))
    return build_random(kind, "tiny")


@pytest.fixture(scope="module", params=["infinitygan", "alis", "infinitygan-lattice"])
def looped(request):
    model = _model(request.param)
    renderer = Renderer(model, "cpu")
    image = renderer.render(World(model.family, seed=9), [Rect(0, -SIDE // 2, SIDE, SIDE)])[0]
    period = 5 * loop_quantum(model)
    result = cyclic_panorama(model, World(model.family, seed=1), image, AT, period, InvertConfig(steps=2))
    return model, renderer, result, period


def _wrapped_seam(renderer: Renderer, world: World, loop: Rect, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The loop's last and first ``k`` columns side by side, and the world rendered across the seam."""
    pixels = renderer.render(world, [loop])[0]
    across = renderer.render(world, [Rect(loop.right - k, loop.y, 2 * k, loop.h)])[0]
    return np.concatenate([pixels[:, -k:], pixels[:, :k]], axis=1), across


def test_the_wrapped_seam_is_zero_lsb(looped):
    _, renderer, result, period = looped
    loop = loop_rect(result.world)
    assert loop == Rect(AT[0], AT[1] - SIDE // 2, period, SIDE)
    wrapped, across = _wrapped_seam(renderer, result.world, loop)
    assert np.array_equal(wrapped, across)
    # Without the loop's copy the same seam is a visible edge: the check can fail.
    plain_loop = renderer.render(World(result.world.model, seed=1), [loop])[0]
    plain_across = renderer.render(World(result.world.model, seed=1), [Rect(loop.right - 8, loop.y, 16, loop.h)])[0]
    assert not np.array_equal(np.concatenate([plain_loop[:, -8:], plain_loop[:, :8]], axis=1), plain_across)


def test_the_loop_is_a_real_period(looped):
    model, renderer, result, period = looped
    band = Rect(AT[0] - model.block_size(0) // 2, AT[1] - SIDE // 2, model.block_size(0), SIDE)
    first, second = renderer.render(result.world, [band, band.translate(period, 0)])
    assert np.array_equal(first, second)
    assert result.footprints == (Rect(AT[0] - 12, -12, SIDE, SIDE), Rect(AT[0] + period - 12, -12, SIDE, SIDE))
    if model.family == "infinitygan":  # both ends carry the fitted style
        a, b = result.style_centres
        assert a.latent == b.latent and b.x - a.x == period
    # Both ends are pinned: a surroundings variant keeps them (and so the seam) bit-identical.
    variant = surroundings_variant(model, result.world, result.footprints, seed=4)
    assert np.array_equal(renderer.render(variant, [band.translate(period, 0)])[0], second)
    assert np.array_equal(renderer.render(variant, [band])[0], first)


def test_export_and_cli_write_the_seamless_loop(looped, tmp_path):
    model, renderer, result, _ = looped
    world = replace(result.world, model=f"{model.family}:tiny")
    if model.config != build_random(model.family, "tiny").config:
        return  # the CLI loads named configs only; the loop export itself is the same code
    path = tmp_path / "loop.everscape"
    save_project(path, Project(world))
    out = tmp_path / "loop.png"
    assert cli.main(["render", "--project", str(path), "--loop", "--out", str(out), "--quiet", "--device", "cpu"]) == 0
    written = np.asarray(Image.open(out).convert("RGB"))
    loop = loop_rect(world)
    assert written.shape == (loop.h, loop.w, 3)
    across = renderer.render(world, [Rect(loop.right - 8, loop.y, 16, loop.h)])[0]
    assert np.array_equal(np.concatenate([written[:, -8:], written[:, :8]], axis=1), across)
    assert cli.main(["render", "--project", str(path), "--loop", "--rect", "0,0,8,8", "--out", str(out)]) == 2


def test_bad_loops_are_one_line_refusals():
    model = _model("infinitygan")
    image = np.zeros((SIDE, SIDE, 3), np.uint8)
    quantum = loop_quantum(model)
    for period in (quantum + 1, 0, -quantum, 2.5):
        with pytest.raises(InvalidInput, match="multiple"):
            check_period(model, period)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="overlap"):
        wide = np.zeros((SIDE, quantum - 4, 3), np.uint8)  # the images do not touch, their latents would
        cyclic_panorama(model, World("infinitygan"), wide, AT, quantum, InvertConfig(steps=1))
    with pytest.raises(InvalidInput, match="no cyclic"):
        loop_rect(World("infinitygan"))
    # A style centre near the image breaks the symmetry of the two ends: refused, with the reason.
    near = World("infinitygan", seed=1)
    near = near.with_styles(add_centre(near.styles, 1, StyleCentre(AT[0] + 60, 0, 5)))
    with pytest.raises(InvalidInput, match="seam"):
        cyclic_panorama(model, near, image, AT, 5 * quantum, InvertConfig(steps=1))


def test_loop_rows_and_period_are_checked(looped):
    _, _, result, period = looped
    loop = loop_rect(result.world)
    assert loop_rect(result.world, period, loop.y + 2, 10) == Rect(loop.x, loop.y + 2, period, 10)
    with pytest.raises(InvalidInput, match="rows"):
        loop_rect(result.world, None, loop.y - 1, 4)
    with pytest.raises(InvalidInput, match="loops every"):
        loop_rect(result.world, period + 1)
