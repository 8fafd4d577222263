"""Benchmarks: registered functions that measure and return numbers, never assert them.

A benchmark module in this package registers functions with :func:`benchmark`; ``everscape
bench`` imports every module here, runs them, prints one markdown table per benchmark and writes
JSON. Each function gets a :class:`BenchContext` and returns a list of result rows (flat dicts of
JSON-ready values).

House rules, because the machines are noisy and shared:

- ratios (batched vs batch 1, exporter vs pure render) are measured within one run, side by side;
- absolute figures (px/s, seconds, bytes) are only meaningful with the device named: every row
  gets a ``device`` label (e.g. ``cpu: Intel Xeon x2``, ``cuda: NVIDIA H100 80GB HBM3``) unless it
  set one itself;
- ``--quick`` must finish in 2 minutes on 2 CPU cores with every family present, so a quick
  entry measures only each family's ``TEST_CONFIGS`` with few blocks and one repeat, and states
  its cap (``quick_limit``: sizes, steps, seconds) in the report's ``quick_limits``.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

Row = dict[str, Any]


@dataclass
class BenchContext:
    quick: bool = False
    device: str = "cpu"
    only: tuple[str, ...] = ()
    #: Model configs to measure by name (empty: the mode's own set), e.g. ("small", "small4"): the
    #: shipped configs' real figures on a CPU, where the ``paper`` configs would take hours.
    configs: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    data: str = "bluemarble"  # real images for quality benchmarks (a basemap name, file or folder)
    peak_tflops: float | None = None  # bf16 peak override for the GPU utilisation figure

    @property
    def device_label(self) -> str:
        return device_label(self.device)


@dataclass(frozen=True)
class Benchmark:
    name: str
    function: Callable[[BenchContext], list[Row]]
    quick: bool  # part of the --quick suite
    quick_limit: str = ""  # what bounds each of its rows under --quick (stated in the report)


REGISTRY: dict[str, Benchmark] = {}


def benchmark(name: str, quick: bool = True, quick_limit: str = "") -> Callable:
    """Register ``function(ctx) -> list[row]`` under ``name``."""

    def register(function: Callable[[BenchContext], list[Row]]) -> Callable[[BenchContext], list[Row]]:
        REGISTRY[name] = Benchmark(name, function, quick, quick_limit)
        return function

    return register


def discover() -> dict[str, Benchmark]:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    return REGISTRY


def device_label(device: str | torch.device) -> str:
    """A device named precisely enough to read absolute figures by: kind and model."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    if device.type == "cpu":
        return f"cpu: {_cpu_name()} x{torch.get_num_threads()} threads"
    return device.type


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return " ".join(line.split(":", 1)[1].replace("(R)", "").replace("(TM)", "").split())
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": _cpu_name(),
        "cpu_threads": torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def sync(device: str | torch.device | None = None) -> None:
    if torch.cuda.is_available() and (device is None or torch.device(device).type == "cuda"):
        torch.cuda.synchronize()


def timed(function: Callable[[], Any], repeat: int = 3, warmup: int = 1) -> float:
    """Best wall time of ``repeat`` runs after ``warmup`` runs (seconds), syncing CUDA."""
    for _ in range(warmup):
        function()
    best = float("inf")
    for _ in range(repeat):
        sync()
        start = time.perf_counter()
        function()
        sync()
        best = min(best, time.perf_counter() - start)
    return best


def run_all(ctx: BenchContext, progress: Callable[[int, int, str], None] | None = None) -> dict[str, Any]:
    """Run the selected benchmarks; a failing one is reported as a row, not a crash.
    ``progress(index, count, name)`` is told before each (the app's benchmark job shows it)."""
    results: list[Row] = []
    seconds: dict[str, float] = {}
    limits: dict[str, str] = {}
    started = time.perf_counter()
    selected = [
        (name, bench)
        for name, bench in sorted(discover().items())
        if (not ctx.only or any(name.startswith(prefix) for prefix in ctx.only)) and (bench.quick or not ctx.quick)
    ]
    for index, (name, bench) in enumerate(selected):
        if progress is not None:
            progress(index, len(selected), name)
        if ctx.quick:
            limits[name] = bench.quick_limit or "test configs, few blocks, one repeat"
        start = time.perf_counter()
        try:
            rows = bench.function(ctx)
        except Exception as error:  # noqa: BLE001 - a broken benchmark must not hide the others
            rows = [{"error": f"{type(error).__name__}: {error}"}]
        for row in rows:
            row = {"benchmark": name, "device": ctx.device_label, **row}
            if row["device"] in (ctx.device, torch.device(ctx.device).type):
                row["device"] = ctx.device_label  # "cpu" alone does not say which CPU
            results.append(row)
        seconds[name] = round(time.perf_counter() - start, 2)
    return {
        "machine": machine(),
        "device": ctx.device_label,
        "quick": ctx.quick,
        "results": results,
        "bench_seconds": seconds,
        "wall_seconds": round(time.perf_counter() - started, 2),
        "notes": ctx.notes,
        **({"quick_limits": limits} if ctx.quick else {}),
    }


def json_ready(value: Any) -> Any:
    """``value`` with non-finite floats as ``None`` and unknown objects as strings (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def markdown(report: dict[str, Any]) -> str:
    """One table per benchmark (columns = the keys its rows use), then the timings."""
    lines = [f"Device: {report['device']}" + (" (quick)" if report.get("quick") else ""), ""]
    names = list(dict.fromkeys(r["benchmark"] for r in report["results"]))
    for name in names:
        rows = [r for r in report["results"] if r["benchmark"] == name]
        shared_device = len({r.get("device") for r in rows}) == 1 and rows[0].get("device") == report["device"]
        keys: list[str] = []
        for row in rows:
            keys += [k for k in row if k not in keys and k != "benchmark" and not (k == "device" and shared_device)]
        lines += [f"### {name}", "", "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
        lines += ["| " + " | ".join(_fmt(row.get(k, "")) for k in keys) + " |" for row in rows]
        lines.append("")
    timing = ", ".join(f"{k} {v:.1f}s" for k, v in report.get("bench_seconds", {}).items())
    lines.append(f"Time: {timing}; total {report.get('wall_seconds', 0):.1f}s")
    for note in report.get("notes", []):
        lines.append(f"Note: {note}")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if value is None:
        return "–"
    return str(value)
