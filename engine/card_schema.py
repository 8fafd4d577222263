"""The shape a model card must have before anything reads it.

Cards are read by ``models report`` (every number of the quality table), by the app's choice of
default model, and by ``models ship --remeasure``. One card of the wrong shape (a list where a
table belongs, a string score) used to raise deep inside the table code and take the report of
every other model with it. So a card is checked against this schema once, where it is read, and
a bad card is named and left out.

The schema is a small declarative tree, not a ``jsonschema`` document (no dependency for ~40
lines): a dict spec lists keys (``"?key"`` optional, ``"*"`` any key, ``"#"`` any decimal key),
a one-element list spec is "a list of these", a tuple is "any of these", :data:`NUMBER` is a
finite JSON number or null (a metric not measured), :data:`MEASURED` a finite number, and a type
is that type. Non-finite numbers (JSON parsers accept ``NaN`` and ``Infinity``) are refused.
"""

from __future__ import annotations

import math
from typing import Any

NUMBER = "number"
MEASURED = "measured number"
_SCORES = {"swd": NUMBER, "inf_swd": NUMBER, "scaleinv": {"#": NUMBER}}
_SHARES = {"ice": MEASURED, "ocean": MEASURED, "*": MEASURED}

CARD_SCHEMA: dict[str, Any] = {
    "format": str,
    "name": str,
    "?family": str,
    "metrics": {
        "trained": _SCORES,
        "untrained": _SCORES,
        "real_vs_real": {"swd": NUMBER, "?scaleinv": {"#": NUMBER}, "?whole_scaleinv": {"#": NUMBER}},
        "?mode": str,
        "?data": str,
        "?options": dict,
    },
    "?training": {
        "?steps": NUMBER,
        "?kimg": NUMBER,
        "?wall_time_s": NUMBER,
        "?device": str,
        "?init": (None, {"?steps": NUMBER, "?kimg": NUMBER, "?wall_time_s": NUMBER}),
    },
    "?goals": {
        "*": {"?value": NUMBER, "?limit": NUMBER, "?pass": bool, "?data": {"zoom": (str, int), "ratio": NUMBER}}
    },
    "?gallery": {"?path": str, "?size": [int]},
    "?inversion": {"trained": {"psnr_db": NUMBER}, "untrained": {"psnr_db": NUMBER}},
    "?landcover": (
        None,
        {
            "measures": {"*": {"render": MEASURED, "data": MEASURED}},
            "?gallery_rows": [int],
            "?by_latitude": [{"render": _SHARES, "data": _SHARES}],
        },
    ),
}


def _is_number(value: Any) -> bool:
    if value is None:
        return True
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def problem(value: Any, spec: Any = CARD_SCHEMA, where: str = "card") -> str | None:
    """What is wrong with ``value`` against ``spec`` (the first problem, naming its key), or None."""
    if isinstance(spec, tuple):
        found = [problem(value, option, where) for option in spec]
        return None if any(p is None for p in found) else next(p for p in found if p)
    if spec is None:
        return None if value is None else f"{where} is not null"
    if spec in (NUMBER, MEASURED):
        if value is None and spec == MEASURED:
            return f"{where} is null, not a number"
        return None if _is_number(value) else f"{where} is {str(value)[:20]!r}, not a finite number"
    if isinstance(spec, list):
        if not isinstance(value, list):
            return f"{where} is {type(value).__name__}, not a list"
        return next((p for i, v in enumerate(value) if (p := problem(v, spec[0], f"{where}[{i}]"))), None)
    if isinstance(spec, dict):
        return _table_problem(value, spec, where)
    if spec is int and isinstance(value, bool):
        return f"{where} is bool, not int"
    return None if isinstance(value, spec) else f"{where} is {type(value).__name__}, not {spec.__name__}"


def _table_problem(value: Any, spec: dict[str, Any], where: str) -> str | None:
    if not isinstance(value, dict):
        return f"{where} is {type(value).__name__}, not a table"
    for key, sub in spec.items():
        if key in ("*", "#"):
            continue
        name = key.lstrip("?")
        if name not in value:
            if key.startswith("?"):
                continue
            return f"{where} has no {name!r}"
        found = problem(value[name], sub, f"{where}.{name}")
        if found:
            return found
    for wildcard in ("*", "#"):
        if wildcard in spec:
            for name, item in value.items():
                if wildcard == "#" and not str(name).isdigit():
                    return f"{where} key {name!r} is not a number"
                found = problem(item, spec[wildcard], f"{where}.{name}")
                if found:
                    return found
    return None
