"""Grow a trained ∞-GAN by one coarser level: warm-start weights for ``levels + 1``.

Why: an ∞-GAN's coarsest level is trained on real crops of ``train_patch · 2^(levels-1)`` px, so
nothing larger than that ever reaches a critic. ``small`` (3 levels, 64 px patches) learns from
256 px of Blue Marble (about 3800 km) and draws same-size islands where the map has continents.
One more level doubles that span, but a 4-level model from scratch throws away every weight the
3-level model learnt. The levels are a chain (G1, then one up-scaling network per finer level),
so the trained chain fits inside the grown one with a new up-scaling network inserted right after
G1, the one place where every later stage keeps its input width and its relative scale:

- G1 (const, input NAPN, extension blocks) is kept: it now draws the new, coarser top level;
- the new up-scaling network (top - 1) starts near the identity: each convolution passes its
  channel through (centre tap 1, bias 0), its NAPN has unit gain, zero bias and weak noise, so
  the old first up-scaling network still receives G1-like features and the fine levels render
  much as before on the first step;
- every old up-scaling network keeps its weights and its level (blocks shift by ``up_convs``);
- ``to_rgb`` of the new top and of the inserted level both start from the old top's.

Only the generator is mapped; a warm start gives the critics and optimisers fresh states anyway
(:func:`engine.train.warm_start.warm_start`).
"""

from __future__ import annotations

import dataclasses
import math

import torch

from engine.errors import InvalidInput
from engine.families.infgan.model import InfGANConfig

#: Noise strength of the inserted NAPNs: weak, so the identity start is not drowned, not zero, so
#: the new level gets a gradient towards using its noise.
INSERTED_NOISE = 0.1


def can_grow(old: InfGANConfig, new: InfGANConfig) -> str | None:
    """Why ``old`` cannot be grown into ``new`` (one line), or None when it can."""
    if new.levels != old.levels + 1:
        return f"levels {old.levels} -> {new.levels} (growing adds exactly one level)"
    if tuple(new.up_channels[1:]) != tuple(old.up_channels):
        return f"up_channels {list(old.up_channels)} must continue as {list(new.up_channels[1:])}"
    if new.up_channels[0] != old.g1_channels[-1]:
        return f"the inserted level's width {new.up_channels[0]} must be G1's output width {old.g1_channels[-1]}"
    same = dataclasses.replace(new, levels=old.levels, up_channels=old.up_channels, block=old.block)
    if same != old:
        return "only levels, up_channels and block may differ"
    return None


def grow_weights(old: InfGANConfig, weights: dict[str, torch.Tensor], new: InfGANConfig) -> dict[str, torch.Tensor]:
    """``old``'s generator weights laid out for ``new`` (one more level); see the module docstring."""
    reason = can_grow(old, new)
    if reason is not None:
        raise InvalidInput(f"infgan: cannot grow {old.levels} levels into {new.levels}: {reason}")
    first_up = len(old.g1_channels)  # index of the first up-scaling block
    old_top, new_top = old.levels - 1, new.levels - 1
    grown: dict[str, torch.Tensor] = {}
    for key, value in weights.items():
        head, _, rest = key.partition(".")
        if head == "blocks":
            index, _, name = rest.partition(".")
            shifted = int(index) + (new.up_convs if int(index) >= first_up else 0)
            grown[f"blocks.{shifted}.{name}"] = value.clone()
        elif head == "to_rgb":
            level, _, name = rest.partition(".")
            if int(level) == old_top:
                grown[f"to_rgb.{new_top}.{name}"] = value.clone()
            grown[f"to_rgb.{level}.{name}"] = value.clone()
        else:
            grown[key] = value.clone()
    width, kernel = new.up_channels[0], new.kernel
    for j in range(new.up_convs):
        prefix = f"blocks.{first_up + j}"
        identity = torch.zeros(width, width, kernel, kernel)
        # EqualConv2d multiplies by 1/sqrt(fan_in) at run time; store its inverse at the centre tap.
        identity[torch.arange(width), torch.arange(width), kernel // 2, kernel // 2] = math.sqrt(width * kernel**2)
        grown[f"{prefix}.conv.weight"] = identity
        grown[f"{prefix}.conv.bias"] = torch.zeros(width)
        grown[f"{prefix}.napn.noise_strength"] = torch.full((width,), INSERTED_NOISE)
        grown[f"{prefix}.napn.gain"] = torch.ones(width)
        grown[f"{prefix}.napn.bias"] = torch.zeros(width)
    return grown
