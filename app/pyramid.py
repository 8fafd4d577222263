"""Synthesised zoom-out tiles made from cached finer ones: the pyramid is built, never re-rendered.

A synthesised tile (a display level beyond the model's coarsest, :class:`app.tiles.LevelPlan`) is
the 2x2 box average of its four children, exactly (:func:`app.tiles.downsample_box` halves in
aligned 2x2 steps). So once the finer tiles of a place are cached (the user zoomed in there first,
or the worker delivered them as by-products of a coarser render), the coarser tile is assembled
here in a millisecond instead of asking the model for ``4**k`` times its pixels again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from app.tiles import LevelPlan, TileCache, TileKey, downsample_box


def assemble(children: list[np.ndarray]) -> np.ndarray:
    """The parent of four ``(TILE, TILE, C)`` tiles given in :meth:`TileKey.children` order."""
    top = np.concatenate(children[:2], axis=1)
    bottom = np.concatenate(children[2:], axis=1)
    mosaic = np.concatenate([top, bottom], axis=0)
    return downsample_box(mosaic, 1)


def fill_from_children(
    cache: TileCache,
    plan: LevelPlan,
    keys: Iterable[TileKey],
    store: Callable[[TileKey, np.ndarray], None],
    depth: int = 2,
) -> int:
    """Assemble every synthesised tile of ``keys`` not cached whose descendants ``depth`` levels
    down are (recursively, through synthesised levels only); ``store(key, pixels)`` caches each.
    Returns how many were assembled."""
    made = 0

    def pixels(key: TileKey, down: int) -> np.ndarray | None:
        nonlocal made
        entry = cache.get(key)
        if entry is not None:
            return entry[1]
        if down == 0 or plan.source(key.level)[1] == 0:
            return None  # a native level: only the model makes it
        parts = []
        for child in key.children(1):
            part = pixels(child, down - 1)
            if part is None:
                return None
            parts.append(part)
        tile = assemble(parts)
        store(key, tile)
        made += 1
        return tile

    for key in keys:
        if key not in cache:
            pixels(key, depth)
    return made
