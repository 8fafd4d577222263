"""Bilinear interpolation of per-anchor vectors onto a pixel window, exact at any world position.

ALIS places latent codes (anchors) on a lattice in world coordinates, ``spacing`` world pixels
apart, and gives every pixel the bilinear blend of the four anchors around it (two along one axis
in panorama mode). The blend weight of a pixel must not depend on which window it is rendered
in, nor lose precision far from the origin, so the position of a pixel centre is reduced modulo
the anchor spacing in *integers* first: ``t = ((2q + 1) * scale mod 2 * spacing) / (2 * spacing)``
for stage pixel ``q`` of a grid ``scale`` world pixels wide (doubled units keep the centre an
integer). Only that small remainder becomes a float, so ``q = 10**12`` is as exact as ``q = 0``.

Because ``spacing`` is a multiple of ``scale``, a pixel centre never sits on an anchor line:
``0 < t < 1`` strictly, and each pixel really depends on both anchors around it (what makes the
edit support of an anchor exactly the two cells beside it, widened by the receptive field).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


def anchor_axis(start: int, count: int, scale: int, spacing: int, first_cell: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-anchor index and right-anchor weight of ``count`` stage pixels from ``start``.

    Stage pixel ``q`` covers world pixels ``[q * scale, (q + 1) * scale)``. Returns ``index``
    (int64, anchor column minus ``first_cell``) and ``t`` (float32 weight of anchor
    ``index + 1``), both of shape ``(count,)``.
    """
    if spacing % scale:
        raise ValueError(f"anchor spacing {spacing} must be a multiple of the stage scale {scale}")
    period = 2 * spacing
    base_cell, base_rem = divmod((2 * start + 1) * scale, period)  # Python ints: exact for any start
    doubled = torch.arange(count, dtype=torch.int64) * (2 * scale) + base_rem
    index = doubled // period + (base_cell - first_cell)
    t = ((doubled % period).to(torch.float64) / period).to(torch.float32)
    return index, t


@dataclass(frozen=True)
class AnchorWindow:
    """Where one sample's stage window sits relative to the anchors it read.

    ``first_cell`` is the anchor cell ``(i, j)`` of ``grid[..., 0, 0]``; ``x``/``y`` are the
    window's first stage pixel, ``width``/``height`` its size, ``scale`` world pixels per stage pixel.
    """

    first_cell: tuple[int, int]
    x: int
    y: int
    width: int
    height: int
    scale: int


def interpolate_anchors(
    grid: torch.Tensor, windows: Sequence[AnchorWindow], spacing: int, rows: bool = True
) -> torch.Tensor:
    """Blend anchor vectors onto each sample's window.

    Shapes: ``grid`` (N, C, J, I) anchor vectors (row ``j``, column ``i``) -> (N, C, H, W). With
    ``rows=False`` (panorama mode: one anchor row) the blend is along x only and the result is
    (N, C, 1, W), which broadcasts over rows for free.
    """
    n, c, _, _ = grid.shape
    xs = [anchor_axis(w.x, w.width, w.scale, spacing, w.first_cell[0]) for w in windows]
    ix = torch.stack([i for i, _ in xs]).to(grid.device)  # (N, W)
    tx = torch.stack([t for _, t in xs]).to(grid.device, grid.dtype)
    if not rows:
        grid = grid[:, :, :1]
    j = grid.shape[2]
    gather_x = ix[:, None, None, :].expand(n, c, j, -1)
    left = torch.gather(grid, 3, gather_x)
    right = torch.gather(grid, 3, gather_x + 1)
    blended = torch.lerp(left, right, tx[:, None, None, :])  # (N, C, J, W)
    if not rows:
        return blended
    # Along y, a window crosses few anchor rows: blend each run of rows that shares its two
    # anchors by broadcasting, instead of gathering two full (N, C, H, W) maps (3x faster on CPU).
    out = []
    for b, w in enumerate(windows):
        iy, ty = anchor_axis(w.y, w.height, w.scale, spacing, w.first_cell[1])
        ty = ty.to(grid.device, grid.dtype)
        runs = []
        start = 0
        while start < w.height:
            row = int(iy[start])
            stop = start + int((iy[start:] == row).sum())  # iy is non-decreasing
            top, bottom = blended[b, :, row, None, :], blended[b, :, row + 1, None, :]  # (C, 1, W)
            runs.append(torch.lerp(top, bottom, ty[start:stop, None]))  # (C, h, W)
            start = stop
        out.append(runs[0] if len(runs) == 1 else torch.cat(runs, dim=1))
    return torch.stack(out)


def blend_weight_norm(windows: Sequence[AnchorWindow], spacing: int, rows: bool = True) -> torch.Tensor:
    """Root of the sum of squared blend weights at each pixel: (N, 1, H, W), or (N, 1, 1, W) with
    ``rows=False``.

    A blend ``sum_i a_i v_i`` of independent vectors with equal covariance has that covariance
    times ``sum_i a_i^2``: 1 on an anchor, 1/2 midway between two, 1/4 at the centre of four.
    Dividing the blended *deviations* by this norm (:func:`interpolate_deviations`)
    keeps their spread the same at every phase of the lattice. Bilinear weights are products of
    the two axes' weights, so the norm is the product of the per-axis ones. Computed from the
    same integer-reduced ``t`` as the blend, so it is exact at any world position.
    """
    norms = []
    for w in windows:
        _, tx = anchor_axis(w.x, w.width, w.scale, spacing, w.first_cell[0])
        squared = ((1.0 - tx) ** 2 + tx**2)[None, :]  # (1, W)
        if rows:
            _, ty = anchor_axis(w.y, w.height, w.scale, spacing, w.first_cell[1])
            squared = ((1.0 - ty) ** 2 + ty**2)[:, None] * squared  # (H, W)
        norms.append(squared.sqrt())
    return torch.stack(norms)[:, None]


def interpolate_deviations(
    grid: torch.Tensor, centre: torch.Tensor, windows: Sequence[AnchorWindow], spacing: int, rows: bool = True
) -> torch.Tensor:
    """Variance-preserving blend: ``centre + blend(grid - centre) / blend_weight_norm``.

    Shapes: ``grid`` (N, C, J, I), ``centre`` (C,) -> as :func:`interpolate_anchors`. Why: a
    plain bilinear blend shrinks the spread of the anchors' vectors towards their mean away from
    the anchors (its standard deviation halved at the centre of four), so every pixel between anchors gets a tamer,
    more average style than the pixels on them, a difference locked to the lattice's phase. A
    generator can then tie content to that phase (ALIS on the world map learnt bright spots on
    its anchors and dim gaps between them), and a critic that sees one frame at a random phase
    cannot tell it from the real map's variation. With the deviations from ``centre`` (the
    style of the mean latent) rescaled by the weight norm, the styles' spread is the same at
    every phase; their mean already is (the weights sum to 1).
    """
    centre = centre.view(1, -1, 1, 1).to(grid.dtype)
    deviations = interpolate_anchors(grid - centre, windows, spacing, rows=rows)
    norm = blend_weight_norm(windows, spacing, rows).to(deviations.device, deviations.dtype)
    return deviations / norm + centre
