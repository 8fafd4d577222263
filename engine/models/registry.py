"""Model names -> generators: random ``FAMILY:CONFIG`` models, shipped and user checkpoints.

Families are listed here once, by package path (``engine.families.<name>``), and imported lazily,
so ``everscape models`` stays quick and a family under construction cannot break the others; each
package defines one :class:`~engine.models.family.Family` record, ``FAMILY`` (:func:`get_family`).
Name resolution, in order:

1. ``FAMILY:CONFIG`` (e.g. ``reference:tiny``): a randomly initialised model with a fixed init
   seed, for tests and benchmarks (identical weights on every machine);
2. a path to a ``.safetensors`` checkpoint;
3. the name of a shipped checkpoint (``checkpoints/NAME.safetensors``) or a user checkpoint (the
   platform data dir, or ``$EVERSCAPE_CHECKPOINTS``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from engine.checkpoints import Checkpoint, find_checkpoint, list_checkpoints, load_checkpoint
from engine.errors import CheckpointError, InvalidInput, first_line
from engine.models.base import Generator
from engine.models.family import Family
from engine.models.preflight import check_before_building

#: family name -> its package (``engine.families.<name>``, whose ``FAMILY`` is its record),
#: imported when the family is first asked for.
FAMILY_PACKAGES: dict[str, str] = {
    "reference": "engine.families.reference",
    "infinitygan": "engine.families.infinitygan",
    "alis": "engine.families.alis",
    "infgan": "engine.families.infgan",
}

#: Weights of ``FAMILY:CONFIG`` models are drawn with this seed, so they agree everywhere.
INIT_SEED = 20260101


def get_family(name: str) -> Family:
    """The :class:`Family` record of ``name``; unknown or not yet built families are a clear error."""
    path = FAMILY_PACKAGES.get(name)
    if path is None:
        raise InvalidInput(f"unknown model family {name!r} (known: {', '.join(available_families())})")
    try:
        package = importlib.import_module(path)
    except ModuleNotFoundError as error:
        if error.name == path:
            raise InvalidInput(f"model family {name!r} is not available in this build") from None
        raise
    record = package.FAMILY
    if not isinstance(record, Family) or record.name != name:
        raise TypeError(f"{path}.FAMILY must be the Family record of {name!r}")
    return record


def available_families() -> list[str]:
    """Families whose package exists in this build (a missing one is skipped, a broken one raises)."""
    found = []
    for name, path in FAMILY_PACKAGES.items():
        try:
            importlib.import_module(path)
        except ModuleNotFoundError as error:
            if error.name != path:
                raise
            continue
        found.append(name)
    return found


def make_trainer(model: Generator, config: Any, device: Any) -> Any:
    """The trainer of ``model``'s family for it (``config``: a ``TrainConfig``)."""
    return get_family(model.family).make_trainer(model, config, device)


def build_random(family: str, config_name: str) -> Generator:
    """A ``FAMILY:CONFIG`` model with deterministic initial weights, in eval mode."""
    configs = get_family(family).configs
    if config_name not in configs:
        raise InvalidInput(f"{family} has no config {config_name!r} (known: {', '.join(configs)})")
    return build_initial(family, configs[config_name])


def build_initial(family: str, config: Any) -> Generator:
    """A model of ``config`` (a config object or its dict) with the initial weights every run starts
    from (:data:`INIT_SEED`): the untrained floor a trained checkpoint is measured against."""
    record = get_family(family)
    if isinstance(config, dict):
        config = record.config_from_dict(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(INIT_SEED)
        model = record.build(config)
    return model.eval().requires_grad_(False)


#: Shipped checkpoints in order of preference for the app's default world.
DEFAULT_CHECKPOINTS = ("infinitygan-bluemarble", "alis-bluemarble", "infgan-bluemarble")
#: Used only while no trained checkpoint is installed (renders untrained texture, not landscape).
FALLBACK_MODEL = "reference:tiny"


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to render, with the reference and hash a ``World`` records."""

    model: Generator
    ref: str
    sha256: str | None
    #: The checkpoint header's training facts (data, preparation, steps); empty for FAMILY:CONFIG.
    meta: dict = field(default_factory=dict)


def load_model(ref: str) -> LoadedModel:
    """Resolve a model name (see module docstring) to an eval-mode generator on the CPU."""
    family, sep, config_name = ref.partition(":")
    if sep and family in FAMILY_PACKAGES:
        return LoadedModel(build_random(family, config_name), ref, None)
    path = Path(ref)
    if not (path.suffix or path.exists()):
        path = find_checkpoint(ref)
        if path is None:
            names = ", ".join(list_checkpoints()) or "none installed"
            raise InvalidInput(f"unknown model {ref!r}: not FAMILY:CONFIG, a file, or a checkpoint name ({names})")
    ckpt = load_checkpoint(path)
    return LoadedModel(model_from_checkpoint(ckpt, path), str(ref), ckpt.sha256, ckpt.meta)


def model_from_checkpoint(ckpt: Checkpoint, path: str | Path) -> Generator:
    """The eval-mode generator a loaded checkpoint describes; a mismatch is a one-line error."""
    try:
        record = get_family(ckpt.family)
    except InvalidInput as error:
        raise CheckpointError(f"checkpoint {path}: {error}") from None
    check_before_building(record, ckpt.config, ckpt.weights, path)
    try:
        model = record.build(record.config_from_dict(ckpt.config))
        model.load_state_dict(ckpt.weights, strict=True)
    except (RuntimeError, TypeError, KeyError, ValueError) as error:
        first = first_line(error)
        raise CheckpointError(f"checkpoint {path} does not match its {ckpt.family} config: {first}") from None
    return model.eval().requires_grad_(False)
