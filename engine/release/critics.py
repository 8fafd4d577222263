"""The trained critic that ships beside a model, so a warm start (``train --init``) continues with it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from engine.atomic import write_bytes_atomic
from engine.cards import card_path, read_card
from engine.checkpoints import file_sha256, load_checkpoint
from engine.errors import InvalidInput
from engine.train import critic_weights
from engine.train.state import FILENAME, load_state


def ship_critic(source: Path, target: Path, sha: str, say: Callable[[str], None]) -> dict[str, Any] | None:
    """Ship the critic of ``source``'s run beside ``target`` (paired with its ``sha``); its card entry.

    The critic is the run's latest (``train_state.safetensors``), trained against the generator
    up to the end of the run: the best partner a later warm start can have. A run without one (a
    bare checkpoint file) ships none, and a critic shipped earlier under the name is removed: it
    was trained against other weights.
    """
    companion = critic_weights.companion_path(target)
    state = source.parent / FILENAME
    if not state.is_file():
        companion.unlink(missing_ok=True)
        return None
    critic = critic_weights.from_run(state)
    say(f"writing the critic {companion} (step {critic.step})")
    size = critic_weights.save(companion, critic, sha)
    return {"file": f"{companion.parent.name}/{companion.name}", "bytes": size, "step": critic.step}


def pair_critic(run: str | Path, checkpoint: Path, say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Ship the critic of ``run`` beside the already shipped ``checkpoint``; returns its card entry.

    For a run that trained only its critic against a shipped generator (``everscape train --init
    NAME --critic-warmup N`` with N beyond the run): the generator never moved, so shipping the
    run again would re-measure the same weights for half an hour. The pairing is honest or
    refused: the run's generator and its EMA must equal the shipped weights exactly. The card, when
    there is one, gets the critic's entry (rewritten atomically; weights and gallery untouched).
    """
    say = say or (lambda _message: None)
    state_path = Path(run) / FILENAME
    if not state_path.is_file():
        raise InvalidInput(f"{run} holds no {FILENAME} (is it an `everscape train` --out?)")
    state = load_state(state_path)
    ckpt = load_checkpoint(checkpoint)
    for part in ("generator", "ema"):
        weights = (state.get("trainer") or {}).get(part) or {}
        same = weights.keys() == ckpt.weights.keys() and all(
            torch.equal(weights[k].to(v.dtype), v) for k, v in ckpt.weights.items()
        )
        if not same:
            raise InvalidInput(
                f"the {part} of {run} is not the generator of {checkpoint}: its critic was trained against "
                "other weights (ship the run itself with `models ship`)"
            )
    critic = critic_weights.from_state(state, state_path)
    companion = critic_weights.companion_path(checkpoint)
    say(f"writing the critic {companion} (step {critic.step})")
    size = critic_weights.save(companion, critic, ckpt.sha256 or file_sha256(checkpoint))
    entry = {"file": f"{companion.parent.name}/{companion.name}", "bytes": size, "step": critic.step}
    card = read_card(card_path(checkpoint))
    if card is not None:
        card["critic"] = entry
        write_bytes_atomic(card_path(checkpoint), json.dumps(card, indent=1).encode())
    return entry
