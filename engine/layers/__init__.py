"""Shared, consistency-safe building blocks for every generator family.

Every layer here is a function of its input window alone (no padding, no statistics over space,
no hidden randomness) and gives bit-identical results whatever the batch it runs in on CPU. The
families build on these instead of writing their own; the consistency kit proves each model.
"""

from engine.layers.basic import (
    EqualConv2d,
    EqualLinear,
    NoiseInjection,
    crop_upsample,
    fused_leaky_relu,
    linear_rows,
    pixel_norm,
)
from engine.layers.coords import periodic_features, periodic_phase
from engine.layers.modulated import ModulatedConv2d
from engine.layers.spans import CropUpsample, NearestUpsample, Span, SpanMap, ValidConv, plan_spans

__all__ = [
    "CropUpsample",
    "EqualConv2d",
    "EqualLinear",
    "ModulatedConv2d",
    "NearestUpsample",
    "NoiseInjection",
    "Span",
    "SpanMap",
    "ValidConv",
    "crop_upsample",
    "fused_leaky_relu",
    "linear_rows",
    "periodic_features",
    "periodic_phase",
    "pixel_norm",
    "plan_spans",
]
