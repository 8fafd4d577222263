"""InfinityGAN (Lin et al., ICLR 2022) as a consistent block renderer.

The generator is a structure synthesizer G_S (``structure``) feeding a padding-free
StyleGAN2 texture synthesizer G_T (``texture``). Every layer is a valid convolution,
a cropped transposed up-sampling or a valid blur, so a pixel depends on a fixed window of the
latent fields around it and nothing else; that is what makes InfinityGAN's patch-by-patch
generation seamless, and here it makes any block a pure function of its origin.

Blocks. One block is one InfinityGAN patch step: ``block`` world pixels, a multiple of the
total up-sampling ``2^R`` (one ``z_l`` cell), with origins on multiples of ``block``. Its windows
are planned backwards with :func:`~engine.layers.spans.plan_spans`; for the paper's numbers
(``block`` 96, R = 4, four 7x7 G_S layers) that gives exactly the paper's patch: 35 ``z_l`` cells
-> 11 structure cells -> a 101-pixel patch of which the block keeps 96 (neighbours overlap by 5
pixels of identical values). Every block's windows are the same up to translation, so blocks
batch. Latents: ``z_l`` (stride ``2^R``) and one noise field per G_T conv, read through the
:class:`~engine.fields.LatentSource`; ``z_g`` per style centre from the source's vectors (or the
centre's explicit latent).

Styles. A layout with one centre and no strokes takes the ordinary per-sample path. Otherwise the
fusion weights (``engine.styles.StyleFusion``) are evaluated at the world position of every cell
of every modulated layer's input window, and styles are blended per pixel. With ``style_cell``
(on in ``small``) the background is a style lattice, one z_g per cell of the field
``infinitygan.style_lattice``, and centres are local on top of it: the paper's spatial style
fusion applied to the whole world, because one z_g per endless world made a 100 000 px strip of
the trained model far less varied than frames of many worlds (∞-SWD 1.63x the frame SWD).
Training is unchanged (one z_g per patch, as in the paper).

Configs (FLOPs per output pixel of one block, counted by ``engine/bench/infinitygan.py``; the
fused path with several style centres adds about 10 %):

- ``tiny``   8.3 kFLOP/px: tests (a 256^2 tile in about 0.2 s of one CPU core);
- ``small``  94 kFLOP/px: the shipped default. A 1280x720 view took 2.2 s of CPU time on one
  thread of the 2-core dev box (under heavy load from other jobs), within the <= 5 s goal;
- ``paper``  9.8 MFLOP/px: 101-pixel patch (trained as 101 crops of 197 images), z_g 512, z_l 256,
  512 channels; for GPUs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import torch

from engine.errors import InvalidInput
from engine.families.infinitygan.config import CONFIGS, TEST_CONFIGS, InfinityGANConfig  # noqa: F401 (re-exported)
from engine.families.infinitygan.structure import StructureSynthesizer, coordinate_grid
from engine.families.infinitygan.styles import FusedStyles, PerSampleStyles, StyleSource, Window, sampled_support
from engine.families.infinitygan.texture import MappingNetwork, TextureSynthesizer, output_size
from engine.fields import LatentSource
from engine.geometry import Lattice, Rect
from engine.layers.spans import Span, plan_spans
from engine.models.base import FieldSpec, Generator, config_from_document, place_in_rows
from engine.styles import StyleCentre, StyleFusion, StyleLayout

NOISE_FIELD = "noise{}"  # one single-channel field per G_T conv, at that conv's scale
Z_LOCAL_FIELD = "z_l"
Z_GLOBAL_VECTOR = "infinitygan.z_g"
STYLE_LATTICE_FIELD = "infinitygan.style_lattice"  # z_g per style-lattice cell (``style_cell`` > 0)
#: Config fields that change how a trained model renders, not what it learnt (``train --init`` may change them).
INFERENCE_FIELDS = ("style_cell", "fusion_width")
#: Config fields that shape the coordinate inputs, not the weights: ``train --init`` may change them,
#: and the run re-learns the trained model's map from coordinates to content (its critic still fits).
COORDINATE_FIELDS = ("vertical", "v_per_cell")
#: Config fields that add parameters starting at values that change nothing (the latitude table's
#: zeros): ``train --init`` extends a model trained without them, which then renders as before.
EXTENSION_FIELDS = ("latitude_bands", "latitude_wander")


def config_from_dict(doc: dict[str, Any]) -> InfinityGANConfig:
    return config_from_document(InfinityGANConfig, doc)


def build(config: InfinityGANConfig) -> InfinityGANGenerator:
    return InfinityGANGenerator(config)


class InfinityGANGenerator(Generator):
    family = "infinitygan"
    renders_regions = True

    def __init__(self, config: InfinityGANConfig) -> None:
        super().__init__(config)
        c = config
        self.blocks = len(c.texture_channels)
        self.scale = 2**self.blocks  # world pixels per z_l cell
        self.mapping = MappingNetwork(c.z_global, c.w_dim, c.mapping_layers)
        self.structure = StructureSynthesizer(
            c.z_local,
            c.z_global,
            c.structure_channels,
            c.structure_layers,
            c.structure_kernel,
            c.latitude_bands,
            c.latitude_wander,
        )
        self.texture = TextureSynthesizer(c.structure_channels, c.texture_channels, c.w_dim)

    # -- window planning -------------------------------------------------------------------------

    def span_maps(self, texture_blocks: int | None = None) -> list:
        """Window maps of G_S, then of G_T's first ``texture_blocks`` blocks (None: all of them)."""
        blocks = self.blocks if texture_blocks is None else texture_blocks
        return [*self.structure.span_maps(), *self.texture.span_maps(blocks)]

    @functools.cached_property
    def plan(self) -> list[Span]:
        """Kept span of every stage for the block at origin 0 (z_l, G_S layers, then G_T stages)."""
        return plan_spans(self.span_maps(), Span(0, self.config.block))

    def region_plan(self, width: int, height: int, texture_blocks: int | None = None) -> list[Window]:
        """Kept ``(x, y)`` spans of every stage for a region of ``width x height`` at origin 0 (whole
        blocks): one padding-free window, so the G_S and G_T margins are paid once per region. With
        ``texture_blocks``, the plan of the network cut after that many G_T blocks, whose output
        (``width x height`` too) is on the grid of ``scale >> texture_blocks`` world px per pixel."""
        block = self.config.block
        if texture_blocks is None and width == height == block:
            return [(s, s) for s in self.plan]
        xs, ys = (plan_spans(self.span_maps(texture_blocks), Span(0, side)) for side in (width, height))
        return list(zip(xs, ys, strict=True))

    def stage_scale(self, stage: int) -> int:
        """World pixels per cell of stage ``stage`` (index into :attr:`plan`)."""
        texture_stage = stage - len(self.structure.convs)
        return self.scale if texture_stage <= 0 else self.scale >> ((texture_stage + 2) // 3)

    def noise_stages(self) -> list[int]:
        """Plan indices whose windows the noise fields cover: after each blur and each G_T conv."""
        first = len(self.structure.convs)
        return [first + 3 * r + k for r in range(self.blocks) for k in (2, 3)]

    def train_windows(self, ts_cells: int) -> list[Window]:
        """Uncropped windows of a training patch whose structure output is ``ts_cells`` wide."""
        span = Span(0, ts_cells + len(self.structure.convs) * (self.config.structure_kernel - 1))
        spans = [span]
        for layer in self.span_maps():
            spans.append(layer.gives(spans[-1]))
        return [(s, s) for s in spans]

    @property
    def train_ts_cells(self) -> int:
        """Structure cells of a training patch: those one block needs (paper: 11)."""
        return self.plan[len(self.structure.convs)].size

    @property
    def patch_size(self) -> int:
        """Side of a training patch (paper: 101); D sees real crops of this size."""
        return output_size(self.train_ts_cells, self.blocks)

    def train_band(self) -> tuple[int, int]:
        """First and last z_l row a training window may start at: windows of :attr:`train_ts_cells`
        rows inside ``train_rows`` rows centred on the horizon (row 0), the training image's height."""
        rows = self.config.train_rows
        return -(rows // 2), rows // 2 - self.train_ts_cells

    def data_rows(self) -> tuple[int, int]:
        """The band of ``train_rows`` z_l rows centred on the horizon, in world px: it stands for the
        training image's height (the recipe sets it so), and frames sit in it as real crops in
        their image (:meth:`Generator.frame_top`)."""
        height = self.config.train_rows * self.scale
        return -(height // 2), height - height // 2

    @functools.cached_property
    def patch_offset(self) -> int:
        """World px from a training window's first structure row (``row * scale``) to the top of the
        patch it draws (``small``: 45): the uncropped windows run forward from the block-0 plan's
        input, whose structure window starts at ``plan[n_s].start``."""
        spans = [self.plan[0]]
        for layer in self.span_maps():
            spans.append(layer.gives(spans[-1]))
        return spans[-1].start - self.plan[len(self.structure.convs)].start * self.scale

    def window_row(self, position: float) -> float:
        """First structure row (continuous) of the training window whose patch lies where
        :meth:`frame_top` puts a patch-sized frame at ``position``: the trainer's fakes and the
        metrics' frames then share one mapping from position to world rows (``"frame"`` fake rows)."""
        return (place_in_rows(self.data_rows(), position, self.patch_size) - self.patch_offset) / self.scale

    # -- the protocol ----------------------------------------------------------------------------

    def coordinate_periods(self) -> tuple[int, ...]:
        """The horizontal ``cos, sin`` coordinate period of G_S in world pixels: ``period`` z_l cells of
        ``2^blocks`` px each (``small``: 139 x 16 = 2224 px, the paper's). The vertical coordinate is
        not periodic."""
        return (self.config.period * self.scale,)

    def block_size(self, level: int = 0) -> int:
        self.check_level(level)
        return self.config.block

    def _margin(self, stage: int) -> int:
        """Cells a pixel may read beyond its own cell on ``stage``'s lattice (conservative)."""
        s, block = self.stage_scale(stage), self.config.block
        margins = [max(-self.plan[stage].start, self.plan[stage].stop - block // s)]
        for p in range(block):  # single pixels: receptive fields, for edit supports of any rect
            span = plan_spans(self.span_maps(), Span(p, p + 1))[stage]
            margins.append(max(p // s - span.start, span.stop - (p // s + 1)))
        return max(margins)

    def field_specs(self, level: int = 0) -> tuple[FieldSpec, ...]:
        self.check_level(level)
        return self._field_specs

    @functools.cached_property
    def _field_specs(self) -> tuple[FieldSpec, ...]:
        specs = [FieldSpec(Z_LOCAL_FIELD, self.config.z_local, Lattice(self.scale, self._margin(0)))]
        for k, stage in enumerate(self.noise_stages()):
            specs.append(FieldSpec(NOISE_FIELD.format(k), 1, Lattice(self.stage_scale(stage), self._margin(stage))))
        if self.config.style_cell:
            # A point reads the cells within 1.5 cells of it; a block's windows reach _margin(0) z_l
            # cells beyond it: 2 lattice cells of margin bound both while that reach is under a cell.
            reach = self._margin(0) * self.scale
            margin = 2 + reach // self.config.style_cell
            specs.append(FieldSpec(STYLE_LATTICE_FIELD, self.config.z_global, Lattice(self.config.style_cell, margin)))
        return tuple(specs)

    def render_blocks(
        self,
        origins: Sequence[tuple[int, int]],
        source: LatentSource,
        styles: StyleLayout,
        level: int = 0,
        size: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        """Blocks at ``origins``, or regions of ``size = (width, height)`` (whole blocks on a side),
        each one padding-free window. A region's pixels equal its blocks' up to float rounding
        (kernels sum in an order that depends on the window's shape), so regions stitch exactly
        only with regions of their own size on the same world-aligned grid (``Renderer(region=...)``)."""
        self.check_level(level)
        block = self.config.block
        width, height = self.region_extent(size, block, "InfinityGAN")
        if any(ox % block or oy % block for ox, oy in origins):
            raise ValueError(f"block origins must be multiples of {block}, got {list(origins)}")
        return self._render_windows(origins, source, styles, self.region_plan(width, height)).clamp(-1.0, 1.0)

    def preview_levels(self) -> tuple[int, ...]:
        """Levels whose skip image comes after at least two G_T blocks: after one, the skip is a
        single ToRGB of barely-textured features, too far from the real render to stand in for it."""
        return tuple(range(1, self.blocks - 1))

    def render_preview(
        self,
        origins: Sequence[tuple[int, int]],
        source: LatentSource,
        styles: StyleLayout,
        level: int,
        size: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        """G_T's skip image after ``blocks - level`` blocks: ``level`` is ``scale >> level`` px a pixel.

        The network is planned cut there, so no finer stage is computed; otherwise it is exactly the
        region render (the same windows of the same fields), hence as consistent."""
        side = self.preview_block(level)
        width, height = self.preview_extent(level, size)
        if any(ox % side or oy % side for ox, oy in origins):
            raise InvalidInput(f"InfinityGAN preview origins must be multiples of {side}, got {list(origins)}")
        blocks = self.blocks - level
        world = [(ox << level, oy << level) for ox, oy in origins]
        return self._render_windows(world, source, styles, self.region_plan(width, height, blocks), blocks)

    def _render_windows(
        self,
        origins: Sequence[tuple[int, int]],
        source: LatentSource,
        styles: StyleLayout,
        windows: list[Window],
        texture_blocks: int | None = None,
    ) -> torch.Tensor:
        """The network over planned ``windows`` placed at world ``origins``: reads the fields, runs."""

        def cells(stage: int) -> list[Rect]:
            s, (px, py) = self.stage_scale(stage), windows[stage]
            return [Rect(ox // s + px.start, oy // s + py.start, px.size, py.size) for ox, oy in origins]

        z_l = source.read(Z_LOCAL_FIELD, self.config.z_local, cells(0))
        coords = torch.stack(
            [
                coordinate_grid(
                    r.x, r.y, r.w, r.h, self.config.period, self.config.v_per_cell, vertical=self.config.vertical
                )
                for r in cells(0)
            ]
        ).to(device=z_l.device, dtype=z_l.dtype)
        stages = self.noise_stages()[: None if texture_blocks is None else 2 * texture_blocks]
        noises = [source.read(NOISE_FIELD.format(k), 1, cells(st)) for k, st in enumerate(stages)]
        style_source = self.style_source(origins, source, styles)
        image, _ = self.synthesize(z_l, coords, noises, windows, style_source, texture_blocks)
        return image

    def style_source(
        self, origins: Sequence[tuple[int, int]], source: LatentSource, styles: StyleLayout
    ) -> StyleSource:
        """Per-sample styles for one-style worlds, per-pixel fused styles otherwise."""
        c = self.config
        fusion = self.style_fusion(styles, source.seed)
        latents = [self.centre_latent(k, source) for k in fusion.centres]  # none: a lattice world without centres
        z_g = torch.stack(latents) if latents else torch.empty(0, c.z_global, device=source.device, dtype=source.dtype)
        w = self.mapping(z_g)  # (K, W)
        if fusion.single:
            n = len(origins)
            return PerSampleStyles(z_g.expand(n, -1), w[:, None, :].expand(n, self.texture.num_styles, -1))
        return FusedStyles(fusion, origins, z_g, w, self.lattice_latents(source) if c.style_cell else None)

    def style_fusion(self, styles: StyleLayout, world_seed: int) -> StyleFusion:
        return StyleFusion(styles, world_seed, self.config.fusion_width, self.config.style_cell)

    @functools.cached_property
    def _style_lattices(self) -> tuple[tuple[int, int], ...]:
        """``(scale, margin)`` of every stage: each stage's window samples style weights."""
        return tuple(sorted({(self.stage_scale(k), self._margin(k)) for k in range(len(self.plan))}))

    def style_support(self, region: Rect, level: int = 0) -> list[Rect]:
        self.check_level(level)
        return sampled_support(self._style_lattices, region)

    def lattice_latents(self, source: LatentSource) -> Callable[[Rect], tuple[torch.Tensor, torch.Tensor]]:
        """The style lattice's ``(z_g, w)`` for a rectangle of its cells (row-major), from the field.

        Memoised per rectangle: the layers of one stage share their windows' cells, and the mapping
        would otherwise run again for each of them (it is row-independent, so the values are the same).
        """
        memo: dict[Rect, tuple[torch.Tensor, torch.Tensor]] = {}

        def latents(cells: Rect) -> tuple[torch.Tensor, torch.Tensor]:
            if cells not in memo:
                z = source.read(STYLE_LATTICE_FIELD, self.config.z_global, [cells])[0]  # (Z, h, w)
                z = z.flatten(1).t()  # (h * w, Z), row-major
                memo[cells] = z, self.mapping(z)
            return memo[cells]

        return latents

    @property
    def implicit_style_centre(self) -> bool:
        return not self.config.style_cell  # with a lattice, the lattice is the background

    def centre_latent(self, centre: StyleCentre, source: LatentSource) -> torch.Tensor:
        """A centre's z_g: its explicit latent (inversion) or the vector its seed addresses."""
        if centre.latent is None:
            return source.vector(Z_GLOBAL_VECTOR, centre.seed, self.config.z_global)
        if len(centre.latent) != self.config.z_global:
            raise InvalidInput(
                f"style centre latent has {len(centre.latent)} values, this model's z_g has {self.config.z_global}"
            )
        return torch.tensor(centre.latent, dtype=source.dtype, device=source.device)

    # -- the network -----------------------------------------------------------------------------

    def synthesize(
        self,
        z_l: torch.Tensor,
        coords: torch.Tensor,
        noises: list[torch.Tensor],
        windows: list[Window],
        styles: StyleSource,
        texture_blocks: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(image, structure)``: G_T(G_S(z_l, coords)) over ``windows`` (render: planned and cropped;
        train: uncropped), and G_S's output (the paper's z_S features, for the diversity loss).

        Shapes: ``z_l`` (N, Z_l, h, w) and ``coords`` (N, 3, h, w) hold ``windows[0]``; ``image``
        (N, 3, H, W) holds ``windows[-1]``; ``structure`` (N, C_s, h_s, w_s) the structure window.
        """
        n_s = len(self.structure.convs)
        structure = self.structure(z_l, coords, windows[: n_s + 1], self.scale, styles)
        image = self.texture(structure, windows[n_s:], noises, self.scale, styles, texture_blocks)
        return image, structure


def real_crop_size(config: InfinityGANConfig) -> int:
    """Side of the real crops D sees: one training patch (paper: 101)."""
    with torch.device("meta"):  # the window arithmetic only: no weights are allocated
        return InfinityGANGenerator(config).patch_size
