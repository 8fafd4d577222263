"""``everscape doctor``: the first-run report (versions, torch build, device and why, memory, folders, models).

Paste its output into a bug report. The report itself is :mod:`engine.diagnostics`; this module
only parses and prints. It is organised as a list of report sections so that describing files
given on the command line (``everscape doctor FILE...``) can later add one section per file
without changing how the system section is produced or printed.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from engine.diagnostics import format_report, system_report

HELP = "report versions, the torch build, the device used and why, memory, folders and models"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def collect(args: argparse.Namespace) -> dict[str, Any]:
    """The sections to print; file descriptions will join the system report here."""
    return {"system": system_report()}


def run(args: argparse.Namespace) -> int:
    sections = collect(args)
    if args.json:
        print(json.dumps(sections, indent=1))
        return 0
    print(format_report(sections["system"]))
    return 0
