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
import math
import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from engine import filekind
from engine.atomic import atomic_path
from engine.budget import check_memory
from engine.errors import CheckpointError, OutputError, first_line
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


def save_checkpoint(
    path: str | Path,
    family: str,
    config: Mapping[str, Any],
    weights: Mapping[str, torch.Tensor],
    meta: Mapping[str, Any] | None = None,
) -> None:
    """Write a checkpoint atomically: weights as safetensors, description in the header."""
    with atomic_path(path) as temp:
        write_checkpoint_file(temp, family, config, weights, meta, target=Path(path))


def write_checkpoint_file(
    temp: Path,
    family: str,
    config: Mapping[str, Any],
    weights: Mapping[str, torch.Tensor],
    meta: Mapping[str, Any] | None = None,
    *,
    target: Path,
) -> None:
    """Fill ``temp`` (a temporary from :mod:`engine.atomic`) with the checkpoint bound for ``target``."""
    header = {"format": FORMAT, "family": family, "config": dict(config), **dict(meta or {})}
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in weights.items()}
    write_safetensors(temp, tensors, {"everscape": json.dumps(header)}, target)


def write_safetensors(temp: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str], target: Path) -> None:
    """``save_file`` with its errors as one-line :class:`OutputError`: safetensors reports a full
    disk or a write error as its own ``SafetensorError``, which is not an ``OSError``."""
    try:
        save_file(tensors, str(temp), metadata=metadata)
    except SafetensorError as error:
        text = first_line(error)
        if "os error 28" in text.lower() or "no space" in text.lower():
            raise OutputError(f"cannot write {target}: the disk is full") from None
        raise OutputError(f"cannot write {target}: {text[:160]}") from None


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
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ValueError
        if not isinstance(header.get("family"), str) or not isinstance(header.get("config"), dict):
            raise ValueError
    except (KeyError, ValueError, TypeError):
        raise CheckpointError(f"{path} is a safetensors file but not an Everscape checkpoint") from None
    bad = _non_finite_entry(header["config"])
    if bad is not None:
        raise CheckpointError(f"checkpoint {path}: config value {bad} is not a finite number")
    return header


def _non_finite_entry(tree: Any, where: str = "") -> str | None:
    """The dotted key of the first NaN or infinite number in a JSON tree (JSON parsers accept
    ``NaN`` and ``Infinity``), or None when every number is finite."""
    if isinstance(tree, float) and not math.isfinite(tree):
        return where or "(top)"
    if isinstance(tree, dict):
        items = tree.items()
    elif isinstance(tree, list):
        items = enumerate(tree)
    else:
        return None
    for key, value in items:
        found = _non_finite_entry(value, f"{where}.{key}" if where else str(key))
        if found is not None:
            return found
    return None


def _damage_reason(path: Path, error: Exception) -> str:
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError as os_error:
        return f"cannot read checkpoint {path}: {os_error.strerror}"
    if filekind.sniff(path) in (filekind.PICKLE, filekind.TORCH_ZIP):
        return (
            f"{path} is a pickle (torch.save) file; pickles can run code and are refused — "
            "convert it with `everscape models import`"
        )
    return f"checkpoint {path} is damaged or truncated ({first_line(error)[:160]})"


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Load and verify a checkpoint; every failure is a one-line :class:`CheckpointError`."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file")
    header = read_header(path)
    check_memory(_tensor_bytes(path), f"checkpoint {path}'s weights", error=CheckpointError)
    try:
        weights: dict[str, torch.Tensor] = {}
        with safe_open(str(path), framework="pt") as handle:
            for key in handle.keys():  # noqa: SIM118 - safe_open is not a dict
                weights[key] = handle.get_tensor(key)
    except (SafetensorError, OSError, ValueError, RuntimeError, TypeError) as error:
        raise CheckpointError(_damage_reason(path, error)) from None
    for key, tensor in weights.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(f"checkpoint {path}: tensor {key} holds NaN or infinite values")
    meta = {k: v for k, v in header.items() if k not in ("format", "family", "config")}
    return Checkpoint(header["family"], header["config"], weights, meta, file_sha256(path))


def _tensor_bytes(path: Path) -> int:
    """Bytes the weights take once loaded, from the safetensors header's offsets (nothing is read)."""
    header = filekind.safetensors_header(path) or {}
    total = 0
    for key, entry in header.items():
        if key == "__metadata__" or not isinstance(entry, dict):
            continue
        offsets = entry.get("data_offsets")
        if isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(v, int) for v in offsets):
            total += max(0, offsets[1] - offsets[0])
    return total


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
