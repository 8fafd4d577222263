"""Integer pixel rectangles and the lattices latent fields live on.

World coordinates are Python ints (x right, y down) and stay exact however far from the origin a
user pans: nothing here ever turns a position into a float. A latent field is a lattice whose cells
are ``stride`` world pixels apart; a model says how many cells of margin a pixel needs around it,
and :func:`footprint` turns a pixel rectangle into the cell rectangle it reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from engine.errors import InvalidInput

#: Positions up to this magnitude are supported everywhere (the foundation's promise: ±10^12 and a bit).
MAX_COORD = 2**62


def floor_div(a: int, b: int) -> int:
    """Floor division that stays exact for huge ints (Python's // already floors)."""
    return a // b


def ceil_div(a: int, b: int) -> int:
    """Ceiling division on ints without going through floats."""
    return -((-a) // b)


@dataclass(frozen=True, slots=True)
class Rect:
    """A non-empty rectangle of world pixels: columns ``[x, x + w)`` and rows ``[y, y + h)``."""

    x: int
    y: int
    w: int
    h: int

    def __post_init__(self) -> None:
        for name in ("x", "y", "w", "h"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidInput(f"rect {name} must be an integer, got {value!r}")
        if self.w <= 0 or self.h <= 0:
            raise InvalidInput(f"rect must have positive size, got {self.w}x{self.h}")
        if max(abs(self.x), abs(self.y), abs(self.right), abs(self.bottom)) > MAX_COORD:
            raise InvalidInput(f"rect {self} lies beyond ±2^62, the supported world")

    @classmethod
    def parse(cls, text: str) -> Rect:
        """Read ``"X,Y,W,H"`` (the command line's form)."""
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 4:
            raise InvalidInput(f"rect must be X,Y,W,H (four integers), got {text!r}")
        try:
            x, y, w, h = (int(p) for p in parts)
        except ValueError:
            raise InvalidInput(f"rect must be X,Y,W,H (four integers), got {text!r}") from None
        return cls(x, y, w, h)

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.w, self.h

    def translate(self, dx: int, dy: int) -> Rect:
        return Rect(self.x + dx, self.y + dy, self.w, self.h)

    def intersection(self, other: Rect) -> Rect | None:
        x0, y0 = max(self.x, other.x), max(self.y, other.y)
        x1, y1 = min(self.right, other.right), min(self.bottom, other.bottom)
        if x1 <= x0 or y1 <= y0:
            return None
        return Rect(x0, y0, x1 - x0, y1 - y0)

    def contains(self, other: Rect) -> bool:
        return self.x <= other.x and self.y <= other.y and other.right <= self.right and other.bottom <= self.bottom

    def tiles(self, tile_w: int, tile_h: int | None = None) -> Iterator[Rect]:
        """Cut into row-major tiles of at most ``tile_w x tile_h``, anchored at this rect's corner."""
        tile_h = tile_w if tile_h is None else tile_h
        if tile_w <= 0 or tile_h <= 0:
            raise InvalidInput("tile size must be positive")
        for ty in range(self.y, self.bottom, tile_h):
            for tx in range(self.x, self.right, tile_w):
                yield Rect(tx, ty, min(tile_w, self.right - tx), min(tile_h, self.bottom - ty))

    def __str__(self) -> str:
        return f"{self.x},{self.y},{self.w},{self.h}"


def aligned_cover(rect: Rect, block: int) -> Rect:
    """The smallest rect made of whole ``block``-sized cells of the world grid that covers ``rect``."""
    x0 = floor_div(rect.x, block) * block
    y0 = floor_div(rect.y, block) * block
    x1 = ceil_div(rect.right, block) * block
    y1 = ceil_div(rect.bottom, block) * block
    return Rect(x0, y0, x1 - x0, y1 - y0)


@dataclass(frozen=True, slots=True)
class Lattice:
    """Where a latent field's cells sit in world pixels, and how far a pixel reads around itself.

    Cell ``(i, j)`` covers world pixels ``[i * stride, (i + 1) * stride)`` horizontally (``j`` the
    same vertically). ``margin`` is how many cells beyond the cells under a pixel the model may
    read (its receptive field, rounded up): a conservative bound, so a support computed from it
    always contains every pixel an edit can change.
    """

    stride: int
    margin: int = 0

    def __post_init__(self) -> None:
        if self.stride <= 0 or self.margin < 0:
            raise InvalidInput(f"invalid lattice stride={self.stride} margin={self.margin}")

    def footprint(self, rect: Rect) -> Rect:
        """The cell rectangle whose values can influence any pixel of ``rect``."""
        i0 = floor_div(rect.x, self.stride) - self.margin
        j0 = floor_div(rect.y, self.stride) - self.margin
        i1 = ceil_div(rect.right, self.stride) + self.margin
        j1 = ceil_div(rect.bottom, self.stride) + self.margin
        return Rect(i0, j0, i1 - i0, j1 - j0)

    def support(self, cells: Rect) -> Rect:
        """The pixel rectangle that can depend on any cell of ``cells`` (inverse of footprint)."""
        x0 = (cells.x - self.margin) * self.stride
        y0 = (cells.y - self.margin) * self.stride
        x1 = (cells.right + self.margin) * self.stride
        y1 = (cells.bottom + self.margin) * self.stride
        return Rect(x0, y0, x1 - x0, y1 - y0)
