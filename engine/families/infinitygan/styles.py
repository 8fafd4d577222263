"""Where InfinityGAN's modulated layers get their styles: one per sample, or fused per pixel.

Every modulated layer asks its style source for the modulation of its *input* window (a span on
its stage grid and the stage's scale in world pixels per cell). :class:`PerSampleStyles` ignores
the window (training, and worlds with a single style); :class:`FusedStyles` evaluates the layout's
fusion weights at the world position of every cell of the window and blends the centres' styles
there (W space for the texture synthesizer, z_g for the structure synthesizer), together with
the style lattice's cells where the model has one. Because the affine maps are linear, blending
their outputs equals modulating with the blended latent.

Stage cell ``i`` of scale ``s`` sits at world pixel ``i * s + s - 1``: the cropped transposed
up-sampling sends cell ``i`` to cells ``2i .. 2i+2`` of the next stage, whose middle one copies it
in the skip path, so this is the world pixel that cell lands on at full resolution.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch

from engine.geometry import Lattice, Rect, ceil_div, floor_div
from engine.layers import EqualLinear
from engine.layers.spans import Span
from engine.layers.style_maps import blend_separable, blend_styles
from engine.styles import StyleFusion

Window = tuple[Span, Span]  # (x-span, y-span) on a stage grid, relative to a block at origin (0, 0)


class PerSampleStyles:
    """One style per sample: ``z_g`` (N, Z) for the structure, ``w_plus`` (N, L, W) for the texture."""

    def __init__(self, z_g: torch.Tensor, w_plus: torch.Tensor) -> None:
        self.z_g = z_g
        self.w_plus = w_plus

    def structure(self, affine: EqualLinear, window: Window, scale: int) -> torch.Tensor:
        return affine(self.z_g)  # (N, C)

    def texture(self, affine: EqualLinear, layer: int, window: Window, scale: int) -> torch.Tensor:
        return affine(self.w_plus[:, layer])  # (N, C)


#: ``latents(cells)``: the style lattice's ``(z_g (Q, Z), w (Q, W))`` for a rectangle of its cells, row-major.
LatticeLatents = Callable[[Rect], tuple[torch.Tensor, torch.Tensor]]


class Factors(NamedTuple):
    """One block's separable lattice weights: ``(Qy, h)``/``(Qx, w)`` factors, the same normalised
    to unit norm over their cells, and the cells' ``(Qy·Qx, Z)`` z_g and ``(Qy·Qx, W)`` w, row-major."""

    rows: torch.Tensor
    cols: torch.Tensor
    unit_rows: torch.Tensor
    unit_cols: torch.Tensor
    z_g: torch.Tensor
    w: torch.Tensor

    def grid(self, styles: torch.Tensor) -> torch.Tensor:
        """Per-cell styles ``(Qy·Qx, C)`` as ``(Qy, Qx, C)``, the layout :func:`blend_separable` takes."""
        return styles.reshape(self.rows.shape[0], self.cols.shape[0], -1)


class FusedStyles:
    """Per-pixel styles from a layout's fusion weights, for blocks at ``origins`` (world pixels).

    ``z_g`` (K, Z) and ``w`` (K, W) are the centres' latents in layout order. With a style lattice
    (``fusion.lattice_cell``), ``lattice`` gives the latents of the cells around each window, which
    differ from block to block, so blocks are blended one by one (the same per-pixel arithmetic).
    """

    def __init__(
        self,
        fusion: StyleFusion,
        origins: Sequence[tuple[int, int]],
        z_g: torch.Tensor,
        w: torch.Tensor,
        lattice: LatticeLatents | None = None,
    ) -> None:
        if fusion.lattice_cell and lattice is None:
            raise ValueError("a lattice fusion needs the lattice's latents")
        self.fusion = fusion
        self.origins = list(origins)
        self.z_g = z_g
        self.w = w
        self.lattice = lattice
        self._cache: dict[tuple[Window, int], list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]] = {}
        self._factors: dict[tuple[Window, int], list[Factors]] = {}

    def _grids(self, window: Window, scale: int) -> list[tuple[int, int, int, int, int]]:
        """Per block, the world grid ``(x0, y0, w, h, step)`` of the window's cells (module docstring)."""
        xs, ys = window
        return [
            (ox + xs.start * scale + scale - 1, oy + ys.start * scale + scale - 1, xs.size, ys.size, scale)
            for ox, oy in self.origins
        ]

    def blocks(self, window: Window, scale: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Per block: ``(1, K', h, w)`` weights of the window's cells and the ``(K', Z)`` z_g and
        ``(K', W)`` w they blend (the centres, then any lattice cells)."""
        key = (window, scale)
        if key not in self._cache:
            out = []
            for grid in self._grids(window, scale):
                z_g, w = self.z_g, self.w
                if self.lattice is None:
                    weights = self.fusion.weights(*grid)
                else:
                    cells, weights = self.fusion.lattice_weights(*grid)
                    # Centres that weigh exactly 0 on this block (their coverage is compactly
                    # supported) are left out, so a block no centre reaches computes exactly what
                    # it would without them: edits of far centres leave it bit-identical.
                    count = self.fusion.count
                    near = weights[:count].flatten(1).amax(dim=1) > 0
                    cell_z, cell_w = self.lattice(cells)
                    z_g, w = torch.cat([z_g[near], cell_z]), torch.cat([w[near], cell_w])
                    weights = torch.cat([weights[:count][near], weights[count:]])
                out.append((weights[None].to(device=w.device, dtype=w.dtype), z_g, w))
            self._cache[key] = out
        return self._cache[key]

    def factors(self, window: Window, scale: int) -> list[Factors]:
        """Per block of a separable fusion (a lattice alone): the weights' 1-D factors, each also
        normalised to unit norm over its cells (the z_g blend below), and the cells' latents."""
        key = (window, scale)
        if key not in self._factors:
            assert self.lattice is not None
            out = []
            for grid in self._grids(window, scale):
                cells, rows, cols = self.fusion.lattice_factors(*grid)
                z_g, w = self.lattice(cells)
                unit_rows, unit_cols = rows / rows.square().sum(0).sqrt(), cols / cols.square().sum(0).sqrt()
                f32 = [t.to(device=w.device, dtype=w.dtype) for t in (rows, cols, unit_rows, unit_cols)]
                out.append(Factors(*f32, z_g, w))
            self._factors[key] = out
        return self._factors[key]

    def structure(self, affine: EqualLinear, window: Window, scale: int) -> torch.Tensor:
        bias = affine.bias * affine.lr_mul
        if self.fusion.separable:  # the norm-preserving blend below, a row of cells at a time
            return torch.cat(
                [
                    blend_separable(f.unit_rows, f.unit_cols, f.grid(affine(f.z_g) - bias)) + bias[None, :, None, None]
                    for f in self.factors(window, scale)
                ]
            )
        if self.lattice is None:
            return torch.cat([blend_styles(m, affine(z)) for m, z, _ in self.blocks(window, scale)])  # (N, C, h, w)
        # Variance-preserving blend of z_g: sum_k m_k z_k / |m|_2 is again a standard Gaussian (the
        # plain blend of three or four lattice cells has about half the norm: a world of truncated,
        # washed-out styles). Written through the affine's parts, elementwise, so it stays exact:
        # A z(p) + b = sum_k a_k (affine(z_k) - b) + b with a = m / |m|_2.
        out = []
        for m, z, _ in self.blocks(window, scale):
            a = m / m.square().sum(dim=1, keepdim=True).sqrt()
            out.append(blend_styles(a, affine(z) - bias) + bias[None, :, None, None])
        return torch.cat(out)

    def texture(self, affine: EqualLinear, layer: int, window: Window, scale: int) -> torch.Tensor:
        if self.fusion.separable:
            return torch.cat(
                [blend_separable(f.rows, f.cols, f.grid(affine(f.w))) for f in self.factors(window, scale)]
            )
        return torch.cat([blend_styles(m, affine(w)) for m, _, w in self.blocks(window, scale)])  # (N, C, h, w)


StyleSource = PerSampleStyles | FusedStyles


def sampled_support(lattices: Sequence[tuple[int, int]], region: Rect) -> list[Rect]:
    """Pixels that may read style weights sampled inside ``region``, for stage lattices of
    ``(scale, margin)``: stage cell ``i`` samples world pixel ``i * scale + scale - 1`` (module
    docstring), and a pixel reads the cells within ``margin`` of its own on that lattice."""
    out = []
    for scale, margin in lattices:
        i0, i1 = ceil_div(region.x + 1 - scale, scale), floor_div(region.right - scale, scale) + 1
        j0, j1 = ceil_div(region.y + 1 - scale, scale), floor_div(region.bottom - scale, scale) + 1
        if i1 > i0 and j1 > j0:
            out.append(Lattice(scale, margin).support(Rect(i0, j0, i1 - i0, j1 - j0)))
    return out
