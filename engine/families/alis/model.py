"""ALIS's generator: the mapping network, the anchors' styles and the synthesis stages.

Design and the differences from the released code are in :mod:`engine.families.alis.config` (with
the config fields they concern). Stages (``n = len(channels)``, coarsest scale ``S = 2^(n-1)``
world pixels per stage pixel): stage 0 = [input field +] coordinates -> conv3 -> conv3; stage k =
up -> +coordinates -> conv3 -> conv3 (+noise after each stage), or with ``upsample="transposed"``
stage k = +coordinates (on the coarse grid) -> transposed conv3 -> 2x2 box -> conv3; then a styled
1x1 ToRGB. Training (``trainer``) renders its frames through the same
:meth:`ALISGenerator.synthesize`, so training and inference cannot drift apart.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from engine.errors import InvalidInput
from engine.families.alis.blocks import UP_BLUR_GAIN, UPSAMPLES, AnchorStyledConv, coordinate_channels, fourier_periods
from engine.families.alis.config import (
    ANCHOR_FIELD,
    ALISConfig,
    input_field,
    noise_field,
    world_psi,
)
from engine.fields import LatentSource, gaussian
from engine.geometry import Lattice, Rect, ceil_div, floor_div
from engine.layers import CropUpsample, EqualLinear, NoiseInjection, Span, ValidConv, crop_upsample, pixel_norm
from engine.layers.anchor_grid import AnchorWindow
from engine.layers.spans import crop_to, plan_spans
from engine.layers.transposed import PairBox, TransposedUp, box2
from engine.models.base import FieldSpec, Generator
from engine.styles import StyleLayout

#: ``fields(name, channels, rects)``: a field's values over equal cell windows, (N, C, h, w).
FieldReader = Callable[[str, int, list[Rect]], torch.Tensor]


def build(config: ALISConfig) -> ALISGenerator:
    return ALISGenerator(config)


def _chain(stages: int, upsample: str = "bilinear") -> tuple:
    """Window maps of the synthesis network, in forward order (see ``ALISGenerator.plan``)."""
    if upsample == "transposed":  # up-conv, 2x2 box, conv (see blocks)
        return (ValidConv(3), ValidConv(3)) + (TransposedUp(), PairBox(), ValidConv(3)) * (stages - 1)
    return (ValidConv(3), ValidConv(3)) + (CropUpsample(), ValidConv(3), ValidConv(3)) * (stages - 1)


@dataclass(frozen=True, slots=True)
class RowLattice(Lattice):
    """A lattice with one row of cells: the panorama's anchors, shared by every pixel row.

    Footprints are always on row 0 and a support spans every row (as far as a ``Rect`` reaches),
    so generic clients (edit supports, inversion) get honest answers from the ``FieldSpec``.
    """

    def footprint(self, rect: Rect) -> Rect:
        cells = Lattice.footprint(self, rect)
        return Rect(cells.x, 0, cells.w, 1)

    def support(self, cells: Rect) -> Rect:
        pixels = Lattice.support(self, cells)
        return Rect(pixels.x, -(2**61), pixels.w, 2**62)


class Mapping(nn.Module):
    """z -> w: pixel norm then ``layers`` equalised FC + lrelu with lr multiplier 0.01 (StyleGAN2)."""

    def __init__(self, z_dim: int, w_dim: int, layers: int) -> None:
        super().__init__()
        dims = [z_dim] + [w_dim] * layers
        self.net = nn.Sequential(
            *(EqualLinear(a, b, lr_mul=0.01, activation=True) for a, b in itertools.pairwise(dims))
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(pixel_norm(z))  # (N, z_dim) -> (N, w_dim), batch-invariant rows


class ALISGenerator(Generator):
    family = "alis"
    renders_regions = True

    def __init__(self, config: ALISConfig) -> None:
        super().__init__(config)
        c = config
        s = c.coarse_scale
        if c.spacing % s or c.block % s or c.spacing % c.block:
            raise InvalidInput(
                f"ALIS needs spacing ({c.spacing}) and block ({c.block}) to be multiples of the coarsest "
                f"scale ({s}), and spacing a multiple of block"
            )
        if c.upsample not in UPSAMPLES:
            raise InvalidInput(f"ALIS upsample must be one of {', '.join(UPSAMPLES)}, got {c.upsample!r}")
        self._chain = _chain(len(c.channels), c.upsample)
        # Each stage's coordinates are read on the grid its first convolution reads (stage_read).
        self.periods = [
            fourier_periods(c.spacing, s >> self.stage_read(k)[1], c.period_cap) if self.reads_coordinates(k) else ()
            for k in range(len(c.channels))
        ]
        if c.input_channels < 0 or not (c.input_channels or self.periods[0]):
            raise InvalidInput(
                f"ALIS stage 0 needs an input: input_channels ({c.input_channels}) > 0 or a coordinate "
                f"period (none left by coordinate_stages={c.coordinate_stages} or the cap {c.period_cap} px "
                f"at {s} px per stage pixel)"
            )
        self.mapping = Mapping(c.z_dim, c.w_dim, c.mapping_layers)
        self.register_buffer("w_avg", self._mean_w())  # tracked in training; truncation pulls towards it
        rows = not c.panorama
        convs = []
        previous = c.input_channels  # stage 0 reads the input field (if any) before its coordinates
        for k, width in enumerate(c.channels):
            coords = 4 * len(self.periods[k]) + (c.input_channels if k and self.reads_stage_input(k) else 0)
            up = k > 0 and c.upsample == "transposed"
            convs.append(
                AnchorStyledConv(previous + coords, width, 3, c.w_dim, c.spacing, rows, True, blend=c.blend, up=up)
            )
            convs.append(AnchorStyledConv(width, width, 3, c.w_dim, c.spacing, rows, True, blend=c.blend))
            previous = width
        self.convs = nn.ModuleList(convs)
        self.noises = nn.ModuleList(NoiseInjection() for _ in c.channels) if c.noise else None
        self.to_rgb = AnchorStyledConv(previous, 3, 1, c.w_dim, c.spacing, rows, False, demodulate=False, blend=c.blend)
        self.styled_layers = len(self.convs) + 1  # each conv and the ToRGB have their own affine
        self.anchor_margin = self._anchor_margin()

    def reads_coordinates(self, stage: int) -> bool:
        """Whether ``stage`` (0 = coarsest) concatenates Fourier coordinates to its input."""
        limit = self.config.coordinate_stages
        return limit is None or stage < limit

    def stage_read(self, stage: int) -> tuple[int, int]:
        """``(window index, grid)`` where ``stage``'s first convolution reads its input: its own grid
        after a bilinear up-sample, the previous stage's grid for a transposed up-convolution."""
        if stage and self.config.upsample == "transposed":
            return 3 * stage - 1, stage - 1
        return 3 * stage, stage

    def reads_stage_input(self, stage: int) -> bool:
        """Whether ``stage`` reads an aperiodic input field (stage 0: ``input_channels`` > 0; later
        stages: ``stage_inputs`` where they read no coordinates)."""
        c = self.config
        if stage == 0:
            return c.input_channels > 0
        return c.stage_inputs and c.input_channels > 0 and not self.reads_coordinates(stage)

    @torch.no_grad()
    def _mean_w(self, count: int = 256, chunk: int = 16) -> torch.Tensor:
        """Mean of ``count`` mapped z's (fixed draws): the truncation centre until training tracks it
        (trained checkpoints load their tracked mean over this)."""
        z = gaussian((count, self.config.z_dim), "alis.w_avg")
        return torch.cat([self.mapping(part) for part in z.split(chunk)]).mean(0)

    def config_dict(self) -> dict[str, Any]:
        """Plain JSON types (lists, not tuples), so a saved config compares equal when read back."""
        doc = super().config_dict()
        doc["channels"] = list(doc["channels"])
        return doc

    # -- geometry ----------------------------------------------------------------------------

    def coordinate_periods(self) -> tuple[int, ...]:
        """Every Fourier period every stage really uses, longest first (world pixels), and the spacing.

        Each coordinate period echoes only its own wave (they are pairwise coprime in stage pixels,
        ``fourier_periods``); the anchors repeat their *placement* (not their codes) every
        ``spacing``, the paper's failure mode when periods were shorter than the spacing. The
        repetition diagnostic measures the render at each of these shifts."""
        periods = {p for stage in self.periods for p in stage} | {self.config.spacing}
        return tuple(sorted(periods, reverse=True))

    def block_size(self, level: int = 0) -> int:
        self.check_level(level)
        return self.config.block

    def plan(self, origin: int, size: int) -> list[Span]:
        """Windows of every layer on one axis for output ``[origin, origin + size)``.

        Index ``0`` is stage 0's input; stage ``k``'s convolutions output ``3k + 1`` and ``3k + 2``;
        stage ``k >= 1`` starts from the up-sampled window ``3k``. Stage ``k`` windows are in units
        of ``coarse_scale >> k`` world pixels.
        """
        return plan_spans(self._chain, Span(origin, origin + size))

    def reach(self, size: int) -> int:
        """How far (world pixels) beyond an aligned output of ``size`` the first stage reads."""
        s, reach = self.config.coarse_scale, 0
        for origin in range(s):  # windows depend on the origin's phase modulo the coarsest scale
            first = self.plan(origin, size)[0]
            reach = max(reach, origin - first.start * s, first.stop * s - origin - size)
        return reach

    def _anchor_margin(self) -> int:
        # A pixel blends anchors a and a + 1 around its centre; the receptive field adds reach.
        return ceil_div(self.reach(self.config.block), self.config.spacing) + 1

    def anchor_lattice(self) -> Lattice:
        """The anchor field's lattice; in panorama mode every pixel row reads anchor row 0."""
        lattice = RowLattice if self.config.panorama else Lattice
        return lattice(self.config.spacing, self.anchor_margin)

    def window_lattice(self, k: int, index: int) -> Lattice:
        """Lattice of a field with one cell per grid-``k`` pixel that a block reads over window
        ``index`` (see :meth:`plan`): the margin covers that window, so the declared footprint holds
        exactly the cells :meth:`synthesize` asks for (blocks are aligned, their windows congruent)."""
        c = self.config
        scale = c.coarse_scale >> k
        span = self.plan(0, c.block)[index]
        return Lattice(scale, max(-span.start, span.stop - c.block // scale))

    def field_specs(self, level: int = 0) -> tuple[FieldSpec, ...]:
        self.check_level(level)
        c = self.config
        specs = [FieldSpec(ANCHOR_FIELD, c.z_dim, self.anchor_lattice())]
        for k in range(len(c.channels)):
            if self.reads_stage_input(k):
                index, grid = self.stage_read(k)
                specs.append(FieldSpec(input_field(k), c.input_channels, self.window_lattice(grid, index)))
        if c.noise:
            specs += [FieldSpec(noise_field(k), 1, self.window_lattice(k, 3 * k + 2)) for k in range(len(c.channels))]
        return tuple(specs)

    def anchor_cells(self, rect: Rect) -> Rect:
        """Anchor cells a block ``rect`` reads (its lattice footprint)."""
        return self.anchor_lattice().footprint(rect)

    def anchor_support(self, cells: Rect) -> Rect:
        """Pixels that may change when ``cells`` change (the lattice support)."""
        return self.anchor_lattice().support(cells)

    def anchor_influence(self, cells: Rect) -> Rect:
        """The tight pixel rectangle that can depend on ``cells``: the two lattice cells beside each
        anchor widened by the network's reach (the lattice support rounds this out to whole cells)."""
        d, r = self.config.spacing, self.reach(1)
        x0, x1 = (cells.x - 1) * d - r, (cells.right) * d + r
        if self.config.panorama:
            return Rect(x0, -(2**61), x1 - x0, 2**62)
        y0, y1 = (cells.y - 1) * d - r, (cells.bottom) * d + r
        return Rect(x0, y0, x1 - x0, y1 - y0)

    # -- latents -----------------------------------------------------------------------------

    def anchor_ws(self, z: torch.Tensor, psi: float = 1.0) -> torch.Tensor:
        """Anchor codes (N, z_dim, J, I) -> truncated latents (N, J, I, w_dim)."""
        n, c, j, i = z.shape
        w = self.mapping(z.permute(0, 2, 3, 1).reshape(n * j * i, c))
        if psi != 1.0:
            w = torch.lerp(self.w_avg.to(w.dtype), w, psi)
        return w.view(n, j, i, -1)

    # -- synthesis ---------------------------------------------------------------------------

    def synthesize(
        self,
        ws: torch.Tensor,
        first_cells: Sequence[tuple[int, int]],
        origins: Sequence[tuple[int, int]],
        size: int | tuple[int, int],
        fields: FieldReader,
    ) -> torch.Tensor:
        """Frames ``size`` pixels square (or ``(width, height)``) at world ``origins``: (N, 3, h, w), unclamped.

        ``ws`` (N, J, I, w_dim) are the anchors of cells ``first_cells[n] + (i, j)``, or
        (N, J, I, L, w_dim) with one latent per styled layer (style mixing in training); all origins
        must share their offset modulo the coarsest scale (equal window shapes).
        ``fields(name, channels, rects)`` returns the input field (``INPUT_FIELD``, stage 0) and
        stage ``k``'s noise (``noise_field(k)``) over those stage-pixel windows, (N, C, h, w): the
        world's fields at inference, fresh Gaussians in training.
        """
        c = self.config
        width, height = (size, size) if isinstance(size, int) else size
        plans = [(self.plan(ox, width), self.plan(oy, height)) for ox, oy in origins]
        transposed = c.upsample == "transposed"
        up_map = TransposedUp() if transposed else CropUpsample()

        def windows(index: int, scale: int) -> list[AnchorWindow]:
            return [
                AnchorWindow(cell, px[index].start, py[index].start, px[index].size, py[index].size, scale)
                for cell, (px, py) in zip(first_cells, plans, strict=True)
            ]

        def layer(index: int) -> torch.Tensor:
            return ws if ws.ndim == 4 else ws[:, :, :, index]

        def window(index: int) -> tuple[Span, Span]:
            return plans[0][0][index], plans[0][1][index]

        def rects(index: int, scale: int) -> list[Rect]:
            return [Rect(w.x, w.y, w.width, w.height) for w in windows(index, scale)]

        x = None
        for k in range(len(c.channels)):
            scale = c.coarse_scale >> k
            start = 3 * k
            read, grid = self.stage_read(k)
            if k > 0 and not transposed:
                x = crop_upsample(x)  # (N, C, 2h - 2, 2w - 2)
                have = window(start - 1)
                x = crop_to(x, (up_map.gives(have[0]), up_map.gives(have[1])), window(start))
            elif k == 0 and self.reads_stage_input(0):
                x = fields(input_field(0), c.input_channels, rects(0, scale))
            here = windows(read, c.coarse_scale >> grid)
            coords = coordinate_channels(here, self.periods[k], ws.device, ws.dtype)
            x = coords if x is None else torch.cat([x, coords], dim=1)
            if k and self.reads_stage_input(k):
                x = torch.cat([x, fields(input_field(k), c.input_channels, rects(read, c.coarse_scale >> grid))], dim=1)
            x = self.convs[2 * k](x, layer(2 * k), here, self.w_avg)
            if k > 0 and transposed:  # (N, C, 2h - 1, 2w - 1): crop to the box filter's window, filter
                have = window(start - 1)
                x = box2(crop_to(x, (up_map.gives(have[0]), up_map.gives(have[1])), window(start)), UP_BLUR_GAIN)
            x = self.convs[2 * k + 1](x, layer(2 * k + 1), windows(start + 1, scale), self.w_avg)
            if self.noises is not None:
                x = self.noises[k](x, fields(noise_field(k), 1, rects(start + 2, scale)))
        return self.to_rgb(x, layer(self.styled_layers - 1), windows(3 * len(c.channels) - 1, 1), self.w_avg)

    def render_blocks(
        self,
        origins: Sequence[tuple[int, int]],
        source: LatentSource,
        styles: StyleLayout,
        level: int = 0,
        size: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        """Blocks at ``origins``, or regions of ``size = (width, height)`` (whole blocks on a side):
        one padding-free window per region, so its margins are computed once, not once per block.
        A region's pixels equal its blocks' up to float rounding (convolution kernels sum in an
        order that depends on the window's shape), so the regions must be world-aligned and of one
        size wherever their pixels should stitch (``Renderer(region=...)``)."""
        self.check_level(level)
        block = self.config.block
        width, height = self.region_extent(size, block, "ALIS")
        cells = [self.anchor_cells(Rect(ox, oy, width, height)) for ox, oy in origins]
        z = source.read(ANCHOR_FIELD, self.config.z_dim, cells)  # (N, z_dim, J, I)
        ws = self.anchor_ws(z, world_psi(styles, self.config.psi))
        images = self.synthesize(ws, [(r.x, r.y) for r in cells], origins, (width, height), source.read)
        return images.clamp(-1.0, 1.0)


def frame_cells(model: ALISGenerator, x: int, y: int, size: int) -> Rect:
    """Anchor cells a ``size`` frame at ``(x, y)`` reads, with a count independent of alignment.

    Training frames sit at any pixel; the block lattice footprint would change width with the
    alignment, so this takes the widest case (frames of one batch must read equal grids).
    """
    d, m = model.config.spacing, ceil_div(model.reach(size) + model.config.coarse_scale, model.config.spacing) + 1
    count = ceil_div(size, d) + 1 + 2 * m
    i0, j0 = floor_div(x, d) - m, floor_div(y, d) - m
    return Rect(i0, 0, count, 1) if model.config.panorama else Rect(i0, j0, count, count)
