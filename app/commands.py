"""The ``everscape gui`` command, contributed to the engine's CLI through an entry point."""

from __future__ import annotations

import argparse

HELP = "start the desktop app (or capture a screenshot of it headlessly)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", nargs="?", default=None, help="an .everscape project file to open")
    parser.add_argument("--model", default=None, help="model to open (default: the last one, else the shipped default)")
    parser.add_argument("--seed", type=int, default=None, help="world seed (default: the last one, else 0)")
    parser.add_argument("--view", default=None, help="X,Y,ZOOM: world centre and zoom exponent (-2 = quarter size)")
    parser.add_argument("--size", default=None, help="window size WxH (default 1280x800)")
    parser.add_argument(
        "--screenshot",
        metavar="PATH",
        default=None,
        help="open the window, wait until the visible tiles are rendered, save it as a PNG and exit",
    )


def run(args: argparse.Namespace) -> int:
    from app.main import run_app

    return run_app(args)
