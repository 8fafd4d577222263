"""``everscape bench``: run the registered benchmarks, print markdown, write JSON."""

from __future__ import annotations

import argparse
import json
import sys

from engine.atomic import write_bytes_atomic
from engine.bench import BenchContext, json_ready, markdown, run_all
from engine.bench.render_speed import configs_to_measure
from engine.errors import InvalidInput
from engine.render import choose_device

HELP = "run benchmarks (speed, memory, seams, quality) and report numbers"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="PATH", help="also write the full report as JSON")
    parser.add_argument("--quick", action="store_true", help="the short suite (about 2 minutes on CPU)")
    parser.add_argument("--only", nargs="*", default=[], help="run benchmarks whose names start with these")
    parser.add_argument(
        "--configs",
        nargs="*",
        default=[],
        help="measure only model configs of these names, e.g. small small4 (default: --quick's test configs, else all)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--data", default="bluemarble", help="real images for the quality benchmark")
    parser.add_argument(
        "--peak-tflops", type=float, help="the GPU's dense bf16 peak in TFLOP/s (default: a table by GPU name)"
    )


def print_progress(index: int, count: int, name: str) -> None:
    """``[i/n] NAME`` on stderr before each benchmark (the app's job reads it as its progress)."""
    print(f"[{index}/{count}] {name}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    device = str(choose_device(args.device))
    if args.peak_tflops is not None and not args.peak_tflops > 0:
        raise InvalidInput("--peak-tflops must be > 0")
    known = {name for _, name in configs_to_measure(BenchContext())}  # every family's every config
    unknown = sorted(set(args.configs) - known)
    if unknown:
        raise InvalidInput(f"--configs: no model config named {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    ctx = BenchContext(
        quick=args.quick,
        device=device,
        only=tuple(args.only),
        configs=tuple(args.configs),
        data=args.data,
        peak_tflops=args.peak_tflops,
    )
    report = json_ready(run_all(ctx, progress=print_progress))
    print(markdown(report))
    if args.json:
        write_bytes_atomic(args.json, json.dumps(report, indent=1, allow_nan=False).encode())
    return 0
