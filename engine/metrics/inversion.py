"""How well a model can be fitted to unseen real terrain: GAN inversion of held-out crops.

Drag-in outpainting (:mod:`engine.invert`) only works if the generator can reproduce the image it
is asked to extend. This measures exactly that on real crops the model never trained on (the
held-out band): each crop is inverted at its own place in a fresh world with the same settings the
app uses (fewer steps), the fitted region is rendered through the ordinary :class:`Renderer` (so
what is scored is what the canvas would show, consistency included), and the score is the PSNR
of that render against the crop. The untrained model of the same config, scored the same way, is
the floor: a generator that learnt the data's colours and textures fits them in fewer steps.

PSNR, not SWD: inversion is a per-pixel reconstruction, and a handful of crops is enough for a
stable mean (SWD needs hundreds of patches to settle).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from engine.geometry import Rect
from engine.invert import InvertConfig, invert
from engine.metrics.realdata import RealImages
from engine.models.base import Generator
from engine.render import Renderer
from engine.world import World

#: World pixels between the crops' fitting places: far enough apart that no two share latents.
SPACING = 1 << 20


@dataclass(frozen=True)
class InversionOptions:
    crops: int = 3  # held-out crops inverted
    size: int = 64  # their side in pixels
    steps: int = 60  # optimisation steps per crop (the app's default is 300; a CPU ship must stay in minutes)
    seed: int = 0  # which crops, and the worlds they are fitted into


QUICK_INVERSION = InversionOptions(crops=1, size=32, steps=10)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two uint8 images in dB (inf for identical images)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def _to_uint8(crop: torch.Tensor) -> np.ndarray:
    return ((crop.permute(1, 2, 0).numpy() + 1.0) * 127.5).round().clip(0, 255).astype(np.uint8)


def inversion_psnr(
    model: Generator,
    model_name: str,
    data: RealImages,
    options: InversionOptions = InversionOptions(),
    device: str | None = None,
) -> dict[str, Any]:
    """Mean and per-crop PSNR (dB) of inverted held-out crops, as rendered after the fit."""
    # Corner offsets, unlike the SWD's centred crops: each crop is fitted beside the world's row 0,
    # where a row-dependent model draws mid-latitudes, so crops from the map's edge rows (polar ice)
    # would measure the fit of the wrong latitude, and offsets seldom pick them.
    crops = data.crops(options.crops, options.size, seed=options.seed, sampling="offset")
    renderer = Renderer(model, device)
    config = replace(InvertConfig(), steps=options.steps)
    scores, started = [], time.perf_counter()
    for i, crop in enumerate(crops):
        image = _to_uint8(crop)
        at = (i * SPACING, -options.size // 2)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(options.seed + i)
            fresh = World(model=model_name, seed=options.seed + i)
            world = invert(model, fresh, image, at, config, device=renderer.device).world
        (fitted,) = renderer.render(world, [Rect(at[0], at[1], options.size, options.size)])
        scores.append(psnr(fitted, image))
    return {
        "psnr_db": float(np.mean(scores)),
        "per_crop_db": [round(s, 3) for s in scores],
        "crops": options.crops,
        "size": options.size,
        "steps": options.steps,
        "seconds": round(time.perf_counter() - started, 1),
    }
