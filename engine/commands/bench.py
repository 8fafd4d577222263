"""``everscape bench``: run the registered benchmarks, print markdown, write JSON."""

from __future__ import annotations

import argparse
import json

from engine.atomic import write_bytes_atomic
from engine.bench import BenchContext, markdown, run_all
from engine.render import choose_device

HELP = "run benchmarks (speed, memory, seams, quality) and report numbers"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="PATH", help="also write the full report as JSON")
    parser.add_argument("--quick", action="store_true", help="the short suite (about 2 minutes on CPU)")
    parser.add_argument("--only", nargs="*", default=[], help="run benchmarks whose names start with these")
    parser.add_argument("--device", default="auto")


def run(args: argparse.Namespace) -> int:
    device = str(choose_device(args.device))
    report = run_all(BenchContext(quick=args.quick, device=device, only=tuple(args.only)))
    print(markdown(report))
    if args.json:
        write_bytes_atomic(args.json, json.dumps(report, indent=1, default=str).encode())
    return 0
