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
import json
import sys
from pathlib import Path
from typing import Any

import torch

from engine.errors import InvalidInput
from engine.models.family import Family
from engine.models.registry import get_family
from engine.train import critic_weights, distributed
from engine.train.datasets import SAMPLINGS
from engine.train.interrupt import StopOnInterrupt
from engine.train.launch import (
    check_arguments,
    crop_sampling,
    initial_model,
    option_classes,
    parse_holdout,
    report_skipped,
    resolve,
    resolve_batch,
    run_meta,
    run_options,
    same_data,
    training_data,
    training_device,
)
from engine.train.loop import Snapshot, train
from engine.train.option_flags import add_option_flags
from engine.train.protocol import TrainConfig
from engine.train.recipes import RECIPES
from engine.train.resume import check_resumable
from engine.train.state import FILENAME, read_state_meta
from engine.train.warm_start import init_critic, warm_start

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
        "--best-metric",
        choices=("swd", "none"),
        default=None,
        help="keep best.safetensors at the lowest quick held-out SWD (48 frames at the training crop) of each snapshot "
        "(default: swd when there is a held-out band, else none)",
    )
    add_option_flags(parser, option_classes())


def run(args: argparse.Namespace) -> int:
    notes = resolve(args)
    check_arguments(args)
    family = get_family(args.family)
    if not family.trainable:
        raise InvalidInput(f"model family {args.family!r} cannot be trained in this build")
    info = distributed.from_environment()
    device = training_device(args.device, info)
    args.batch = resolve_batch(args, device)
    if info.is_main:
        for note in notes:
            print(f"everscape: {note}", file=sys.stderr, flush=True)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    info = distributed.initialise(device)
    try:
        return _run(args, family, device, info)
    finally:
        distributed.shutdown()


def _run(args: argparse.Namespace, family: Family, device: torch.device, info: distributed.DistInfo) -> int:
    """Build model, options, data and trainer from the resolved ``args``, then train."""
    model = initial_model(args, family)
    if args.fresh_critic and not args.init:
        raise InvalidInput("--fresh-critic is for --init runs (a new run's critic always starts fresh)")
    init = warm_start(model, args.init) if args.init else None
    critic = init_critic(init, args.fresh_critic, info.is_main) if init else None
    crop = args.crop or family.crop_size(model.config)
    state = Path(args.out) / FILENAME
    resumed = read_state_meta(state) if args.resume and state.is_file() else None  # one header read
    recorded = check_resumable(resumed, state) if resumed is not None else None
    if resumed is not None:
        same_data(args.data, resumed.get("data"))
    sampling = crop_sampling(args.crop_sampling, resumed, args.data)
    options = run_options(args, family, recorded)
    config = TrainConfig(
        batch=args.batch,
        amp=not args.no_amp,
        seed=args.seed,
        crop=crop,
        r1_gamma=options.r1_gamma,
        ema_half_life_kimg=options.ema_kimg,
        options=options,
    )
    holdout = parse_holdout(args.holdout)
    dataset = training_data(args, crop, holdout, sampling)
    report_skipped(dataset.skipped, info.is_main)
    skipped_before = len(dataset.skipped)
    try:
        trainer = family.make_trainer(model, config, device)
    except ValueError as error:
        raise InvalidInput(str(error)) from None
    if critic is not None:
        critic_weights.install(trainer, critic)
    from engine.metrics.snapshots import snapshot_metric  # the metrics stack only when a run keeps a best

    metric_fn, metric_name = (
        snapshot_metric(args, holdout, crop, device, model.row_dependent) if info.is_main else (None, None)
    )
    meta = run_meta(args, crop=crop, holdout=holdout, sampling=sampling, device=device, options=options, init=init)
    with StopOnInterrupt() as stop:
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
            meta=meta,
            progress_fn=_print_json,
            abort_fn=stop.requested,
            snapshot_fn=_print_snapshot,
            sample_fn=lambda path: _print_json({"event": "sample", "path": str(path)}),
        )
    report_skipped(dataset.skipped[skipped_before:], info.is_main)
    if info.is_main:
        print(json.dumps({"event": "done", "step": result.step, "stopped": result.stopped}), flush=True)
    return 130 if result.stopped == "abort" else 0


def _print_json(progress: dict[str, Any]) -> None:
    print(json.dumps(progress), flush=True)


def _print_snapshot(snapshot: Snapshot) -> None:
    """The snapshot event, with the held-out SWD it scored and whether it became best.safetensors."""
    event: dict[str, Any] = {"event": "snapshot", "path": str(snapshot.path)}
    if snapshot.metric is not None:
        event.update(held_out_swd=round(snapshot.metric, 3), best=snapshot.best)
    _print_json(event)
