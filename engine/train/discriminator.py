"""StyleGAN2 residual discriminator for any square input size ≥ 16, with an optional auxiliary head.

Unlike generators, a discriminator never tiles, so it may zero-pad. Odd sizes are handled by the
down-sampling arithmetic alone: a [1,3,3,1] blur padded to ``n + 1`` followed by a 3×3 stride-2
conv gives ``floor(n / 2)``, and the skip path (blur to ``n - 1``, 1×1 stride 2) gives the same,
so 101 -> 50 -> 25 -> 12 -> 6 -> 3 (InfinityGAN's chain) and 64 -> 32 -> 16 -> 8 -> 4. Blocks
halve the size while the result stays ≥ 3.

Widths: ``channels(size) = clamp(channel_base // size, 1, max_channels)``, the StyleGAN2 rule
extended to non-powers of two (a table you can print: :meth:`Discriminator.extra_repr`).

Output: ``forward(x, rows=None) -> (logits (N,), aux (N, k) or None)``. The aux head (InfinityGAN's
vertical-position regressor) shares the trunk and has its own two-layer MLP.

A critic built with ``row_frequencies > 0`` is *conditional* on where each input lies (its vertical
position in [-1, 1], a map's latitude): a projection term (Miyato and Koyama, 2018) adds
``<embed(row), h>`` to the logit, ``h`` the head's hidden features and ``embed`` one linear layer of
Fourier features of the row. Why: an unconditional critic compares fakes and reals as wholes, so a
generator that draws ocean at the pole where the map has ice is fake only if the ocean looks
fake; an auxiliary position regressor only pulls fakes towards content that *says* a latitude,
and its gradient cannot lead a generator from ocean to a distant mode like ice. Conditioned, ocean at the pole is
improbable among reals there, so it is fake. The logistic loss only: WGAN-GP's penalty scores
mixtures of reals and fakes, which have no one row. The embedding starts at zero, so a trained critic
without it loads unchanged and scores as before until it learns the rows (:data:`GROWN_PARTS`).
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

from engine.layers import EqualConv2d, fused_leaky_relu

_BLUR = (1.0, 3.0, 3.0, 1.0)


class Dense(nn.Module):
    """Equalised-lr linear layer using ``F.linear``: D is never tiled, so no batch-invariance
    is needed, and ``linear_rows`` would cost N×out×in memory on D's 4608-wide features."""

    def __init__(self, in_features: int, out_features: int, activation: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.scale = 1.0 / math.sqrt(in_features)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.linear(x, self.weight * self.scale)
        return fused_leaky_relu(out, self.bias) if self.activation else out + self.bias


class Blur(nn.Module):
    """Depthwise [1,3,3,1]² low-pass with explicit (before, after) zero padding per side."""

    def __init__(self, pad: tuple[int, int]) -> None:
        super().__init__()
        k = torch.tensor(_BLUR)
        k = k[:, None] * k[None, :]
        self.register_buffer("kernel", (k / k.sum())[None, None], persistent=False)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        x = F.pad(x, (self.pad[0], self.pad[1], self.pad[0], self.pad[1]))
        return F.conv2d(x, self.kernel.to(x.dtype).expand(c, 1, 4, 4), groups=c)


class DownConv(nn.Module):
    """Blur then a stride-2 equalised conv: ``n -> floor(n / 2)`` for any n (see module doc)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, bias: bool = True) -> None:
        super().__init__()
        pad = (len(_BLUR) - 2) + (kernel - 1)  # 4 for 3×3 (-> n+1), 2 for 1×1 (-> n-1)
        self.blur = Blur(((pad + 1) // 2, pad // 2))
        self.conv = EqualConv2d(in_channels, out_channels, kernel, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blur(x)
        return F.conv2d(x, self.conv.weight * self.conv.scale, self.conv.bias, stride=2)


class ResBlock(nn.Module):
    """conv3×3 -> down-conv3×3, plus a blurred 1×1 stride-2 skip; summed with 1/√2 gain."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = EqualConv2d(in_channels, in_channels, 3, padding=1)
        self.conv2 = DownConv(in_channels, out_channels, 3)
        self.skip = DownConv(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = fused_leaky_relu(self.conv1(x))
        out = fused_leaky_relu(self.conv2(out))
        return (out + self.skip(x)) / math.sqrt(2.0)


def minibatch_stddev(x: torch.Tensor, group_size: int) -> torch.Tensor:
    """Append one channel: the std over a group of samples, averaged over C, H, W.

    The group is the largest divisor of N not above ``group_size`` (so any batch size works).
    """
    n, c, h, w = x.shape
    g = max(d for d in range(1, min(group_size, n) + 1) if n % d == 0)
    y = x.float().reshape(g, n // g, c, h, w)  # [G, M, C, H, W]
    y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt()  # [M, C, H, W]
    y = y.mean(dim=(1, 2, 3))  # [M]
    y = y.repeat(g).reshape(n, 1, 1, 1).expand(n, 1, h, w).to(x.dtype)
    return torch.cat([x, y], dim=1)


def block_sizes(size: int) -> list[int]:
    """Feature sizes from the input down to the last block's output: e.g. 101 -> [101, 50, ..., 3]."""
    if size < 16:
        raise ValueError(f"discriminator input must be at least 16 px, not {size}")
    sizes = [size]
    while sizes[-1] // 2 >= 3:
        sizes.append(sizes[-1] // 2)
    return sizes


#: Parameter prefixes a critic may lack when loaded into one that has them: the row projection
#: (zero-initialised), so the loaded critic's scores are unchanged and a trained critic can grow
#: into a conditional one.
GROWN_PARTS = ("row_embed.",)


def row_features(rows: torch.Tensor, frequencies: int) -> torch.Tensor:
    """``(N,) -> (N, 1 + 2F)``: the row and its cos/sin at frequencies ``pi * 1 .. F`` (float32)."""
    y = rows.float()[:, None]
    k = torch.arange(1, frequencies + 1, device=rows.device, dtype=torch.float32)[None] * math.pi
    return torch.cat([y, torch.cos(k * y), torch.sin(k * y)], dim=1)


class Discriminator(nn.Module):
    """Residual StyleGAN2 D for ``size × size`` RGB inputs; see the module docstring."""

    def __init__(
        self,
        size: int,
        channel_base: int = 16384,  # width at feature size s is channel_base // s ...
        max_channels: int = 512,  # ... capped here
        mbstd_group: int = 4,  # samples per minibatch-stddev group
        aux_outputs: int = 0,  # k > 0 adds an auxiliary regression head with k outputs
        row_frequencies: int = 0,  # F > 0: conditional on each input's row (see the module docstring)
    ) -> None:
        super().__init__()
        self.size = size
        self.mbstd_group = mbstd_group
        self.sizes = block_sizes(size)
        widths = [max(1, min(channel_base // s, max_channels)) for s in self.sizes]
        self.widths = widths
        self.from_rgb = EqualConv2d(3, widths[0], 1)
        self.blocks = nn.ModuleList(ResBlock(a, b) for a, b in itertools.pairwise(widths))
        c, s = widths[-1], self.sizes[-1]
        self.final_conv = EqualConv2d(c + 1, c, 3, padding=1)
        self.head = nn.Sequential(Dense(c * s * s, c, activation=True), Dense(c, 1))
        self.aux_head = (
            nn.Sequential(Dense(c * s * s, c, activation=True), Dense(c, aux_outputs)) if aux_outputs else None
        )
        self.row_frequencies = row_frequencies
        self.row_embed = Dense(1 + 2 * row_frequencies, c) if row_frequencies else None
        if self.row_embed is not None:
            nn.init.zeros_(self.row_embed.weight)  # starts unconditional: see GROWN_PARTS

    def forward(self, x: torch.Tensor, rows: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        if x.shape[1:] != (3, self.size, self.size):
            raise ValueError(f"discriminator expects (N, 3, {self.size}, {self.size}), got {tuple(x.shape)}")
        self._check_rows(rows)
        out = fused_leaky_relu(self.from_rgb(x))  # [N, C0, S, S]
        for block in self.blocks:
            out = block(out)  # [N, Ci, S/2^i, S/2^i]
        out = minibatch_stddev(out, self.mbstd_group)  # [N, C+1, s, s]
        out = fused_leaky_relu(self.final_conv(out)).flatten(1)  # [N, C*s*s]
        hidden = self.head[0](out)  # [N, C]
        logits = self.head[1](hidden).squeeze(1)  # [N]
        if self.row_embed is not None and rows is not None:
            embed = self.row_embed(row_features(rows, self.row_frequencies).to(hidden.dtype))  # [N, C]
            logits = logits + (embed * hidden).sum(1)
        aux = self.aux_head(out) if self.aux_head is not None else None  # [N, k]
        return logits, aux

    def _check_rows(self, rows: torch.Tensor | None) -> None:
        if (rows is None) != (self.row_embed is None):
            raise ValueError("a conditional critic needs its inputs' rows, and only it takes them")

    def extra_repr(self) -> str:
        table = ", ".join(f"{s}px:{c}" for s, c in zip(self.sizes, self.widths))
        return f"size={self.size}, widths=[{table}], mbstd_group={self.mbstd_group}"
