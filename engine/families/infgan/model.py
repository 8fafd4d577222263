"""∞-GAN (Lu et al., "Interpreting Spatially Infinite Generative Models", 2020): a consistent
multi-scale generator built only from layers the paper proves consistent.

Architecture (coarse to fine; level 0 = finest = full resolution)::

    const (C0, learned, spatially uniform) -> NAPN                      the only randomness is noise
    G1 (extension network): blocks [up?] -> conv k×k valid -> NAPN -> lrelu      -> level L-1 RGB
    G2..GL (up-scaling networks): crop of previous features -> up ×2 (n -> 2n-2)
                                  -> up_convs × (conv k×k valid -> NAPN -> lrelu)  -> level L-2..0 RGB
    every level: 1×1 conv + tanh -> RGB

NAPN = Noisy AdaPixNorm (``engine.layers.napn``): 1-channel noise read from a latent field at that
layer's lattice, pixel norm, learned per-channel scale and bias. Up-sampling is bilinear ×2 with a
1-pixel crop (``crop_upsample``), which is consistent (Theorem 3) and smoother than nearest.

Level alignment. Every stage lives on a grid of scale ``2^e`` world pixels per pixel that shares
the world origin: pixel ``i`` of a stage with exponent ``e`` covers level-0 pixels
``[i·2^e, (i+1)·2^e)``. Bilinear ×2 with align_corners=False puts output pixel ``q`` at the centre
``(q + 1/2) / 2`` of the input grid, so the doubled grid is exactly the finer grid; the n -> 2n-2
crop only drops the first and last output pixel (window ``[a, b) -> [2a+1, 2b-1)``), it never
shifts the grid. Hence level ``k`` pixel ``x`` covers level-0 pixels ``[x·2^k, (x+1)·2^k)``: world
pixel ``X`` at level 0 lies in pixel ``X >> k`` at level ``k``, exactly, and the 2×2 average of
level ``k-1`` pixels ``2x, 2x+1`` is what level ``k`` pixel ``x`` is trained to match. A noise
field is addressed by stage, not by level, so rendering level 2 reads the very same noise cells
the level-0 render reads on its way through levels 2 and 1: zooming out shows the same world.

Choices where the paper is silent (its layer table survived, its numbers did not):

- kernel 3×3, LeakyReLU 0.2 with √2 gain, equalised learning rate;
- a learned constant input instead of zeros (zeros would make the first conv's weights useless;
  both are spatially uniform, so consistency is unaffected);
- NAPN noise strength initialised at 1 (noise is the only randomness);
- G1 up-samples at the blocks listed in ``g1_upsample``; each up-scaling network up-samples once,
  at its start, then runs ``up_convs`` convolutions;
- the same block side at every level (a level-k block covers 2^k times more world per side).

``small``: 3 levels, G1 = 6 blocks (96, 96, 96, 96, 64, 64) with 2 up-samples, G2/G3 widths 48/24
with 2 convs each, 0.49 M parameters. Measured on this project's CPU (one thread, CPU time, block
128): a 1280×720 view takes 2.6 s at level 0, 4.0 s at level 1 and 5.2 s at level 2 (coarser
levels cost more per pixel: G1's wide layers run at their resolution), within the 5 s budget on
2 cores at level 0. ``engine/bench/infgan.py`` re-measures px/s per level.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from engine.errors import InvalidInput
from engine.fields import LatentSource
from engine.geometry import Lattice, Rect
from engine.layers import CropUpsample, EqualConv2d, Span, ValidConv, crop_upsample, fused_leaky_relu, plan_spans
from engine.layers.napn import NoisyAdaPixNorm
from engine.layers.spans import SpanMap, crop_to
from engine.models.base import FieldSpec, Generator, config_from_document
from engine.styles import StyleLayout

#: ``noise(stage, x_span, y_span) -> (N, 1, h, w)``: the noise a stage reads on its own grid.
#: Stage 0 is the input NAPN, stage ``b + 1`` the NAPN of block ``b``.
NoiseFn = Callable[[int, Span, Span], torch.Tensor]
#: ``pick(lo, hi, step) -> v``: a random multiple of ``step`` in ``[lo, hi]`` (training crops).
PickFn = Callable[[int, int, int], int]

#: The paper's Blue Marble preparation, as dataset options: drop the bottom sixth of the rows
#: (south of 60°S: Antarctica, inflated by the equirectangular projection), then halve. The scale
#: pyramid is built from each real crop by the trainer (average pooling by 2^k for level k):
#: ``everscape train infgan --data bluemarble --drop-bottom 0.1667 --scale 0.5 ...``.
BLUEMARBLE_OPTIONS = {"drop_bottom_fraction": 1 / 6, "scale": 0.5}


@dataclass(frozen=True)
class InfGANConfig:
    levels: int = 3  # native scale levels (level 0 finest); the paper uses 3
    const_channels: int = 16  # width of the learned constant input
    g1_channels: tuple[int, ...] = (16, 16, 16, 16)  # width of each extension-network block
    g1_upsample: tuple[int, ...] = (1,)  # indices of G1 blocks that start with a ×2 up-sample
    up_channels: tuple[int, ...] = (16, 16)  # width of G2..GL, coarse to fine (levels - 1 entries)
    up_convs: int = 1  # valid convolutions per up-scaling network, after its up-sample
    kernel: int = 3  # odd, stride 1, no padding
    block: int = 32  # rendered block side at every level (multiple of 2^(ups above level 0))
    noise_init: float = 1.0  # initial NAPN noise strength
    train_patch: int = 32  # side M of the fixed-size patch every level is trained on

    def __post_init__(self) -> None:
        if self.levels < 1 or len(self.up_channels) != self.levels - 1:
            raise InvalidInput(f"infgan: up_channels needs levels - 1 = {self.levels - 1} entries")
        if not self.g1_channels or any(not 0 <= i < len(self.g1_channels) for i in self.g1_upsample):
            raise InvalidInput("infgan: g1_upsample must index blocks of g1_channels")
        if self.kernel < 1 or self.kernel % 2 == 0 or self.up_convs < 1:
            raise InvalidInput("infgan: kernel must be odd and up_convs >= 1")
        total_ups = len(set(self.g1_upsample)) + self.levels - 1
        if self.block % 2**total_ups:
            raise InvalidInput(f"infgan: block must be a multiple of 2^{total_ups}")
        if self.train_patch % 2 ** (self.levels - 1):
            raise InvalidInput(f"infgan: train_patch must be a multiple of 2^{self.levels - 1}")


CONFIGS = {
    "tiny": InfGANConfig(),
    "small": InfGANConfig(
        const_channels=96,
        g1_channels=(96, 96, 96, 96, 64, 64),
        g1_upsample=(2, 4),
        up_channels=(48, 24),
        up_convs=2,
        block=128,
        train_patch=64,
    ),
    # ``small`` grown by one coarser level (engine.families.infgan.grow): real crops of 512 px.
    "small4": InfGANConfig(
        levels=4,
        const_channels=96,
        g1_channels=(96, 96, 96, 96, 64, 64),
        g1_upsample=(2, 4),
        up_channels=(64, 48, 24),
        up_convs=2,
        block=128,
        train_patch=64,
    ),
    # ``tiny`` grown by one level: the consistency kit covers a 4-level chain (``small4``'s shape).
    "tiny4": InfGANConfig(levels=4, up_channels=(16, 16, 16)),
}
TEST_CONFIGS = ("tiny", "tiny4")


def config_from_dict(doc: dict[str, Any]) -> InfGANConfig:
    return config_from_document(InfGANConfig, doc)


def build(config: InfGANConfig) -> InfGANGenerator:
    return InfGANGenerator(config)


def real_crop_size(config: InfGANConfig) -> int:
    """Side of the full-resolution real crop one training sample needs: level ``k``'s real patch
    is an ``M×M`` crop of it average-pooled by ``2^k``, so it must be ``M · 2^(levels-1)``."""
    return config.train_patch * 2 ** (config.levels - 1)


class NAPNBlock(nn.Module):
    """``[bilinear ×2 + crop] -> conv k×k (valid) -> NAPN -> lrelu``; the caller crops between."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, up: bool, noise_init: float) -> None:
        super().__init__()
        self.up = up
        self.conv = EqualConv2d(in_channels, out_channels, kernel)
        self.napn = NoisyAdaPixNorm(out_channels, noise_init)

    def maps(self) -> list[SpanMap]:
        kernel = self.conv.weight.shape[-1]
        return [CropUpsample(), ValidConv(kernel)] if self.up else [ValidConv(kernel)]

    def extra_repr(self) -> str:
        return f"up={self.up}"


class InfGANGenerator(Generator):
    family = "infgan"
    renders_regions = True

    def __init__(self, config: InfGANConfig) -> None:
        super().__init__(config)
        top = config.levels - 1
        self.const = nn.Parameter(torch.randn(1, config.const_channels, 1, 1))
        self.napn_in = NoisyAdaPixNorm(config.const_channels, config.noise_init)
        blocks: list[NAPNBlock] = []
        widths = [config.const_channels]
        for i, width in enumerate(config.g1_channels):
            blocks.append(NAPNBlock(widths[-1], width, config.kernel, i in config.g1_upsample, config.noise_init))
            widths.append(width)
        self.level_end = {top: len(blocks)}  # level -> blocks[:n] is the chain ending at that level
        for offset, width in enumerate(config.up_channels):
            for j in range(config.up_convs):
                blocks.append(NAPNBlock(widths[-1], width, config.kernel, j == 0, config.noise_init))
                widths.append(width)
            self.level_end[top - 1 - offset] = len(blocks)
        self.blocks = nn.ModuleList(blocks)
        # to_rgb[k] maps level k's features to RGB.
        self.to_rgb = nn.ModuleList(EqualConv2d(widths[self.level_end[k]], 3, 1) for k in range(config.levels))
        # exponent[s]: stage s's grid has 2^exponent world (level-0) pixels per pixel.
        self.exponent = [sum(b.up for b in blocks[s:]) for s in range(len(blocks) + 1)]

    # -- window planning ------------------------------------------------------------------------

    def num_levels(self) -> int:
        return self.config.levels

    def coordinate_periods(self) -> tuple[int, ...]:
        """∞-GAN has no coordinates, but its coarsest stage has ``2^K`` world pixels per pixel (K =
        all the x2 up-samples): only shifts by multiples of ``2^K`` move every stage's grid by whole
        cells, so the output's statistics are periodic with ``2^K`` px (stationarity period)."""
        return (2 ** self.exponent[0],)

    def block_size(self, level: int = 0) -> int:
        self.check_level(level)
        return self.config.block

    def _maps(self, start: int, stop: int) -> list[SpanMap]:
        return [m for block in self.blocks[start:stop] for m in block.maps()]

    def _plan(self, start: int, stop: int, out: Span) -> list[Span]:
        """Per stage of ``blocks[start:stop]``: the window it must hold; index 0 = the input."""
        spans = plan_spans(self._maps(start, stop), out)
        stages = [spans[0]]
        i = 0
        for block in self.blocks[start:stop]:
            i += 2 if block.up else 1
            stages.append(spans[i])
        return stages

    def field_specs(self, level: int = 0) -> tuple[FieldSpec, ...]:
        self.check_level(level)
        block = self.config.block
        stages = self._plan(0, self.level_end[level], Span(0, block))
        specs = []
        for stage, span in enumerate(stages):
            stride = 2 ** (self.exponent[stage] - level)
            margin = max(-span.start, span.stop - block // stride)
            specs.append(FieldSpec(f"infgan.noise{stage}", 1, Lattice(stride, margin)))
        return tuple(specs)

    # -- forward ----------------------------------------------------------------------------------

    def top_input(self, count: int, window: tuple[Span, Span], noise: NoiseFn) -> torch.Tensor:
        """The learned constant over ``window`` (x, y) with the input NAPN's noise: (N, C0, h, w)."""
        wx, wy = window
        x = self.const.expand(count, -1, wy.size, wx.size)
        return self.napn_in(x, noise(0, wx, wy))

    def run_blocks(
        self,
        x: torch.Tensor,
        have: tuple[Span, Span],
        start: int,
        stop: int,
        out: tuple[Span, Span],
        noise: NoiseFn,
    ) -> torch.Tensor:
        """Run ``blocks[start:stop]`` on ``x`` (holding window ``have``) so the result holds ``out``.

        The input is first cropped to the window the chain needs: this is how an up-scaling network
        takes "a crop of the previous level's features" in training and in rendering alike.
        """
        px = plan_spans(self._maps(start, stop), out[0])
        py = plan_spans(self._maps(start, stop), out[1])
        x = crop_to(x, have, (px[0], py[0]))
        i = 0
        for b in range(start, stop):
            block = self.blocks[b]
            if block.up:
                x = crop_upsample(x)  # holds CropUpsample.gives(px[i])
                grown = (CropUpsample().gives(px[i]), CropUpsample().gives(py[i]))
                i += 1
                x = crop_to(x, grown, (px[i], py[i]))
            x = block.conv(x)  # [N, C, h - k + 1, w - k + 1] == window (px[i+1], py[i+1])
            i += 1
            x = fused_leaky_relu(block.napn(x, noise(b + 1, px[i], py[i])))
        return x

    def to_image(self, features: torch.Tensor, level: int) -> torch.Tensor:
        return torch.tanh(self.to_rgb[level](features))

    def render_blocks(
        self,
        origins: Sequence[tuple[int, int]],
        source: LatentSource,
        styles: StyleLayout,
        level: int = 0,
        size: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        """Blocks at ``origins``, or regions of ``size = (width, height)`` (whole blocks on a side),
        each one padding-free window whose margins are computed once. A region's pixels equal its
        blocks' up to float rounding, so regions stitch exactly only with regions of their own size
        on the same world-aligned grid (``Renderer(region=...)``)."""
        self.check_level(level)
        block = self.config.block
        width, height = self.region_extent(size, block, "∞-GAN")
        stop = self.level_end[level]
        out = (Span(0, width), Span(0, height))  # planned at origin 0, translated per origin below
        first = (self._plan(0, stop, out[0])[0], self._plan(0, stop, out[1])[0])

        def noise(stage: int, wx: Span, wy: Span) -> torch.Tensor:
            stride = 2 ** (self.exponent[stage] - level)  # origins are multiples of every stride
            cells = [Rect(ox // stride + wx.start, oy // stride + wy.start, wx.size, wy.size) for ox, oy in origins]
            return source.read(f"infgan.noise{stage}", 1, cells)

        x = self.top_input(len(origins), first, noise)
        x = self.run_blocks(x, first, 0, stop, out, noise)
        return self.to_image(x, level)

    # -- training ----------------------------------------------------------------------------------

    def patches(self, count: int, noise: NoiseFn, pick: PickFn) -> dict[int, tuple[torch.Tensor, tuple[int, int]]]:
        """One training forward: an ``M×M`` RGB patch at every level, all from the same noise.

        G1 renders the top level's patch at window ``[0, M)²``; each up-scaling network then
        takes a random crop of the previous level's features (``pick``) and renders its own
        ``M×M`` patch, so every discriminator sees fixed-size patches. Returns
        ``{level: (images (N, 3, M, M), (sx, sy))}`` with ``(sx, sy)`` the patch's top-left on
        that level's grid. Windows are chosen so pooled patches align with whole pixels of the
        coarser levels: level ``k < top`` starts at even coordinates, level 0 at multiples of
        ``2^top`` (the cross-level term pools it by ``2^top``).
        """
        m, top = self.config.train_patch, self.config.levels - 1
        out = (Span(0, m), Span(0, m))
        stages = self._plan(0, self.level_end[top], out[0])
        window = (stages[0], stages[0])
        x = self.top_input(count, window, noise)
        x = self.run_blocks(x, window, 0, self.level_end[top], out, noise)
        results = {top: (self.to_image(x, top), (0, 0))}
        have = out
        for level in range(top - 1, -1, -1):
            start, stop = self.level_end[level + 1], self.level_end[level]
            need = plan_spans(self._maps(start, stop), Span(0, m))[0]  # level+1 window for [0, M)
            step = 2 ** (top - 1) if level == 0 else 1  # t is on the level+1 grid: s = 2t
            tx = pick(have[0].start - need.start, have[0].stop - need.stop, step)
            ty = pick(have[1].start - need.start, have[1].stop - need.stop, step)
            target = (Span(2 * tx, 2 * tx + m), Span(2 * ty, 2 * ty + m))
            x = self.run_blocks(x, have, start, stop, target, noise)
            results[level] = (self.to_image(x, level), (2 * tx, 2 * ty))
            have = target
        return results
