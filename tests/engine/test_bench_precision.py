"""The GPU peak-fraction figures' machinery, run on the CPU (CUDA only changes the device)."""

from __future__ import annotations

import pytest
import torch

from engine.bench import precision
from engine.bench.precision import MODES, applied, precision_rows
from engine.geometry import Rect
from engine.models.registry import build_random
from engine.render import Renderer
from engine.world import World

RECT = Rect(10**9 + 7, -333, 90, 70)


def _setup():
    model = build_random("reference", "tiny")
    renderer = Renderer(model, "cpu", exact=False, max_batch=2)
    origins = [(64 * i, 0) for i in range(2)]
    return model, renderer, World("reference:tiny", seed=3), origins


def test_every_mode_is_measured_and_fp32_is_the_reference():
    model, renderer, world, origins = _setup()
    rows, summary = precision_rows(renderer, world, origins, RECT, flops_per_px=1e4, peak_tflops=1.0)
    assert [row["mode"] for row in rows] == [mode.name for mode in MODES]
    fp32 = rows[0]
    assert fp32["seam_max_u8"] == 0 and fp32["fp32_drift_max_u8"] == 0 and fp32["eligible"]
    for row in rows:
        assert row["px_per_s"] > 0
        assert row["peak_fraction"] == pytest.approx(1e4 * row["px_per_s"] / 1e12)
    assert rows[1]["fp32_drift_max_u8"] <= 1  # channels-last reorders sums at most
    assert summary["best_mode"] in {row["mode"] for row in rows if row["eligible"]}
    assert summary["fp32_peak_fraction"] == fp32["peak_fraction"]
    weight = next(p for p in model.parameters() if p.ndim == 4)
    assert weight.is_contiguous()  # the channels-last modes restored the model


def test_modes_whose_seams_exceed_one_lsb_are_not_eligible(monkeypatch):
    _, renderer, world, origins = _setup()
    real = precision.seam_error

    def bf16_breaks_seams(renderer, world, rect):
        result = real(renderer, world, rect)
        if torch.is_autocast_enabled("cpu"):
            result["seam_max_abs_u8"] = 5
        return result

    monkeypatch.setattr(precision, "seam_error", bf16_breaks_seams)
    rows, summary = precision_rows(renderer, world, origins, RECT, flops_per_px=1e4, peak_tflops=None)
    assert [row["eligible"] for row in rows] == [True, True, False, False]
    assert summary["best_mode"] in {"fp32", "fp32_channels_last"}
    assert summary["best_peak_fraction"] is None and summary["bf16_peak_tflops"] is None


def test_autocast_applies_inside_and_channels_last_is_undone():
    model, renderer, _, _ = _setup()
    with applied(renderer, MODES[3]):
        assert torch.is_autocast_enabled("cpu")
        weight = next(p for p in model.parameters() if p.ndim == 4)
        assert weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
    assert not torch.is_autocast_enabled("cpu")
    assert next(p for p in model.parameters() if p.ndim == 4).is_contiguous()


def test_margins_rows_before_and_after_regions(monkeypatch):
    """``bench margins``: regions discard less than blocks at export size, timed both ways."""
    from engine.bench import BenchContext, margins
    from engine.render import CPU_REGION_SIDE, MAX_REGION_SIDE

    monkeypatch.setattr(margins, "configs_to_measure", lambda ctx: [("infgan", "tiny"), ("reference", "tiny")])
    infgan, reference = margins.margins(BenchContext(quick=True))
    assert infgan["region_px"] == CPU_REGION_SIDE and infgan["region_px_gpu"] == MAX_REGION_SIDE
    assert infgan["margin_fraction_region"] < infgan["margin_fraction_blocks"] / 4
    assert infgan["cover_fraction"] < infgan["discarded_fraction"] < infgan["discarded_fraction_before"]
    assert infgan["discarded_fraction_gpu"] < infgan["discarded_fraction"]
    assert infgan["meets_goal"] == (infgan["discarded_fraction"] <= margins.GOAL)
    assert infgan["cpu_time_ratio"] == pytest.approx(infgan["cpu_s_per_mpx_region"] / infgan["cpu_s_per_mpx_blocks"])
    assert "margin_fraction_blocks" not in reference and reference["region_px"] == reference["block_px"]


def test_the_flops_curve_predicts_an_exact_count():
    """Three counts fix ``F(k) = I + a/k + b/k^2``; a fourth, bigger window lands on it."""
    from engine.bench import margins

    model = margins.meta_model("infinitygan", "tiny")
    ideal, a, b = margins.flops_curve(model)
    assert 0 < ideal < margins.flops_per_px(model, 1)
    assert margins.flops_per_px(model, 8) == pytest.approx(ideal + a / 8 + b / 64, rel=1e-9)
