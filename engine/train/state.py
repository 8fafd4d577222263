"""Exact-resume training state on disk: tensors in safetensors, everything else as JSON. No pickle.

A trainer's ``state_dict`` is a tree of dicts/lists/tuples holding tensors and plain values
(optimiser state dicts have *integer* keys, which JSON objects cannot hold). :func:`encode`
turns such a tree into a JSON-able document plus a flat ``{key: tensor}`` dict; :func:`decode`
reverses it exactly (tuples stay tuples, int keys stay ints, floats round-trip through ``repr``).
The pair is stored as one ``train_state.safetensors`` file with the document in its header, so
tensors and metadata can never come from different snapshots.

RNG states (torch CPU and CUDA, Python, numpy) are part of the document, so a resumed run
continues with the very numbers the uninterrupted run would have drawn.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from engine.atomic import atomic_path
from engine.errors import CheckpointError, first_line

FORMAT = "everscape.train_state/1"
FILENAME = "train_state.safetensors"


def encode(tree: Any, tensors: dict[str, torch.Tensor], path: str = "s") -> Any:
    """JSON-able copy of ``tree``; tensors move into ``tensors`` under path-like keys."""
    if isinstance(tree, torch.Tensor):
        tensors[path] = tree.detach().to("cpu").clone().contiguous()
        return {"__tensor__": path}
    if isinstance(tree, dict):
        if all(isinstance(k, str) for k in tree) and not any(k.startswith("__") for k in tree):
            return {k: encode(v, tensors, f"{path}.{k}") for k, v in tree.items()}
        return {"__items__": [[encode(k, tensors, path), encode(v, tensors, f"{path}.{k}")] for k, v in tree.items()]}
    if isinstance(tree, tuple):
        return {"__tuple__": [encode(v, tensors, f"{path}.{i}") for i, v in enumerate(tree)]}
    if isinstance(tree, list):
        return [encode(v, tensors, f"{path}.{i}") for i, v in enumerate(tree)]
    if isinstance(tree, np.ndarray):
        return {"__ndarray__": tree.tolist(), "dtype": str(tree.dtype)}
    if isinstance(tree, np.generic):
        return tree.item()
    if tree is None or isinstance(tree, bool | int | float | str):
        return tree
    raise TypeError(f"cannot store {type(tree).__name__} in a training state (tensors and plain data only)")


def decode(doc: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(doc, dict):
        if "__tensor__" in doc:
            return tensors[doc["__tensor__"]]
        if "__items__" in doc:
            return {decode(k, tensors): decode(v, tensors) for k, v in doc["__items__"]}
        if "__tuple__" in doc:
            return tuple(decode(v, tensors) for v in doc["__tuple__"])
        if "__ndarray__" in doc:
            return np.asarray(doc["__ndarray__"], dtype=doc["dtype"])
        return {k: decode(v, tensors) for k, v in doc.items()}
    if isinstance(doc, list):
        return [decode(v, tensors) for v in doc]
    return doc


def save_state(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` (a tree) atomically as one safetensors file."""
    tensors: dict[str, torch.Tensor] = {}
    doc = {"format": FORMAT, "state": encode(state, tensors)}
    with atomic_path(path) as temp:
        save_file(tensors, str(temp), metadata={"everscape_train": json.dumps(doc)})


def load_state(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no training state to resume at {path}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            doc = json.loads((handle.metadata() or {})["everscape_train"])
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, KeyError) as error:
        first = first_line(error)
        raise CheckpointError(f"training state {path} is damaged or not ours ({first})") from None
    if doc.get("format") != FORMAT:
        raise CheckpointError(f"training state {path} has unknown format {doc.get('format')!r}")
    return decode(doc["state"], tensors)


def read_state_meta(path: str | Path) -> dict[str, Any]:
    """The ``meta`` a training state was saved with, without reading its tensors (``{}`` if none).

    Why: a resume must build its trainer with the options the run was started with (its
    ``train_extra``), before the loop loads the state into that trainer.
    """
    try:
        with safe_open(str(path), framework="pt") as handle:
            doc = json.loads((handle.metadata() or {})["everscape_train"])
    except (SafetensorError, OSError, ValueError, KeyError):
        return {}  # the loop's load_state reports a damaged state in one line
    meta = (doc.get("state") or {}).get("meta")
    return decode(meta, {}) if isinstance(meta, dict) else {}


def capture_rng() -> dict[str, Any]:
    """Every global RNG a training step may draw from."""
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": np.random.get_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np.random.set_state(tuple(state["numpy"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed all global RNGs (fresh runs, and non-zero ranks after a resume)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
