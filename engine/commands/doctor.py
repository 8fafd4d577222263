"""``everscape doctor``: the first-run report (versions, torch build, device and why, memory, folders, models).

Paste its output into a bug report. The report itself is :mod:`engine.diagnostics`; this module
only parses and prints. Files named on the command line (``everscape doctor FILE...``) get one line
each from :func:`engine.doctor.describe_file`, the same verdict as ``everscape models check``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from engine.diagnostics import format_report, system_report
from engine.doctor import describe_file

HELP = "report versions, the torch build, the device used and why, memory, folders and models"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", help="files to describe (checkpoint, card, project, image, train state)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def collect(args: argparse.Namespace) -> dict[str, Any]:
    """The sections to print: the system, then one verdict per file named."""
    files = [describe_file(name) for name in args.files]
    rows = [{"path": str(r.path), "kind": r.kind, "ok": r.ok, "detail": r.detail, "line": r.line()} for r in files]
    return {"system": system_report(), "files": rows}


def run(args: argparse.Namespace) -> int:
    """Exit 2 when a named file does not load, so scripts can tell a good file from a bad one."""
    sections = collect(args)
    if args.json:
        print(json.dumps(sections, indent=1))
    else:
        print(format_report(sections["system"]))
        if sections["files"]:
            print("\nFiles:")
            print("\n".join(f"  {row['line']}" for row in sections["files"]))
    return 0 if all(row["ok"] for row in sections["files"]) else 2
