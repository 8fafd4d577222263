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


def blend_separable(rows: torch.Tensor, cols: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
    """:func:`blend_styles` for weights that are products ``rows[i, y] * cols[j, x]``.

    Shapes: ``rows`` (I, H), ``cols`` (J, W), ``styles`` (I, J, C) -> (1, C, H, W). Each row of
    styles is first blended along x on a 1-D line, ``sum_j cols[j] * styles[i, j]`` (C, W), so the
    full-size map costs I multiply-adds per value instead of I·J (a style lattice: 3 instead of 9).
    Every value is still a fixed sequence of elementwise operations on its own x and y.
    """
    lines = []
    for i in range(styles.shape[0]):
        line = cols[0][None, :] * styles[i, 0][:, None]
        for j in range(1, styles.shape[1]):
            line = line + cols[j][None, :] * styles[i, j][:, None]
        lines.append(line)  # (C, W)
    out = rows[0][None, :, None] * lines[0][:, None, :]
    for i in range(1, len(lines)):
        out = out + rows[i][None, :, None] * lines[i][:, None, :]
    return out[None]
