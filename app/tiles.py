"""Tile arithmetic for the canvas, free of Qt so it can be tested and reasoned about alone.

The canvas shows a world through 256-pixel *display tiles*. A tile at level ``L`` covers
``256 * 2**L`` world pixels (level-0 pixels) on a side, so tile ``(L, tx, ty)`` is the world square
starting at ``(tx * 256 << L, ty * 256 << L)``. The display zoom is a power of two: ``2**zoom`` screen
pixels per world pixel. Zoomed out (``zoom < 0``) the canvas draws level ``-zoom`` 1:1; zoomed in it
draws level 0 magnified.

How a level is made (:class:`LevelPlan`): levels below the model's ``num_levels()`` come from the
model itself (∞-GAN's scale hierarchy renders its coarse levels directly, at about the cost per
pixel of level 0, and they are requested first as previews, centre first). Coarser levels are
*synthesised*: the tile's area is rendered at the coarsest native level and box-filtered down by 2x2
steps, so a parent tile is exactly the 2x2 box average of its four children. That makes them a
pyramid built from one render (:mod:`app.pyramid`): a tile whose children are cached is assembled
from them, never rendered, and a rendered one brings its four children along.

**Work per view (the zoom-out bound)**: at most ``synth_levels`` (default 4) levels beyond the
coarsest native one, so a view of ``P`` pixels asks the model for at most ``4**synth_levels * P``
pixels of its coarsest level (256x at 1/16 for a single-level family; ∞-GAN reaches 1/128 at the
cost per pixel of its level 3) and every such pixel at most once while its tiles stay cached. The
canvas asks only for the visible tiles (and a prefetch ring), nearest the centre first, one
synthesised tile per model call (so the first arrives after ``4**k`` blocks, not a batch of them),
and a pan or zoom replaces the whole queue, so work for a view left behind is never done.

Positions are Python ints throughout: the view centre is kept in 1/16 world pixels (``SUB``), which
makes every pan and every zoom step exact at any distance from the origin.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from app.tile_cache import TileCache  # noqa: F401 - re-exported: the canvas and tests import it here
from engine.geometry import MAX_COORD, Rect

TILE = 256  # display tile side in pixels
SUB = 16  # the view centre is stored in 1/SUB world pixels
MAX_ZOOM_IN = 4  # 2**4 = 16 screen pixels per world pixel; must keep SUB >> zoom an integer
MAX_ZOOM_OUT = 40  # a view's own bound; the canvas limits it further to its level plan
MAX_VIEW_SIDE = 2**15  # widget pixels
MAX_VIEW_CENTRE = (MAX_COORD // 2) * SUB  # the centre stays within ±2^61 px (what Go to accepts)


@dataclass(frozen=True, slots=True, order=True)
class TileKey:
    """A display tile of one world state (:mod:`app.world_states`): level, column ``tx``, row ``ty``."""

    state: int
    level: int
    tx: int
    ty: int

    def parent(self, up: int = 1) -> TileKey:
        return TileKey(self.state, self.level + up, self.tx >> up, self.ty >> up)

    def children(self, down: int = 1) -> Iterator[TileKey]:
        n = 1 << down
        for j in range(n):
            for i in range(n):
                yield TileKey(self.state, self.level - down, (self.tx << down) + i, (self.ty << down) + j)

    def world_rect(self) -> Rect:
        """The level-0 world pixels this tile shows."""
        side = TILE << self.level
        return Rect(self.tx * side, self.ty * side, side, side)


@dataclass(frozen=True, slots=True)
class LevelPlan:
    """Which display levels exist for a model and how each is produced (see module docstring)."""

    native_levels: int = 1
    synth_levels: int = 4

    @property
    def max_level(self) -> int:
        return self.native_levels - 1 + self.synth_levels

    def source(self, level: int) -> tuple[int, int]:
        """``(native level to render, number of 2x halvings after it)`` for a display level."""
        base = min(level, self.native_levels - 1)
        return base, level - base

    def render_rect(self, key: TileKey) -> tuple[Rect, int, int]:
        """The rect to ask the renderer for (in pixels of the native level), that level, and halvings."""
        base, halvings = self.source(key.level)
        side = TILE << halvings
        return Rect(key.tx * side, key.ty * side, side, side), base, halvings


def downsample_box(pixels: np.ndarray, halvings: int) -> np.ndarray:
    """Halve ``(H, W, C)`` uint8 ``halvings`` times with a rounded 2x2 box filter.

    Repeated halving (not one big box) keeps a synthesised parent equal to the halved mosaic of its
    synthesised children, so tiles of adjacent levels agree wherever both are cached.
    """
    for _ in range(halvings):
        h, w, c = pixels.shape
        quads = pixels.reshape(h // 2, 2, w // 2, 2, c).astype(np.uint16)
        pixels = ((quads.sum(axis=(1, 3)) + 2) // 4).astype(np.uint8)
    return pixels


@dataclass(frozen=True, slots=True)
class View:
    """What the canvas shows: centre (world pixels x ``SUB``), zoom exponent, widget size."""

    cx: int = 0
    cy: int = 0
    zoom: int = 0
    width: int = 640
    height: int = 480

    def __post_init__(self) -> None:
        # Every view is one the canvas can paint: a project or setting may say zoom 10^30 or
        # x = 10^30 (``SUB >> zoom`` would be 0, a division by it would raise in every paintEvent).
        # Positions are clamped to the world the geometry supports, zoom to MAX_ZOOM_OUT..MAX_ZOOM_IN,
        # sizes to 1..MAX_VIEW_SIDE; anything not an int (NaN from a float) falls back to the origin.
        for name, low, high in (
            ("cx", -MAX_VIEW_CENTRE, MAX_VIEW_CENTRE),
            ("cy", -MAX_VIEW_CENTRE, MAX_VIEW_CENTRE),
            ("zoom", -MAX_ZOOM_OUT, MAX_ZOOM_IN),
            ("width", 1, MAX_VIEW_SIDE),
            ("height", 1, MAX_VIEW_SIDE),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                finite = isinstance(value, float) and math.isfinite(value)
                value = round(value) if finite else max(low, 0)
            object.__setattr__(self, name, max(low, min(high, value)))

    @property
    def unit(self) -> int:
        """Sub-pixel units per screen pixel (an integer because ``zoom <= MAX_ZOOM_IN``)."""
        return SUB >> self.zoom if self.zoom >= 0 else SUB << -self.zoom

    def level(self, plan: LevelPlan) -> int:
        return min(max(0, -self.zoom), plan.max_level)

    @classmethod
    def centred(cls, x: int, y: int, zoom: int = 0, width: int = 640, height: int = 480) -> View:
        return cls(x * SUB, y * SUB, zoom, width, height)

    @property
    def centre(self) -> tuple[int, int]:
        """The world pixel at the centre of the view."""
        return self.cx // SUB, self.cy // SUB

    def world_rect(self) -> Rect:
        """The level-0 world pixels the view shows (rounded outwards to whole pixels)."""
        half_w, half_h = self.width * self.unit // 2, self.height * self.unit // 2
        x0, y0 = (self.cx - half_w) // SUB, (self.cy - half_h) // SUB
        x1, y1 = -((-(self.cx + half_w)) // SUB), -((-(self.cy + half_h)) // SUB)
        return Rect(x0, y0, max(1, x1 - x0), max(1, y1 - y0))

    def resized(self, width: int, height: int) -> View:
        return replace(self, width=max(1, width), height=max(1, height))

    def panned(self, dx: int, dy: int) -> View:
        """The view after dragging the content by ``(dx, dy)`` screen pixels."""
        return replace(self, cx=self.cx - dx * self.unit, cy=self.cy - dy * self.unit)

    def zoomed(self, steps: int, plan: LevelPlan, anchor: tuple[float, float] | None = None) -> View:
        """Zoom by ``steps`` powers of two keeping the world point under ``anchor`` (screen px) fixed."""
        zoom = min(MAX_ZOOM_IN, max(-plan.max_level, self.zoom + steps))
        if zoom == self.zoom:
            return self
        ax, ay = anchor if anchor is not None else (self.width / 2, self.height / 2)
        ox, oy = round(ax - self.width / 2), round(ay - self.height / 2)
        new = replace(self, zoom=zoom)
        return replace(new, cx=self.cx + ox * self.unit - ox * new.unit, cy=self.cy + oy * self.unit - oy * new.unit)

    def screen_to_world(self, sx: float, sy: float) -> tuple[int, int]:
        """The world pixel under screen point ``(sx, sy)``."""
        wx = self.cx + round((sx - self.width / 2) * self.unit)
        wy = self.cy + round((sy - self.height / 2) * self.unit)
        return wx // SUB, wy // SUB

    def world_to_screen(self, wx: int, wy: int) -> tuple[float, float]:
        """Screen position of world pixel corner ``(wx, wy)`` (floats; differences stay small)."""
        return (wx * SUB - self.cx) / self.unit + self.width / 2, (wy * SUB - self.cy) / self.unit + self.height / 2

    def world_bounds(self) -> Rect:
        """The world pixels at least partly visible."""
        u, s2 = self.unit, 2 * SUB
        x0 = (2 * self.cx - self.width * u) // s2
        y0 = (2 * self.cy - self.height * u) // s2
        x1 = -((-(2 * self.cx + self.width * u)) // s2)
        y1 = -((-(2 * self.cy + self.height * u)) // s2)
        return Rect(x0, y0, max(1, x1 - x0), max(1, y1 - y0))

    def tile_range(self, level: int, margin: int = 0) -> tuple[int, int, int, int]:
        """Inclusive ``(tx0, ty0, tx1, ty1)`` of level tiles touching the view, grown by ``margin`` tiles."""
        side = TILE << level
        b = self.world_bounds()
        return (
            b.x // side - margin,
            b.y // side - margin,
            (b.right - 1) // side + margin,
            (b.bottom - 1) // side + margin,
        )

    def tile_screen_rect(self, level: int, tx: int, ty: int) -> tuple[float, float, float]:
        """``(x, y, side)`` of a tile on screen."""
        world_side = TILE << level
        x, y = self.world_to_screen(tx * world_side, ty * world_side)
        return x, y, world_side * SUB / self.unit

    def distance2(self, level: int, tx: int, ty: int) -> float:
        """Squared screen distance from a tile's centre to the middle of the pixel at the view centre.

        The middle of a pixel, not the view's exact centre: a view centred on a tile corner (the
        origin, any "Go to" a round number) would tie four tiles, and the first tile rendered must be
        the one that shows the centre pixel. Exact integers until the last step, at any distance."""
        side, (px, py) = TILE << level, self.centre
        dx2, dy2 = 2 * tx * side + side - 2 * px - 1, 2 * ty * side + side - 2 * py - 1  # 2x world distance
        scale = SUB / self.unit / 2
        return (dx2 * scale) ** 2 + (dy2 * scale) ** 2


def visible_keys(view: View, plan: LevelPlan, state: int, margin: int = 0) -> list[TileKey]:
    """Tiles of the view's level touching the view (grown by ``margin``), nearest the centre first."""
    level = view.level(plan)
    tx0, ty0, tx1, ty1 = view.tile_range(level, margin)
    keys = [TileKey(state, level, tx, ty) for ty in range(ty0, ty1 + 1) for tx in range(tx0, tx1 + 1)]
    keys.sort(key=lambda k: view.distance2(k.level, k.tx, k.ty))
    return keys


def plan_requests(
    view: View,
    plan: LevelPlan,
    state: int,
    skip: Callable[[TileKey], bool],
    prefetch: int = 1,
    coarse_levels: int = 2,
) -> list[tuple[tuple[Any, ...], TileKey]]:
    """``(priority, key)`` for every tile the view wants that ``skip`` does not exclude, best first.

    Priority is ``(ring, -level, distance)``: visible tiles before the ``prefetch`` ring around them,
    coarse before fine, nearest the view centre first. Coarser levels are asked for only where the
    model renders them natively (up to ``coarse_levels`` above the view's level): they are as cheap per
    tile as the view's own level and fill the screen quickly. A synthesised coarse level would cost 4x
    per step, so single-level models never get coarse requests.
    """
    level = view.level(plan)
    out: list[tuple[tuple[Any, ...], TileKey]] = []
    seen: set[TileKey] = set()
    top = min(plan.native_levels - 1, level + coarse_levels) if level < plan.native_levels - 1 else level
    for lvl in range(level, top + 1):
        rings = [(0, 0)] if lvl != level or prefetch <= 0 else [(0, 0), (1, prefetch)]
        for ring, margin in rings:
            tx0, ty0, tx1, ty1 = view.tile_range(lvl, margin)
            for ty in range(ty0, ty1 + 1):
                for tx in range(tx0, tx1 + 1):
                    key = TileKey(state, lvl, tx, ty)
                    if key in seen or skip(key):
                        continue
                    seen.add(key)
                    out.append(((ring, -lvl, view.distance2(lvl, tx, ty)), key))
    out.sort(key=lambda item: item[0])
    return out


@dataclass(frozen=True, slots=True)
class Patch:
    """Draw ``source`` region ``(sx, sy, side)`` (source tile pixels) over the target tile's fraction
    ``(fx, fy, fside)`` (0..1 of the target tile)."""

    source: TileKey
    sx: float
    sy: float
    side: float
    fx: float
    fy: float
    fside: float


def cover_plan(key: TileKey, has: Callable[[TileKey], bool], max_up: int = 5, max_down: int = 2) -> list[Patch]:
    """Stand-ins for a missing tile, drawn in order: the nearest cached ancestor (scaled up), then
    cached descendants (scaled down) over it, finer ones last, so the best-known pixels win."""
    patches: list[Patch] = []
    for up in range(1, max_up + 1):
        parent = key.parent(up)
        if has(parent):
            n = 1 << up
            side = TILE / n
            patches.append(
                Patch(
                    parent,
                    (key.tx - (parent.tx << up)) * side,
                    (key.ty - (parent.ty << up)) * side,
                    side,
                    0.0,
                    0.0,
                    1.0,
                )
            )
            break
    for down in range(1, min(max_down, key.level) + 1):
        n = 1 << down
        for child in key.children(down):
            if has(child):
                patches.append(
                    Patch(
                        child,
                        0.0,
                        0.0,
                        float(TILE),
                        (child.tx - (key.tx << down)) / n,
                        (child.ty - (key.ty << down)) / n,
                        1.0 / n,
                    )
                )
    return patches
