"""A trained critic that travels with a shipped generator, so a warm start keeps its critic.

Why: a run's resumable state stays on the machine that trained it (``runs/`` is not versioned),
so every warm start (``everscape train --init NAME``) on another machine paired a trained
generator with a fresh critic, whose first thousand steps of noisy gradients pushed the
generator off what it had learnt (InfinityGAN: quick held-out SWD 212 -> 263-297 with a critic
warm-up). Shipping the critic beside the generator lets the next session continue the game
where it stopped. Only weights travel (in fp16, half the bytes: critics are larger than their
generators); the optimiser's moments rebuild within a few dozen steps.

The file is ``critics/NAME.safetensors`` beside ``NAME.safetensors`` (a sub-folder, so model
listings never see it), with a header naming the family, config, the trainer-state entry it came
from and the sha256 of the generator file it pairs with: a critic never meets a generator it was
not trained against. A generator inside a run folder (``runs/X/best.safetensors``) pairs with
that run's latest training state instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from engine.atomic import atomic_path
from engine.checkpoints import file_sha256
from engine.errors import CheckpointError, InvalidInput, first_line
from engine.train.discriminator import GROWN_PARTS
from engine.train.state import FILENAME, load_state

FORMAT = "everscape.critic/1"
# The trainer-state entries that hold critic weights, by trainer: the shared adversarial trainer
# (one critic) and ∞-GAN's (one per level). A trainer's critic is also its attribute of that name.
CRITIC_KEYS = ("discriminator", "discriminators")
MAX_BYTES = 40 * 1000**2  # the same limit as a shipped generator: both live in the repository


@dataclass(frozen=True)
class Critic:
    """Critic weights and where they came from."""

    family: str
    config: dict[str, Any]
    key: str  # the trainer-state entry (and trainer attribute) they belong to
    weights: dict[str, torch.Tensor]
    step: int | None
    pairs_with: str | None  # sha256 of the generator file trained against it (None: a run's own state)
    source: Path


def companion_path(generator: Path) -> Path:
    """Where the critic of generator file ``generator`` is shipped."""
    return generator.parent / "critics" / generator.name


def from_run(state_path: Path) -> Critic:
    """The critic in a run's training state (its latest snapshot)."""
    return from_state(load_state(state_path), state_path)  # a damaged state is a one-line CheckpointError


def from_state(state: dict[str, Any], state_path: Path) -> Critic:
    """The critic in a loaded training state (``engine.train.state.load_state`` of ``state_path``)."""
    trainer = state.get("trainer") or {}
    for key in CRITIC_KEYS:
        if key in trainer:
            weights = {name: tensor for name, tensor in trainer[key].items() if isinstance(tensor, torch.Tensor)}
            return Critic(state["family"], state["config"], key, weights, int(state["step"]), None, state_path)
    raise InvalidInput(f"training state {state_path} holds no critic ({' or '.join(CRITIC_KEYS)})")


def save(path: Path, critic: Critic, pairs_with: str) -> int:
    """Write ``critic`` in fp16 atomically, paired with generator sha256 ``pairs_with``; returns bytes."""
    tensors = {
        name: (t.half() if t.is_floating_point() else t).detach().to("cpu").contiguous()
        for name, t in critic.weights.items()
    }
    header = {
        "format": FORMAT,
        "family": critic.family,
        "config": critic.config,
        "key": critic.key,
        "step": critic.step,
        "pairs_with": pairs_with,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temp:
        save_file(tensors, str(temp), metadata={"everscape_critic": json.dumps(header)})
        size = Path(temp).stat().st_size
        if size > MAX_BYTES:  # raising inside the block leaves no file behind
            raise InvalidInput(f"the critic is {size / 1e6:.1f} MB, over the {MAX_BYTES / 1e6:.0f} MB limit")
    return size


def load(path: Path) -> Critic:
    """Read a shipped critic; a damaged or foreign file is a one-line :class:`CheckpointError`."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = json.loads((handle.metadata() or {})["everscape_critic"])
            weights = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
        if header.get("format") != FORMAT or header.get("key") not in CRITIC_KEYS:
            raise ValueError("unknown format")
    except (SafetensorError, OSError, ValueError, KeyError, TypeError) as error:
        first = first_line(error)
        raise CheckpointError(f"critic {path} is damaged or not ours ({first})") from None
    step = header.get("step")
    return Critic(
        header["family"],
        header["config"],
        header["key"],
        weights,
        None if step is None else int(step),
        header.get("pairs_with"),
        path,
    )


def find_for(generator: Path) -> tuple[Critic | None, str]:
    """The critic trained against generator file ``generator``, and a one-line account of the choice.

    The shipped companion if it pairs with exactly this file; else the training state of the
    run folder the generator sits in; else none (a fresh critic).
    """
    companion = companion_path(generator)
    if companion.is_file():
        critic = load(companion)
        if critic.pairs_with == file_sha256(generator):
            return critic, f"critic from {companion} (step {critic.step})"
        return None, f"{companion} was trained against another generator file: the critic starts fresh"
    run_state = generator.parent / FILENAME
    if run_state.is_file():
        critic = from_run(run_state)
        return critic, f"critic from the run's training state {run_state} (step {critic.step})"
    return None, "no trained critic ships with it: the critic starts fresh"


def install(trainer: Any, critic: Critic) -> None:
    """Load ``critic`` into ``trainer``'s critic module (cast to its dtype); a mismatch is one line.

    The run's critic may have :data:`~engine.train.discriminator.GROWN_PARTS` the trained one lacks.
    """
    module = getattr(trainer, critic.key, None)
    if not isinstance(module, torch.nn.Module):
        raise InvalidInput(f"{critic.source}: this trainer has no {critic.key} to load the critic into")
    own = module.state_dict()
    # Parts the run's critic has and the trained one lacks keep their fresh init (a zero row
    # projection: the grown critic scores as it did): all else must match.
    grown = {k: v for k, v in own.items() if k not in critic.weights and k.startswith(GROWN_PARTS)}
    missing = sorted(set(own) - set(critic.weights) - set(grown))
    unexpected = sorted(set(critic.weights) - set(own))
    if missing or unexpected:  # name them: torch's message starts with a bare header line
        named = (_named(what, keys) for what, keys in (("missing", missing), ("unexpected", unexpected)) if keys)
        raise _misfit(critic, "; ".join(named))
    try:
        module.load_state_dict({**grown, **_cast_like(critic.weights, own)}, strict=True)
    except RuntimeError as error:  # the names fit: a shape does not
        raise _misfit(critic, first_line(error)) from None


def _misfit(critic: Critic, detail: str) -> InvalidInput:
    return InvalidInput(f"{critic.source} does not fit this run's critic ({detail}); pass --fresh-critic to start one")


def _named(what: str, keys: list[str]) -> str:
    """``"missing a, b and 3 more"``: enough names to see which part differs."""
    more = f" and {len(keys) - 2} more" if len(keys) > 2 else ""
    return f"{what} {', '.join(keys[:2])}{more}"


def _cast_like(weights: Mapping[str, torch.Tensor], like: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``weights`` in the dtypes of the module's own tensors (fp16 on disk, fp32 in training)."""
    return {name: t.to(like[name].dtype) if name in like else t for name, t in weights.items()}
