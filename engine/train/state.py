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
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open

from engine.atomic import atomic_path
from engine.checkpoints import write_safetensors
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
    with atomic_path(path) as temp:
        write_state_file(temp, state, target=Path(path))


def write_state_file(temp: Path, state: dict[str, Any], *, target: Path) -> None:
    """Fill ``temp`` (a temporary from :mod:`engine.atomic`) with ``state``, bound for ``target``."""
    tensors: dict[str, torch.Tensor] = {}
    doc = {"format": FORMAT, "state": encode(state, tensors)}
    write_safetensors(temp, tensors, {"everscape_train": json.dumps(doc)}, target)


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
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise CheckpointError(f"training state {path} has unknown format {found!r}")
    try:
        state = decode(doc["state"], tensors)
    except KeyError as error:
        raise CheckpointError(f"training state {path} is damaged: it names tensor {error}, not in the file") from None
    except (TypeError, ValueError, AttributeError) as error:
        raise CheckpointError(f"training state {path} is damaged ({first_line(error)[:160]})") from None
    check_state(state, path)
    return state


#: Keys every training state has, and the types their values must be.
REQUIRED = {"family": str, "config": dict, "step": int, "wall_time_s": (int, float), "trainer": dict, "rng": dict}


def check_state(state: Any, path: str | Path) -> None:
    """Refuse a state of the wrong shape in one line naming the key, before a trainer reads it."""
    if not isinstance(state, dict):
        raise CheckpointError(f"training state {path} is damaged: its state is a {type(state).__name__}, not a table")
    for key, kind in REQUIRED.items():
        if key not in state:
            raise CheckpointError(f"training state {path} is damaged: it has no {key!r}")
        value = state[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise CheckpointError(
                f"training state {path} is damaged: {key!r} is {type(value).__name__} {str(value)[:40]!r}"
            )
    if state["step"] < 0 or not math.isfinite(state["wall_time_s"]) or state["wall_time_s"] < 0:
        numbers = f"step {state['step']}, wall time {state['wall_time_s']}"
        raise CheckpointError(f"training state {path} is damaged: {numbers}")


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
    inner = doc.get("state") if isinstance(doc, dict) else None
    meta = inner.get("meta") if isinstance(inner, dict) else None
    try:
        return decode(meta, {}) if isinstance(meta, dict) else {}
    except (KeyError, TypeError, ValueError, AttributeError):
        return {}  # as above: the loop's load_state names the damage


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
