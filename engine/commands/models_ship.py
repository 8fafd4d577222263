"""``everscape models ship RUN_DIR --name NAME``: measure a run's checkpoint and ship it with a card.

The work is :func:`engine.release.ship.ship`; this module only parses and prints (progress on stderr,
the summary on stdout).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "measure a training run's checkpoint, copy it by name with a model card and a gallery render"
PAIR_HELP = "ship the critic a run trained against an already shipped generator (critic-only: --critic-warmup)"
REDIAGNOSE_HELP = "re-run the diagnostics (drift, repetition, envelope, seams) of shipped models into their cards"
REMEASURE_HELP = "measure shipped models again the current way (SWD, ∞-SWD, ScaleInv, floor) into their cards"


def add_parser(sub: argparse._SubParsersAction) -> None:
    ship = sub.add_parser("ship", help=HELP, description=HELP)
    ship.add_argument("run_dir", metavar="RUN_DIR", help="an `everscape train` --out folder (or a checkpoint file)")
    ship.add_argument("--name", required=True, help="name to ship under, e.g. infinitygan-bluemarble")
    ship.add_argument("--dest", default="checkpoints", help="folder for NAME.safetensors and NAME.json")
    ship.add_argument("--gallery-dir", default="resources/gallery", help="folder for the NAME.jpg render")
    ship.add_argument("--quick", action="store_true", help="small metric sets, short strip, 512x256 render")
    ship.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    ship.add_argument("--seed", type=int, default=0, help="seed of evaluation worlds and crops, and the gallery")
    ship.add_argument(
        "--replace-worse",
        action="store_true",
        help="ship even if the model already shipped as NAME measured a lower held-out SWD on the same sets",
    )
    pair = sub.add_parser("pair-critic", help=PAIR_HELP, description=PAIR_HELP)
    pair.add_argument("run_dir", metavar="RUN_DIR", help="an `everscape train --init NAME` --out folder")
    pair.add_argument("name", metavar="NAME", help="the shipped checkpoint (a name or a .safetensors path)")
    again = sub.add_parser("rediagnose", help=REDIAGNOSE_HELP, description=REDIAGNOSE_HELP)
    again.add_argument("names", nargs="+", help="shipped checkpoint names (or .safetensors paths)")
    again.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    measure = sub.add_parser("remeasure", help=REMEASURE_HELP, description=REMEASURE_HELP)
    measure.add_argument("names", nargs="+", help="shipped checkpoint names (or .safetensors paths)")
    measure.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")


def run(args: argparse.Namespace) -> int:
    from engine.release.ship import ShipOptions, card_summary, ship

    options = ShipOptions(
        name=args.name,
        dest=Path(args.dest),
        gallery_dir=Path(args.gallery_dir),
        quick=args.quick,
        device=args.device,
        seed=args.seed,
        replace_worse=args.replace_worse,
    )
    card = ship(args.run_dir, options, progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(card_summary(card))
    return 0


def _installed(name: str) -> Path:
    """A shipped checkpoint's file by name (or a .safetensors path); a one-line error if none."""
    from engine.checkpoints import find_checkpoint
    from engine.errors import CheckpointError

    path = Path(name) if name.endswith(".safetensors") else find_checkpoint(name)
    if path is None:
        raise CheckpointError(f"no installed checkpoint called {name!r} (see `everscape models`)")
    return path


def run_pair_critic(args: argparse.Namespace) -> int:
    from engine.release.critics import pair_critic

    path = _installed(args.name)
    entry = pair_critic(args.run_dir, path, say=lambda m: print(m, file=sys.stderr, flush=True))
    print(f"{path.parent / entry['file']}: critic of step {entry['step']}, {entry['bytes'] / 1e6:.1f} MB")
    return 0


def run_rediagnose(args: argparse.Namespace) -> int:
    from engine.release.ship import rediagnose

    for name in args.names:
        path = _installed(name)
        card = rediagnose(path, args.device)
        failed = [k for k in ("no_colour_drift_swd", "no_colour_drift_mean_z") if not card["goals"][k]["pass"]]
        drift = card["diagnostics"]["drift"]
        print(
            f"{card['name']}: drift p {drift['worst_p_adjusted']:.3g}, z {drift['worst_mean_shift_z']:.3g}"
            + (f", failing {', '.join(failed)}" if failed else ", all drift goals pass")
        )
    return 0


def run_remeasure(args: argparse.Namespace) -> int:
    from engine.release.ship import remeasure

    for name in args.names:
        path = _installed(name)
        before = (_read_metrics(path).get("trained") or {}).get("swd")
        card = remeasure(path, args.device, progress=lambda m: print(m, file=sys.stderr, flush=True))
        trained, goal = card["metrics"]["trained"], card["goals"]["scaleinv_8x_over_1x"]
        was = f"{before:.1f} -> " if isinstance(before, int | float) else ""
        print(
            f"{card['name']}: held-out SWD {was}{trained['swd']:.1f}, ∞-SWD {trained['inf_swd']:.1f}, "
            f"ScaleInv 8x/1x {goal['value']:.2f}"
        )
    return 0


def _read_metrics(path: Path) -> dict:
    from engine.cards import card_path, read_card

    return (read_card(card_path(path)) or {}).get("metrics") or {}
