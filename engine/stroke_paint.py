"""Painting a layout's strokes: brush dabs, erasing, flood fill, and where a stroke can change pixels.

Strokes live on a coarse raster of centre ids (:class:`~engine.styles.StrokeRaster`), which the
fusion smooths with a quadratic B-spline. A brush is a sequence of round dabs (world position and
radius in world pixels) painted in one go, so a stroke is one edit however many dabs it has.

Hardness. The raster holds whole cells, so a soft edge cannot be a fractional id. Instead a dab's
*coverage* falls from 1 inside ``hardness * radius`` to 0 at ``radius`` and each cell is painted
where coverage beats a 4x4 ordered-dither threshold of its own (exact) cell position: the B-spline
then turns the dither into a gradual blend, so a soft brush leaves a wide blend zone and a hard one
a crisp edge. The cell under a dab's centre is always painted, so a dab smaller than a cell (zoomed
far in) still paints what the user pointed at.

Where pixels change (:func:`stroke_changes`, :func:`weight_support`): only raster cells whose ids
differ matter, and a cell moves fusion weights only within the spline's support, 1.5 cells around
its centre; the model states which pixels read weights there
(:meth:`~engine.models.base.Generator.style_support`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.errors import InvalidInput
from engine.geometry import Rect, ceil_div, floor_div
from engine.styles import StrokeRaster, StyleLayout

DEFAULT_CELL = 32  # world pixels per raster cell of a world's first stroke
MAX_STROKE_CELLS = 1 << 24  # bounding box of one stroke, in raster cells (checked before allocating)
MAX_FILL_CELLS = 1 << 20  # cells a flood fill may search (the visible area, clipped)
_BAYER4 = np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]], dtype=np.float64)


@dataclass(frozen=True)
class Dab:
    """One stamp of a round brush: centre in world pixels (exact ints), radius in world pixels."""

    x: int
    y: int
    radius: float


def _check_style(layout: StyleLayout, style: int) -> None:
    if not -1 <= style < len(layout.centres):
        raise InvalidInput(f"no style {style} to paint with (the layout has {len(layout.centres)} styles)")


def stroke_cells(dabs: Sequence[Dab], cell: int, hardness: float) -> list[tuple[int, int]]:
    """Raster cells ``(i, j)`` a stroke of ``dabs`` paints (see the module docstring on hardness)."""
    if not dabs:
        return []
    if not 0.0 <= hardness <= 1.0:
        raise InvalidInput(f"brush hardness must be within 0..1, got {hardness}")
    reach = max(int(np.ceil(d.radius)) for d in dabs)
    i0 = floor_div(min(d.x for d in dabs) - reach, cell)
    j0 = floor_div(min(d.y for d in dabs) - reach, cell)
    w = floor_div(max(d.x for d in dabs) + reach, cell) + 1 - i0
    h = floor_div(max(d.y for d in dabs) + reach, cell) + 1 - j0
    if w * h > MAX_STROKE_CELLS:
        raise InvalidInput(f"a stroke may span at most {MAX_STROKE_CELLS} raster cells; paint it in parts")
    cols, rows = np.arange(w, dtype=np.int64), np.arange(h, dtype=np.int64)
    coverage = np.zeros((h, w), dtype=np.float64)
    for dab in dabs:
        # Twice the offset from the dab to each cell centre: small exact ints before any float.
        dx2 = (2 * (i0 * cell - dab.x) + cell + 2 * cell * cols).astype(np.float64)
        dy2 = (2 * (j0 * cell - dab.y) + cell + 2 * cell * rows).astype(np.float64)
        dist = np.sqrt(dy2[:, None] ** 2 + dx2[None, :] ** 2) / 2.0
        inner = hardness * dab.radius
        if dab.radius > inner:
            cover = np.clip((dab.radius - dist) / (dab.radius - inner), 0.0, 1.0)
        else:
            cover = (dist <= dab.radius).astype(np.float64)
        np.maximum(coverage, cover, out=coverage)
        coverage[floor_div(dab.y, cell) - j0, floor_div(dab.x, cell) - i0] = 1.0  # the cell pointed at
    bayer = np.roll(np.roll(_BAYER4, -(j0 % 4), axis=0), -(i0 % 4), axis=1)  # threshold of cell (i0, j0) first
    thresholds = (np.tile(bayer, (ceil_div(h, 4), ceil_div(w, 4)))[:h, :w] + 0.5) / 16.0
    jj, ii = np.nonzero(coverage > thresholds)
    return [(i0 + int(i), j0 + int(j)) for j, i in zip(jj, ii, strict=True)]


def _with_raster(layout: StyleLayout, raster: StrokeRaster) -> StyleLayout:
    return layout.with_strokes(None if raster.empty else raster)


def paint_stroke(layout: StyleLayout, dabs: Sequence[Dab], style: int, hardness: float = 1.0) -> StyleLayout:
    """``layout`` with a brush stroke of centre ``style`` (``-1``: an eraser, back to the centre rule)."""
    _check_style(layout, style)
    raster = layout.strokes or StrokeRaster(DEFAULT_CELL)
    return _with_raster(layout, raster.painted(stroke_cells(dabs, raster.cell, hardness), style))


def flood_fill(layout: StyleLayout, x: int, y: int, style: int, bound: Rect) -> StyleLayout:
    """Fill the region of equal ids (4-connected raster cells) around world pixel ``(x, y)`` with ``style``.

    The region must close inside ``bound`` (world pixels, e.g. the visible area): unpainted ground
    runs on forever, so a fill that reaches the bound's edge is refused with a one-line message
    instead of painting an arbitrary box.
    """
    _check_style(layout, style)
    raster = layout.strokes or StrokeRaster(DEFAULT_CELL)
    c = raster.cell
    box = Rect(floor_div(bound.x, c), floor_div(bound.y, c), ceil_div(bound.right, c) - floor_div(bound.x, c), 1)
    box = Rect(box.x, box.y, box.w, ceil_div(bound.bottom, c) - box.y)
    if box.w * box.h > MAX_FILL_CELLS:
        raise InvalidInput("the view is too large to fill in; zoom in")
    start = (floor_div(x, c) - box.x, floor_div(y, c) - box.y)
    if not (0 <= start[0] < box.w and 0 <= start[1] < box.h):
        raise InvalidInput("fill where you can see")
    ids = raster.read(box)
    target = int(ids[start[1], start[0]])
    if target == style:
        return layout
    seen = np.zeros(ids.shape, dtype=bool)
    seen[start[1], start[0]] = True
    queue = deque([start])
    region = []
    while queue:
        i, j = queue.popleft()
        region.append((box.x + i, box.y + j))
        if i in (0, box.w - 1) or j in (0, box.h - 1):
            raise InvalidInput("that region is not closed within the view: outline it with the brush first")
        for ni, nj in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)):
            if not seen[nj, ni] and ids[nj, ni] == target:
                seen[nj, ni] = True
                queue.append((ni, nj))
    return _with_raster(layout, raster.painted(region, style))


def stroke_changes(before: StrokeRaster | None, after: StrokeRaster | None) -> list[Rect] | None:
    """Raster cells whose ids differ, as horizontal runs (one rect per run); ``None`` when the two
    rasters have different cell sizes (every weight may differ)."""
    if before is not None and after is not None and before.cell != after.cell:
        return None
    n = StrokeRaster.CHUNK
    old = {} if before is None else dict(before.chunks)
    new = {} if after is None else dict(after.chunks)
    blank = (-1,) * (n * n)
    runs = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key, blank), new.get(key, blank)
        if a == b:
            continue
        diff = (np.asarray(a) != np.asarray(b)).reshape(n, n)
        for row in range(n):
            cols = np.flatnonzero(diff[row])
            if not cols.size:
                continue
            breaks = np.flatnonzero(np.diff(cols) > 1)
            for first, last in zip(np.r_[0, breaks + 1], np.r_[breaks, cols.size - 1], strict=True):
                x0 = key[0] * n + int(cols[first])
                runs.append(Rect(x0, key[1] * n + row, int(cols[last]) - int(cols[first]) + 1, 1))
    return runs


def weight_support(cells: Rect, cell: int) -> Rect:
    """World pixels whose fusion weights can depend on raster ``cells``: the quadratic B-spline of a
    cell reaches 1.5 cells from its centre, exclusive, so pixels ``(q0 - 1) * cell + 1`` to
    ``(q1 + 1) * cell - 1`` along each axis for cells ``q0 .. q1 - 1``."""
    return Rect(
        (cells.x - 1) * cell + 1,
        (cells.y - 1) * cell + 1,
        (cells.w + 2) * cell - 1,
        (cells.h + 2) * cell - 1,
    )
