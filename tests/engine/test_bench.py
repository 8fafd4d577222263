"""``everscape bench``: the quick suite runs in-process and writes strict JSON; the helpers it relies on."""

import dataclasses
import json
import math

import pytest

from engine import bench
from engine.bench import BenchContext, json_ready, markdown, run_all
from engine.bench.infinitygan import _lattice_cost
from engine.bench.peaks import peak_bf16_tflops, peak_fraction
from engine.cli import main
from engine.errors import InvalidInput
from engine.families.infinitygan import model as ig
from engine.models.registry import build_random
from engine.render import CPU_REGION_SIDE
from engine.world import World


def strict_json(text: str):
    def reject(constant):
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=reject)


def test_bench_schema_on_a_small_selection(tmp_path, capsys):
    """The report's schema, from a selection that runs in seconds (the whole ``--quick`` suite is for
    people and GPUs: it took most of the test suite's time when this test ran it)."""
    out = tmp_path / "bench.json"
    only = ["render", "seams", "metrics.swd_cost"]
    assert main(["bench", "--quick", "--device", "cpu", "--only", *only, "--json", str(out)]) == 0
    report = strict_json(out.read_text())
    assert {"machine", "device", "quick", "results", "bench_seconds", "wall_seconds", "notes"} <= set(report)
    assert report["quick"] is True and report["device"].startswith("cpu: ")
    by_name = {}
    for row in report["results"]:
        assert "error" not in row, row
        assert row["device"]  # absolute figures always carry the device
        by_name.setdefault(row["benchmark"], []).append(row)
    assert set(by_name) == set(only) == set(report["bench_seconds"]) == set(report["quick_limits"])
    render = next(r for r in by_name["render"] if r["model"] == "reference:tiny")
    assert {"px_per_s_batch1", "px_per_s_best", "batch_speedup", "flops_per_px"} <= set(render)
    assert {"discarded_fraction_view", "discarded_fraction_export", "export_block_px"} <= set(render)
    alis_tiny = next(r for r in by_name["render"] if r["model"] == "alis:tiny")
    assert alis_tiny["export_block_px"] == CPU_REGION_SIDE  # exports render the largest regions
    assert "bf16_peak_fraction" not in render  # a CUDA-only figure
    assert {r["model"] for r in by_name["seams"]} >= {"reference:tiny", "alis:tiny"}
    printed = capsys.readouterr().out
    assert "### render" in printed and "### seams" in printed and "| reference:tiny |" in printed


def test_failing_benchmark_becomes_an_error_row(monkeypatch):
    registry = dict(bench.discover())
    monkeypatch.setattr(bench, "REGISTRY", registry)
    monkeypatch.setattr(bench, "discover", lambda: registry)

    def broken(ctx):
        raise RuntimeError("boom")

    bench.benchmark("zz_broken")(broken)
    bench.benchmark("zz_fine")(lambda ctx: [{"value": float("inf")}])
    told: list[tuple[int, int, str]] = []
    report = run_all(BenchContext(quick=True, only=("zz_",)), progress=lambda *step: told.append(step))
    assert told == [(0, 2, "zz_broken"), (1, 2, "zz_fine")]  # before each: the app's job progress
    rows = {r["benchmark"]: r for r in report["results"]}
    assert rows["zz_broken"]["error"] == "RuntimeError: boom"
    assert json_ready(report)["results"][1]["value"] is None  # inf is not JSON
    strict_json(json.dumps(json_ready(report), allow_nan=False))
    assert "### zz_broken" in markdown(report) and "### zz_fine" in markdown(report)


def test_peak_table_lookup_and_overrides(monkeypatch):
    monkeypatch.delenv("EVERSCAPE_PEAK_TFLOPS", raising=False)
    assert peak_bf16_tflops("NVIDIA H100 80GB HBM3") == pytest.approx(989.4)
    assert peak_bf16_tflops("NVIDIA H100 PCIe") == 756.0
    assert peak_bf16_tflops("NVIDIA A100-SXM4-80GB") == 312.0  # not the A10
    assert peak_bf16_tflops("NVIDIA L40S") == 362.0 and peak_bf16_tflops("NVIDIA L4") == 121.0
    assert peak_bf16_tflops("Tesla T4") is None
    assert peak_bf16_tflops("Tesla T4", override=65.0) == 65.0
    monkeypatch.setenv("EVERSCAPE_PEAK_TFLOPS", "100")
    assert peak_bf16_tflops("NVIDIA H100 80GB HBM3") == 100.0
    monkeypatch.setenv("EVERSCAPE_PEAK_TFLOPS", "lots")
    with pytest.raises(InvalidInput):
        peak_bf16_tflops("NVIDIA H100")
    assert peak_fraction(1e6, 1e8, 1000.0) == pytest.approx(0.1)  # 1e14 FLOP/s of 1e15
    assert peak_fraction(1e6, 1e8, None) is None
    assert math.isfinite(peak_fraction(1.0, 1.0, 1.0))


def test_bad_peak_argument_is_one_line_error(capsys):
    assert main(["bench", "--quick", "--peak-tflops", "-1", "--only", "nothing"]) == 2
    assert "--peak-tflops" in capsys.readouterr().err


def test_the_lattice_cost_row_times_the_same_weights_without_the_lattice():
    plain = build_random("infinitygan", "tiny")
    lattice = ig.InfinityGANGenerator(dataclasses.replace(plain.config, style_cell=64))
    lattice.load_state_dict(plain.state_dict())
    row = _lattice_cost(lattice, World("m", seed=1), "cpu", lattice_cpu_s=2.0)
    assert row["view_1280x720_no_lattice_s"] > 0
    assert row["lattice_cost_ratio_cpu"] == pytest.approx(2.0 / row["view_1280x720_no_lattice_cpu_s"])


def test_configs_narrow_what_is_measured_in_either_mode():
    from engine.bench.render_speed import configs_to_measure

    full = configs_to_measure(BenchContext(quick=False))
    assert ("alis", "paper") in full
    picked = configs_to_measure(BenchContext(quick=False, configs=("small", "small4")))
    assert ("infgan", "small4") in picked and ("alis", "small") in picked
    assert {config for _, config in picked} == {"small", "small4"}
    # --quick with --configs measures what was named, not the test configs.
    assert configs_to_measure(BenchContext(quick=True, configs=("small4",))) == [("infgan", "small4")]


def test_unknown_config_is_one_line_error(capsys):
    assert main(["bench", "--only", "train", "--configs", "small", "huge"]) != 0
    err = capsys.readouterr().err.strip()
    assert "huge" in err and "small4" in err and "\n" not in err


@pytest.mark.parametrize(("row_seconds", "cycles"), [(0.0, 1), (float("inf"), 2)])
def test_full_train_bench_times_whole_cycles_until_its_row_budget_is_spent(monkeypatch, row_seconds, cycles):
    from engine.bench import train_speed
    from engine.models.registry import get_family

    monkeypatch.setattr(train_speed, "ROW_SECONDS", row_seconds)
    monkeypatch.setattr(train_speed, "MAX_CYCLES", 2)
    ctx = BenchContext(quick=False)
    per_s, steps, _, _ = train_speed._throughput(ctx, get_family("reference"), "reference", "tiny")
    assert steps == cycles * train_speed.CYCLE and per_s > 0
