"""Drawing a view from the tile cache: blits only, shared by the canvas and the navigator.

Every visible tile is drawn from the cache if it is there; otherwise the same tile of an earlier
state (the picture before an edit, kept until the edit's pixels arrive), else its stand-ins from
:func:`app.tiles.cover_plan` (the nearest cached ancestor scaled up, cached descendants scaled
down over it), of this state or else of an earlier one.
No numpy and no model work happens here; this runs inside ``paintEvent``.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import replace

from PySide6.QtCore import QRect, QRectF
from PySide6.QtGui import QColor, QPainter

from app.tiles import TILE, LevelPlan, TileCache, TileKey, View, cover_plan

BACKGROUND = QColor(38, 40, 44)
FAILED = QColor(90, 30, 30)


def _screen_rect(view: View, level: int, tx: int, ty: int) -> QRect:
    # Integer edges from the float corners, so neighbouring tiles share edges exactly (no seams).
    x, y, side = view.tile_screen_rect(level, tx, ty)
    x0, y0 = math.floor(x), math.floor(y)
    return QRect(x0, y0, math.floor(x + side) - x0, math.floor(y + side) - y0)


def paint_view(
    painter: QPainter,
    view: View,
    plan: LevelPlan,
    state: int | None,
    cache: TileCache,
    failed: Collection[TileKey] = (),
    max_up: int = 5,
    max_down: int = 2,
    standins: Sequence[int] = (),
) -> int:
    """Paint ``view`` with what ``cache`` knows of world ``state``, falling back to the earlier
    ``standins`` (newest first); returns how many visible tiles are still missing."""
    painter.fillRect(QRect(0, 0, view.width, view.height), BACKGROUND)
    if state is None:
        return 0
    level = view.level(plan)
    tx0, ty0, tx1, ty1 = view.tile_range(level)
    missing = 0
    for ty in range(ty0, ty1 + 1):
        for tx in range(tx0, tx1 + 1):
            key = TileKey(state, level, tx, ty)
            target = _screen_rect(view, level, tx, ty)
            entry = cache.get(key)
            if entry is None:
                missing += 1
                entry = next((e for s in standins if (e := cache.get(TileKey(s, level, tx, ty))) is not None), None)
            if entry is not None:
                if target.width() == TILE and target.height() == TILE:
                    painter.drawImage(target.topLeft(), entry[0])
                else:
                    painter.drawImage(target, entry[0])
                continue
            if not _paint_cover(painter, key, target, cache, standins, max_up, max_down) and key in failed:
                painter.fillRect(target, FAILED)
    return missing


def _paint_cover(
    painter: QPainter,
    key: TileKey,
    target: QRect,
    cache: TileCache,
    standins: Sequence[int],
    max_up: int,
    max_down: int,
) -> bool:
    """Draw the stand-ins (scaled ancestors and descendants) of the first state that has any."""
    for state in (key.state, *standins):
        patches = cover_plan(replace(key, state=state), cache.__contains__, max_up, max(0, min(max_down, key.level)))
        for patch in patches:
            image = cache.get(patch.source)[0]
            w, h = target.width(), target.height()
            dest = QRectF(target.x() + patch.fx * w, target.y() + patch.fy * h, patch.fside * w, patch.fside * h)
            painter.drawImage(dest, image, QRectF(patch.sx, patch.sy, patch.side, patch.side))
        if patches:
            return True
    return False
