"""∞-GAN's theory made executable.

(a) Every layer kind the ∞-GAN model is built from passes marginalisation consistency and
    permutation invariance in float64 on CPU (the paper's test protocol), up to round-off
    (``TOLERANCE``, 1e-9): the summation order of a convolution may depend on the input's size
    (MKL's float64 conv on an AVX-512 EPYC: a few ulp, 3.6e-15 measured; exact on other
    machines), while every inconsistent layer below misses by more than 1e-3. In float32 torch's
    vectorised kernels may round a pixel differently depending on where it falls in a row
    (bilinear: up to 5e-7), which is harmless for the model: it renders every block with the
    same shapes, and the consistency kit checks its pixels bit-exactly.
(b) The same checks FAIL for a zero-padded conv, instance norm and uncropped bilinear up-sampling
    (and a few more of the paper's inconsistent layers), so the checks can fail.
(c) Theorem 1: the measured crop-and-stitch waste of a padded twin equals the paper's bound, and
    ∞-GAN's consistent twin wastes nothing.
"""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from engine.bench.infgan import TOLERANCE, measure_redundancy, theorem1_bound
from engine.layers import CropUpsample, EqualConv2d, NearestUpsample, ValidConv, crop_upsample, fused_leaky_relu
from engine.layers.basic import pixel_norm
from engine.layers.napn import NoisyAdaPixNorm
from engine.models.registry import build_random
from tests.layer_consistency import marginalisation_error, random_windows, stitching_error

C = 6
POINTWISE = ValidConv(1)  # the identity window map


def _napn() -> torch.nn.Module:
    layer = NoisyAdaPixNorm(C)
    with torch.no_grad():  # non-trivial affine and noise strength
        for p in layer.parameters():
            p.copy_(torch.randn_like(p))
    return layer


def _model_layers() -> dict[str, tuple]:
    torch.manual_seed(0)
    conv3, conv1 = EqualConv2d(C, C, 3).double(), EqualConv2d(C, 3, 1).double()
    napn = _napn().double()
    return {
        "valid conv 3x3": (conv3, ValidConv(3)),
        "to-RGB conv 1x1": (conv1, POINTWISE),
        "leaky relu": (fused_leaky_relu, POINTWISE),
        "tanh": (torch.tanh, POINTWISE),
        "pixel norm": (pixel_norm, POINTWISE),
        # The last input channel is the layer's noise: NAPN must be a function of (features, noise) windows.
        "noisy adapixnorm": (lambda x: napn(x[:, :-1], x[:, -1:]), POINTWISE),
        "bilinear x2 + crop": (crop_upsample, CropUpsample()),
        "nearest x2": (lambda x: F.interpolate(x, scale_factor=2, mode="nearest"), NearestUpsample()),
    }


def _inconsistent_layers() -> dict[str, tuple]:
    torch.manual_seed(0)
    weight = torch.randn(C, C, 3, 3, dtype=torch.float64) / 3
    return {
        "zero-padded conv": (lambda x: F.conv2d(x, weight, padding=1), POINTWISE),
        "reflect-padded conv": (lambda x: F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), weight), POINTWISE),
        "instance norm": (F.instance_norm, POINTWISE),
        "uncropped bilinear x2": (
            lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False),
            NearestUpsample(),
        ),
        "bilinear x2 align_corners=True + crop": (
            lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)[..., 1:-1, 1:-1],
            CropUpsample(),
        ),
    }


def _input() -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.randn(2, C + 1, 40, 40, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("name", list(_model_layers()))
def test_model_layers_are_consistent(name):
    layer, span_map = _model_layers()[name]
    x = _input() if name == "noisy adapixnorm" else _input()[:, :C]
    rng = random.Random(name)
    assert marginalisation_error(layer, span_map, x, random_windows(x, 8, 13, rng)) <= TOLERANCE
    assert stitching_error(layer, span_map, x, size=12, stride=7, rng=rng) <= TOLERANCE


@pytest.mark.parametrize("name", list(_inconsistent_layers()))
def test_inconsistent_layers_fail_the_same_checks(name):
    layer, span_map = _inconsistent_layers()[name]
    x = _input()[:, :C]
    rng = random.Random(name)
    assert marginalisation_error(layer, span_map, x, random_windows(x, 8, 13, rng)) > 1e-3
    assert stitching_error(layer, span_map, x, size=12, stride=7, rng=rng) > 1e-3


def test_model_uses_only_checked_layer_kinds():
    """If someone adds a layer kind to the model, this test asks for it to be checked above."""
    model = build_random("infgan", "tiny")
    kinds = {type(m).__name__ for m in model.modules()}
    assert kinds <= {"InfGANGenerator", "NAPNBlock", "EqualConv2d", "NoisyAdaPixNorm", "ModuleList"}, kinds
    assert all(m.padding == 0 for m in model.modules() if isinstance(m, EqualConv2d))


@pytest.mark.parametrize(("levels", "n"), [(2, 8), (3, 6), (3, 12)])
def test_padded_twin_waste_matches_theorem1(levels, n):
    report = measure_redundancy(levels, n, padded=True)
    assert report["band_px"] == 2**levels - 1  # Lemma A.1, measured from the differing pixels
    assert report["overlap_latent"] == 2  # Lemma A.2
    assert report["stitch_error"] <= TOLERANCE  # discarding the measured band does rebuild the full render
    assert report["stitch_error_band_minus_1"] > 1e-3  # and discarding less does not
    assert report["waste"] == pytest.approx(theorem1_bound(levels, 2**levels * n))


def test_consistent_twin_wastes_nothing():
    report = measure_redundancy(3, 6, padded=False)
    assert report["band_px"] == 0 and report["overlap_latent"] == 0 and report["waste"] == 0.0
    assert report["stitch_error"] <= TOLERANCE
