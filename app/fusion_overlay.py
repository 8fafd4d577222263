"""The fusion overlay: the canvas tinted by style, so the user sees the map they are painting.

Each visible display tile gets a small RGBA image: at a grid of world points, the weights of the
world's style centres (:meth:`~engine.models.base.Generator.style_fusion`, the very weights the
model blends its styles with) mix the centres' marker colours, and their total weight is the
alpha (a style lattice's background is left untinted). Blend zones show as mixed colours.

The weights are computed in the tile worker (:meth:`app.worker.TileWorker.call`), never in the
paint pass: :meth:`FusionOverlay.paint` only scales cached images. While a new world's overlay is
on its way, the previous one stays on screen, so painting never flickers.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QObject, QRectF, QTimer
from PySide6.QtGui import QImage, QPainter

from app.tiles import LevelPlan, TileKey, View
from engine.render import Renderer
from engine.styles import StyleCentre
from engine.world import World

SAMPLES = 64  # weights per tile side (a 256-px tile: one sample per 4 screen pixels)
MAX_IMAGES = 4096  # overlay tiles kept (64x64 RGBA each: 64 MiB at most)
GROUP = "fusion-overlay"


def style_rgb(seed: int) -> tuple[int, int, int]:
    """The colour of a style (the same hue, saturation and value as its centre marker)."""
    r, g, b = colorsys.hsv_to_rgb(((seed * 47) % 360) / 360.0, 200 / 255, 1.0)
    return round(r * 255), round(g * 255), round(b * 255)


def overlay_tile(renderer: Renderer, world: World, level: int, tx: int, ty: int) -> np.ndarray | None:
    """``(SAMPLES, SAMPLES, 4)`` uint8 RGBA tint of a display tile, or None for a family without
    style layouts. Samples sit at the centres of ``SAMPLES``-per-side cells of the tile's world square."""
    fusion = renderer.model.style_fusion(world.styles, world.seed)
    if fusion is None:
        return None
    rect = TileKey(0, level, tx, ty).world_rect()
    step = rect.w // SAMPLES
    grid = (rect.x + step // 2, rect.y + step // 2, SAMPLES, SAMPLES, step)
    # With a style lattice, its cells follow the K centres: they are the untinted background.
    weights = fusion.lattice_weights(*grid)[1][: fusion.count] if fusion.lattice_cell else fusion.weights(*grid)
    return tint(weights.numpy(), fusion.centres)


def tint(weights: np.ndarray, centres: Sequence[StyleCentre]) -> np.ndarray:
    """Mix the centres' colours by ``(K, h, w)`` weights; alpha is their sum (1 without a lattice)."""
    colours = np.array([style_rgb(c.seed) for c in centres], dtype=np.float32).reshape(-1, 3)
    total = weights.sum(axis=0)
    rgb = np.einsum("khw,kc->hwc", weights, colours) / np.maximum(total, 1e-6)[..., None]
    out = np.empty((*total.shape, 4), dtype=np.uint8)
    out[..., :3] = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
    out[..., 3] = np.clip(total * 255 + 0.5, 0, 255).astype(np.uint8)
    return out


class FusionOverlay(QObject):
    """Toggle, opacity and tile images of the overlay; the canvas calls :meth:`paint` after its tiles."""

    def __init__(self, canvas, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.enabled = False
        self.opacity = 0.5
        # (level, tx, ty) -> (the world it shows, image); worlds by identity (branches reuse versions)
        # (None for a family without style layouts: asked once per world, drawn as nothing)
        self.images: dict[tuple[int, int, int], tuple[World, QImage | None]] = {}
        self.computed = 0  # overlay tiles received (tests, benchmarks)
        self._asked: tuple[int, frozenset] | None = None  # the request in flight (not asked twice)
        self._timer = QTimer(self, singleShot=True, interval=0)
        self._timer.timeout.connect(self._request)
        canvas.sig_view_changed.connect(lambda _view: self._timer.start() if self.enabled else None)
        canvas.worker.sig_call_done.connect(self._on_done)
        canvas.overlays.append(self)

    def set_enabled(self, on: bool) -> None:
        self.enabled = bool(on)
        if on:
            self._timer.start()
        self.canvas.update()

    def set_opacity(self, opacity: float) -> None:
        self.opacity = min(1.0, max(0.0, float(opacity)))
        self.canvas.update()

    def _visible(self, view: View, plan: LevelPlan) -> list[tuple[int, int, int]]:
        level = view.level(plan)
        tx0, ty0, tx1, ty1 = view.tile_range(level)
        return [(level, tx, ty) for ty in range(ty0, ty1 + 1) for tx in range(tx0, tx1 + 1)]

    def _request(self) -> None:
        world, plan = self.canvas.world, self.canvas.plan
        if not self.enabled or world is None or plan is None:
            return
        wanted = [k for k in self._visible(self.canvas.view, plan) if self.images.get(k, (None,))[0] is not world]
        asked = (id(world), frozenset(wanted))
        if not wanted or asked == self._asked:
            return
        self._asked = asked

        def compute(renderer: Renderer):
            return world, [(key, overlay_tile(renderer, world, *key)) for key in wanted]

        self.canvas.worker.call_latest(GROUP, compute)

    def _on_done(self, group: str, result) -> None:
        if group != GROUP:
            return
        world, tiles = result
        if world is not self.canvas.world:
            return  # an older world's tint: the request for the current one is on its way
        for key, array in tiles:
            image = None
            if array is not None:
                image = QImage(array.data, array.shape[1], array.shape[0], QImage.Format.Format_RGBA8888).copy()
                self.computed += 1
            self.images[key] = (world, image)
        if len(self.images) > MAX_IMAGES:
            keep = set(self._visible(self.canvas.view, self.canvas.plan))
            self.images = {k: v for k, v in self.images.items() if k in keep}
        self._asked = None
        self.canvas.update()
        self._timer.start()  # the view may have moved on meanwhile

    def paint(self, painter: QPainter, view: View) -> None:
        if not self.enabled or self.canvas.plan is None:
            return
        painter.save()
        painter.setOpacity(self.opacity)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        for key in self._visible(view, self.canvas.plan):
            entry = self.images.get(key)
            if entry is not None and entry[1] is not None:
                x, y, side = view.tile_screen_rect(*key)
                painter.drawImage(QRectF(x, y, side, side), entry[1])
        painter.restore()
