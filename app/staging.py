"""Staged edits: a generative edit's results wait here until the user accepts one of them.

Outpainting (a dropped image), inbetweening (two dropped images), a seamless loop and region
resampling each make one or more candidate worlds, which canvas tools that people already use call a
staging area (InvokeAI's canvas, krita-ai-diffusion): the canvas previews the current candidate, the
user cycles through the variants, asks for more, and accepts one (one undo step) or discards them.

A :class:`StagedEdit` is that state as plain data: the document's world the edit started from
(``base``), the candidates (``variants``, all derived from ``base``), which one is current, the
thumbnails rendered so far, and how to make another variant (``make_variant(seed)``, cheap model-side
work such as :func:`engine.variants.surroundings_variant`: no new optimisation). Nothing here changes
the document: :meth:`StagedEdit.chosen` hands back the world to commit, and the Qt side
(:mod:`app.staging_session`) commits it through the tools controller. Qt-free so that the rules
(which variant is current, which previews are distinct) are testable without a window.

Previews get versions of their own (:func:`preview_of`): variants of one edit share their natural
version (``base.version + 1``), and a version must never name two worlds shown at once. The canvas
keys its tiles by pixel identity (:mod:`app.world_states`), not by version, so a preview and the
variant it shows share their tiles (accepting renders nothing) while two variants never do; the
committed world keeps its natural version.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from engine.geometry import Rect
from engine.world import World

#: Versions for previews only: far above any version an edited world reaches, never reused in a session.
_PREVIEW_VERSIONS = itertools.count(1 << 48)
#: Variants made at first and by each "Generate more".
VARIANTS_PER_BATCH = 4
#: Longest side of a thumbnail's region (level-0 pixels) rendered around the edit's footprint.
THUMBNAIL_REGION = 384


def preview_of(world: World) -> World:
    """``world`` under a version no other shown world has had (see module docstring)."""
    return dataclasses.replace(world, version=next(_PREVIEW_VERSIONS))


def bounding_rect(rects: Sequence[Rect]) -> Rect:
    """The smallest rect holding every one of ``rects`` (at least one)."""
    x0, y0 = min(r.x for r in rects), min(r.y for r in rects)
    x1, y1 = max(r.right for r in rects), max(r.bottom for r in rects)
    return Rect(x0, y0, x1 - x0, y1 - y0)


def thumbnail_region(footprints: Sequence[Rect], limit: int = THUMBNAIL_REGION) -> Rect:
    """The region a thumbnail shows: the footprints with as much again around them (the part that
    varies), centred on them and at most ``limit`` pixels a side (the thumbnail stays cheap)."""
    box = bounding_rect(footprints)
    w, h = min(limit, box.w * 2), min(limit, box.h * 2)
    cx, cy = box.x + box.w // 2, box.y + box.h // 2
    return Rect(cx - w // 2, cy - h // 2, max(1, w), max(1, h))


@dataclass
class StagedEdit:
    """One generative edit awaiting the user's choice (see module docstring)."""

    base: World
    label: str  # the undo step's name once accepted ("Import a.png", "Inbetween a.png and b.png")
    kind: str  # "outpaint", "inbetween", "loop", "resample"
    footprints: tuple[Rect, ...]  # where the edit is pinned (the images); the thumbnails show around it
    make_variant: Callable[[int], World] | None = None  # seed -> another candidate (None: no more)
    variants: list[World] = field(default_factory=list)
    previews: list[World] = field(default_factory=list)  # the variants under preview versions
    seeds: list[int | None] = field(default_factory=list)  # the seed of each variant (None: the first)
    thumbnails: dict[int, np.ndarray] = field(default_factory=dict)
    index: int = 0
    sources: tuple[tuple[str, tuple[int, int]], ...] = ()  # the dropped images: (path, centre)

    def add(self, world: World, seed: int | None = None) -> int:
        """Add a candidate; returns its index."""
        self.variants.append(world)
        self.previews.append(preview_of(world))
        self.seeds.append(seed)
        return len(self.variants) - 1

    def more(self, seeds: Sequence[int]) -> list[int]:
        """Make one variant per seed with :attr:`make_variant`; returns their indices."""
        if self.make_variant is None:
            return []
        return [self.add(self.make_variant(seed), seed) for seed in seeds]

    @property
    def preview(self) -> World:
        return self.previews[self.index]

    def chosen(self) -> World:
        """The world to commit: the current variant, under its natural version."""
        return self.variants[self.index]

    def select(self, index: int) -> bool:
        """Make ``index`` current (wrapping around); False when it already was."""
        index %= len(self.variants)
        if index == self.index:
            return False
        self.index = index
        return True

    def step(self, delta: int) -> bool:
        """Next (+1) or previous (-1) variant, wrapping around."""
        return self.select(self.index + delta)

    def missing_thumbnails(self) -> list[int]:
        return [i for i in range(len(self.variants)) if i not in self.thumbnails]

    def thumbnail_rect(self) -> Rect:
        return thumbnail_region(self.footprints)
