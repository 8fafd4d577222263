"""``everscape models``: what can be rendered (families, configs, checkpoints)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from engine.atomic import write_bytes_atomic
from engine.cards import (
    card_path,
    check_card,
    heldout_swd,
    model_page,
    quality_table,
    readme_section,
    replace_readme_section,
)
from engine.checkpoints import find_checkpoint, list_checkpoints, read_header
from engine.commands import models_ship
from engine.errors import CheckpointError, InvalidInput
from engine.models.registry import available_families, get_family

HELP = "list model families, configs and installed checkpoints; import or ship checkpoints"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION")
    imp = sub.add_parser("import", help="convert a legacy torch.save state dict into a safe checkpoint")
    imp.add_argument("source", help="a .pt/.pth file holding plain tensors")
    imp.add_argument("--family", required=True)
    imp.add_argument("--config", required=True, help="config name of the family the weights belong to")
    imp.add_argument("--out", required=True, help="output .safetensors path")
    models_ship.add_parser(sub)
    report = sub.add_parser(
        "report", help="the quality report of shipped models as a Markdown table (from their cards)"
    )
    report.add_argument("names", nargs="*", help="checkpoint names (default: every installed one with a card)")
    report.add_argument(
        "--markdown", "--readme", dest="readme", help="rewrite the generated quality-report section of a Markdown page"
    )
    check = sub.add_parser(
        "check",
        help="say what each file is (checkpoint, card, project, image, training state), whether it loads, why not",
    )
    check.add_argument("files", nargs="+", help="files to check")


def inventory() -> dict:
    families = {}
    for name in available_families():
        families[name] = sorted(get_family(name).configs)
    checkpoints = []
    for name in list_checkpoints():
        path = find_checkpoint(name)
        entry = {"name": name, "path": str(path)}
        try:
            header = read_header(path)
            entry["family"] = header["family"]
            entry["steps"] = header.get("steps")
            entry["heldout_swd"] = None
            if card_path(path).exists():
                entry["heldout_swd"] = heldout_swd(check_card(card_path(path)))
        except CheckpointError as error:
            entry["error"] = str(error)
        except InvalidInput as error:  # a malformed card: the checkpoint is listed, the card named
            entry["card_error"] = str(error)
        checkpoints.append(entry)
    return {"families": families, "checkpoints": checkpoints}


def run(args: argparse.Namespace) -> int:
    if getattr(args, "models_command", None) == "import":
        return _import(args)
    if getattr(args, "models_command", None) == "ship":
        return models_ship.run(args)
    if getattr(args, "models_command", None) == "pair-critic":
        return models_ship.run_pair_critic(args)
    if getattr(args, "models_command", None) == "rediagnose":
        return models_ship.run_rediagnose(args)
    if getattr(args, "models_command", None) == "remeasure":
        return models_ship.run_remeasure(args)
    if getattr(args, "models_command", None) == "check":
        return check_files(args.files, args.json)
    if getattr(args, "models_command", None) == "report":
        return _report(args.names, args.readme)
    info = inventory()
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    print("Random-initialised models (FAMILY:CONFIG, for tests and benchmarks):")
    for family, configs in info["families"].items():
        print(f"  {family}: " + ", ".join(f"{family}:{c}" for c in configs))
    print("Checkpoints:")
    if not info["checkpoints"]:
        print("  (none installed)")
    for entry in info["checkpoints"]:
        steps = "?" if entry.get("steps") is None else entry["steps"]
        detail = entry.get("error") or f"{entry['family']}, {steps} steps"
        if entry.get("heldout_swd") is not None:
            detail += f", held-out SWD {entry['heldout_swd']:.1f}"
        if entry.get("card_error"):
            detail += f" (card ignored: {entry['card_error']})"
        print(f"  {entry['name']}: {detail}")
    return 0


def check_files(files: list[str], as_json: bool = False) -> int:
    """One report line per file (:func:`engine.doctor.describe_file`); exit 2 when any fails to load."""
    from engine.doctor import describe_file

    reports = [describe_file(name) for name in files]
    if as_json:
        rows = [{"path": str(r.path), "kind": r.kind, "ok": r.ok, "detail": r.detail} for r in reports]
        print(json.dumps(rows, indent=1))
    else:
        for report in reports:
            print(report.line())
    return 0 if all(r.ok for r in reports) else 2


def _report(names: list[str], readme: str | None = None) -> int:
    cards = []
    for name in names or list_checkpoints():
        path = find_checkpoint(name)
        if path is None:
            raise CheckpointError(f"no installed checkpoint called {name!r} (see `everscape models`)")
        if not card_path(path).exists():
            if names:
                raise CheckpointError(f"{name} has no model card ({card_path(path).name}); ship it with `models ship`")
            continue
        try:
            cards.append(check_card(card_path(path)))
        except InvalidInput as error:  # one bad card is named and left out; the others are reported
            print(f"everscape: ignoring a model card: {error}", file=sys.stderr)
    if readme is None:
        print(quality_table(cards))
        return 0
    path = Path(readme)
    if path.is_dir():
        return _model_pages(cards, path)
    _report_into(cards, path)
    print(f"updated the quality report of {len(cards)} models in {path}")
    return 0


def _report_into(cards: list[dict], path: Path) -> None:
    """Rewrite the generated section of the Markdown page ``path`` (links relative to it)."""
    try:
        section = readme_section(cards, gallery_dir=_gallery_link(path))
        text = replace_readme_section(path.read_text(encoding="utf-8"), section)
    except (OSError, ValueError) as error:
        raise InvalidInput(f"cannot update {path}: {error}") from None
    write_bytes_atomic(path, text.encode("utf-8"))


def _model_pages(cards: list[dict], folder: Path) -> int:
    """One page per model in ``folder`` (``NAME.md``), and the overview's section in its README.md."""
    for card in cards:
        page = folder / f"{card['name']}.md"
        write_bytes_atomic(page, model_page(card, gallery_dir=_gallery_link(page)).encode("utf-8"))
    overview = folder / "README.md"
    if overview.is_file():
        _report_into(cards, overview)
    print(f"wrote the pages of {len(cards)} models in {folder}")
    return 0


def _gallery_link(page: Path) -> str:
    """The gallery folder as a link relative to ``page``: the first ancestor holding ``resources/gallery``."""
    folder = page.resolve().parent
    for root in (folder, *folder.parents):
        if (root / "resources" / "gallery").is_dir():
            return Path(os.path.relpath(root / "resources" / "gallery", folder)).as_posix()
    return "resources/gallery"


def _import(args: argparse.Namespace) -> int:
    from engine.checkpoints import import_legacy, save_checkpoint
    from engine.models.registry import build_random

    weights = import_legacy(args.source)
    model = build_random(args.family, args.config)
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as error:
        raise CheckpointError(
            f"{args.source} does not fit {args.family}:{args.config}: {str(error).splitlines()[0]}"
        ) from None
    save_checkpoint(args.out, args.family, model.config_dict(), model.state_dict(), {"imported_from": str(args.source)})
    print(f"wrote {args.out}")
    return 0
