"""Style layouts: where the world's global styles sit (InfinityGAN's style centres).

A layout is plain data: a list of centres, each with a world position, the seed of its global
latent (or an explicit latent vector, e.g. from inversion), and an optional blend width. An empty
layout means "one style everywhere, drawn from the world seed". How a model turns a layout into
per-pixel styles (smooth, tile-consistent weights) belongs to the model side of this module and to
the families; this part only fixes the document every client saves and loads.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import InvalidInput


@dataclass(frozen=True)
class StyleCentre:
    """One style centre at world pixel ``(x, y)``."""

    x: int
    y: int
    seed: int
    width: float | None = None  # blend width in world pixels; None = the model's default
    latent: tuple[float, ...] | None = None  # explicit global latent (inversion), overrides seed

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"x": self.x, "y": self.y, "seed": self.seed}
        if self.width is not None:
            doc["width"] = self.width
        if self.latent is not None:
            doc["latent"] = list(self.latent)
        return doc

    @classmethod
    def from_json(cls, doc: Any) -> StyleCentre:
        if not isinstance(doc, dict):
            raise InvalidInput(f"a style centre must be an object, got {doc!r}")
        try:
            x, y, seed = doc["x"], doc["y"], doc["seed"]
        except KeyError as missing:
            raise InvalidInput(f"style centre {doc!r} lacks {missing}") from None
        for name, value in (("x", x), ("y", y), ("seed", seed)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidInput(f"style centre {name} must be an integer, got {value!r}")
        width = doc.get("width")
        if width is not None and (not isinstance(width, int | float) or width <= 0):
            raise InvalidInput(f"style centre width must be a positive number, got {width!r}")
        latent = doc.get("latent")
        if latent is not None:
            if not isinstance(latent, list) or not all(isinstance(v, int | float) for v in latent):
                raise InvalidInput("style centre latent must be a list of numbers")
            latent = tuple(float(v) for v in latent)
        return cls(x, y, seed, None if width is None else float(width), latent)


@dataclass(frozen=True)
class StyleLayout:
    """The style centres of a world (and, later, painted strokes); immutable and JSON-serialisable."""

    centres: tuple[StyleCentre, ...] = field(default_factory=tuple)
    extra: tuple[tuple[str, Any], ...] = field(default_factory=tuple)  # forward-compatible keys

    def resolved(self, world_seed: int) -> tuple[StyleCentre, ...]:
        """The centres a model should use: an empty layout is one centre seeded by the world."""
        return self.centres or (StyleCentre(0, 0, world_seed),)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = dict(self.extra)
        doc["centres"] = [c.to_json() for c in self.centres]
        return doc

    @classmethod
    def from_json(cls, doc: Any) -> StyleLayout:
        if not isinstance(doc, dict) or not isinstance(doc.get("centres", []), list):
            raise InvalidInput('a style layout must be {"centres": [...]}')
        centres = tuple(StyleCentre.from_json(c) for c in doc.get("centres", []))
        extra = tuple(sorted((k, v) for k, v in doc.items() if k != "centres"))
        return cls(centres, extra)

    @classmethod
    def load(cls, path: str | Path) -> StyleLayout:
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InvalidInput(f"style layout {path} does not exist") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise InvalidInput(f"style layout {path} is not readable JSON: {error}") from None
        return cls.from_json(doc)

    @classmethod
    def of(cls, centres: Sequence[StyleCentre]) -> StyleLayout:
        return cls(tuple(centres))
