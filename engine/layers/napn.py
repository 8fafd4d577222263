"""Noisy AdaPixNorm (∞-GAN): StyleGAN's noise + AdaIN with the instance norm replaced by pixel norm.

Instance norm estimates its statistics over pixel *positions*, so its output changes with the
size and placement of the window it sees: a tile and the same region inside a larger render get
different values. Pixel norm normalises each position over its own channels, so it is a
pointwise map and stays consistent (∞-GAN, Theorem 2). The noise is one channel per layer and is
supplied by the caller from a latent field at this layer's lattice (never drawn here), so a block
reads exactly the noise the same pixels get in any other block.

    u   = x + b ⊙ ε          (b: learned per-channel noise strength, ε: (N, 1, H, W) noise)
    out = γ ⊙ PN(u) + β      (γ, β: learned per-channel scale and bias; no global style vector)
"""

from __future__ import annotations

import torch
from torch import nn

from engine.layers.basic import pixel_norm


class NoisyAdaPixNorm(nn.Module):
    """Add field noise, normalise each pixel over channels, then a learned per-channel affine map.

    Shapes: ``x`` (N, C, H, W), ``noise`` (N, 1, H, W) -> (N, C, H, W).

    ``noise_init`` is the initial noise strength. It is not zero (StyleGAN starts its noise at 0):
    in ∞-GAN the noise is the *only* randomness, so an untrained model with zero strength would
    render one constant colour everywhere.
    """

    def __init__(self, channels: int, noise_init: float = 1.0) -> None:
        super().__init__()
        self.noise_strength = nn.Parameter(torch.full((channels,), float(noise_init)))
        self.gain = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        if noise.shape[1] != 1 or noise.shape[-2:] != x.shape[-2:]:
            raise ValueError(f"noise {tuple(noise.shape)} does not match features {tuple(x.shape)}")
        u = x + self.noise_strength.view(1, -1, 1, 1) * noise  # [NCHW]
        return pixel_norm(u) * self.gain.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return f"channels={self.gain.shape[0]}"
