"""Edits of a world's style layout: add, move, re-width and remove style centres.

Each function returns a new :class:`~engine.styles.StyleLayout`; the caller wraps it with
``world.with_styles``. Two rules keep edits unsurprising:

- An empty layout means "one style everywhere, from the world seed". Adding a centre to it first
  makes that implicit style explicit (the centre :meth:`StyleLayout.resolved` already uses, at the
  origin), so the world's existing look stays and the new centre adds a second style beside it.
- Painted strokes name centres by index: removing a centre erases its strokes and renumbers the
  strokes of the centres after it, so every other painted area keeps its style.
"""

from __future__ import annotations

from dataclasses import replace

from engine.errors import InvalidInput
from engine.styles import StrokeRaster, StyleCentre, StyleLayout


def _check(layout: StyleLayout, index: int) -> None:
    if not 0 <= index < len(layout.centres):
        raise InvalidInput(f"no style centre {index} (the layout has {len(layout.centres)})")


def _with_centres(layout: StyleLayout, centres: tuple[StyleCentre, ...], strokes: StrokeRaster | None) -> StyleLayout:
    return StyleLayout(centres, layout.extra, strokes)


def add_centre(layout: StyleLayout, world_seed: int, centre: StyleCentre, implicit: bool = True) -> StyleLayout:
    """``layout`` plus ``centre``. With ``implicit`` (the model's ``implicit_style_centre``) an empty
    layout first gains its implicit world-seed centre, so the rest of the world keeps its style."""
    existing = layout.resolved(world_seed) if implicit else layout.centres
    return _with_centres(layout, (*existing, centre), layout.strokes)


def move_centre(layout: StyleLayout, index: int, x: int, y: int) -> StyleLayout:
    _check(layout, index)
    centres = list(layout.centres)
    centres[index] = replace(centres[index], x=int(x), y=int(y))
    return _with_centres(layout, tuple(centres), layout.strokes)


def set_centre_width(layout: StyleLayout, index: int, width: float | None) -> StyleLayout:
    """Set a centre's blend width in world pixels (``None``: the model's default)."""
    _check(layout, index)
    if width is not None and not width > 0:
        raise InvalidInput(f"a style width must be positive, got {width}")
    centres = list(layout.centres)
    centres[index] = replace(centres[index], width=None if width is None else float(width))
    return _with_centres(layout, tuple(centres), layout.strokes)


def remove_centre(layout: StyleLayout, index: int) -> StyleLayout:
    """``layout`` without centre ``index``; its strokes are erased, later ones renumbered."""
    _check(layout, index)
    centres = layout.centres[:index] + layout.centres[index + 1 :]
    strokes = layout.strokes
    if strokes is not None:
        chunks = []
        for key, ids in strokes.chunks:
            kept = tuple(-1 if v == index else v - 1 if v > index else v for v in ids)
            if any(v >= 0 for v in kept):
                chunks.append((key, kept))
        strokes = StrokeRaster(strokes.cell, tuple(chunks)) if chunks else None
    return _with_centres(layout, centres, strokes)


def nearest_centre(layout: StyleLayout, x: int, y: int, radius: int) -> int | None:
    """Index of the centre nearest world pixel ``(x, y)`` within ``radius`` pixels (exact ints), if any."""
    best: tuple[int, int] | None = None
    for index, c in enumerate(layout.centres):
        d2 = (c.x - x) ** 2 + (c.y - y) ** 2
        if d2 <= radius * radius and (best is None or d2 < best[0]):
            best = (d2, index)
    return None if best is None else best[1]


def set_centre_name(layout: StyleLayout, index: int, name: str | None) -> StyleLayout:
    """Rename a centre (a label only: pixels stay as they are); blank text clears the name."""
    _check(layout, index)
    text = (name or "").strip() or None
    centres = list(layout.centres)
    centres[index] = replace(centres[index], name=text)
    return _with_centres(layout, tuple(centres), layout.strokes)


def set_centre_seed(layout: StyleLayout, index: int, seed: int) -> StyleLayout:
    """Resample a centre: a new style (seed) at the same place, keeping its strokes and width."""
    _check(layout, index)
    centres = list(layout.centres)
    centres[index] = replace(centres[index], seed=int(seed), latent=None)
    return _with_centres(layout, tuple(centres), layout.strokes)
