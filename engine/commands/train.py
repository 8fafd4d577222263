"""``everscape train``: train a family on real crops, printing one JSON line of progress per log step.

Works alone or under ``torchrun --nproc-per-node N`` (DDP, rank 0 prints and writes). Ctrl-C
asks the loop to stop after the current step and write a snapshot; a second Ctrl-C stops at once
(the last snapshot on disk stays intact: every write is atomic). ``--resume`` continues the run
in ``--out`` at the same step with the same next losses.

stdout carries JSON lines only: a progress line per log step (``step``, ``kimg``, the losses,
``img_per_s``, ``eta_s``), and event lines with an ``event`` key: ``snapshot`` and ``sample``
(with the file's ``path``) and a final ``done`` (``step``, ``stopped``: steps, time or abort).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import torch

from engine.errors import InvalidInput
from engine.models.registry import build_random, family_module
from engine.train import distributed
from engine.train.datasets import open_dataset
from engine.train.loop import train
from engine.train.protocol import TrainConfig
from engine.train.state import FILENAME

HELP = "train a generator family on images or a map (one JSON progress line per log step)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("family", help="model family (reference, infinitygan, alis, infgan)")
    parser.add_argument("--config", default="tiny", help="model config name (default tiny)")
    parser.add_argument("--data", required=True, help="bluemarble, shadedrelief, etopo, a folder or an image file")
    parser.add_argument("--out", required=True, help="run folder (checkpoints, samples, training state)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    parser.add_argument("--steps", type=int, help="total steps (across resumes)")
    parser.add_argument("--max-minutes", type=float, help="stop after this many minutes (this session)")
    parser.add_argument("--batch", type=int, default=16, help="crops per process per step (default 16)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--log-every", type=int, default=10, help="steps between progress lines")
    parser.add_argument("--sample-every", type=int, default=500, help="steps between sample grids (0 = never)")
    parser.add_argument("--snapshot-every", type=int, default=1000, help="steps between snapshots")
    parser.add_argument("--crop", type=int, help="crop side (default: the family's)")
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument("--scale", type=float, default=1.0, help="resize the data by this factor first")
    parser.add_argument("--holdout", help="held-out band of the width never cropped, e.g. 0.45,0.55")
    parser.add_argument("--drop-bottom", type=float, default=0.0, help="drop this fraction of bottom rows")
    parser.add_argument("--no-hflip", action="store_true", help="no horizontal flips")
    parser.add_argument("--no-amp", action="store_true", help="no mixed precision on GPU")


def _device(name: str, info: distributed.DistInfo) -> torch.device:
    name = distributed.cuda_device_for(info, name)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InvalidInput(f"unknown device {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInput("--device cuda: no CUDA GPU is available")
    return device


def _holdout(text: str | None) -> tuple[float, float] | None:
    if not text:
        return None
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise InvalidInput(f"--holdout must be START,END fractions, not {text!r}") from None
    return lo, hi


def _check(args: argparse.Namespace) -> None:
    if args.steps is None and args.max_minutes is None:
        raise InvalidInput("give a budget: --steps and/or --max-minutes")
    for flag in ("batch", "log_every"):
        if getattr(args, flag) < 1:
            raise InvalidInput(f"--{flag.replace('_', '-')} must be >= 1")
    if args.steps is not None and args.steps < 0:
        raise InvalidInput("--steps must be >= 0")
    if not args.resume and (Path(args.out) / FILENAME).exists():
        raise InvalidInput(f"{args.out} already holds a training run: add --resume or choose a new --out")


def run(args: argparse.Namespace) -> int:
    _check(args)
    module = family_module(args.family)
    if not hasattr(module, "make_trainer") or not hasattr(module, "real_crop_size"):
        raise InvalidInput(f"model family {args.family!r} cannot be trained in this build (no make_trainer)")
    info = distributed.from_environment()
    device = _device(args.device, info)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    info = distributed.initialise(device)
    try:
        model = build_random(args.family, args.config)
        crop = args.crop or module.real_crop_size(model.config)
        config = TrainConfig(batch=args.batch, amp=not args.no_amp, seed=args.seed, crop=crop)
        dataset = open_dataset(
            args.data,
            crop,
            hflip=not args.no_hflip,
            holdout=_holdout(args.holdout),
            scale=args.scale,
            drop_bottom_fraction=args.drop_bottom,
            seed=distributed.rank_seed(args.seed),
        )
        try:
            trainer = module.make_trainer(model, config, device)
        except ValueError as error:
            raise InvalidInput(str(error)) from None
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
                resume=args.resume,
                seed=args.seed,
                meta={"data": args.data, "device": str(device), "batch": args.batch, "world_size": info.world_size},
                progress_fn=_print_json,
                abort_fn=stop.requested,
                snapshot_fn=lambda path: _print_json({"event": "snapshot", "path": str(path)}),
                sample_fn=lambda path: _print_json({"event": "sample", "path": str(path)}),
            )
        if info.is_main:
            print(json.dumps({"event": "done", "step": result.step, "stopped": result.stopped}), flush=True)
        return 130 if result.stopped == "abort" else 0
    finally:
        distributed.shutdown()


def _print_json(progress: dict[str, Any]) -> None:
    print(json.dumps(progress), flush=True)


class _StopOnInterrupt:
    """First Ctrl-C: stop after the current step (with a snapshot). Second: stop now."""

    def __init__(self) -> None:
        self.flag = False
        self.previous: Any = None

    def requested(self) -> bool:
        return self.flag

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.flag:
            raise KeyboardInterrupt
        self.flag = True
        print("everscape: stopping after this step (Ctrl-C again to stop now)", file=sys.stderr, flush=True)

    def __enter__(self) -> _StopOnInterrupt:
        try:
            self.previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread (e.g. called from an app worker): no handler
            self.previous = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
