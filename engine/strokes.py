"""Painted strokes: a sparse, chunked, unbounded raster of style-centre ids (see :mod:`engine.styles`).

Kept apart from the layouts and the fusion that read it; :mod:`engine.stroke_paint` paints it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from engine.errors import InvalidInput
from engine.geometry import Rect, ceil_div, floor_div


@dataclass(frozen=True)
class StrokeRaster:
    """Painted style ids on a coarse world lattice: sparse, chunked, unbounded, immutable.

    Raster cell ``(i, j)`` covers world pixels ``[i * cell, (i + 1) * cell)`` horizontally (``j``
    vertically) and holds a centre index of its layout, or ``-1`` where nothing is painted. Only
    chunks of ``CHUNK x CHUNK`` cells with paint in them are stored, so a stroke a million pixels
    from the origin costs what one at the origin does. JSON (inside a layout's ``"strokes"``)::

        {"cell": 32, "chunk": 16, "chunks": {"CI,CJ": [[id, ...16], ...16 rows]}}

    where chunk ``(CI, CJ)`` holds raster cells ``(16 CI + col, 16 CJ + row)``.
    """

    cell: int = 32
    chunks: tuple[tuple[tuple[int, int], tuple[int, ...]], ...] = ()  # ((ci, cj), row-major ids), sorted

    CHUNK: ClassVar[int] = 16

    def __post_init__(self) -> None:
        if not isinstance(self.cell, int) or isinstance(self.cell, bool) or self.cell <= 0:
            raise InvalidInput(f"stroke cell size must be a positive integer, got {self.cell!r}")
        for _, ids in self.chunks:
            if len(ids) != self.CHUNK * self.CHUNK or any(v < -1 for v in ids):
                raise InvalidInput(f"a stroke chunk must hold {self.CHUNK}x{self.CHUNK} ids >= -1")

    @cached_property
    def _index(self) -> dict[tuple[int, int], np.ndarray]:
        return {key: np.asarray(ids, dtype=np.int64).reshape(self.CHUNK, self.CHUNK) for key, ids in self.chunks}

    @property
    def empty(self) -> bool:
        return not self.chunks

    def max_id(self) -> int:
        return max((max(ids) for _, ids in self.chunks), default=-1)

    def read(self, cells: Rect) -> np.ndarray:
        """Ids of the raster cells in ``cells`` as an ``(h, w)`` int64 array (-1 = unpainted)."""
        out = np.full((cells.h, cells.w), -1, dtype=np.int64)
        n = self.CHUNK
        for cj in range(floor_div(cells.y, n), ceil_div(cells.bottom, n)):
            for ci in range(floor_div(cells.x, n), ceil_div(cells.right, n)):
                chunk = self._index.get((ci, cj))
                part = None if chunk is None else Rect(ci * n, cj * n, n, n).intersection(cells)
                if part is None:
                    continue
                out[part.y - cells.y : part.bottom - cells.y, part.x - cells.x : part.right - cells.x] = chunk[
                    part.y - cj * n : part.bottom - cj * n, part.x - ci * n : part.right - ci * n
                ]
        return out

    def painted(self, cells: Iterable[tuple[int, int]], style: int) -> StrokeRaster:
        """A copy with raster cells ``(i, j)`` set to ``style`` (``-1`` erases)."""
        if style < -1:
            raise InvalidInput(f"stroke style id must be >= -1, got {style}")
        index = {key: chunk.copy() for key, chunk in self._index.items()}
        n = self.CHUNK
        for i, j in cells:
            key = (floor_div(i, n), floor_div(j, n))
            chunk = index.setdefault(key, np.full((n, n), -1, dtype=np.int64))
            chunk[j - key[1] * n, i - key[0] * n] = style
        kept = tuple(sorted((key, tuple(int(v) for v in c.ravel())) for key, c in index.items() if (c >= 0).any()))
        return StrokeRaster(self.cell, kept)

    def painted_disc(self, x: int, y: int, radius: int, style: int) -> StrokeRaster:
        """Paint (or erase, ``style=-1``) the raster cells whose centres lie within ``radius`` px of ``(x, y)``."""
        c = self.cell
        cells = []
        for j in range(floor_div(y - radius, c), floor_div(y + radius, c) + 1):
            for i in range(floor_div(x - radius, c), floor_div(x + radius, c) + 1):
                dx, dy = 2 * (i * c - x) + c, 2 * (j * c - y) + c  # twice the offset of the cell centre, exact
                if dx * dx + dy * dy <= 4 * radius * radius:
                    cells.append((i, j))
        return self.painted(cells, style)

    def to_json(self) -> dict[str, Any]:
        n = self.CHUNK
        chunks = {f"{ci},{cj}": [list(ids[r * n : (r + 1) * n]) for r in range(n)] for (ci, cj), ids in self.chunks}
        return {"cell": self.cell, "chunk": n, "chunks": chunks}

    @classmethod
    def from_json(cls, doc: Any) -> StrokeRaster:
        if not isinstance(doc, dict) or not isinstance(doc.get("chunks", {}), dict):
            raise InvalidInput('strokes must be {"cell": N, "chunk": 16, "chunks": {"I,J": [[ids]...]}}')
        if doc.get("chunk", cls.CHUNK) != cls.CHUNK:
            raise InvalidInput(f"strokes use chunks of {cls.CHUNK} cells, got {doc.get('chunk')!r}")
        chunks = []
        for key, rows in doc.get("chunks", {}).items():
            try:
                ci, cj = (int(v) for v in str(key).split(","))
            except ValueError:
                raise InvalidInput(f"stroke chunk key must be 'I,J', got {key!r}") from None
            ok = isinstance(rows, list) and len(rows) == cls.CHUNK
            ok = ok and all(isinstance(r, list) and len(r) == cls.CHUNK for r in rows)
            ids = [v for r in rows for v in r] if ok else []
            if not ok or not all(isinstance(v, int) and not isinstance(v, bool) for v in ids):
                raise InvalidInput(f"stroke chunk {key!r} must be {cls.CHUNK} rows of {cls.CHUNK} integers")
            if any(v >= 0 for v in ids):
                chunks.append(((ci, cj), tuple(ids)))
        return cls(doc.get("cell", 32), tuple(sorted(chunks)))
