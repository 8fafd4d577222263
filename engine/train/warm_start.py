"""Warm starts (``everscape train --init``): a new run from a checkpoint's generator, and its critic.

Why: a run's resumable state lives on the machine that trained it (``runs/`` is not versioned),
but shipped checkpoints travel with the code; starting from one continues a model's training on
another machine, or fine-tunes it on one's own images. The generator's weights load as they are,
or into a config the family can move them to (its ``Family`` record says which fields may differ
and whether it can grow weights); the critic continues when one was trained against them.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import torch

from engine.cards import training_totals
from engine.checkpoints import find_checkpoint, load_checkpoint
from engine.errors import CheckpointError, InvalidInput
from engine.models.base import Generator
from engine.models.family import FieldRole
from engine.models.registry import build_initial, get_family
from engine.train import critic_weights


def warm_start(model: Generator, ref: str) -> dict[str, Any]:
    """Load the generator weights of checkpoint ``ref`` into ``model`` (same family and config, or
    a config the family can grow them into: ``Family.grow``, e.g. ∞-GAN's one more level, one
    that feeds the same weights other coordinates: its ``FieldRole.COORDINATE`` fields, or one that
    adds parameters starting as a no-op: its ``FieldRole.EXTENSION`` fields, which keeps the critic too).

    Why: a run's resumable state lives on the machine that trained it (``runs/`` is not
    versioned), but shipped checkpoints travel with the code; starting from one continues a
    model's training on another machine, or fine-tunes it on one's own images. The optimiser
    starts fresh; the critic too unless one was trained against these weights (:func:`init_critic`).
    Returns the header facts recorded as the run's ``init``.
    """
    path = find_checkpoint(ref) if not ref.endswith(".safetensors") else Path(ref)
    if path is None or not path.is_file():
        raise InvalidInput(f"--init {ref}: no such checkpoint (a name from `everscape models` or a .safetensors file)")
    ckpt = load_checkpoint(path)
    if ckpt.family != model.family:
        raise InvalidInput(f"--init {ref} is a {ckpt.family} model; this run trains {model.family}")
    # Compared as configs, not JSON: a header written before a field existed means its default.
    # Fields the family declares inference-only (they do not shape the weights) may differ.
    family = get_family(ckpt.family)

    def own(role: FieldRole) -> dict[str, Any]:
        return {name: getattr(model.config, name) for name in family.fields_with(role)}

    source_config = dataclasses.replace(family.config_from_dict(ckpt.config), **own(FieldRole.INFERENCE))
    weights, moved, grown = ckpt.weights, {}, {}
    coordinates, extensions = own(FieldRole.COORDINATE), own(FieldRole.EXTENSION)
    movable = dataclasses.replace(source_config, **coordinates, **extensions)
    if source_config != model.config and movable == model.config:
        # Same weights, new coordinate inputs (e.g. InfinityGAN's latitude made linear) or new
        # parameters that start at a no-op (its latitude table): recorded.
        moved = {
            record: changed
            for record, fields in (("recoordinated_from", coordinates), ("extended_from", extensions))
            if (changed := _changed_fields(source_config, fields))
        }
        weights = _extended(model, weights, ref, moved.get("extended_from", {}))
        source_config = model.config
    if source_config != model.config:
        grown_weights = family.grow_weights(source_config, weights, model.config)  # one-line error if it cannot
        if grown_weights is None:
            raise InvalidInput(
                f"--init {ref} has another {model.family} config than this run; "
                "give the --config (and recipe) it was trained with"
            )
        weights = grown_weights
        grown = {"grown_from": ckpt.config}
    model.load_state_dict(weights, strict=True)
    # Totals over the chain of warm starts, so a card reports all the training behind a model.
    return {"source": str(path), "sha256": ckpt.sha256, **grown, **moved, **training_totals(ckpt.meta)}


def _changed_fields(source_config: Any, fields: dict[str, Any]) -> dict[str, Any]:
    """The source's values of the ``fields`` (name -> this run's value) it holds otherwise."""
    return {name: getattr(source_config, name) for name in fields if getattr(source_config, name) != fields[name]}


def _extended(
    model: Generator, weights: dict[str, torch.Tensor], ref: str, changed: dict[str, Any]
) -> dict[str, torch.Tensor]:
    """``weights`` plus the initial values of the parameters ``model``'s extension fields add.

    Only a source without the extension (the field at its default) can be extended: one with
    another non-zero value holds parameters of another shape, refused in one line.
    """
    if not changed:
        return weights
    defaults = type(model.config)()
    kept = [name for name, value in changed.items() if value != getattr(defaults, name)]
    if kept:
        raise InvalidInput(
            f"--init {ref} has {', '.join(f'{n}={changed[n]}' for n in kept)}; this run needs "
            + ", ".join(f"{n}={getattr(model.config, n)}" for n in kept)
        )
    initial = build_initial(model.family, model.config).state_dict()  # not ``model``'s: it may have trained
    return {**weights, **{name: value for name, value in initial.items() if name not in weights}}


def init_critic(init: dict[str, Any], fresh: bool, say: bool) -> critic_weights.Critic | None:
    """The trained critic a warm start continues with (None: a fresh one); records it in ``init``.

    A grown generator has a critic of another shape, and ``--fresh-critic`` asks for none. The
    choice is printed (main process) and kept in the run's header as ``init.critic``.
    """
    if fresh:
        critic, note = None, "--fresh-critic: the critic starts fresh"
    elif "grown_from" in init:
        critic, note = None, "the generator was grown to a new config: the critic starts fresh"
    else:
        try:
            critic, note = critic_weights.find_for(Path(init["source"]))
        except CheckpointError as error:
            raise CheckpointError(f"{error}; pass --fresh-critic to start a fresh one") from None
    if say:
        print(f"everscape: {note}", file=sys.stderr, flush=True)
    init["critic"] = None if critic is None else {"source": str(critic.source), "step": critic.step}
    return critic
