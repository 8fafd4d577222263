"""Padding-free x2 up-sampling by transposed convolution, cropped to its complete outputs.

A stride-2 transposed convolution with a 3-tap kernel sends input pixel ``i`` to output pixels
``2i, 2i+1, 2i+2``. Its first and last outputs receive only one input's contribution (the other
would come from beyond the window), so they depend on where the window was cut; dropping one
pixel on each side keeps exactly the outputs whose whole receptive field is inside the window:
``[a, b) -> [2a+1, 2b)``, ``n -> 2n - 1``. Output index ``2i + t`` is the same for every window,
so the operator is consistent (a value depends on its receptive field only). The InfinityGAN
texture synthesizer uses it for its modulated up-convolutions and for its skip path, followed by
the valid ``[1, 2, 1]`` blur (``n -> n - 2``), which keeps sizes odd.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.layers.basic import linear_rows
from engine.layers.spans import Span


@dataclass(frozen=True)
class TransposedUp:
    """Window map of a cropped stride-2, 3-tap transposed convolution: ``[a, b) -> [2a+1, 2b)``."""

    def gives(self, inp: Span) -> Span:
        return Span(2 * inp.start + 1, 2 * inp.stop)

    def needs(self, out: Span) -> Span:
        return Span((out.start - 1) // 2, -((-out.stop) // 2))


@dataclass(frozen=True)
class PairBox:
    """Window map of :func:`box2`: ``[a, b) -> [a, b - 1)`` (output ``i`` averages ``i`` and ``i + 1``)."""

    def gives(self, inp: Span) -> Span:
        return Span(inp.start, inp.stop - 1)

    def needs(self, out: Span) -> Span:
        return Span(out.start, out.stop + 1)


def box2(x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """Valid 2x2 box filter times ``gain``: (N, C, H, W) -> (N, C, H - 1, W - 1).

    After a stride-2 transposed 3-tap conv (taps ``w0 w1 w2``) it makes the composite kernel
    ``w0, w0+w1, w1+w2, w2``: four taps at stride 2, so every output pixel sums exactly two inputs
    per axis (no checkerboard), as StyleGAN2's 4-tap up-sampling filter does, at one pixel of
    margin per stage instead of the 3-tap blur's two. Written as element-wise adds in a fixed
    order (as ``crop_upsample``), so any window gives the same bits.
    """
    x = x[..., :, :-1] + x[..., :, 1:]
    x = x[..., :-1, :] + x[..., 1:, :]
    return x * (gain / 4.0)


def _kernel_121(channels: int, gain: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Depthwise ``[1,2,1] x [1,2,1] / 16 * gain`` kernel, shape (C, 1, 3, 3)."""
    k = torch.tensor([1.0, 2.0, 1.0], device=device, dtype=dtype)
    k2 = (k[:, None] * k[None, :]) * (gain / 16.0)
    return k2.expand(channels, 1, 3, 3).contiguous()


def blur121(x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """Valid ``[1, 2, 1]`` blur per channel: (N, C, H, W) -> (N, C, H - 2, W - 2)."""
    return F.conv2d(x, _kernel_121(x.shape[1], gain, x.device, x.dtype), groups=x.shape[1])


def linear_up(x: torch.Tensor) -> torch.Tensor:
    """Fixed x2 linear up-sampling as a cropped transposed conv: (N, C, H, W) -> (N, C, 2H-1, 2W-1).

    Odd outputs copy their input, even ones average two neighbours (the ``[1,2,1]/2`` kernel per
    axis): the skip path's up-sampling, and the demodulation map's for per-pixel styles.
    """
    kernel = _kernel_121(x.shape[1], 4.0, x.device, x.dtype)
    up = F.conv_transpose2d(x, kernel, stride=2, groups=x.shape[1])
    return up[..., 1:-1, 1:-1]


class ModulatedConvTranspose2d(nn.Module):
    """Modulated (optionally demodulated) 3x3 stride-2 transposed conv, cropped: n -> 2n - 1.

    ``style`` is per sample ``(N, C_in)`` or per pixel ``(N, C_in, H, W)`` on the input grid.
    As in :class:`~engine.layers.modulated.ModulatedConv2d` the input is scaled by the style and
    convolved with one shared weight (batch-invariant). With per-pixel styles the demodulation
    norm is computed on the input grid and carried to the output grid by :func:`linear_up`, so a
    spatially constant style gives the per-sample norm (the up-sampled copies and averages of
    equal numbers are exact).
    """

    def __init__(self, in_channels: int, out_channels: int, demodulate: bool = True, eps: float = 1e-8) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_channels, out_channels, 3, 3))
        self.scale = 1.0 / math.sqrt(in_channels * 9)
        self.demodulate = demodulate
        self.eps = eps

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        weight = self.weight * self.scale  # (C_in, C_out, 3, 3)
        per_pixel = style.ndim == 4
        modulated = x * (style if per_pixel else style[:, :, None, None])
        out = F.conv_transpose2d(modulated, weight, stride=2)[..., 1:-1, 1:-1]  # (N, C_out, 2H-1, 2W-1)
        if not self.demodulate:
            return out
        weight_sq = weight.pow(2).sum(dim=(2, 3)).t()  # (C_out, C_in)
        if per_pixel:
            norm = linear_up(F.conv2d(style.pow(2), weight_sq[:, :, None, None]))
        else:
            norm = linear_rows(style.pow(2), weight_sq)[:, :, None, None]
        return out * torch.rsqrt(norm + self.eps)

    def extra_repr(self) -> str:
        i, o, _, _ = self.weight.shape
        return f"{i} -> {o}, kernel=3, stride=2, demodulate={self.demodulate}"
