"""Layer-level consistency checks (∞-GAN, Section 4): marginalisation and permutation invariance.

A layer is consistent when its output on a window of its input is exactly the matching window of
its output on the whole input (marginalisation), so outputs of overlapping windows can be pasted
in any order and always rebuild the whole output (permutation invariance). "Matching window" is
the layer's claimed :class:`~engine.layers.spans.SpanMap`: identity for pointwise layers,
``[a, b) -> [a + r, b - r)`` for a valid k×k convolution, ``[a, b) -> [2a + 1, 2b - 1)`` for the
cropped bilinear up-sample. Both checks return the largest absolute error, so a test can assert
both that consistent layers give exactly 0 and that inconsistent ones (padding, instance norm,
uncropped bilinear) give clearly more: the kit is proven able to fail.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import torch

from engine.layers.spans import Span, SpanMap, crop_to

Layer = Callable[[torch.Tensor], torch.Tensor]


def _whole(x: torch.Tensor) -> tuple[Span, Span]:
    return Span(0, x.shape[-1]), Span(0, x.shape[-2])


def _apply(layer: Layer, span_map: SpanMap, x: torch.Tensor, window: tuple[Span, Span]) -> torch.Tensor:
    """``layer`` on the input window ``window`` (x-span, y-span) of ``x``; checks the claimed size."""
    part = crop_to(x, _whole(x), window)
    with torch.no_grad():
        out = layer(part)
    want = span_map.gives(window[0]).size, span_map.gives(window[1]).size
    if tuple(out.shape[-1:-3:-1]) != want:
        raise AssertionError(f"layer gave {tuple(out.shape[-2:])} for window {window}, its map claims {want[::-1]}")
    return out


def marginalisation_error(layer: Layer, span_map: SpanMap, x: torch.Tensor, windows: list[tuple[Span, Span]]) -> float:
    """Largest |layer(x[window]) - layer(x)[map(window)]| over ``windows``."""
    full = _apply(layer, span_map, x, _whole(x))
    have = span_map.gives(_whole(x)[0]), span_map.gives(_whole(x)[1])
    error = 0.0
    for window in windows:
        part = _apply(layer, span_map, x, window)
        ref = crop_to(full, have, (span_map.gives(window[0]), span_map.gives(window[1])))
        error = max(error, float((part - ref).abs().max()))
    return error


def random_windows(x: torch.Tensor, count: int, size: int, rng: random.Random) -> list[tuple[Span, Span]]:
    """``count`` square windows of side ``size`` at random positions inside ``x``."""
    h, w = x.shape[-2:]
    out = []
    for _ in range(count):
        sx, sy = rng.randrange(w - size + 1), rng.randrange(h - size + 1)
        out.append((Span(sx, sx + size), Span(sy, sy + size)))
    return out


def stitching_error(
    layer: Layer, span_map: SpanMap, x: torch.Tensor, size: int, stride: int, rng: random.Random
) -> float:
    """Paste outputs of overlapping ``size`` windows at ``stride``, in random order, into a canvas.

    Returns the largest disagreement, either between a window and the pixels already pasted by
    its neighbours (order dependence) or between the finished canvas and the whole output. Only
    the part of the canvas covered by some window is compared.
    """
    full = _apply(layer, span_map, x, _whole(x))
    have = span_map.gives(_whole(x)[0]), span_map.gives(_whole(x)[1])
    h, w = x.shape[-2:]
    starts_x, starts_y = range(0, w - size + 1, stride), range(0, h - size + 1, stride)
    windows = [(Span(sx, sx + size), Span(sy, sy + size)) for sy in starts_y for sx in starts_x]
    rng.shuffle(windows)
    canvas = torch.zeros_like(full)
    filled = torch.zeros(full.shape[-2:], dtype=torch.bool)
    error = 0.0
    for window in windows:
        part = _apply(layer, span_map, x, window)
        ox, oy = span_map.gives(window[0]), span_map.gives(window[1])
        x0, y0 = ox.start - have[0].start, oy.start - have[1].start
        region = (..., slice(y0, y0 + oy.size), slice(x0, x0 + ox.size))
        mask = filled[y0 : y0 + oy.size, x0 : x0 + ox.size]
        if mask.any():
            error = max(error, float((canvas[region] - part).abs()[..., mask].max()))
        canvas[region] = part
        filled[y0 : y0 + oy.size, x0 : x0 + ox.size] = True
    if not filled.any():
        raise AssertionError("no window fits the input")
    return max(error, float((canvas - full).abs()[..., filled].max()))
