"""The small protocol every generator family implements, and the contract it must keep.

A family's model renders **blocks**: squares of ``block_size(level)`` pixels whose top-left
corners lie on multiples of the block size in world coordinates (at that level's scale). The
renderer turns any rectangle into the blocks that cover it, batches them, and crops. A block
must be a pure function of its origin, the latents it reads through the :class:`LatentSource`,
and the style layout: no padding, no statistics across space, no randomness of its own. That is
the whole consistency contract, and ``tests/consistency.py`` checks it for every family.

Levels: level 0 is full resolution; level ``k`` shows the same world at ``1 / 2**k`` scale (world
pixel ``x`` at level 0 sits near ``x >> k`` at level ``k``). Families with a native scale hierarchy
(∞-GAN) render coarser levels themselves; the others have one level and the app downsamples.

Previews. Downsampling level 0 costs ``4**k`` level-0 pixels per pixel of level ``k``; a family
whose network draws a coarse image on its way to level 0 (InfinityGAN's skip path) can stop there
and offer that image as a cheap preview of level ``k`` (:meth:`Generator.render_preview`). Its
colours are the network's raw ones, only close to the real render's; ``engine.preview`` fits the
map between them. A preview is consistent like a block: regions of ``preview_block(k)`` pixels of
level ``k`` on a world-aligned grid, each a pure function of its origin.

Each family module exposes:

- ``CONFIGS: dict[str, <frozen config dataclass>]`` — named configurations (``tiny`` for tests);
- ``TEST_CONFIGS: tuple[str, ...]`` — the configs the consistency kit checks in CI;
- ``build(config) -> Generator`` and ``config_from_dict(dict) -> config``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from engine.errors import InvalidInput
from engine.fields import LatentSource
from engine.geometry import Lattice, Rect
from engine.styles import StyleFusion, StyleLayout

#: Longest side (pixels of its level) of one preview region: one forward pass, so its activations must fit.
MAX_PREVIEW_SIDE = 2048


@dataclass(frozen=True)
class FieldSpec:
    """A latent field a model reads: its name, channels, and lattice (stride and margin, in pixels
    of the rendered level)."""

    name: str
    channels: int
    lattice: Lattice

    def footprint(self, rect: Rect) -> Rect:
        return self.lattice.footprint(rect)


def config_from_document(cls: type, doc: dict[str, Any]) -> Any:
    """Rebuild a frozen config dataclass from its JSON form (checkpoint headers).

    JSON has no tuples, so every list becomes a tuple (configs hold tuples to stay hashable and
    immutable); unknown or missing keys are a one-line :class:`InvalidInput`.
    """

    def freeze(value: Any) -> Any:
        return tuple(freeze(v) for v in value) if isinstance(value, list) else value

    try:
        return cls(**{key: freeze(value) for key, value in dict(doc).items()})
    except TypeError as error:
        raise InvalidInput(f"bad {cls.__name__}: {error}") from None


def place_in_rows(rows: tuple[int, int], position: float, side: int) -> float:
    """Top of a ``side`` px frame in ``rows`` (``[top, bottom)``) as a real crop at vertical
    ``position`` (-1 top, 1 bottom) sits in its image: ``(position + 1) / 2`` of the way from the
    top to ``side`` above the bottom. Not rounded: the trainer places fakes at sub-row offsets."""
    top, bottom = rows
    return top + (position + 1.0) / 2.0 * (bottom - top - side)


class Generator(nn.Module):
    """Base class of every consistent generator; subclasses fill in the four methods below."""

    family: ClassVar[str] = "?"
    #: Whether ``render_blocks`` takes ``size=(width, height)`` (whole blocks) and renders each origin's
    #: region as one window, computing its margins once (``Renderer(region=...)``).
    renders_regions: ClassVar[bool] = False

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = config

    def num_levels(self) -> int:
        """How many native scale levels the model renders (level 0 = finest)."""
        return 1

    def block_size(self, level: int = 0) -> int:
        """Side of a world-aligned output block in pixels at ``level``."""
        raise NotImplementedError

    def field_specs(self, level: int = 0) -> tuple[FieldSpec, ...]:
        """The latent fields a block at ``level`` reads (conservative margins)."""
        raise NotImplementedError

    def render_blocks(
        self,
        origins: Sequence[tuple[int, int]],
        source: LatentSource,
        styles: StyleLayout,
        level: int = 0,
    ) -> torch.Tensor:
        """Render blocks whose top-left world pixels are ``origins``: ``(N, 3, B, B)`` in [-1, 1]."""
        raise NotImplementedError

    def coordinate_periods(self) -> tuple[int, ...]:
        """Horizontal periods (level-0 world pixels) of the model's positional encoding; ``()`` = none.

        A model that feeds periodic coordinates to its layers can learn to repeat its content with
        their period, a failure only visible far along a trained strip; ``engine.metrics.diagnostics``
        measures the correlation of frames exactly one period apart. Families with a coordinate
        encoding (or a lattice that makes the output statistics periodic) override this.
        """
        return ()

    @property
    def row_dependent(self) -> bool:
        """Whether what the model draws depends on the world row (InfinityGAN's vertical coordinate:
        a world map's latitude), so training and measurement place its frames at rows
        (:meth:`frame_top`): the models that have :meth:`data_rows`."""
        return self.data_rows() is not None

    def data_rows(self) -> tuple[int, int] | None:
        """World rows ``[top, bottom)`` that stand for the training image's height, for a
        :attr:`row_dependent` model; None where every row is alike. What a row-dependent model draws
        outside them is extrapolation (north of the pole), so comparisons with the data use these."""
        return None

    def frame_top(self, position: float, side: int) -> int:
        """World row of the top of a ``side`` px frame showing what a real training crop at vertical
        position ``position`` shows (-1: the crop at the top of its image, 1: at the bottom, as
        ``RealBatch.positions``); 0 where every row is alike (not :attr:`row_dependent`).

        Why: a row-dependent model is compared with real crops from every row of its data, so its
        frames must come from every row too; rendered at one row, the measure compares one latitude
        with all of them. Measured on the shipped InfinityGAN (the trainer's score, 48 frames of
        133 px): 242.4 at the equator, 229.2 over its rows; a warm start's snapshot scored 241.5 and
        224.4: the two placings differ by more than the snapshots do.
        """
        rows = self.data_rows()
        return 0 if rows is None else round(place_in_rows(rows, position, side))

    @property
    def implicit_style_centre(self) -> bool:
        """Whether a world without style centres has one implicit centre seeded by the world (the
        first centre a user adds then joins it); False where the background style comes from
        elsewhere (InfinityGAN's style lattice), so added centres stay local."""
        return True

    def style_fusion(self, styles: StyleLayout, world_seed: int) -> StyleFusion | None:
        """The per-position style weights this model renders ``styles`` with, or None for families
        that ignore style centres and painted strokes (the styles palette and brush say so)."""
        return None

    def style_support(self, region: Rect, level: int = 0) -> list[Rect]:
        """Pixels of ``level`` that may read style weights at any world pixel of ``region`` (level-0
        pixels): outside them a change of the weights inside ``region`` changes nothing. Empty for
        families without :meth:`style_fusion`."""
        return []

    def config_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self.config)

    def check_level(self, level: int) -> None:
        if not 0 <= level < self.num_levels():
            raise ValueError(f"{self.family} renders levels 0..{self.num_levels() - 1}, not {level}")

    def region_extent(self, size: tuple[int, int] | None, block: int, name: str) -> tuple[int, int]:
        """``(width, height)`` of a region render: ``size`` (whole blocks of ``block`` px a side, which
        is what world-aligned regions stitch by), or one block when None; ``name`` is the family as
        users read it, for the error."""
        width, height = size or (block, block)
        if width % block or height % block or width <= 0 or height <= 0:
            raise InvalidInput(f"{name} regions must be whole blocks of {block} px, got {width}x{height}")
        return width, height

    def preview_levels(self) -> tuple[int, ...]:
        """Levels (> 0) that :meth:`render_preview` draws; ``()`` for families without previews."""
        return ()

    def preview_block(self, level: int) -> int:
        """Side of a preview block at ``level``, in pixels of that level: the level-0 block seen from
        ``level`` (``block_size(0) >> level``, exact for every preview level), so preview blocks
        and level-0 blocks share their world-aligned grid."""
        if level not in self.preview_levels():
            levels = ", ".join(map(str, self.preview_levels())) or "none"
            raise InvalidInput(f"{self.family} has no preview at level {level} (preview levels: {levels})")
        return self.block_size(0) >> level

    def preview_extent(self, level: int, size: tuple[int, int] | None) -> tuple[int, int]:
        """``(width, height)`` of a preview region, checked before anything is allocated: ``level``
        is a preview level, the size whole preview blocks (one block when None) of at most
        :data:`MAX_PREVIEW_SIDE` a side."""
        width, height = self.region_extent(size, self.preview_block(level), f"{self.family} preview")
        if max(width, height) > MAX_PREVIEW_SIDE:
            raise InvalidInput(f"{self.family} previews are at most {MAX_PREVIEW_SIDE} px a side, got {width}x{height}")
        return width, height

    def render_preview(
        self,
        origins: Sequence[tuple[int, int]],
        source: LatentSource,
        styles: StyleLayout,
        level: int,
        size: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        """A coarse image of ``level`` straight from the network: ``(N, 3, h, w)`` in its raw RGB
        range (not clamped; ``engine.preview`` maps it to colours), for regions of ``size = (w, h)``
        pixels of ``level`` (whole :meth:`preview_block` blocks; one block when None) whose top-left
        corners ``origins`` are in pixels of ``level`` (world px >> level) on multiples of the
        preview block. Families without previews refuse every level."""
        self.preview_block(level)  # raises: no preview levels
        raise NotImplementedError(f"{self.family} lists preview levels but does not render them")
