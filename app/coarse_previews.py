"""Coarse previews: cheap stand-ins for zoomed-out tiles of models that can draw them.

A zoomed-out tile of a single-level model is the box-filtered mosaic of ``4**L`` level-0 tiles, so
at 1/4 its first tile costs 16 tiles of work. Models that offer previews
(``Generator.preview_levels()``: InfinityGAN's coarse skip image, colour-mapped, see
:mod:`engine.preview`) draw a level-``P`` tile for a few times less. The canvas asks for them
first, centre first, at the view's level or the finest preview level below it, and paints them
where the real tile is still missing; the real tiles follow and replace them. They are never the
world's pixels: they do not count for :meth:`Canvas.is_complete`, exports never see them, and
they live in the tile cache under their own *coarse state* (the world state negated), so no
coarse tile can be taken for a real one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from app.qimage import rgb_to_rgb32
from app.tiles import TILE, LevelPlan, TileKey, View, downsample_box
from engine.geometry import Rect

BACKGROUND_RGB = (38, 40, 44)  # app.painting.BACKGROUND, where no piece of a composite has arrived


def coarse_state(state: int) -> int:
    """The key state of ``state``'s coarse previews (world states are positive)."""
    return -state


def is_coarse(key: TileKey) -> bool:
    return key.state < 0


def coarse_rect(key: TileKey) -> Rect:
    """What to ask ``Renderer.render_preview`` for: the tile, in pixels of its level."""
    return Rect(key.tx * TILE, key.ty * TILE, TILE, TILE)


def coarse_level(view_level: int, levels: Sequence[int]) -> int | None:
    """The preview level for a view at ``view_level``: its own, else the coarsest one finer than it
    (drawn scaled down), or ``None`` at 1:1 (a real tile costs less than a preview there)."""
    finer = [level for level in levels if 1 <= level <= view_level]
    return max(finer) if finer else None


class CoarsePreviews:
    """The canvas's coarse previews of one model: which levels it draws, and which level-``P`` pieces
    have gone into the view-level tiles they were drawn for.

    Below the finest preview level (a view at 1/16 with previews at 1/4) one view tile holds
    ``4**(L-P)`` preview tiles. Painting each scaled down would cost hundreds of scaled blits per
    frame, so each arriving piece is box-filtered into a *composite* tile of the view's level (the
    background colour where no piece has arrived yet), which paints like any tile.
    """

    def __init__(self, levels: Sequence[int] = ()) -> None:
        self.levels = tuple(levels)
        self.pieces: set[TileKey] = set()  # level-P previews already pasted into their composites
        self.partial: set[TileKey] = set()  # composites under the key of a whole preview (a glimpse's)

    def requests(
        self, view: View, plan: LevelPlan, state: int, skip: Callable[[TileKey], bool]
    ) -> list[tuple[tuple[Any, ...], TileKey]]:
        """``(priority, key)`` of the previews the view still lacks, nearest the centre first and ahead
        of every real tile (priority ring -1). None where ``skip`` says the real view-level tile (or
        the preview) is cached or failed, nor for pieces already in a cached composite."""
        level = view.level(plan)
        preview = coarse_level(level, self.levels)
        if preview is None:
            return []
        up = level - preview
        tx0, ty0, tx1, ty1 = view.tile_range(preview)
        out = self._first_glimpse(view, level, preview, state, skip)
        for ty in range(ty0, ty1 + 1):
            for tx in range(tx0, tx1 + 1):
                key = TileKey(coarse_state(state), preview, tx, ty)
                real = TileKey(state, level, tx >> up, ty >> up)
                if self._has(key, skip) or skip(real) or self._pasted(key, up, skip):
                    continue
                out.append(((-1, -preview, view.distance2(preview, tx, ty)), key))
        out.sort(key=lambda item: item[0])
        return out

    def _first_glimpse(
        self, view: View, level: int, preview: int, state: int, skip: Callable[[TileKey], bool]
    ) -> list[tuple[tuple[Any, ...], TileKey]]:
        """The finest-level preview holding the centre pixel, ahead of all, when the view's own
        preview level is coarser: it costs about half as much, so something of the new world shows
        at the centre sooner (a quarter of a 1/4 view tile), and a little of it is never wasted."""
        finest = min(self.levels)
        if preview == finest:
            return []
        (x, y), side = view.centre, TILE << finest
        key = TileKey(coarse_state(state), finest, x // side, y // side)
        held = TileKey(coarse_state(state), preview, key.tx >> (preview - finest), key.ty >> (preview - finest))
        up = level - preview
        real = TileKey(state, level, x // (TILE << level), y // (TILE << level))
        if skip(real) or skip(key) or self._pasted(key, level - finest, skip):
            return []
        if self._has(held, skip) if up == 0 else self._pasted(held, up, skip):
            return []
        return [((-2, -finest, 0.0), key)]

    def _has(self, key: TileKey, skip: Callable[[TileKey], bool]) -> bool:
        return skip(key) and key not in self.partial

    def _pasted(self, key: TileKey, up: int, cached: Callable[[TileKey], bool]) -> bool:
        return up > 0 and key in self.pieces and cached(key.parent(up))

    def receive(
        self, key: TileKey, pixels: np.ndarray, view_level: int, cached: Callable[[TileKey], np.ndarray | None]
    ) -> tuple[TileKey, np.ndarray]:
        """Where an arriving preview goes: itself at the view's level, else its composite of the view's
        level with the piece pasted in (``cached(key)``: the RGB32 array cached under ``key``, or None)."""
        up = view_level - key.level
        if up <= 0:
            self.partial.discard(key)
            return key, pixels
        target = key.parent(up)
        old = cached(target)
        composite = rgb_to_rgb32(np.full((TILE, TILE, 3), BACKGROUND_RGB, np.uint8)) if old is None else old.copy()
        side = TILE >> up
        x, y = (key.tx - (target.tx << up)) * side, (key.ty - (target.ty << up)) * side
        composite[y : y + side, x : x + side] = downsample_box(pixels, up)
        if old is None:
            self.pieces -= set(target.children(up))  # pieces of an evicted composite are gone with it
        self.pieces.add(key)
        self.partial.add(target)
        return target, composite

    def keep_states(self, live: set[int]) -> None:
        """Forget pieces and composites of world states no longer alive (their tiles are dropped too)."""
        kept = {coarse_state(state) for state in live}
        self.pieces = {key for key in self.pieces if key.state in kept}
        self.partial = {key for key in self.partial if key.state in kept}

    def covers(self, key: TileKey, view_level: int, cached: Callable[[TileKey], bool]) -> bool:
        """Whether previews cover the whole of the view-level tile ``key`` (benchmarks)."""
        preview = coarse_level(view_level, self.levels)
        if preview is None:
            return False
        target = TileKey(coarse_state(key.state), key.level, key.tx, key.ty)
        if preview == view_level:
            return cached(target) and target not in self.partial
        return cached(target) and all(p in self.pieces for p in target.children(view_level - preview))
