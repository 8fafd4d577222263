"""``everscape``: the command line. Parsing and error reporting only; the work lives elsewhere.

Subcommands are modules with ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``. The
engine's own are listed in :data:`COMMANDS` (a module not present in this build is skipped);
other packages add theirs through the ``everscape.commands`` entry-point group, which is how the
desktop app contributes ``gui`` without the engine ever importing Qt. With no arguments the
command starts the GUI; with a project file as its only command (``everscape FILE.everscape``, as a
desktop launcher calls it) the GUI opens that project.

Errors the user can act on print one line on stderr and exit 2; anything unexpected prints one
line and exits 1, with the traceback only under ``--debug``.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from importlib.metadata import entry_points
from types import ModuleType

from engine import project
from engine.errors import EverscapeError

COMMANDS: dict[str, str] = {
    "models": "engine.commands.models",
    "render": "engine.commands.render",
    "bench": "engine.commands.bench",
    "train": "engine.commands.train",
    "eval": "engine.commands.eval",
    "doctor": "engine.commands.doctor",
}


def _load(path: str) -> ModuleType | None:
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError as error:
        if error.name == path:
            return None
        raise


def discover_commands() -> dict[str, ModuleType]:
    found: dict[str, ModuleType] = {}
    for name, path in COMMANDS.items():
        module = _load(path)
        if module is not None:
            found[name] = module
    for entry in entry_points(group="everscape.commands"):
        if entry.name not in found:
            try:
                found[entry.name] = importlib.import_module(entry.value)
            except ImportError:
                continue  # a broken optional plugin (e.g. Qt missing) must not break the CLI
    return found


def build_parser(commands: dict[str, ModuleType]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="everscape", description="Explore, paint and export endless generated landscapes."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in commands.items():
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        module.add_arguments(command)
    return parser


def join_negative_values(argv: list[str]) -> list[str]:
    """``--rect -500,0,64,64`` -> ``--rect=-500,0,64,64``: argparse would read the value as an option."""
    out: list[str] = []
    index = 0
    while index < len(argv):
        token = argv[index]
        following = argv[index + 1] if index + 1 < len(argv) else ""
        if token.startswith("--") and "=" not in token and re.match(r"-\d", following):
            out.append(f"{token}={following}")
            index += 2
            continue
        out.append(token)
        index += 1
    return out


def open_project_shortcut(argv: list[str], commands: dict[str, ModuleType]) -> list[str]:
    """``everscape FILE.everscape`` -> ``everscape gui FILE.everscape``: how a double-click opens a project."""
    positional = next((index for index, token in enumerate(argv) if not token.startswith("-")), None)
    if positional is None or argv[positional] in commands or "gui" not in commands:
        return argv
    if not argv[positional].lower().endswith(project.SUFFIX):
        return argv
    return [*argv[:positional], "gui", *argv[positional:]]


def main(argv: list[str] | None = None) -> int:
    argv = join_negative_values(sys.argv[1:] if argv is None else list(argv))
    commands = discover_commands()
    argv = open_project_shortcut(argv, commands)
    parser = build_parser(commands)
    if not [a for a in argv if a != "--debug"]:
        if "gui" not in commands:
            parser.print_usage(sys.stderr)
            print("everscape: error: the desktop app is not installed; see `everscape --help`", file=sys.stderr)
            return 2
        argv = [*argv, "gui"]
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(commands[args.command].run(args) or 0)
    except EverscapeError as error:
        if args.debug:
            raise
        print(f"everscape: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("everscape: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if args.debug:
            raise
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        print(f"everscape: internal error: {type(error).__name__}: {first} (rerun with --debug)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
