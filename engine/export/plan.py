"""What an export renders: the output grid of tiles, and a block cache that renders each block once.

An export is a grid of output tiles written in row-major order (TIFF tiles, or full-width PNG
strips). Output tiles are anchored at the requested rectangle's corner, which is rarely on the
model's block grid, so a block can straddle two, three or four tiles. :class:`TileRenderer` keeps
such blocks after the first tile that needed them and drops each block after the last tile (of
those this process renders) that reads it. So every block is rendered once, and memory holds
one row of blocks across the export plus the current tile, whatever the export's height.

Scale. ``scale_level = k`` writes the world at ``1 / 2**k``: with the model's own level when it
has one (``num_levels() > level + k``), else by rendering full resolution and box-reducing
``2**k x 2**k`` pixels, so the output size never depends on how it was produced.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.errors import InvalidInput
from engine.geometry import Rect, aligned_cover, ceil_div
from engine.models.base import Generator
from engine.render import Renderer
from engine.world import World

from .reduce import box_reduce


def output_rect(rect: Rect, scale_level: int) -> Rect:
    """``rect`` at ``1 / 2**scale_level``: every output pixel that any pixel of ``rect`` falls in."""
    k = 1 << scale_level
    x0, y0 = rect.x // k, rect.y // k
    return Rect(x0, y0, ceil_div(rect.right, k) - x0, ceil_div(rect.bottom, k) - y0)


@dataclass(frozen=True)
class ExportPlan:
    """The output grid and how its pixels come from the model.

    ``out`` is the output rectangle in pixels of the output scale; output pixel ``(x, y)`` is the
    box of ``factor x factor`` pixels at ``(x * factor, y * factor)`` of model level ``render_level``.
    """

    rect: Rect  # as requested, in pixels of model level `level`
    level: int
    scale_level: int
    out: Rect
    render_level: int
    factor: int
    tile_w: int
    tile_h: int

    @classmethod
    def make(
        cls, model: Generator, rect: Rect, *, level: int = 0, scale_level: int = 0, tile_w: int, tile_h: int
    ) -> ExportPlan:
        if not 0 <= level < model.num_levels():
            raise InvalidInput(f"level must be in 0..{model.num_levels() - 1} for this model, got {level}")
        if not 0 <= scale_level <= 16:
            raise InvalidInput(f"scale level must be in 0..16, got {scale_level}")
        if tile_w <= 0 or tile_h <= 0:
            raise InvalidInput("tile size must be positive")
        k = 1 << scale_level
        out = output_rect(rect, scale_level)
        native = model.num_levels() > level + scale_level
        return cls(
            rect=rect,
            level=level,
            scale_level=scale_level,
            out=out,
            render_level=level + scale_level if native else level,
            factor=1 if native else k,
            tile_w=tile_w,
            tile_h=tile_h,
        )

    @property
    def cols(self) -> int:
        return ceil_div(self.out.w, self.tile_w)

    @property
    def rows(self) -> int:
        return ceil_div(self.out.h, self.tile_h)

    @property
    def num_tiles(self) -> int:
        return self.rows * self.cols

    @property
    def tile_bytes(self) -> int:
        """Bytes of the largest output tile."""
        return min(self.tile_w, self.out.w) * min(self.tile_h, self.out.h) * 3

    @property
    def pixels(self) -> int:
        return self.out.w * self.out.h

    def tile(self, index: int) -> Rect:
        """Output tile ``index`` (row-major), clipped to the output rectangle."""
        row, col = divmod(index, self.cols)
        x, y = self.out.x + col * self.tile_w, self.out.y + row * self.tile_h
        return Rect(x, y, min(self.tile_w, self.out.right - x), min(self.tile_h, self.out.bottom - y))

    def source(self, tile: Rect) -> Rect:
        """The rectangle of the render level whose pixels make output ``tile``."""
        f = self.factor
        return Rect(tile.x * f, tile.y * f, tile.w * f, tile.h * f)

    def tiles_touching(self, block: Rect) -> tuple[range, range]:
        """Rows and columns of output tiles whose source overlaps ``block`` (render-level pixels)."""
        src = self.source(self.out)
        span_w, span_h = self.tile_w * self.factor, self.tile_h * self.factor
        cols = range((max(block.x, src.x) - src.x) // span_w, (min(block.right, src.right) - 1 - src.x) // span_w + 1)
        rows = range((max(block.y, src.y) - src.y) // span_h, (min(block.bottom, src.bottom) - 1 - src.y) // span_h + 1)
        return rows, cols


#: Largest side, in render-level pixels, of the rectangle rendered in one step. Output tiles whose
#: source is larger (PNG strips, TIFF tiles at 1:16) are produced in cells of at most this source
#: size, so memory never depends on the scale factor or on the width of a PNG.
SOURCE_SIDE = 1024


class TileRenderer:
    """Renders output tiles in increasing index order, each model block once (see module docstring).

    Each output tile is made of cells (row-major within the tile) whose source is at most
    :data:`SOURCE_SIDE` on a side; a block is cached from the first cell that reads it until the
    last cell, among the owned tiles' cells in rendering order, that reads it. ``owned(index)``
    says which tiles this process renders (all of them, or one rank's share). ``render_seconds``
    is the time spent inside the model, for the exporter-overhead benchmark.
    """

    def __init__(
        self,
        renderer: Renderer,
        world: World,
        plan: ExportPlan,
        owned: Callable[[int], bool] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> None:
        self.renderer = renderer
        self.world = world
        self.plan = plan
        self.block = renderer.block_size(plan.render_level)
        self.owned = owned or (lambda index: True)
        self.cancelled = cancelled
        f = plan.factor
        self.cell_w = plan.tile_w if plan.tile_w * f <= SOURCE_SIDE else max(1, SOURCE_SIDE // f)
        self.cell_h = plan.tile_h if plan.tile_h * f <= SOURCE_SIDE else max(1, SOURCE_SIDE // f)
        self.cache: dict[tuple[int, int], np.ndarray] = {}
        self.blocks_rendered = 0
        self.render_seconds = 0.0
        self.peak_cached_blocks = 0
        self.source_pixels = 0  # render-level pixels of the cells rendered so far
        self.computed_pixels = 0  # render-level pixels the model computed for them (rim regions: clipped)
        self.within = plan.source(plan.out)  # regions on the export's rim are computed over it only

    def render(self, index: int) -> np.ndarray:
        """Output tile ``index`` as ``(h, w, 3)`` uint8."""
        tile = self.plan.tile(index)
        if tile.w <= self.cell_w and tile.h <= self.cell_h:
            return self._render_cell(tile, (index, 0))
        image = np.empty((tile.h, tile.w, 3), dtype=np.uint8)
        for number, cell in enumerate(tile.tiles(self.cell_w, self.cell_h)):
            image[cell.y - tile.y : cell.bottom - tile.y, cell.x - tile.x : cell.right - tile.x] = self._render_cell(
                cell, (index, number)
            )
        return image

    def _render_cell(self, cell: Rect, key: tuple[int, int]) -> np.ndarray:
        """Output pixels of ``cell`` (number ``key[1]`` of tile ``key[0]``), from cached or new blocks."""
        plan, block = self.plan, self.block
        src = plan.source(cell)
        cover = aligned_cover(src, block)
        origins = [(bx, by) for by in range(cover.y, cover.bottom, block) for bx in range(cover.x, cover.right, block)]
        missing = [o for o in origins if o not in self.cache]
        if missing:
            start, computed = time.perf_counter(), self.renderer.pixels_rendered
            rendered = self.renderer.render_blocks(self.world, missing, plan.render_level, self.cancelled, self.within)
            self.render_seconds += time.perf_counter() - start
            self.computed_pixels += self.renderer.pixels_rendered - computed
            # Copies: a block may outlive its batch-mates, and must not keep their batch array alive.
            self.cache.update((origin, array.copy()) for origin, array in rendered.items())
            self.blocks_rendered += len(missing)
        self.peak_cached_blocks = max(self.peak_cached_blocks, len(self.cache))
        self.source_pixels += src.w * src.h
        image = np.empty((src.h, src.w, 3), dtype=np.uint8)
        for bx, by in origins:
            part = Rect(bx, by, block, block).intersection(src)
            image[part.y - src.y : part.bottom - src.y, part.x - src.x : part.right - src.x] = self.cache[(bx, by)][
                part.y - by : part.bottom - by, part.x - bx : part.right - bx
            ]
            if self._last_use(Rect(bx, by, block, block)) <= key:
                del self.cache[(bx, by)]
        return box_reduce(image, plan.factor)

    def _last_use(self, block: Rect) -> tuple[int, int]:
        """The last (tile, cell) in rendering order, among owned tiles, that reads ``block``."""
        plan, f = self.plan, self.plan.factor
        rows, cols = plan.tiles_touching(block)
        for row in reversed(rows):
            for col in reversed(cols):
                index = row * plan.cols + col
                if not self.owned(index):
                    continue
                tile = plan.tile(index)
                # Output pixels whose source boxes overlap the block, clipped to this tile.
                x1 = min((block.right - 1) // f + 1, tile.right)
                y1 = min((block.bottom - 1) // f + 1, tile.bottom)
                cells_per_row = -(-tile.w // self.cell_w)
                return index, ((y1 - 1 - tile.y) // self.cell_h) * cells_per_row + (x1 - 1 - tile.x) // self.cell_w
        return (-1, -1)

    def discarded_fraction(self) -> float:
        """Share of computed block pixels not in any output tile (cropped away or rendered twice); the
        margins a block or region computes beyond its pixels are the model's (``bench render``)."""
        if not self.computed_pixels:
            return 0.0
        return 1.0 - self.source_pixels / self.computed_pixels
