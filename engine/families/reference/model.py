"""A tiny consistent reference generator, to test the engine core before the real families.

It is the smallest network that exercises every consistency mechanism the real families rely
on: a latent field on a coarse lattice, padding-free 3x3 convolutions, two cropped bilinear
up-samplings, per-level noise read from fields, a global style vector, and window planning with
crops. It is trainable (it is a real, if weak, generator), but it exists for tests and benchmarks.

Stages (scale = world pixels per cell):  z (scale 4) -> conv3 -> up -> +noise -> conv3 (scale 2)
-> up -> +noise -> conv3 -> conv1 -> RGB (scale 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from engine.fields import LatentSource
from engine.geometry import Lattice, Rect
from engine.layers import (
    CropUpsample,
    EqualConv2d,
    EqualLinear,
    NoiseInjection,
    Span,
    ValidConv,
    crop_upsample,
    fused_leaky_relu,
    plan_spans,
)
from engine.layers.spans import crop_to
from engine.models.base import FieldSpec, Generator, config_from_document
from engine.styles import StyleLayout


@dataclass(frozen=True)
class ReferenceConfig:
    latent_channels: int = 8  # channels of the z field
    channels: int = 16  # feature width
    style_dim: int = 16  # global style vector size
    block: int = 64  # output block side (multiple of 4)


CONFIGS = {"tiny": ReferenceConfig(), "wide": ReferenceConfig(channels=48, block=128)}
TEST_CONFIGS = ("tiny",)

# The layer chain as window maps, one entry per spatial layer, in forward order.
_CHAIN = (ValidConv(3), CropUpsample(), ValidConv(3), CropUpsample(), ValidConv(3))
_SCALE = 4  # world pixels per z cell


def config_from_dict(doc: dict[str, Any]) -> ReferenceConfig:
    return config_from_document(ReferenceConfig, doc)


def build(config: ReferenceConfig) -> ReferenceGenerator:
    return ReferenceGenerator(config)


class ReferenceGenerator(Generator):
    family = "reference"

    def __init__(self, config: ReferenceConfig) -> None:
        super().__init__(config)
        c = config.channels
        self.style = EqualLinear(config.style_dim, c, bias_init=0.0)
        self.conv0 = EqualConv2d(config.latent_channels, c, 3)
        self.noise1 = NoiseInjection()
        self.conv1 = EqualConv2d(c, c, 3)
        self.noise2 = NoiseInjection()
        self.conv2 = EqualConv2d(c, c, 3)
        self.to_rgb = EqualConv2d(c, 3, 1)

    def block_size(self, level: int = 0) -> int:
        self.check_level(level)
        return self.config.block

    def _spans(self, origin: int) -> list[Span]:
        return plan_spans(_CHAIN, Span(origin, origin + self.config.block))

    def field_specs(self, level: int = 0) -> tuple[FieldSpec, ...]:
        self.check_level(level)
        spans = self._spans(0)
        block = self.config.block

        def margin(span: Span, scale: int) -> int:
            return max(-span.start, span.stop - block // scale)

        return (
            FieldSpec("z", self.config.latent_channels, Lattice(_SCALE, margin(spans[0], 4))),
            FieldSpec("noise1", 1, Lattice(2, margin(spans[2], 2))),
            FieldSpec("noise2", 1, Lattice(1, margin(spans[4], 1))),
        )

    def render_blocks(
        self,
        origins: Sequence[tuple[int, int]],
        source: LatentSource,
        styles: StyleLayout,
        level: int = 0,
    ) -> torch.Tensor:
        self.check_level(level)
        plans = [(self._spans(ox), self._spans(oy)) for ox, oy in origins]

        def cells(stage: int) -> list[Rect]:
            return [Rect(px[stage].start, py[stage].start, px[stage].size, py[stage].size) for px, py in plans]

        def window(stage: int) -> tuple[Span, Span]:
            # All blocks share their windows up to a translation; the crop is the same for all.
            px, py = plans[0]
            return px[stage], py[stage]

        centre = styles.resolved(source.seed)[0]
        z_style = source.vector("reference.style", centre.seed, self.config.style_dim)
        bias = self.style(z_style[None])[0]  # (C,)

        x = source.read("z", self.config.latent_channels, cells(0))
        x = fused_leaky_relu(self.conv0(x), bias)  # stage 1, scale 4
        x = crop_upsample(x)  # scale 2
        x = crop_to(x, _gives(_CHAIN[1], window(1)), window(2))
        x = self.noise1(x, source.read("noise1", 1, cells(2)))
        x = fused_leaky_relu(self.conv1(x))  # stage 3
        x = crop_upsample(x)  # scale 1
        x = crop_to(x, _gives(_CHAIN[3], window(3)), window(4))
        x = self.noise2(x, source.read("noise2", 1, cells(4)))
        x = fused_leaky_relu(self.conv2(x))  # stage 5 == the block
        return torch.tanh(self.to_rgb(x))


def _gives(layer: CropUpsample, have: tuple[Span, Span]) -> tuple[Span, Span]:
    return layer.gives(have[0]), layer.gives(have[1])


def real_crop_size(config: ReferenceConfig) -> int:
    """Side of the crops the discriminator sees: one block."""
    return config.block
