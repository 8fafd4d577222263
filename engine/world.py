"""The document: an immutable :class:`World` that a renderer turns into pixels.

A world is everything that decides its pixels: the model (by reference and checkpoint hash), the
seed of its latent fields, the style layout, and the user's edits as field overrides. Every edit
returns a new world with ``version + 1``, so undo is a stack of worlds and caches can key on the
version. Tensors (overrides) are kept out of the JSON document and travel in a safetensors side
archive, so a project file is readable text plus one binary blob.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from engine.atomic import atomic_path
from engine.document_checks import WORLD_FORMAT, check_world_document, loads_strict
from engine.errors import InvalidInput, first_line
from engine.fields import FieldPatch
from engine.geometry import Rect
from engine.styles import StyleLayout

FORMAT = WORLD_FORMAT
#: A world file is a small JSON document (the tensors live beside it); larger is not one of ours.
MAX_DOCUMENT_BYTES = 64 * 2**20


@dataclass(frozen=True)
class World:
    """One endless image, as data. Never mutated: use the ``with_*`` methods."""

    model: str
    seed: int = 0
    styles: StyleLayout = field(default_factory=StyleLayout)
    overrides: tuple[FieldPatch, ...] = ()
    model_hash: str | None = None
    version: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise InvalidInput(f"world seed must be an integer, got {self.seed!r}")

    def _edit(self, **changes: Any) -> World:
        return dataclasses.replace(self, version=self.version + 1, **changes)

    def with_seed(self, seed: int) -> World:
        return self._edit(seed=seed)

    def with_styles(self, styles: StyleLayout) -> World:
        return self._edit(styles=styles)

    def with_override(self, patch: FieldPatch) -> World:
        return self._edit(overrides=(*self.overrides, patch))

    def with_overrides(self, patches: tuple[FieldPatch, ...]) -> World:
        return self._edit(overrides=tuple(patches))

    # -- serialisation ---------------------------------------------------------------------------

    def to_document(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """A JSON-able dict plus the tensors it refers to by name."""
        tensors: dict[str, torch.Tensor] = {}
        overrides = []
        for index, patch in enumerate(self.overrides):
            key = f"override.{index}"
            tensors[key] = patch.values.detach().to("cpu", torch.float32).contiguous()
            c = patch.cells
            overrides.append({"field": patch.field, "cells": [c.x, c.y, c.w, c.h], "tensor": key})
        doc = {
            "format": FORMAT,
            "model": self.model,
            "model_hash": self.model_hash,
            "seed": self.seed,
            "styles": self.styles.to_json(),
            "overrides": overrides,
            "version": self.version,
        }
        return doc, tensors

    @classmethod
    def from_document(cls, doc: Any, tensors: dict[str, torch.Tensor]) -> World:
        """Build a world from a document read from a file; every key is checked first (one line per refusal)."""
        check_world_document(doc, tensors)
        try:
            overrides = []
            for entry in doc.get("overrides", []):
                values = tensors[entry["tensor"]].to(torch.float32)
                overrides.append(FieldPatch(entry["field"], Rect(*entry["cells"]), values))
            return cls(
                model=str(doc["model"]),
                seed=doc["seed"],
                styles=StyleLayout.from_json(doc.get("styles", {})),
                overrides=tuple(overrides),
                model_hash=doc.get("model_hash"),
                version=int(doc.get("version", 0)),
            )
        except (KeyError, TypeError) as error:
            raise InvalidInput(f"world document is incomplete: missing or malformed {error}") from None

    def save(self, path: str | Path) -> None:
        """Write ``path`` (JSON) and, when there are overrides, ``path + '.safetensors'``."""
        path = Path(path)
        doc, tensors = self.to_document()
        if tensors:
            with atomic_path(path.with_name(path.name + ".safetensors")) as temp:
                save_file(tensors, str(temp))
        with atomic_path(path) as temp:
            temp.write_text(json.dumps(doc, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> World:
        path = Path(path)
        try:
            if path.stat().st_size > MAX_DOCUMENT_BYTES:
                raise InvalidInput(f"world file {path} is over the {MAX_DOCUMENT_BYTES} byte limit")
            raw = path.read_bytes()
        except FileNotFoundError:
            raise InvalidInput(f"world file {path} does not exist") from None
        except OSError as error:
            raise InvalidInput(f"world file {path} is not readable: {error.strerror or error}") from None
        try:
            doc = loads_strict(raw, "its text")
        except InvalidInput as error:
            raise InvalidInput(f"world file {path} is not readable JSON: {error}") from None
        side = path.with_name(path.name + ".safetensors")
        tensors: dict[str, torch.Tensor] = {}
        if doc.get("overrides") if isinstance(doc, dict) else False:
            try:
                tensors = load_file(str(side))
            except (OSError, SafetensorError, ValueError, RuntimeError) as error:
                raise InvalidInput(f"world tensors {side} are missing or damaged: {first_line(error)}") from None
        try:
            return cls.from_document(doc, tensors)
        except InvalidInput as error:
            raise InvalidInput(f"world file {path}: {error}") from None
