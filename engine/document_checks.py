"""Validation of world documents (``world.json`` in a project, ``last-world.json``) before any use.

A world document comes from a file the user (or anyone) may have edited, so every key is checked
for type, range and finiteness *here*, in one place, before :meth:`engine.world.World.from_document`
builds anything from it: a NaN latent or a style centre at x = 1e400 would otherwise surface later
as an all-black render or an ``OverflowError`` deep inside a model. Each refusal is one
:class:`~engine.errors.InvalidInput` line naming the key by its path (``styles.centres[2].width``).

:func:`loads_strict` is the JSON parser for such files: standard JSON only (Python's parser also
takes ``NaN`` and ``Infinity``), finite numbers, integers of bounded length; too deep a nesting
is a refusal, not a crash.
"""

from __future__ import annotations

import json
import math
from typing import Any

import torch

from engine.errors import InvalidInput
from engine.geometry import MAX_COORD

WORLD_FORMAT = "everscape.world/1"
#: Bounds on what a world document may hold (far above what the app writes, far below a bomb).
MAX_SEED = 2**64
MAX_VERSION = 2**62
MAX_CENTRES = 4096
MAX_LATENT = 65536
MAX_WIDTH = float(2**62)
MAX_OVERRIDES = 100_000
MAX_CHANNELS = 65536
MAX_NAME = 256
_MAX_INT_DIGITS = 40


def _refuse_constant(name: str) -> Any:
    raise InvalidInput(f"{name} is not a number JSON allows (non-finite values are refused)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidInput(f"the number {text[:40]} is out of range (not finite as a float)")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise InvalidInput(f"an integer of {len(text)} digits is out of range")
    return int(text)


def loads_strict(raw: bytes | str, what: str) -> Any:
    """Parse standard JSON with finite numbers; any problem is one :class:`InvalidInput` naming ``what``."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as error:
        raise InvalidInput(f"{what} is not UTF-8 text ({error.reason} at byte {error.start})") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int)
    except InvalidInput as error:
        raise InvalidInput(f"{what}: {error}") from None
    except RecursionError:
        raise InvalidInput(f"{what} nests too deeply to be a document") from None
    except ValueError as error:  # JSONDecodeError and int/float conversion limits
        raise InvalidInput(f"{what} is not valid JSON ({str(error).splitlines()[0]})") from None


# -- typed readers: each names the key's path on failure ------------------------------------------


def need_int(value: Any, key: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(f"key {key} must be an integer, got {_show(value)}")
    if not low <= value <= high:
        raise InvalidInput(f"key {key} = {_show(value)} is outside {low}..{high}")
    return value


def need_number(value: Any, key: str, low: float, high: float) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidInput(f"key {key} must be a number, got {_show(value)}")
    if not (math.isfinite(value) and low <= value <= high):
        raise InvalidInput(f"key {key} = {_show(value)} is not a finite number in {low:g}..{high:g}")
    return float(value)


def need_str(value: Any, key: str, max_length: int = MAX_NAME) -> str:
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise InvalidInput(f"key {key} must be a non-empty string of at most {max_length} characters")
    return value


def need_list(value: Any, key: str, max_length: int) -> list:
    if not isinstance(value, list):
        raise InvalidInput(f"key {key} must be a list, got {_show(value)}")
    if len(value) > max_length:
        raise InvalidInput(f"key {key} holds {len(value)} entries, more than the {max_length} allowed")
    return value


def need_dict(value: Any, key: str) -> dict:
    if not isinstance(value, dict):
        raise InvalidInput(f"key {key} must be an object, got {_show(value)}")
    return value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# -- the world document ----------------------------------------------------------------------------


def check_world_document(doc: Any, tensors: dict[str, torch.Tensor]) -> None:
    """Refuse (one line naming the key) anything in ``doc`` or its override tensors a world cannot use."""
    need_dict(doc, "(document)")
    if doc.get("format") != WORLD_FORMAT:
        raise InvalidInput(
            f"not an Everscape world document: key format is {_show(doc.get('format'))}, expected {WORLD_FORMAT!r}"
        )
    need_str(doc.get("model"), "model", 4096)
    if doc.get("model_hash") is not None:
        need_str(doc["model_hash"], "model_hash", 128)
    need_int(doc.get("seed"), "seed", -MAX_SEED, MAX_SEED)
    need_int(doc.get("version", 0), "version", 0, MAX_VERSION)
    _check_styles(need_dict(doc.get("styles", {}), "styles"))
    for index, entry in enumerate(need_list(doc.get("overrides", []), "overrides", MAX_OVERRIDES)):
        _check_override(entry, f"overrides[{index}]", tensors)


def _check_styles(styles: dict) -> None:
    centres = need_list(styles.get("centres", []), "styles.centres", MAX_CENTRES)
    limit = MAX_COORD // 2
    for index, centre in enumerate(centres):
        key = f"styles.centres[{index}]"
        need_dict(centre, key)
        need_int(centre.get("x"), f"{key}.x", -limit, limit)
        need_int(centre.get("y"), f"{key}.y", -limit, limit)
        need_int(centre.get("seed"), f"{key}.seed", -MAX_SEED, MAX_SEED)
        if centre.get("width") is not None:
            width = need_number(centre["width"], f"{key}.width", 0.0, MAX_WIDTH)
            if width <= 0:
                raise InvalidInput(f"key {key}.width must be positive, got {width:g}")
        if centre.get("latent") is not None:
            for i, value in enumerate(need_list(centre["latent"], f"{key}.latent", MAX_LATENT)):
                need_number(value, f"{key}.latent[{i}]", -1e6, 1e6)
    if "strokes" in styles:
        strokes = need_dict(styles["strokes"], "styles.strokes")
        need_int(strokes.get("cell", 32), "styles.strokes.cell", 1, 2**20)
        for name, rows in need_dict(strokes.get("chunks", {}), "styles.strokes.chunks").items():
            try:
                ci, cj = (int(v) for v in str(name).split(","))
            except ValueError:
                raise InvalidInput(f"key styles.strokes.chunks[{name!r}] must be named 'I,J'") from None
            bound = MAX_COORD // 2**9
            if max(abs(ci), abs(cj)) > bound:
                raise InvalidInput(f"key styles.strokes.chunks[{name!r}] lies beyond ±{bound} chunks")
            rows = need_list(rows, f"styles.strokes.chunks[{name!r}]", 16)
            if len(rows) != 16 or not all(isinstance(row, list) and len(row) == 16 for row in rows):
                raise InvalidInput(f"key styles.strokes.chunks[{name!r}] must be 16 rows of 16 integers")
            for row in rows:
                for value in need_list(row, f"styles.strokes.chunks[{name!r}][]", 16):
                    need_int(value, f"styles.strokes.chunks[{name!r}][][]", -1, len(centres) - 1)


def _check_override(entry: Any, key: str, tensors: dict[str, torch.Tensor]) -> None:
    need_dict(entry, key)
    need_str(entry.get("field"), f"{key}.field")
    cells = need_list(entry.get("cells"), f"{key}.cells", 4)
    if len(cells) != 4:
        raise InvalidInput(f"key {key}.cells must be [x, y, w, h], got {_show(cells)}")
    limit = MAX_COORD // 2
    for value in cells[:2]:
        need_int(value, f"{key}.cells", -limit, limit)
    w, h = (need_int(v, f"{key}.cells", 1, 2**24) for v in cells[2:])
    name = need_str(entry.get("tensor"), f"{key}.tensor")
    values = tensors.get(name)
    if values is None:
        raise InvalidInput(f"key {key}.tensor names {name!r}, which is not in the tensors")
    check_override_tensor(values, name, (h, w))


def check_override_tensor(values: torch.Tensor, name: str, size: tuple[int, int]) -> None:
    """An override is a finite float ``(C, h, w)`` tensor; NaN or inf would poison every pixel it reaches."""
    if not isinstance(values, torch.Tensor) or not values.is_floating_point():
        raise InvalidInput(f"tensor {name} must hold floats, got {getattr(values, 'dtype', type(values).__name__)}")
    if values.ndim != 3 or tuple(values.shape[1:]) != size or not 1 <= values.shape[0] <= MAX_CHANNELS:
        raise InvalidInput(f"tensor {name} has shape {tuple(values.shape)}, expected (C, {size[0]}, {size[1]})")
    if not bool(torch.isfinite(values).all()):
        bad = int((~torch.isfinite(values)).sum())
        raise InvalidInput(f"tensor {name} holds {bad} non-finite values (NaN or inf)")
