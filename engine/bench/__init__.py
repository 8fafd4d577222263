"""Benchmarks: registered functions that measure and return numbers, never assert them.

A benchmark module in this package registers functions with :func:`benchmark`; ``everscape
bench`` imports every module here, runs them, prints a markdown table and writes JSON. Each
function gets a :class:`BenchContext` and returns a list of result rows (flat dicts). Rows report
ratios measured within one run on noisy machines and absolute figures with the device named.
"""

from __future__ import annotations

import importlib
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
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Benchmark:
    name: str
    function: Callable[[BenchContext], list[Row]]
    quick: bool  # part of the --quick suite


REGISTRY: dict[str, Benchmark] = {}


def benchmark(name: str, quick: bool = True) -> Callable:
    """Register ``function(ctx) -> list[row]`` under ``name``."""

    def register(function: Callable[[BenchContext], list[Row]]) -> Callable[[BenchContext], list[Row]]:
        REGISTRY[name] = Benchmark(name, function, quick)
        return function

    return register


def discover() -> dict[str, Benchmark]:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    return REGISTRY


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cpu_threads": torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def timed(function: Callable[[], Any], repeat: int = 3, warmup: int = 1) -> float:
    """Best wall time of ``repeat`` runs after ``warmup`` runs (seconds), syncing CUDA."""
    for _ in range(warmup):
        function()
    best = float("inf")
    for _ in range(repeat):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        function()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def run_all(ctx: BenchContext) -> dict[str, Any]:
    """Run the selected benchmarks; a failing one is reported as a row, not a crash."""
    results: list[Row] = []
    for name, bench in sorted(discover().items()):
        if ctx.only and not any(name.startswith(prefix) for prefix in ctx.only):
            continue
        if ctx.quick and not bench.quick:
            continue
        start = time.perf_counter()
        try:
            rows = bench.function(ctx)
        except Exception as error:  # noqa: BLE001 - a broken benchmark must not hide the others
            rows = [{"error": f"{type(error).__name__}: {error}"}]
        for row in rows:
            results.append({"benchmark": name, **row})
        results.append({"benchmark": name, "bench_seconds": round(time.perf_counter() - start, 2)})
    return {"machine": machine(), "device": ctx.device, "quick": ctx.quick, "results": results, "notes": ctx.notes}


def markdown(report: dict[str, Any]) -> str:
    rows = [r for r in report["results"] if "bench_seconds" not in r]
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row.get(k, "")) for k in keys) + " |")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
