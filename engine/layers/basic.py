"""Elementary consistent layers: equalised linear/conv, activation, noise, up-sampling, pixel norm.

Why ``linear_rows``: on CPU, ``torch.nn.functional.linear`` picks a different BLAS kernel for one
row than for many (gemv vs gemm), so a style vector computed in a batch of 7 differs in its last
bits from the same vector computed alone, and tiles rendered in different batches would not be
bit-identical. A broadcast multiply-and-sum reduces every row the same way whatever the batch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def linear_rows(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``x @ weight.T + bias`` computed row by row, so each row's result ignores the batch.

    Shapes: ``x`` (N, I), ``weight`` (O, I) -> (N, O). Memory is N*O*I: meant for style vectors,
    not feature maps (convolutions are batch-invariant already).
    """
    out = (x[:, None, :] * weight[None, :, :]).sum(-1)
    return out if bias is None else out + bias


class EqualLinear(nn.Module):
    """Linear layer with equalised learning rate (weights scaled at run time, as in StyleGAN)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias_init: float = 0.0,
        lr_mul: float = 1.0,
        activation: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = linear_rows(x, self.weight * self.scale, self.bias * self.lr_mul)
        return fused_leaky_relu(out) if self.activation else out

    def extra_repr(self) -> str:
        out_f, in_f = self.weight.shape
        return f"{in_f} -> {out_f}, lr_mul={self.lr_mul}, activation={self.activation}"


class EqualConv2d(nn.Module):
    """Convolution with equalised learning rate and NO padding by default (padding breaks seams)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, bias: bool = True, padding: int = 0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = 1.0 / math.sqrt(in_channels * kernel * kernel)
        self.padding = padding  # only discriminators may pad: they never tile

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return f"{i} -> {o}, kernel={k}, padding={self.padding}"


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor | None = None, slope: float = 0.2) -> torch.Tensor:
    """StyleGAN's bias + leaky ReLU + sqrt(2) gain (keeps activations' variance near 1).

    Without autograd (rendering) the activation and gain work in place on the biased copy: the same
    arithmetic, so the same bits, with two fewer full-size tensors written per layer.
    """
    if bias is not None:
        x = x + bias.view(1, -1, *([1] * (x.ndim - 2)))
    if bias is not None and not (torch.is_grad_enabled() and x.requires_grad):
        return F.leaky_relu_(x, slope).mul_(math.sqrt(2.0))
    return F.leaky_relu(x, slope) * math.sqrt(2.0)


def crop_upsample(x: torch.Tensor) -> torch.Tensor:
    """Bilinear x2 then drop the 1-pixel border that depends on edge clamping: n -> 2n - 2.

    Equal to ``F.interpolate(x, scale_factor=2, mode="bilinear")[..., 1:-1, 1:-1]`` up to rounding,
    but written as element-wise blends, ``y[2i] = 3/4 x[i] + 1/4 x[i+1]`` and
    ``y[2i+1] = 1/4 x[i] + 3/4 x[i+1]`` per axis, because torch's interpolation kernel rounds a
    pixel differently depending on the window's width and strides (measured: 5e-7 in float32,
    1e-16 in float64), so a crop's up-sample was not bit-identical to the up-sample's crop. The
    blends fix each pixel's arithmetic, so any window gives the same bits.
    """
    return _blend_x2(_blend_x2(x, x.ndim - 1), x.ndim - 2)


def _blend_x2(x: torch.Tensor, dim: int) -> torch.Tensor:
    """One axis of :func:`crop_upsample`: size n -> 2n - 2 along ``dim``."""
    a, b = x.narrow(dim, 0, x.shape[dim] - 1), x.narrow(dim, 1, x.shape[dim] - 1)
    pair = torch.stack((a * 0.75 + b * 0.25, a * 0.25 + b * 0.75), dim=dim + 1)
    return pair.flatten(dim, dim + 1)


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Normalise each pixel's feature vector over channels (dim 1): a per-position statistic only.

    The sum over channels is an explicit chain of element-wise adds, not ``mean(dim=1)``: torch's
    vectorised reduction groups its additions by the tensor's width and strides, so a pixel of a
    crop got different low bits than the same pixel of the whole map (measured: up to 1e-6).
    Element-wise adds fix the order per pixel, so any window gives bit-identical values (and it is
    no slower for the narrow maps generators use).

    The chain is only the forward: recorded by autograd it was C nodes per call, and on full-size
    maps (ALIS's variance blend, ∞-GAN's AdaPixNorm) its backward cost more than the convolutions'
    (ALIS ``small``: 2.2 s against 0.85 s per batch of four). :class:`_PixelNorm` gives the
    gradient in closed form instead, with vectorised ops (gradients need no bit-exactness).
    """
    return _PixelNorm.apply(x, eps)


class _PixelNorm(torch.autograd.Function):
    """``y = x * r``, ``r = (mean_c x^2 + eps)^-1/2``; ``dx = r * (g - y * mean_c(g * y))``.

    The backward is written in differentiable ops on the saved input, so double backward (the
    path-length regulariser's ``create_graph``) works too.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, eps: float) -> torch.Tensor:
        acc = x[:, :1].square()
        for c in range(1, x.shape[1]):
            acc = acc + x[:, c : c + 1].square()
        ctx.save_for_backward(x)
        ctx.eps = eps
        return x * torch.rsqrt(acc / x.shape[1] + eps)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        r = torch.rsqrt(x.square().mean(dim=1, keepdim=True) + ctx.eps)
        y = x * r
        return r * (grad - y * (grad * y).mean(dim=1, keepdim=True)), None


class NoiseInjection(nn.Module):
    """Adds externally supplied noise times a learned strength; the noise comes from a field."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return x + self.weight * noise
