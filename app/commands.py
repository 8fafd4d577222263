"""The ``everscape gui`` command, contributed to the engine's CLI through an entry point."""

from __future__ import annotations

import argparse

HELP = "start the desktop app"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None, help="model to open (default: the shipped default)")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    from app.main import run_app

    return run_app(args)
