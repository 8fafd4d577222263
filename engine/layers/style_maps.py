"""Per-pixel style maps: blend a few style vectors with per-position weights.

Spatial style fusion (InfinityGAN) modulates every position with its own style, a weighted sum of
the styles of a few centres. Written as an explicit accumulation over centres, so each output value
is the same sequence of multiplies and adds whatever the batch or window it is computed in.
"""

from __future__ import annotations

import torch


def blend_styles(weights: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
    """Style map ``sum_k weights[:, k] * styles[k]``.

    Shapes: ``weights`` (N, K, H, W), ``styles`` (K, C) -> (N, C, H, W).
    """
    out = weights[:, 0, None] * styles[0][None, :, None, None]
    for k in range(1, styles.shape[0]):
        out = out + weights[:, k, None] * styles[k][None, :, None, None]
    return out
