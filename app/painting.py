"""Drawing a view from the tile cache: blits only, shared by the canvas and the navigator.

Every visible tile is drawn from the cache if it is there; otherwise its stand-ins from
:func:`app.tiles.cover_plan` (the nearest cached ancestor scaled up, cached descendants scaled
down over it). No numpy and no model work happens here; this runs inside ``paintEvent``.
"""

from __future__ import annotations

import math
from collections.abc import Collection

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
    version: int | None,
    cache: TileCache,
    failed: Collection[TileKey] = (),
    max_up: int = 5,
    max_down: int = 2,
) -> int:
    """Paint ``view`` with what ``cache`` knows; returns how many visible tiles are still missing."""
    painter.fillRect(QRect(0, 0, view.width, view.height), BACKGROUND)
    if version is None:
        return 0
    level = view.level(plan)
    tx0, ty0, tx1, ty1 = view.tile_range(level)
    missing = 0
    for ty in range(ty0, ty1 + 1):
        for tx in range(tx0, tx1 + 1):
            key = TileKey(version, level, tx, ty)
            target = _screen_rect(view, level, tx, ty)
            entry = cache.get(key)
            if entry is not None:
                if target.width() == TILE and target.height() == TILE:
                    painter.drawImage(target.topLeft(), entry[0])
                else:
                    painter.drawImage(target, entry[0])
                continue
            missing += 1
            patches = cover_plan(key, cache.__contains__, max_up, max(0, min(max_down, key.level)))
            if not patches and key in failed:
                painter.fillRect(target, FAILED)
            for patch in patches:
                image = cache.get(patch.source)[0]
                w, h = target.width(), target.height()
                dest = QRectF(target.x() + patch.fx * w, target.y() + patch.fy * h, patch.fside * w, patch.fside * h)
                painter.drawImage(dest, image, QRectF(patch.sx, patch.sy, patch.side, patch.side))
    return missing
