"""The first view of a new world: a place with land and coast in view, chosen from the world itself.

A seed's origin is as likely to be open ocean as anything else, and a new user shown a blue screen
concludes the program draws water. So when a world is new (the first start, "New world", File ▸
New project) a few candidate places around the view's centre are probed: one block each at the model's
coarsest native level (a whole view's area for multi-level models, a sample of it for single-level
ones), rendered by the tile worker as one call before any tile of the view. Each probe is scored by
its land cover (:mod:`engine.metrics.landcover`): the balance of water and land plus the density
of coastline between them. The view moves to the best place only if it beats where it is, and only
if the user has not moved the view meanwhile. The cost is bounded by :data:`MAX_PROBES` blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.model_switch import has_edits
from app.tiles import SUB
from engine.geometry import Rect
from engine.metrics.landcover import CLASSES, classify, coast_density
from engine.world import World

MAX_PROBES = 13  # the view's place and its 12 nearest neighbours: 13 blocks, a fifth of a 1280x800 view's work
_LAND = [CLASSES.index(name) for name in ("ice", "desert", "forest")]


def place_score(rgb: np.ndarray) -> float:
    """How interesting a probe looks: ``2 * min(water, land)`` (1 for half and half, 0 for one
    kind only) plus the share of coastline cells. Pixels of neither kind ("other") count for neither."""
    labels = classify(rgb)
    water = float(np.mean(labels == CLASSES.index("ocean")))
    land = float(np.mean(np.isin(labels, _LAND)))
    return 2.0 * min(water, land) + coast_density(labels)


def candidate_centres(spacing: int, count: int = MAX_PROBES) -> list[tuple[int, int]]:
    """Offsets on a square grid of ``spacing``, nearest first (``(0, 0)``, the view's own place, first)."""
    reach = 1
    while (2 * reach + 1) ** 2 < count:
        reach += 1
    grid = [(i, j) for j in range(-reach, reach + 1) for i in range(-reach, reach + 1)]
    grid.sort(key=lambda p: (p[0] ** 2 + p[1] ** 2, p[1], p[0]))
    return [(i * spacing, j * spacing) for i, j in grid[:count]]


@dataclass(frozen=True)
class Choice:
    centre: tuple[int, int]
    score: float
    origin_score: float
    scores: tuple[float, ...]


def choose_place(
    render: Callable[[list[tuple[int, int]]], list[np.ndarray]], candidates: list[tuple[int, int]]
) -> Choice:
    """The best-scoring candidate (``candidates[0]``, the origin, unless another is strictly better)."""
    scores = [place_score(image) for image in render(candidates)]
    best = max(range(len(candidates)), key=lambda index: (scores[index], -index))
    if scores[best] <= scores[0]:
        best = 0
    return Choice(candidates[best], scores[best], scores[0], tuple(scores))


def probe_renders(renderer, world: World, candidates: list[tuple[int, int]]) -> list[np.ndarray]:
    """One block per candidate, centred on it, at the model's coarsest native level."""
    level = max(0, renderer.model.num_levels() - 1)
    block = renderer.block_size(level)
    rects = [Rect((x >> level) - block // 2, (y >> level) - block // 2, block, block) for x, y in candidates]
    return renderer.render(world, rects, level)


class FirstView(QObject):
    """Probes new worlds and centres the window's canvas on the chosen place (see module docstring)."""

    sig_chosen = Signal(object)  # (world, view centre when asked, Choice), from the worker thread

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.last: Choice | None = None  # the last choice made (tests, diagnostics)
        self.sig_chosen.connect(self._on_chosen)

    def probe(self) -> None:
        """Choose a first place for the shown world (a no-op while none is shown)."""
        canvas = self.window.canvas
        world = canvas.world
        if world is None:
            return
        view = canvas.view
        spacing = max(view.width, view.height) * view.unit // SUB  # one view apart
        asked_at = view.centre
        x0, y0 = asked_at
        candidates = [(x0 + dx, y0 + dy) for dx, dy in candidate_centres(max(256, spacing))]
        info = self.window.model_info
        model = info.model if info is not None and info.ref == world.model else None

        def run(renderer, _serve_tiles) -> None:
            if model is not None and renderer.model is model:  # not a model opened since
                choice = choose_place(lambda places: probe_renders(renderer, world, places), candidates)
                self.sig_chosen.emit((world, asked_at, choice))

        self.window.worker.call(run)

    def _on_chosen(self, result) -> None:
        world, asked_at, choice = result
        self.last = choice
        canvas = self.window.canvas
        if canvas.world is world and canvas.view.centre == asked_at and choice.centre != asked_at:
            canvas.centre_on(*choice.centre)


def install_first_view(window, at_start: bool) -> FirstView:
    """Probe on "New world" and File ▸ New project, and (``at_start``) for the world the window opens."""
    first = FirstView(window)
    window.new_world_action.triggered.connect(lambda _checked=False: first.probe())

    def after_new_project(_checked=False) -> None:
        project = window.project
        if window.world is not None and project.path is None and not project.modified and not has_edits(window.world):
            first.probe()  # a fresh untitled world (not the old one kept by a cancelled question)

    window.project.new_action.triggered.connect(after_new_project)
    if at_start:

        def once(_info) -> None:
            window.worker.sig_model_ready.disconnect(once)
            if window.project.path is None and window.world is not None and not has_edits(window.world):
                first.probe()  # not when a project named on the command line opened meanwhile

        window.worker.sig_model_ready.connect(once)
    return first
