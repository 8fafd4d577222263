"""A checkpoint's config, checked before the model it describes is built.

A config is a handful of numbers (``w_dim``, channel widths, depths) that decide how much memory
the model takes; a header that says ``w_dim = 20000`` asks for gigabytes, and building first and
finding out after is exactly what must not happen. So the model is first built on PyTorch's
``meta`` device, where tensors have shapes and no storage: that costs milliseconds and no memory,
and gives the exact parameter and buffer sizes (checked against :mod:`engine.budget`) and the
exact tensor names and shapes the weights must have (checked against the file's), so a mismatch
is refused before anything real is allocated.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from engine.budget import check_memory
from engine.errors import CheckpointError, first_line

#: What a family's build may raise on a config of the wrong shape or absurd values.
CONFIG_ERRORS = (
    RuntimeError, TypeError, KeyError, ValueError, OverflowError, AttributeError, IndexError,
    ZeroDivisionError, AssertionError, NotImplementedError,
)  # fmt: skip


def planned_state(module: Any, config: Mapping[str, Any], path: str | Path) -> dict[str, torch.Size]:
    """Names and shapes of the state a model of ``config`` has, computed without memory;
    a config the family cannot build is a one-line :class:`CheckpointError`."""
    try:
        with torch.device("meta"):
            model = module.build(module.config_from_dict(dict(config)))
        state = model.state_dict()
    except CONFIG_ERRORS as error:
        reason = first_line(error)[:160]
        raise CheckpointError(f"checkpoint {path}: its config cannot build a model ({reason})") from None
    return {key: value.shape for key, value in state.items()}


def check_before_building(
    module: Any, config: Mapping[str, Any], weights: Mapping[str, torch.Tensor], path: str | Path
) -> None:
    """Refuse a checkpoint whose model would exceed the memory budget or whose weights do not fit it."""
    shapes = planned_state(module, config, path)
    element = torch.finfo(torch.get_default_dtype()).bits // 8
    need = 2 * element * sum(int(torch.Size(shape).numel()) for shape in shapes.values())  # model + one copy
    sizes = ", ".join(f"{k} {v}" for k, v in config.items() if isinstance(v, int) and "dim" in k)
    check_memory(need, f"checkpoint {path}'s model ({sizes or 'its config'})", error=CheckpointError)
    missing = [key for key in shapes if key not in weights]
    if missing:
        raise CheckpointError(
            f"checkpoint {path} does not match its config: no tensor {missing[0]} ({len(missing)} missing)"
        )
    unexpected = [key for key in weights if key not in shapes]
    if unexpected:
        raise CheckpointError(f"checkpoint {path} does not match its config: unexpected tensor {unexpected[0]}")
    for key, shape in shapes.items():
        if tuple(weights[key].shape) != tuple(shape):
            raise CheckpointError(
                f"checkpoint {path} does not match its config: tensor {key} is {tuple(weights[key].shape)}, "
                f"the config says {tuple(shape)}"
            )
