"""Style-modulated, padding-free convolution (StyleGAN2), with per-sample or per-pixel styles.

The input is scaled by the style before a convolution with one shared weight, instead of building
a weight per sample and running a grouped convolution. The two are equal mathematically; this
form keeps the convolution batch-invariant, and it takes a style *map* just as easily, which is
what spatial style fusion (InfinityGAN) and spatially-aligned modulation (ALIS) need.

Demodulation, when on, divides each output channel by the norm the modulated weight would have;
with a style map it is computed per output pixel from the style at that pixel's window centre.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from engine.layers.basic import linear_rows


class ModulatedConv2d(nn.Module):
    """Valid convolution of ``x * style``; ``style`` is ``(N, C_in)`` or ``(N, C_in, H, W)``.

    Shapes: ``x`` (N, C_in, H, W) -> (N, C_out, H - k + 1, W - k + 1).
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel: int, demodulate: bool = True, eps: float = 1e-8
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.scale = 1.0 / math.sqrt(in_channels * kernel * kernel)
        self.demodulate = demodulate
        self.eps = eps
        self.kernel = kernel

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        weight = self.weight * self.scale
        per_pixel = style.ndim == 4
        modulated = x * (style if per_pixel else style[:, :, None, None])
        out = F.conv2d(modulated, weight)
        if not self.demodulate:
            return out
        weight_sq = weight.pow(2).sum(dim=(2, 3))  # (C_out, C_in)
        if per_pixel:
            r = self.kernel // 2
            centre = style[..., r : style.shape[-2] - r, r : style.shape[-1] - r]
            norm = F.conv2d(centre.pow(2), weight_sq[:, :, None, None])
        else:
            norm = linear_rows(style.pow(2), weight_sq)[:, :, None, None]
        return out * torch.rsqrt(norm + self.eps)

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return f"{i} -> {o}, kernel={k}, demodulate={self.demodulate}"
