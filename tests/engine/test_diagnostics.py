"""The diagnostics catch what they claim to (fake models built to fail), pass a position-free model,
and every family's ``coordinate_periods`` is the period its coordinate channels really use."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import replace

import pytest
import torch

from engine.cli import main
from engine.families.alis.blocks import coordinate_channels
from engine.families.infinitygan.structure import coordinate_grid
from engine.fields import LatentSource
from engine.layers.anchor_grid import AnchorWindow
from engine.metrics.diagnostics import (
    QUICK_DIAGNOSTICS,
    colour_drift,
    diagnose,
    lattice_lock,
    ncc,
    repetition,
    verdicts,
)
from engine.models.base import Generator
from engine.models.registry import build_random
from engine.render import Renderer
from engine.styles import StyleLayout
from engine.world import World
from tests.engine.test_alis_periods import tiny as alis_tiny

BLOCK = 16


class TableGenerator(Generator):
    """A fake whose pixel ``(x, y)`` is a fixed random table at ``(y mod 16, x mod table width)``,
    optionally brightened with ``log10 |x|`` (colour drift far from the origin)."""

    family = "fake"

    def __init__(self, width: int, claimed: tuple[int, ...] = (), drift: bool = False) -> None:
        super().__init__(None)
        self.table = torch.rand(3, BLOCK, width, generator=torch.Generator().manual_seed(5)) * 1.2 - 0.6
        self.claimed, self.drift = claimed, drift

    def block_size(self, level: int = 0) -> int:
        return BLOCK

    def field_specs(self, level: int = 0) -> tuple:
        return ()

    def coordinate_periods(self) -> tuple[int, ...]:
        return self.claimed

    def render_blocks(
        self, origins: Sequence[tuple[int, int]], source: LatentSource, styles: StyleLayout, level: int = 0
    ) -> torch.Tensor:
        width = self.table.shape[-1]
        out = []
        for ox, _ in origins:
            cols = torch.tensor([(ox + i) % width for i in range(BLOCK)])
            block = self.table[:, :, cols]  # (3, 16, 16): rows are y mod 16 (origins are multiples of 16)
            if self.drift:
                block = block + 0.4 * math.log10(1 + abs(ox)) / 12
            out.append(block)
        return torch.stack(out).clamp(-1, 1)


class EnvelopeGenerator(TableGenerator):
    """A fake whose content never repeats (fresh noise per block) under a brightness envelope
    ``cos(2 pi x / period)``: what ALIS's 2-D models do to the image between their anchors."""

    def __init__(self, period: int, depth: float) -> None:
        super().__init__(BLOCK, claimed=(period,))
        self.period, self.depth = period, depth

    def render_blocks(
        self, origins: Sequence[tuple[int, int]], source: LatentSource, styles: StyleLayout, level: int = 0
    ) -> torch.Tensor:
        out = []
        for ox, oy in origins:
            noise = torch.rand(3, BLOCK, BLOCK, generator=torch.Generator().manual_seed(hash((ox, oy)) % 2**31))
            xs = torch.arange(ox, ox + BLOCK, dtype=torch.float64) % self.period
            envelope = (self.depth * torch.cos(2 * math.pi * xs / self.period)).float()
            out.append(noise * 1.2 - 0.6 + envelope)
        return torch.stack(out).clamp(-1, 1)


def _run(model: Generator, ref: str) -> tuple[Renderer, World]:
    return Renderer(model, "cpu"), World(model=ref, seed=0)


def test_reference_has_no_drift_and_no_repetition():
    model = build_random("reference", "tiny")
    report = diagnose(model, "reference:tiny", QUICK_DIAGNOSTICS, "cpu")
    assert report["coordinate_periods"] == [] and report["repetition"]["periods"] == []
    assert report["lattice"]["periods"] == []
    assert report["drift"]["pass"] and report["seams"]["pass"]
    assert all(v["pass"] for v in verdicts(report).values())
    # given a period anyway, frames that far apart are no more alike than at any other offset
    rep = repetition(*_run(model, "reference:tiny"), [124, 40], QUICK_DIAGNOSTICS)
    assert rep["worst_score"] < 0.15 and rep["pass"]


def test_periodic_fake_repeats_at_its_period_and_not_at_a_wrong_one():
    periodic = TableGenerator(40, claimed=(40,))
    report = diagnose(periodic, "fake:periodic", QUICK_DIAGNOSTICS, "cpu")
    (row,) = report["repetition"]["periods"]
    assert row["shift"] == 40 and row["ncc_period"] == pytest.approx(1.0)
    assert row["score"] > 0.95 and not report["repetition"]["pass"]
    assert not verdicts(report)["no_repetition_at_coordinate_period"]["pass"]
    wrong = repetition(*_run(periodic, "fake:periodic"), [53], QUICK_DIAGNOSTICS)
    assert wrong["worst_score"] < 0.25


def test_an_envelope_at_the_period_fails_the_lattice_check_where_repetition_sees_nothing():
    period = 48
    fake = EnvelopeGenerator(period, depth=0.05)  # envelope std 4.5 u8, luminance std 25: 0.18
    report = diagnose(fake, "fake:envelope", QUICK_DIAGNOSTICS, "cpu")
    (row,) = report["lattice"]["periods"]
    assert row["period"] == period and row["brightness"] == pytest.approx(0.18, abs=0.04)
    assert row["contrast"] < 0.03  # the noise under the envelope has the same spread everywhere
    assert not verdicts(report)["no_envelope_at_coordinate_period"]["pass"]
    assert verdicts(report)["no_repetition_at_coordinate_period"]["pass"]  # fresh content every period
    flat = lattice_lock(*_run(EnvelopeGenerator(period, depth=0.0), "fake:flat"), [period], QUICK_DIAGNOSTICS)
    assert flat["pass"] and flat["worst_score"] < 0.03


class IslandGenerator(TableGenerator):
    """A bursty world like a trained map's: 128 px cells, one in five land (bright), the rest ocean
    (dark), fresh noise in every block; optionally brightened with ``log10 |x|`` (drift)."""

    CELL = 128

    def render_blocks(
        self, origins: Sequence[tuple[int, int]], source: LatentSource, styles: StyleLayout, level: int = 0
    ) -> torch.Tensor:
        out = []
        for ox, oy in origins:
            cell = torch.Generator().manual_seed(hash((ox // self.CELL, oy // self.CELL, 1)) % 2**31)
            land = torch.rand(1, generator=cell).item() < 0.2
            noise = torch.rand(3, BLOCK, BLOCK, generator=torch.Generator().manual_seed(hash((ox, oy)) % 2**31))
            base = torch.tensor([0.5, 0.3, 0.0] if land else [-0.8, -0.6, -0.2])[:, None, None]
            block = base + 0.3 * noise
            if self.drift:
                block = block + 0.4 * math.log10(1 + abs(ox)) / 12
            out.append(block)
        return torch.stack(out).clamp(-1, 1)


def test_drift_fake_fails_the_colour_drift_check():
    report = colour_drift(*_run(TableGenerator(97, drift=True), "fake:drift"), QUICK_DIAGNOSTICS)
    assert not report["pass"] and report["worst_mean_shift_u8"] > 20
    assert report["worst_p"] == 1 / (QUICK_DIAGNOSTICS.permutations + 1)  # further than every re-split
    steady = colour_drift(*_run(TableGenerator(97), "fake:steady"), QUICK_DIAGNOSTICS)
    assert steady["pass"] and steady["worst_mean_shift_u8"] < 4 and steady["worst_p_adjusted"] >= 0.05


def test_a_bursty_world_passes_the_drift_check_unless_it_drifts():
    """Whether a set of 10 frames catches islands swings its SWD to the origin set by several
    times with nothing drifting (what failed the trained InfinityGAN under a fixed ratio to two
    control sets); the permutation test judges each set against re-splits of its own frames."""
    steady = colour_drift(*_run(IslandGenerator(BLOCK), "fake:islands"), QUICK_DIAGNOSTICS)
    swds = [r["swd"] for r in steady["controls"] + steady["far"]]
    assert max(swds) > 2.5 * min(swds)  # the spread a fixed SWD ratio would have to absorb
    assert steady["pass"] and steady["worst_p_adjusted"] >= 0.05
    drifting = colour_drift(*_run(IslandGenerator(BLOCK, drift=True), "fake:islands-drift"), QUICK_DIAGNOSTICS)
    assert not drifting["pass"] and drifting["worst_p_adjusted"] < 0.05


def test_too_few_permutations_to_ever_fail_is_refused():
    with pytest.raises(ValueError, match="permutations cannot fail"):
        colour_drift(*_run(TableGenerator(97), "fake:steady"), replace(QUICK_DIAGNOSTICS, permutations=99))


def test_ncc_of_copies_negatives_and_flat_frames():
    a = torch.rand(8, 8, 3, generator=torch.Generator().manual_seed(1)).mul(255).byte().numpy()
    assert ncc(a, a) == pytest.approx(1.0)
    assert ncc(a, 255 - a) == pytest.approx(-1.0)
    assert ncc(a, a * 0) == 0.0


def test_infinitygan_period_is_its_coordinate_channels_period():
    model = build_random("infinitygan", "tiny")
    (period,) = model.coordinate_periods()
    cells = model.config.period
    assert period == cells * model.scale == 124
    grid = coordinate_grid(-7, -3, 50, 4, cells, model.config.v_per_cell)
    assert torch.equal(grid, coordinate_grid(-7 + cells, -3, 50, 4, cells, model.config.v_per_cell))
    assert not torch.equal(grid, coordinate_grid(-7 + cells // 2, -3, 50, 4, cells, model.config.v_per_cell))
    assert build_random("infinitygan", "small").coordinate_periods() == (2224,)  # the paper's 139 x 16 px


@pytest.mark.parametrize("capped", [True, False], ids=["capped", "first-scheme"])
def test_alis_periods_are_its_fourier_periods_and_anchor_spacing(capped):
    model = alis_tiny(capped)
    periods = model.coordinate_periods()
    spacing, frame = model.config.spacing, model.config.frame
    longest = max(p for stage in model.periods for p in stage)
    assert spacing in periods and (longest <= frame if capped else spacing < longest <= 2 * spacing)
    assert set(periods) == {p for stage in model.periods for p in stage} | {spacing}
    scale = model.config.coarse_scale

    def window(x: int) -> AnchorWindow:
        return AnchorWindow((0, 0), x, 0, 12, 2, scale)

    stage0 = model.periods[0]
    here = coordinate_channels([window(3)], stage0, torch.device("cpu"), torch.float32)
    repeat = math.prod(p // scale for p in stage0)  # stage pixels: the stage's encoding repeats only here
    shifted = coordinate_channels([window(3 + repeat)], stage0, torch.device("cpu"), torch.float32)
    half = coordinate_channels([window(3 + spacing // scale)], stage0, torch.device("cpu"), torch.float32)
    assert torch.equal(here, shifted) and not torch.equal(here, half)


def test_infgan_period_is_its_coarsest_grid():
    model = build_random("infgan", "tiny")
    c = model.config
    assert model.coordinate_periods() == (2 ** (len(set(c.g1_upsample)) + c.levels - 1),) == (8,)
    assert build_random("infgan", "small").coordinate_periods() == (16,)


def test_eval_diagnostics_only_needs_no_data(tmp_path, capsys):
    out = tmp_path / "diag.json"
    args = ["eval", "--model", "infinitygan:tiny", "--diagnostics", "only", "--quick", "--json", str(out)]
    assert main(args) == 0
    assert "no_repetition_at_coordinate_period" in capsys.readouterr().out
    report = json.loads(out.read_text())["diagnostics"]
    assert report["coordinate_periods"] == [124] and report["seams"]["seam_max_abs_u8"] == 0
    assert {r["period"] for r in report["repetition"]["periods"]} == {124}
