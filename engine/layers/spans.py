"""Window arithmetic for padding-free networks: which input span yields which output span.

A padding-free layer maps a window of its input grid to a (usually smaller or scaled) window of
its output grid. Stating that map once per layer kind lets a model plan, for any world-aligned
output block, exactly which latent cells and noise cells each stage reads, and how much to crop
after a layer that produced more than the next one needs. Spans are half-open integer intervals
on a stage's own pixel grid; stage grids of scale ``2^k`` share the world origin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch


@dataclass(frozen=True, slots=True)
class Span:
    """Half-open interval ``[start, stop)`` on one axis of a stage grid."""

    start: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start

    def shift(self, delta: int) -> Span:
        return Span(self.start + delta, self.stop + delta)

    def contains(self, other: Span) -> bool:
        return self.start <= other.start and other.stop <= self.stop


class SpanMap(Protocol):
    """How one layer maps windows: ``gives`` forward, ``needs`` backward (the smallest input)."""

    def gives(self, inp: Span) -> Span: ...

    def needs(self, out: Span) -> Span: ...


@dataclass(frozen=True)
class ValidConv:
    """A stride-1 convolution (or blur) of odd size ``kernel`` with no padding."""

    kernel: int

    def gives(self, inp: Span) -> Span:
        r = self.kernel // 2
        return Span(inp.start + r, inp.stop - r)

    def needs(self, out: Span) -> Span:
        r = self.kernel // 2
        return Span(out.start - r, out.stop + r)


@dataclass(frozen=True)
class CropUpsample:
    """Bilinear x2 (align_corners=False) with a 1-pixel crop: ``[a, b) -> [2a+1, 2b-1)``.

    Output pixel ``q`` blends input pixels ``(q-1)//2`` and ``(q-1)//2 + 1``; it depends on
    nothing else, which is what makes the operator consistent (∞-GAN, Theorem 3).
    """

    def gives(self, inp: Span) -> Span:
        return Span(2 * inp.start + 1, 2 * inp.stop - 1)

    def needs(self, out: Span) -> Span:
        return Span((out.start - 1) // 2, (out.stop - 2) // 2 + 2)


@dataclass(frozen=True)
class NearestUpsample:
    """Nearest-neighbour x2: ``[a, b) -> [2a, 2b)``."""

    def gives(self, inp: Span) -> Span:
        return Span(2 * inp.start, 2 * inp.stop)

    def needs(self, out: Span) -> Span:
        return Span(out.start // 2, -((-out.stop) // 2))


def plan_spans(maps: Sequence[SpanMap], out: Span) -> list[Span]:
    """The span each stage must hold so the last stage covers ``out``.

    Returns ``len(maps) + 1`` spans: the input window, then the window to keep after each layer
    (the last equals ``out``). A layer may produce more than the kept window; crop with
    :func:`crop_to`.
    """
    spans = [out]
    for layer in reversed(maps):
        spans.append(layer.needs(spans[-1]))
    return spans[::-1]


def crop_to(x: torch.Tensor, have: tuple[Span, Span], want: tuple[Span, Span]) -> torch.Tensor:
    """Crop an ``(N, C, H, W)`` tensor holding window ``have`` (x-span, y-span) down to ``want``."""
    hx, hy = have
    wx, wy = want
    if not (hx.contains(wx) and hy.contains(wy)):
        raise ValueError(f"cannot crop {have} to {want}: not contained")
    if x.shape[-1] != hx.size or x.shape[-2] != hy.size:
        raise ValueError(f"tensor of size {tuple(x.shape[-2:])} does not hold window {have}")
    x0, y0 = wx.start - hx.start, wy.start - hy.start
    return x[..., y0 : y0 + wy.size, x0 : x0 + wx.size]
