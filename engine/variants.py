"""Multi-modal outpainting: new surroundings for an inverted image at no optimisation cost.

An inversion pins the latent cells every pixel of the image's footprint reads (its
:class:`~engine.fields.FieldPatch` overrides) and, where the family reads one, an explicit style
latent. Everything else a pixel can read comes from the world's seed: structure and noise fields,
ALIS anchors, InfinityGAN's style lattice. So a variant is the same world under another seed: the
footprint renders bit-identically (it reads only pinned cells and the unchanged style layout) and
the surroundings are a fresh draw that still continues the image, because the pinned cells reach
beyond the image by the model's margin (InfinityGAN's multi-modal outpainting, Fig. 9).

Style centres are the user's (or an inversion's) explicit choices and keep their latents; a layout
with no centres whose one style comes from the world seed is first made explicit, so the variant
keeps that style instead of drawing a new global one that would restyle the footprint too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch

from engine.errors import InvalidInput
from engine.fields import FieldPatch, address_seed
from engine.geometry import Rect
from engine.models.base import Generator
from engine.world import World


def variant_seed(world_seed: int, seed: int) -> int:
    """The world seed of variant ``seed`` of a world: distinct per (world, seed), never the world's own."""
    return address_seed("surroundings", world_seed, seed) & (2**62 - 1)


def surroundings_variant(model: Generator, edited: World, footprints: Sequence[Rect], seed: int) -> World:
    """``edited`` with everything the images do not pin (structure and noise latents, anchors, the
    style lattice) drawn from ``seed``. Pixels inside ``footprints`` (level-0 rects, as in
    :attr:`~engine.invert.InversionResult.footprints`) are bit-identical to ``edited``'s, pixels
    around them differ. Costs no optimisation; deterministic in ``seed``.

    Raises :class:`InvalidInput` when no footprint is given or a footprint reads a cell that no
    override of ``edited`` pins (the footprint is not an inversion's): its pixels would change.
    """
    if not footprints:
        raise InvalidInput("a surroundings variant needs the footprint of at least one inverted image")
    for rect in footprints:
        unpinned = _unpinned_field(model, edited.overrides, rect)
        if unpinned is not None:
            raise InvalidInput(f"footprint {rect} is not pinned by an inversion ({unpinned} cells are free)")
    styles = edited.styles
    if not styles.centres and model.implicit_style_centre and model.style_fusion(styles, edited.seed) is not None:
        styles = replace(styles, centres=styles.resolved(edited.seed))  # keep the world-seed style
    return replace(edited, seed=variant_seed(edited.seed, seed), styles=styles, version=edited.version + 1)


def _unpinned_field(model: Generator, overrides: Sequence[FieldPatch], rect: Rect) -> str | None:
    """The first field some pixel of ``rect`` reads a cell of that no override covers, or None."""
    for spec in model.field_specs(0):
        cells = spec.footprint(rect)
        covered = torch.zeros((cells.h, cells.w), dtype=torch.bool)
        for patch in overrides:
            part = patch.cells.intersection(cells) if patch.field == spec.name else None
            if part is not None:
                covered[part.y - cells.y : part.bottom - cells.y, part.x - cells.x : part.right - cells.x] = True
        if not bool(covered.all()):
            return spec.name
    return None
