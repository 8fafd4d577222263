"""Where InfinityGAN's modulated layers get their styles: one per sample, or fused per pixel.

Every modulated layer asks its style source for the modulation of its *input* window (a span on
its stage grid and the stage's scale in world pixels per cell). :class:`PerSampleStyles` ignores
the window (training, and worlds with a single style); :class:`FusedStyles` evaluates the layout's
fusion weights at the world position of every cell of the window and blends the centres' styles
there (W space for the texture synthesizer, z_g for the structure synthesizer). Because the
affine maps are linear, blending their outputs equals modulating with the blended latent.

Stage cell ``i`` of scale ``s`` sits at world pixel ``i * s + s - 1``: the cropped transposed
up-sampling sends cell ``i`` to cells ``2i .. 2i+2`` of the next stage, whose middle one copies it
in the skip path, so this is the world pixel that cell lands on at full resolution.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from engine.layers import EqualLinear
from engine.layers.spans import Span
from engine.layers.style_maps import blend_styles
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


class FusedStyles:
    """Per-pixel styles from a layout's fusion weights, for blocks at ``origins`` (world pixels).

    ``z_g`` (K, Z) and ``w`` (K, W) are the centres' latents in layout order.
    """

    def __init__(
        self,
        fusion: StyleFusion,
        origins: Sequence[tuple[int, int]],
        z_g: torch.Tensor,
        w: torch.Tensor,
    ) -> None:
        self.fusion = fusion
        self.origins = list(origins)
        self.z_g = z_g
        self.w = w
        self._cache: dict[tuple[Window, int], torch.Tensor] = {}

    def weights(self, window: Window, scale: int) -> torch.Tensor:
        """``(N, K, h, w)`` fusion weights of the window's cells, one map per block."""
        key = (window, scale)
        if key not in self._cache:
            xs, ys = window
            maps = [
                self.fusion.weights(
                    ox + xs.start * scale + scale - 1, oy + ys.start * scale + scale - 1, xs.size, ys.size, scale
                )
                for ox, oy in self.origins
            ]
            self._cache[key] = torch.stack(maps).to(device=self.w.device, dtype=self.w.dtype)
        return self._cache[key]

    def structure(self, affine: EqualLinear, window: Window, scale: int) -> torch.Tensor:
        return blend_styles(self.weights(window, scale), affine(self.z_g))  # (N, C, h, w)

    def texture(self, affine: EqualLinear, layer: int, window: Window, scale: int) -> torch.Tensor:
        return blend_styles(self.weights(window, scale), affine(self.w))  # (N, C, h, w)


StyleSource = PerSampleStyles | FusedStyles
