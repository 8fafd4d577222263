"""Inbetweening, outpainting and cyclic loops against simple baselines, on terrain the model never saw.

Each held-out crop (square, ``N`` px, from the band of the training map the model was trained without)
is cut into quarters of its width:

- outpainting: the middle half is the image; it is inverted in place and the outer quarters are
  rendered and compared with the real ones. Baseline: mirror padding of the image into them;
- inbetweening: the outer quarters are the two images; they are inverted together
  (:func:`engine.inbetween.inbetween`) and the middle half rendered against the real one.
  Baseline: a linear cross-fade, per row, from the left image's last column to the right one's first.

Errors are RMSE in 8-bit levels (lower is better); the ratio to the baseline is what to read (below 1:
the model's continuation beats the naive fill). Seconds per inversion step come from the fits
themselves. The cyclic loop is made from the first crop's image and exported through the ordinary
exporter to a PNG; its wrapped seam (last columns then first columns) is compared with the world
rendered across the seam: any difference in 8-bit levels is a seam (the goal is 0 on a CPU).

Quick mode fits the families' test configs (untrained: the pipeline and its cost); the full suite fits
every shipped checkpoint of a family that can inbetween, on its own held-out band.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from engine.bench import BenchContext, Row, benchmark
from engine.checkpoints import list_checkpoints
from engine.cyclic import check_period, cyclic_panorama, loop_quantum, loop_rect
from engine.errors import EverscapeError
from engine.export import export
from engine.geometry import Rect
from engine.inbetween import INBETWEEN_FAMILIES, inbetween
from engine.invert import InvertConfig, invert
from engine.metrics.realdata import RealImages
from engine.models.registry import get_family, load_model
from engine.release.measure import preparation
from engine.render import Renderer
from engine.world import World

#: Where the fits sit: far from the origin, where an empty layout's implicit style centre is.
ORIGIN_X = 1 << 16
#: Shortest loop measured (px); the period is the first multiple of the model's loop quantum beyond it.
LOOP_MIN = 1024


@dataclass(frozen=True)
class Setting:
    crops: int
    side: int  # crop side, px (a multiple of 4)
    steps: int


QUICK = Setting(crops=1, side=32, steps=3)
FULL = Setting(crops=2, side=64, steps=20)


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    """Root mean squared error of two uint8 images in 8-bit levels."""
    return float(np.sqrt(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


def mirror_fill(image: np.ndarray, band: int) -> np.ndarray:
    """``image`` widened by ``band`` mirrored columns on each side (the outpainting baseline)."""
    return np.pad(image, ((0, 0), (band, band), (0, 0)), mode="symmetric")


def cross_fade(left: np.ndarray, right: np.ndarray, width: int) -> np.ndarray:
    """``width`` columns fading linearly from ``left``'s last column to ``right``'s first."""
    t = (np.arange(1, width + 1, dtype=np.float64) / (width + 1))[None, :, None]
    a, b = left[:, -1:].astype(np.float64), right[:, :1].astype(np.float64)
    return np.round((1.0 - t) * a + t * b).clip(0, 255).astype(np.uint8)


def _uint8(crop: torch.Tensor) -> np.ndarray:
    return ((crop.permute(1, 2, 0).numpy() + 1.0) * 127.5).round().clip(0, 255).astype(np.uint8)


def models_to_fit(ctx: BenchContext) -> list[str]:
    """Quick: each inbetweening family's test configs; full: the shipped checkpoints of those families."""
    if ctx.quick:
        return [f"{f}:{c}" for f in INBETWEEN_FAMILIES for c in get_family(f).test_configs]
    refs = []
    for name in list_checkpoints():
        try:
            if load_model(name).model.family in INBETWEEN_FAMILIES:
                refs.append(name)
        except EverscapeError:
            continue
    return refs


def heldout_crops(ref: str, meta: dict[str, Any], family: str, setting: Setting) -> tuple[str, list[np.ndarray]]:
    """The data's name and ``setting.crops`` crops from the held-out band the model (or, for an
    untrained config, its family's Blue Marble recipe) was trained without."""
    prep = preparation(meta, ref if meta else f"{family}-bluemarble")
    data = RealImages.load(prep["data"], tuple(prep["holdout"]), prep["scale"], prep["drop_bottom"])
    crops = data.crops(setting.crops, setting.side, seed=0, sampling="offset")
    return data.name, [_uint8(c) for c in crops]


def outpaint_errors(model, renderer: Renderer, real: np.ndarray, x: int, config: InvertConfig) -> tuple:
    """``(model RMSE, mirror RMSE, seconds per step)`` of the outer quarters around the inverted middle."""
    side = real.shape[0]
    q, y = side // 4, -side // 2
    image = np.ascontiguousarray(real[:, q : side - q])
    result = invert(model, World(model="bench", seed=x), image, (x + q, y), config, device=renderer.device)
    (rendered,) = renderer.render(result.world, [Rect(x, y, side, side)])
    outer = np.concatenate([real[:, :q], real[:, side - q :]], axis=1)
    mirrored = mirror_fill(image, q)
    ours = np.concatenate([rendered[:, :q], rendered[:, side - q :]], axis=1)
    base = np.concatenate([mirrored[:, :q], mirrored[:, side - q :]], axis=1)
    return rmse(ours, outer), rmse(base, outer), result.seconds_per_step


def inbetween_errors(model, renderer: Renderer, real: np.ndarray, x: int, config: InvertConfig) -> tuple:
    """``(model RMSE, cross-fade RMSE, seconds per step)`` of the middle half between the outer quarters."""
    side = real.shape[0]
    q, y = side // 4, -side // 2
    left, right = np.ascontiguousarray(real[:, :q]), np.ascontiguousarray(real[:, side - q :])
    placements = [(left, (x + q // 2, 0)), (right, (x + side - q + q // 2, 0))]
    result = inbetween(model, World(model="bench", seed=x), placements, config, renderer.device)
    (gap,) = renderer.render(result.world, [Rect(x + q, y, side - 2 * q, side)])
    truth = real[:, q : side - q]
    return rmse(gap, truth), rmse(cross_fade(left, right, side - 2 * q), truth), result.seconds_per_step


def loop_seam(model, renderer: Renderer, image: np.ndarray, config: InvertConfig) -> Row:
    """Make a cyclic panorama of ``image``, export its loop to a PNG and measure the wrapped seam."""
    quantum = loop_quantum(model)
    period = quantum * max(1, math.ceil(LOOP_MIN / quantum))
    try:
        check_period(model, period)
        result = cyclic_panorama(model, World(model="bench", seed=1), image, (ORIGIN_X, 0), period, config)
    except EverscapeError as error:
        return {"loop_skipped": str(error)}
    loop = loop_rect(result.world)
    with tempfile.TemporaryDirectory(prefix="everscape-loop-") as folder:
        path = Path(folder) / "loop.png"
        export(renderer, result.world, loop, path)
        written = np.asarray(Image.open(path).convert("RGB"))
    k = min(8, loop.w // 2)
    (across,) = renderer.render(result.world, [Rect(loop.right - k, loop.y, 2 * k, loop.h)])
    wrapped = np.concatenate([written[:, -k:], written[:, :k]], axis=1)
    seam = int(np.abs(wrapped.astype(np.int16) - across.astype(np.int16)).max())
    return {"loop_period_px": period, "loop_px": [loop.w, loop.h], "loop_seam_max_lsb": seam}


@benchmark("inbetween")
def inbetween_bench(ctx: BenchContext) -> list[Row]:
    """Outpainting vs mirror padding, inbetweening vs cross-fade, seconds per step, the loop's seam."""
    setting = QUICK if ctx.quick else FULL
    rows: list[Row] = []
    for ref in models_to_fit(ctx):
        loaded = load_model(ref)
        model = loaded.model
        try:
            data_name, crops = heldout_crops(ref, loaded.meta, model.family, setting)
        except EverscapeError as error:
            rows.append({"model": ref, "skipped": str(error)})
            continue
        renderer = Renderer(model, ctx.device)
        config = InvertConfig(steps=setting.steps)
        out, mirror, fill, fade, seconds = [], [], [], [], []
        for i, real in enumerate(crops):
            x = ORIGIN_X * (i + 2)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(i)
                ours, base, s1 = outpaint_errors(model, renderer, real, x, config)
                gap, blend, s2 = inbetween_errors(model, renderer, real, x + ORIGIN_X // 2, config)
            out.append(ours)
            mirror.append(base)
            fill.append(gap)
            fade.append(blend)
            seconds += [s1, s2]
        row: Row = {
            "model": ref,
            "data": data_name,
            "crops": len(crops),
            "crop_px": setting.side,
            "steps": setting.steps,
            "outpaint_rmse": float(np.mean(out)),
            "mirror_rmse": float(np.mean(mirror)),
            "outpaint_over_mirror": float(np.mean(out) / max(np.mean(mirror), 1e-9)),
            "inbetween_rmse": float(np.mean(fill)),
            "crossfade_rmse": float(np.mean(fade)),
            "inbetween_over_crossfade": float(np.mean(fill) / max(np.mean(fade), 1e-9)),
            "seconds_per_step": float(np.mean(seconds)),
        }
        middle = crops[0][:, setting.side // 4 : setting.side - setting.side // 4]
        row.update(loop_seam(model, renderer, np.ascontiguousarray(middle), config))
        rows.append(row)
    return rows
