"""ALIS's capped mode (the repetition fix): periods within a frame, an aperiodic stage-0 input.

A trained 2-D model with periods up to ``2 * spacing`` repeated its world map every ~500 px
(longer than the 128 px frames the discriminator sees). These tests pin the periods of each mode,
that the input field is read, declared, trained and inverted like any field, that it is what
breaks the coordinates' periodicity, that ``coordinate_stages`` (the shipped ``small`` reads no
coordinates: the capped model still drew a plaid) removes every positional input, and that
checkpoints of the earlier schemes load as they were.
"""

import dataclasses
import math

import pytest
import torch

from engine import invert as inv
from engine.checkpoints import find_checkpoint, save_checkpoint
from engine.errors import InvalidInput
from engine.families.alis import config as alis_config
from engine.families.alis import model as alis
from engine.families.alis import trainer as alis_trainer
from engine.families.alis.blocks import _is_prime, fourier_periods
from engine.fields import LatentSource, gaussian
from engine.geometry import Rect
from engine.models.registry import build_initial, build_random, load_model, make_trainer
from engine.render import Renderer
from engine.train.protocol import TrainConfig
from engine.world import World
from tests.consistency import PROBE_RECTS, check_rect

SHIPPED = "alis-bluemarble"


def legacy(config: alis_config.ALISConfig) -> alis_config.ALISConfig:
    """``config`` with the first scheme: periods up to ``2 * spacing``, coordinates-only input."""
    return dataclasses.replace(
        config, max_period_frames=None, input_channels=0, coordinate_stages=None, stage_inputs=False
    )


def coordinate_free(**changes) -> alis.ALISGenerator:
    """``tiny`` shaped like the shipped ``small``: no coordinates, an input field at every stage."""
    return tiny(coordinate_stages=0, stage_inputs=True, **changes)


def tiny(capped: bool = True, **changes) -> alis.ALISGenerator:
    config = alis_config.CONFIGS["tiny"] if capped else legacy(alis_config.CONFIGS["tiny"])
    return build_initial("alis", dataclasses.replace(config, **changes))


def fourier_only(model: alis.ALISGenerator) -> list[int]:
    return [p for stage in model.periods for p in stage]


# -- periods ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_capped_periods_fit_the_frame_where_a_stage_reads_coordinates(name):
    model = build_random("alis", name)
    c = model.config
    assert c.max_period_frames == 1.0 and c.input_channels > 0 and c.period_cap == c.frame
    stages = len(c.channels) if c.coordinate_stages is None else c.coordinate_stages
    for k, stage in enumerate(model.periods):
        assert stage == (fourier_periods(c.spacing, c.coarse_scale >> k, c.frame) if k < stages else ())
    assert all(p <= c.frame for p in fourier_only(model))


@pytest.mark.parametrize("name", ["tiny"])
def test_capped_periods_fit_the_frame_and_are_coprime_primes_in_stage_pixels(name):
    model = build_random("alis", name)
    c = model.config
    assert c.max_period_frames == 1.0 and c.input_channels > 0 and c.period_cap == c.frame
    assert fourier_only(model) and max(fourier_only(model)) <= c.frame
    for k, stage in enumerate(model.periods):
        scale = c.coarse_scale >> k
        assert stage == fourier_periods(c.spacing, scale, c.frame)
        waves = [p // scale for p in stage]
        assert all(p % scale == 0 and _is_prime(w) for p, w in zip(stage, waves, strict=True)), stage
        assert all(math.gcd(a, b) == 1 for a in waves for b in waves if a != b)
    # What the diagnostics measure: the periods really used, and the anchor spacing.
    assert set(model.coordinate_periods()) == set(fourier_only(model)) | {c.spacing}
    assert [p for p in model.coordinate_periods() if p > c.frame] == [c.spacing]


@pytest.mark.parametrize("name", ["tiny", "small", "paper"])
def test_the_first_scheme_keeps_its_periods(name):
    config = legacy(alis_config.CONFIGS[name])
    model = build_initial("alis", config) if name != "paper" else None  # paper: too big to build here
    for k in range(len(config.channels)):
        scale = config.coarse_scale >> k
        periods = fourier_periods(config.spacing, scale)
        assert fourier_periods(config.spacing, scale, None) == periods
        if model is not None:
            assert model.periods[k] == periods
    assert fourier_periods(config.spacing, 1)[0] > config.frame  # the unpoliced waves the cap removes
    assert alis_config.CONFIGS["paper"] == legacy(alis_config.CONFIGS["paper"])  # paper: the released shape


def test_a_cap_under_four_stage_pixels_leaves_no_period_and_stage_0_needs_an_input():
    assert fourier_periods(256, 32, 128) == (96,)  # 4 stage pixels: the prime 3
    assert fourier_periods(256, 64, 128) == ()  # 2 stage pixels: no wave fits
    assert fourier_periods(64, 1, 32) == (31, 13, 7, 3)
    with pytest.raises(InvalidInput, match="stage 0 needs an input"):
        tiny(max_period_frames=0.25, input_channels=0)  # 8 px at 8 px per stage pixel: no period
    model = tiny(max_period_frames=0.25)  # the input alone feeds stage 0
    assert model.periods[0] == () and model.convs[0].conv.weight.shape[1] == model.config.input_channels
    (image,) = Renderer(model, "cpu").render(World("m", seed=1), [Rect(-5, 7, 40, 30)])
    assert image.std() > 0.5


@pytest.mark.parametrize("stages", [0, 1, 3])
def test_coordinate_stages_limits_which_stages_read_coordinates(stages):
    model = tiny(coordinate_stages=stages)
    c, capped = model.config, tiny()
    for k in range(len(c.channels)):
        assert model.periods[k] == (capped.periods[k] if k < stages else ())
        reads = c.input_channels if k == 0 else c.channels[k - 1]
        assert model.convs[2 * k].conv.weight.shape[1] == reads + 4 * len(model.periods[k])
    assert set(model.coordinate_periods()) == set(fourier_only(model)) | {c.spacing}


def test_the_shipped_small_config_reads_no_coordinates_and_needs_its_input():
    model = build_random("alis", "small")
    assert model.config.coordinate_stages == 0 and fourier_only(model) == []
    assert model.coordinate_periods() == (model.config.spacing,)  # the anchors' placement alone
    c = model.config
    assert c.stage_inputs and all(model.reads_stage_input(k) for k in range(len(c.channels)))
    for k in range(len(c.channels)):  # each stage reads its own input field instead of coordinates
        assert model.convs[2 * k].conv.weight.shape[1] == (c.channels[k - 1] if k else 0) + c.input_channels
    with pytest.raises(InvalidInput, match="stage 0 needs an input"):
        build_initial("alis", dataclasses.replace(model.config, input_channels=0))


def test_stage_inputs_replace_coordinates_only_where_a_stage_has_none():
    model = tiny(coordinate_stages=2, stage_inputs=True)
    c = model.config
    assert [model.reads_stage_input(k) for k in range(len(c.channels))] == [True, False, True, True]
    names = [s.name for s in model.field_specs() if s.name.startswith(alis_config.INPUT_FIELD)]
    assert names == [alis_config.INPUT_FIELD, alis_config.input_field(2), alis_config.input_field(3)]
    assert not tiny(coordinate_stages=2).reads_stage_input(2)  # off unless asked for


# -- the input field: declared, read, consistent ---------------------------------------------------


def test_the_tiny_test_config_is_capped_so_the_consistency_kit_checks_the_input():
    assert alis_config.TEST_CONFIGS == ("tiny",) and alis_config.CONFIGS["tiny"].input_channels > 0


def test_every_stage_reads_its_input_window_inside_the_declared_footprint():
    model = coordinate_free()
    c = model.config
    specs = {s.name: s for s in model.field_specs()}
    source = LatentSource(3)
    source.reads = []
    origin = (7 * c.block, -(10**12) // c.block * c.block)
    model.render_blocks([origin], source, World("m").styles)
    reads = {name: r for name, r in source.reads if name.startswith(alis_config.INPUT_FIELD)}
    assert set(reads) == {alis_config.input_field(k) for k in range(len(c.channels))}
    for k in range(len(c.channels)):
        spec, cells = specs[alis_config.input_field(k)], reads[alis_config.input_field(k)]
        scale = c.coarse_scale >> k
        window = model.plan(origin[0], c.block)[3 * k]  # stage k's conv input, in stage-k pixels
        assert spec.lattice.stride == scale and (cells.x, cells.w) == (window.start, window.size)
        assert spec.footprint(Rect(*origin, c.block, c.block)).contains(cells)


def test_coordinate_free_worlds_are_bit_exact_far_from_the_origin():
    check_rect(Renderer(coordinate_free(), "cpu"), World("m", seed=8), PROBE_RECTS[2], 0, tiles=((29, 41),))


def test_blocks_read_exactly_the_stage_0_window_of_the_input_inside_its_footprint():
    model = build_random("alis", "tiny")
    (spec,) = [s for s in model.field_specs() if s.name == alis_config.INPUT_FIELD]
    c = model.config
    assert spec.channels == c.input_channels and spec.lattice.stride == c.coarse_scale
    source = LatentSource(3)
    source.reads = []
    origin = (7 * c.block, -(10**12) // c.block * c.block)
    model.render_blocks([origin], source, World("m").styles)
    (cells,) = [r for name, r in source.reads if name == alis_config.INPUT_FIELD]
    first = model.plan(origin[0], c.block)[0]  # stage 0's input window, in stage-0 pixels = cells
    assert (cells.x, cells.w, cells.h) == (first.start, first.size, first.size)
    assert spec.footprint(Rect(*origin, c.block, c.block)).contains(cells)


@pytest.mark.parametrize("capped", [True, False], ids=["capped", "first-scheme"])
def test_both_modes_are_bit_exact_far_from_the_origin(capped):
    model = tiny(capped)
    check_rect(Renderer(model, "cpu"), World("m", seed=8), PROBE_RECTS[2], 0, tiles=((29, 41),))


# -- the fix, structurally -------------------------------------------------------------------------


class SameAnchors(LatentSource):
    """A world's fields, except that every anchor holds one code: styles are equal everywhere, so
    only the coordinates (and the input field, where there is one) vary with position."""

    def read(self, name: str, channels: int, cells):
        if name != alis_config.ANCHOR_FIELD:
            return super().read(name, channels, cells)
        code = gaussian((channels,), "test.same-anchor")
        return torch.stack([code[:, None, None].expand(channels, r.h, r.w) for r in cells])


def encoding_period(model: alis.ALISGenerator) -> int:
    """The shift after which every wave, the anchor blend and the block grid are all back in phase."""
    return math.lcm(*model.coordinate_periods(), model.config.block)


def render_at(model: alis.ALISGenerator, x: int, y: int, seed: int = 5) -> torch.Tensor:
    """Two blocks side by side at a block-aligned ``(x, y)``, with all anchors equal."""
    b = model.config.block
    blocks = model.render_blocks([(x, y), (x + b, y)], SameAnchors(seed), World("m").styles)
    return torch.cat(list(blocks), dim=2)


def _shifts(model: alis.ALISGenerator) -> list[tuple[int, int]]:
    period = encoding_period(model)
    return [(0, period), (period, 0), (0, 7 * period), (-3 * period, 11 * period)]


def _start(model: alis.ALISGenerator) -> tuple[int, int]:
    return 3 * model.config.block, -5 * model.config.block


@pytest.mark.parametrize(
    "capped, changes", [(False, {}), (True, {"input_channels": 0})], ids=["first-scheme", "capped-without-input"]
)
def test_without_the_input_equal_anchors_make_the_world_periodic(capped, changes):
    """The failure's mechanism: with nothing but coordinates, content is a function of phase."""
    model = tiny(capped, noise=False, **changes)
    if not capped:
        assert max(fourier_only(model)) > model.config.frame  # periods the discriminator never sees whole
    x, y = _start(model)
    here = render_at(model, x, y)
    for dx, dy in _shifts(model):
        assert torch.equal(render_at(model, x + dx, y + dy), here), (dx, dy)


def test_with_the_input_no_shift_brings_the_world_back():
    """Shifted by the full encoding period (every wave, anchor blend and block back in phase, so a
    multiple of every period longer than a frame), the capped model differs as much as another
    world does at the same place: there, too, only the input field differs."""
    model = tiny(noise=False)
    x, y = _start(model)
    here = render_at(model, x, y)
    other_world = (render_at(model, x, y, seed=6) - here).abs().mean()
    assert other_world > 0.01  # the input does reach the image
    for dx, dy in _shifts(model):
        difference = (render_at(model, x + dx, y + dy) - here).abs().mean()
        assert difference > 0.5 * other_world, (dx, dy, float(difference), float(other_world))


class ShiftedInput(SameAnchors):
    """:class:`SameAnchors` whose input fields are the seed's fields moved ``shift`` world pixels
    along x (stage ``k``'s field by ``shift`` over its scale)."""

    def __init__(self, seed: int, model: alis.ALISGenerator, shift: int) -> None:
        super().__init__(seed)
        c = model.config
        self.cells = {alis_config.input_field(k): shift // (c.coarse_scale >> k) for k in range(len(c.channels))}

    def read(self, name: str, channels: int, cells):
        if name in self.cells:
            cells = [Rect(r.x + self.cells[name], r.y, r.w, r.h) for r in cells]
        return super().read(name, channels, cells)


@pytest.mark.parametrize(
    "changes",
    [{"coordinate_stages": 0}, {"coordinate_stages": 0, "stage_inputs": True}, {}],
    ids=["coordinate-free", "coordinate-free-stage-inputs", "capped-coordinates"],
)
def test_without_coordinates_the_image_moves_with_its_input_field(changes):
    """No positional input, no plaid: with equal anchors, rendering one block further along x is the
    same as moving the input fields one block back, bit for bit up to the anchor blend's round-off.
    With coordinates the same comparison differs by as much as another world does. The blend is the
    linear one: the variance-preserving blend rescales even equal anchors' deviations by phase (it
    assumes independent anchors, which is what worlds draw), and the shift here changes the phase."""
    model = tiny(noise=False, blend="linear", **changes)
    stages = model.config.coordinate_stages
    b = model.config.block
    x, y = _start(model)
    ahead = torch.cat(list(model.render_blocks([(x + b, y)], SameAnchors(5), World("m").styles)), dim=2)
    moved = torch.cat(list(model.render_blocks([(x, y)], ShiftedInput(5, model, b), World("m").styles)), dim=2)
    other_world = (render_at(model, x, y, seed=6) - render_at(model, x, y)).abs().mean()
    difference = (ahead - moved).abs().max()
    if stages == 0:
        assert difference < 1e-5, float(difference)
    else:
        assert difference > 0.2 * other_world, (float(difference), float(other_world))


# -- training and inversion read it like any field -------------------------------------------------


def test_training_frames_draw_the_input_over_their_stage_0_windows(monkeypatch):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        trainer = make_trainer(tiny(), TrainConfig(batch=2, seed=0), "cpu")
        seen = []
        original = alis_trainer.random_fields

        def recording(device):
            draw = original(device)

            def read(name, channels, rects):
                seen.append((name, channels, rects))
                return draw(name, channels, rects)

            return read

        monkeypatch.setattr(alis_trainer, "random_fields", recording)
        fakes = trainer.generate(trainer.generator, 2, False)
    assert fakes.images.shape == (2, 3, 32, 32)
    inputs = [(channels, rects) for name, channels, rects in seen if name == alis_config.INPUT_FIELD]
    assert len(inputs) == 1 and inputs[0][0] == trainer.generator.config.input_channels
    for (ox, oy), rect in zip(fakes.extras["origins"], inputs[0][1], strict=True):
        px, py = trainer.generator.plan(ox, 32)[0], trainer.generator.plan(oy, 32)[0]
        assert rect == Rect(px.start, py.start, px.size, py.size)


def test_inversion_fits_the_input_cells_under_the_image():
    model = build_random("alis", "tiny")
    rect = Rect(5, 7, 32, 32)
    target = Renderer(model, "cpu").render(World("m", seed=2), [rect])[0]
    result = inv.invert(model, World("m", seed=1), target, (rect.x, rect.y), inv.InvertConfig(steps=8, style=False))
    assert result.losses[-1] < result.losses[0]
    (patch,) = [p for p in result.world.overrides if p.field == alis_config.INPUT_FIELD]
    (spec,) = [s for s in model.field_specs() if s.name == alis_config.INPUT_FIELD]
    assert patch.cells == spec.footprint(rect)
    before = LatentSource(1).read_cpu(alis_config.INPUT_FIELD, spec.channels, patch.cells)
    assert not torch.equal(patch.values, before)


# -- checkpoints of both schemes ------------------------------------------------------------------


def test_a_header_from_before_the_fix_loads_with_the_first_scheme(tmp_path):
    """Checkpoints trained before the capped mode have no such keys: they mean the first scheme."""
    model = build_initial("alis", legacy(alis_config.CONFIGS["tiny"]))
    newer = ("max_period_frames", "input_channels", "coordinate_stages", "stage_inputs")
    config = {k: v for k, v in model.config_dict().items() if k not in newer}
    path = tmp_path / "old.safetensors"
    save_checkpoint(path, "alis", config, model.state_dict(), {})
    loaded = load_model(str(path)).model
    assert loaded.config == legacy(alis_config.CONFIGS["tiny"])
    assert alis_config.INPUT_FIELD not in {s.name for s in loaded.field_specs()}
    assert fourier_only(loaded) == fourier_only(model)


@pytest.mark.skipif(find_checkpoint(SHIPPED) is None, reason="shipped ALIS checkpoint not installed")
def test_the_shipped_checkpoint_is_the_capped_small_model():
    model = load_model(SHIPPED).model
    # Retrained coordinate-free, with an input field at every stage, anchors one frame apart and the
    # variance-preserving blend.
    assert model.config == alis_config.CONFIGS["small"] and fourier_only(model) == []
    (image,) = Renderer(model, "cpu").render(World(SHIPPED, seed=1), [Rect(10**9, -40, 64, 48)])
    assert image.std() > 1.0
