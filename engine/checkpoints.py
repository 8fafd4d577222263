"""Safe checkpoint files: safetensors weights with the model's description in the header.

A checkpoint is one ``.safetensors`` file whose metadata holds ``everscape`` = JSON of
``{format, family, config, ...}`` (data, steps, metrics: whatever training recorded). Loading
never runs code: pickles are refused unless imported explicitly with :func:`import_legacy`, which
uses ``torch.load(weights_only=True)``. Shipped checkpoints are package data found through
:mod:`engine.shipped_data` (the repository's ``checkpoints/`` folder in a checkout); the user's live
in the platform data folder or ``$EVERSCAPE_CHECKPOINTS``.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from engine.atomic import atomic_path
from engine.errors import CheckpointError, first_line
from engine.folders import data_dir
from engine.shipped_data import data_path

FORMAT = "everscape.checkpoint/1"
SHIPPED_DIR = data_path("checkpoints")


def user_dir() -> Path:
    """Where the user's own checkpoints go (created on demand by writers, not here)."""
    env = os.environ.get("EVERSCAPE_CHECKPOINTS")
    if env:
        return Path(env)
    return data_dir() / "checkpoints"


def search_dirs() -> list[Path]:
    return [SHIPPED_DIR, user_dir()]


def list_checkpoints() -> list[str]:
    """Names of every checkpoint found in the shipped and user folders."""
    names: list[str] = []
    for folder in search_dirs():
        if folder.is_dir():
            names += sorted(p.stem for p in folder.glob("*.safetensors") if p.stem not in names)
    return names


def find_checkpoint(name: str) -> Path | None:
    for folder in search_dirs():
        candidate = folder / f"{name}.safetensors"
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class Checkpoint:
    family: str
    config: dict[str, Any]
    weights: dict[str, torch.Tensor]
    meta: dict[str, Any] = field(default_factory=dict)
    sha256: str | None = None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _looks_like_pickle(head: bytes) -> bool:
    # torch.save writes a zip (PK..) since 1.6; raw pickles start with the PROTO opcode 0x80.
    return head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"


def save_checkpoint(
    path: str | Path,
    family: str,
    config: Mapping[str, Any],
    weights: Mapping[str, torch.Tensor],
    meta: Mapping[str, Any] | None = None,
) -> None:
    """Write a checkpoint atomically: weights as safetensors, description in the header."""
    header = {"format": FORMAT, "family": family, "config": dict(config), **dict(meta or {})}
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in weights.items()}
    with atomic_path(path) as temp:
        save_file(tensors, str(temp), metadata={"everscape": json.dumps(header)})


def read_header(path: str | Path) -> dict[str, Any]:
    """The JSON description of a checkpoint without loading its weights."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} does not exist") from None
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(_damage_reason(path, error)) from None
    try:
        header = json.loads(metadata["everscape"])
        if header.get("format") != FORMAT or "family" not in header or "config" not in header:
            raise ValueError
    except (KeyError, ValueError, TypeError):
        raise CheckpointError(f"{path} is a safetensors file but not an Everscape checkpoint") from None
    return header


def _damage_reason(path: Path, error: Exception) -> str:
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError as os_error:
        return f"cannot read checkpoint {path}: {os_error.strerror}"
    if _looks_like_pickle(head):
        return (
            f"{path} is a pickle (torch.save) file; pickles can run code and are refused — "
            "convert it with `everscape models import`"
        )
    return f"checkpoint {path} is damaged or truncated ({str(error).splitlines()[0]})"


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Load and verify a checkpoint; every failure is a one-line :class:`CheckpointError`."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file")
    header = read_header(path)
    try:
        weights: dict[str, torch.Tensor] = {}
        with safe_open(str(path), framework="pt") as handle:
            for key in handle.keys():  # noqa: SIM118 - safe_open is not a dict
                weights[key] = handle.get_tensor(key)
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(_damage_reason(path, error)) from None
    meta = {k: v for k, v in header.items() if k not in ("format", "family", "config")}
    return Checkpoint(header["family"], header["config"], weights, meta, file_sha256(path))


def import_legacy(path: str | Path) -> dict[str, torch.Tensor]:
    """Read tensors from a ``torch.save`` file without running code (``weights_only=True``).

    Only for explicit imports; the result should be re-saved with :func:`save_checkpoint`.
    """
    path = Path(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path} does not exist") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as error:
        first = first_line(error)
        raise CheckpointError(f"refused to import {path}: not plain tensors ({first[:160]})") from None
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path} holds no flat dictionary of tensors")
    return {str(k): v for k, v in obj.items()}
