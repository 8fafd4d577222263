"""The score ``everscape train`` keeps ``best.safetensors`` by (``--best-metric``).

It sits with the metrics, above the training stack: the training loop takes any ``metric_fn``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from typing import Any

import torch

from engine.errors import InvalidInput
from engine.metrics.evaluate import QUICK, HeldOutSWD
from engine.metrics.realdata import RealImages


def snapshot_metric(
    args: argparse.Namespace, holdout: tuple[float, float] | None, crop: int, device: torch.device, rows: bool = False
) -> tuple[Callable[[Any], float] | None, str | None]:
    """``(metric_fn, metric_name)`` for ``best.safetensors``: SWD of the EMA against held-out
    crops, at the training crop size (``(None, None)`` when off).

    Only with a held-out band: scored on crops the model trains on, "best" would reward
    memorising them. The real set is drawn once per session (fixed seed), so every snapshot is
    scored against the same crops: 48 frames, seconds per snapshot. The frame is the one
    ``models ship`` measures on (the crop, halved until the band holds it), not ``eval --quick``'s
    64 px, which can rank checkpoints opposite to the shipped measurement.
    The name travels with the score, so a resumed run scored another way starts its best afresh
    (``rows``: a row-dependent model's frames are spread over its rows, ``engine.metrics.infinite``).
    """
    choice = args.best_metric or ("swd" if holdout else "none")
    if choice == "none":
        return None, None
    if not holdout:
        raise InvalidInput("--best-metric swd needs a held-out band (--holdout A,B)")
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
