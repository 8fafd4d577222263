"""A model switch that keeps the world's edits when the new model can render them.

Edits are data about latent fields and style centres (:class:`~engine.world.World`): field
overrides name fields and lattice cells, style centres carry per-family latents. They mean the same
thing to another model exactly when it has the same family and the same config (the same fields,
strides and style width): typically the same architecture re-trained, or another checkpoint of one
run. Such a switch keeps the document (its file, images and edits) and only changes which weights
render it; any other switch of an edited world is a new document (:meth:`ProjectController.switch_model`
asks to save or discard first).

The architecture is read from the checkpoint header (no weights are loaded), or from the model's
own ``FAMILY:CONFIG`` name; a window given its own loader (tests, embedding) asks that loader.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.checkpoints import file_sha256, find_checkpoint, read_header
from engine.errors import EverscapeError
from engine.styles import StyleLayout
from engine.world import World

#: ``(family, config, checkpoint sha256 or None)``: what decides whether edits carry over.
Architecture = tuple[str, Any, "str | None"]


def has_edits(world: World) -> bool:
    """Edits that depend on the model: style centres, painted strokes or field overrides."""
    return bool(world.overrides) or world.styles != StyleLayout()


def architecture(ref: str, loader: Callable | None = None) -> Architecture | None:
    """The family, config and checkpoint hash ``ref`` names, or None when that cannot be told (an
    unknown name, a damaged file): the caller then treats the switch as a new document."""
    from engine.models.registry import FAMILY_PACKAGES, get_family

    try:
        if loader is not None:
            loaded = loader(ref)
            return loaded.model.family, loaded.model.config, loaded.sha256
        family, sep, config_name = ref.partition(":")
        if sep and family in FAMILY_PACKAGES:
            configs = get_family(family).configs
            return (family, configs[config_name], None) if config_name in configs else None
        path = Path(ref) if Path(ref).suffix or Path(ref).exists() else find_checkpoint(ref)
        if path is None:
            return None
        header = read_header(path)
        config = get_family(header["family"]).config_from_dict(header["config"])
        return header["family"], config, file_sha256(path)
    except (EverscapeError, OSError, TypeError, ValueError):
        return None


def carried_world(world: World, shown: Architecture, ref: str, loader: Callable | None = None) -> World | None:
    """``world``'s edits on model ``ref`` when ``ref`` has the architecture ``shown`` (family and
    config) of the model that renders it now; None when they cannot carry over."""
    target = architecture(ref, loader)
    if target is None or target[:2] != shown[:2]:
        return None
    return dataclasses.replace(world, model=ref, model_hash=target[2], version=world.version + 1)


def switch_model(window, ref: str) -> bool:
    """The picker's model switch (see module docstring); False when the user cancelled."""
    world, info = window.world, window.model_info
    if world is not None and info is not None and info.model is not None and has_edits(world):
        shown = (info.model.family, info.model.config, info.sha256)
        carried = carried_world(world, shown, ref, window.loader)
        if carried is not None:
            window.open_world(ref, world.seed, carried)  # same document, now rendered by ``ref``
            return True
    seed = world.seed if world is not None else 0
    return window.project.switch_model(lambda: window.open_world(ref, seed))
