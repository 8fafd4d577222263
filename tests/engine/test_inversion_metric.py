"""The held-out inversion check on model cards: PSNR of what the canvas shows after fitting a crop."""

import math

import numpy as np
import pytest

from engine.metrics.inversion import InversionOptions, inversion_psnr, psnr
from engine.metrics.realdata import RealImages
from engine.models.registry import build_random


def test_psnr_of_known_errors():
    a = np.zeros((4, 4, 3), dtype=np.uint8)
    assert psnr(a, a) == math.inf
    assert psnr(a, a + 1) == pytest.approx(20 * math.log10(255))  # MSE 1
    assert psnr(a, a + 255) == pytest.approx(0.0)


def test_fitting_longer_reproduces_held_out_crops_better():
    rng = np.random.default_rng(0)
    # A smooth two-colour image, like terrain at this scale: reachable by a tiny model.
    ramp = np.linspace(0, 1, 96)[None, :, None]
    image = (40 + 150 * ramp * np.array([1.0, 0.6, 0.2]) + rng.normal(0, 4, (96, 96, 3))).clip(0, 255)
    data = RealImages([image.astype(np.uint8)], "ramp")
    model = build_random("reference", "tiny")
    short = inversion_psnr(model, "reference:tiny", data, InversionOptions(crops=2, size=24, steps=1))
    long = inversion_psnr(model, "reference:tiny", data, InversionOptions(crops=2, size=24, steps=40))
    assert len(long["per_crop_db"]) == 2 and (long["crops"], long["size"], long["steps"]) == (2, 24, 40)
    assert long["psnr_db"] > short["psnr_db"] + 3  # dB: the fit is scored on the rendered world
