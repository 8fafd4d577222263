"""What the world toolbar and View ▸ Go to offer: the model picker's list and typed positions.

Plain functions (no widgets), kept apart from :mod:`app.main_window` so the window class holds only
its behaviour; the window re-exports :func:`parse_position` under its old name.
"""

from __future__ import annotations

from engine.checkpoints import list_checkpoints
from engine.errors import InvalidInput
from engine.geometry import MAX_COORD


def developer_models() -> list[str]:
    """Every ``FAMILY:CONFIG`` random model of the families in this build (developer option)."""
    from engine.models.registry import available_families, get_family

    return [f"{family}:{name}" for family in available_families() for name in get_family(family).configs]


def parse_position(text: str) -> tuple[int, int]:
    """``"x, y"`` (commas or spaces) -> two ints, or a one-line :class:`InvalidInput`."""
    parts = text.replace(",", " ").split()
    try:
        x, y = (int(p) for p in parts)
    except ValueError:
        raise InvalidInput(f"a position is two integers 'x, y', got {text!r}") from None
    if max(abs(x), abs(y)) > MAX_COORD // 2:
        raise InvalidInput(f"({x}, {y}) lies beyond ±2^61, the part of the world the canvas can show")
    return x, y


def model_choices(current: str | None, developer: bool) -> list[str]:
    """The picker's entries: checkpoints (and random models for developers), the open model first
    when it is none of them (a training run's checkpoint opened from its path)."""
    names = list_checkpoints()
    if developer:
        names += developer_models()
    if current is not None and current not in names:
        names.insert(0, current)
    return names
