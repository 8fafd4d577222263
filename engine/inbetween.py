"""Inbetweening: several images anywhere in one world, inverted together, the world between fresh.

Each image is placed by its centre (level-0 world pixels). All of them are fitted in one
optimisation (:func:`engine.invert.fit_latents` over every image's region): one Adam state, one
loss, and each step renders only the images' own regions, so two images 10 000 px apart cost what
two side by side cost. What is trained per image is what a single inversion trains: the cells its
pixels read (its footprint) and, where the family reads one, the latent of a style centre of its own
at its middle. Footprints that touch are merged into one trainable block, so no cell is served twice.

Between the images nothing is optimised: the structure latents, noise and (ALIS) anchors there are
the world's own draws, and a surroundings variant (:mod:`engine.variants`) redraws them. What ties
the gap together is the family's fusion:

- InfinityGAN: the style centres blend by spatial style fusion. Each centre's width is widened to a
  quarter of the distance to its nearest fellow, so its full coverage (two widths, ``engine.styles``)
  reaches the midpoint and the styles hand over across the whole gap instead of dropping to the
  background lattice between them (InfinityGAN's inbetweening, Fig. 10).
- ALIS: styles are the anchors; the images' anchors are fitted and the anchors between them are the
  world's, which ALIS's anchor blending connects (the paper's panorama mechanism).

Other families have neither per-image styles nor anchors to connect: :func:`inbetween_support` says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from engine.errors import InvalidInput
from engine.fields import FieldPatch, LatentSource, address_seed
from engine.geometry import Rect
from engine.invert import (
    InversionResult,
    InvertConfig,
    OptimisableSource,
    TrainableLatents,
    check_image,
    fit_latents,
    probe_style,
)
from engine.models.base import FieldSpec, Generator
from engine.style_edits import add_centre
from engine.styles import StyleCentre, StyleLayout
from engine.world import World

#: Families whose worlds can connect separately inverted images (see the module docstring).
INBETWEEN_FAMILIES = ("infinitygan", "alis")
#: Most images one inbetween fits (each renders its region every step).
MAX_IMAGES = 8

Placement = tuple[np.ndarray, tuple[int, int]]


def inbetween_support(model: Generator) -> str | None:
    """None when the family can inbetween; else the one-line reason shown to the user."""
    if model.family in INBETWEEN_FAMILIES:
        return None
    return (
        f"{model.family} cannot inbetween: it has neither per-image style centres nor anchors to connect "
        "two images (use an InfinityGAN or ALIS model)"
    )


def placement_rects(model: Generator, placements: Sequence[Placement]) -> list[Rect]:
    """Each image's level-0 world rect, checked: at least two images, each within the inversion's size
    limit, none overlapping another, all inside the model's vertical range. One-line
    :class:`InvalidInput` otherwise; nothing is allocated before these checks."""
    reason = inbetween_support(model)
    if reason is not None:
        raise InvalidInput(reason)
    if not 2 <= len(placements) <= MAX_IMAGES:
        raise InvalidInput(f"inbetweening needs 2 to {MAX_IMAGES} images, got {len(placements)}")
    rects = []
    for image, centre in placements:
        h, w = check_image(image).shape[:2]
        cx, cy = (int(v) for v in centre)
        rects.append(Rect(cx - w // 2, cy - h // 2, w, h))
    rows = model.data_rows()
    for index, rect in enumerate(rects):
        if rows is not None and (rect.y < rows[0] or rect.bottom > rows[1]):
            raise InvalidInput(
                f"image {index + 1} spans rows {rect.y}..{rect.bottom}, outside the model's rows "
                f"{rows[0]}..{rows[1]}; move it vertically"
            )
        for other in range(index):
            if rect.intersection(rects[other]) is not None:
                raise InvalidInput(f"images {other + 1} and {index + 1} overlap; place them apart")
    return rects


def inbetween(
    model: Generator,
    world: World,
    placements: Sequence[Placement],
    config: InvertConfig,
    device: torch.device | str | None = None,
    progress: Callable[[int, float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> InversionResult:
    """Two (or more) images, each ``(H, W, 3)`` uint8 centred at a level-0 world point; returns one world
    that holds each image's latents and its own style, styles fused across the gap, fresh structure
    between. ``progress(step, loss)`` and ``cancelled()`` as in :func:`engine.invert.invert` (raises
    :class:`~engine.render.Cancelled`); :class:`InvalidInput` (one line) for unsupported families,
    images too large, overlapping or out of the model's vertical range."""
    if config.level != 0:
        raise InvalidInput("inbetweening works at full resolution (level 0)")
    if config.steps < 1:
        raise InvalidInput(f"inversion needs at least one step, got {config.steps}")
    rects = placement_rects(model, placements)
    device = torch.device(device or "cpu")
    freeze(model)
    targets = [image_target(image, device) for image, _ in placements]
    latents = joint_latents(model, world, rects, config.style, device)
    losses, seconds = fit_latents(model, latents, list(zip(rects, targets, strict=True)), config, progress, cancelled)
    edited, centres = joint_world(world, latents)
    first = centres[0] if centres else None
    return InversionResult(edited, losses, seconds, first, tuple(rects), centres)


def freeze(model: Generator) -> None:
    """Eval mode, no weight gradients: only latents learn in an inversion."""
    model.eval()
    if any(p.requires_grad for p in model.parameters()):
        model.requires_grad_(False)


def image_target(image: np.ndarray, device: torch.device) -> torch.Tensor:
    """A uint8 ``(H, W, 3)`` image as the ``(3, H, W)`` target in [-1, 1] that renders are compared with."""
    pixels = torch.from_numpy(np.ascontiguousarray(image)).to(device=device, dtype=torch.float32)
    return pixels.permute(2, 0, 1) / 127.5 - 1.0


class JointSource(OptimisableSource):
    """Serves several trainable blocks per field (keys ``"<field>#<k>"``) and one trainable style
    vector per centre seed; everything else from the world, detached."""

    def __init__(self, base: LatentSource, params: dict[str, tuple[Rect, torch.Tensor]]) -> None:
        super().__init__(base, params)
        self.pieces: dict[str, list[tuple[Rect, torch.Tensor]]] = {}
        for key, piece in params.items():
            self.pieces.setdefault(key.rsplit("#", 1)[0], []).append(piece)
        self.styles: dict[int, torch.Tensor] = {}

    def read(self, name: str, channels: int, cells: Sequence[Rect]) -> torch.Tensor:
        rows = []
        for rect in cells:
            values = self.read_cpu(name, channels, rect).to(device=self.device, dtype=self.dtype)
            for own, param in self.pieces.get(name, ()):
                part = own.intersection(rect)
                if part is not None:
                    sx, sy = part.x - own.x, part.y - own.y
                    dx, dy = part.x - rect.x, part.y - rect.y
                    values[:, dy : dy + part.h, dx : dx + part.w] = param[:, sy : sy + part.h, sx : sx + part.w]
            rows.append(values)
        return torch.stack(rows)

    def vector(self, name: str, key: int, dim: int) -> torch.Tensor:
        style = self.styles.get(key)
        if style is not None and style.shape == (dim,):
            return style
        return LatentSource.vector(self, name, key, dim)


@dataclass
class JointLatents(TrainableLatents):
    """:class:`TrainableLatents` of several images: one style vector per fitted centre."""

    centre_styles: list[tuple[StyleCentre, torch.Tensor]] | None = None

    def style_tensors(self) -> list[torch.Tensor]:
        return [style for _, style in self.centre_styles or ()]


def merged_footprints(model: Generator, rects: Sequence[Rect]) -> dict[str, tuple[FieldSpec, Rect]]:
    """Trainable blocks per field, keyed ``"<field>#<k>"``: each image's footprint, touching ones merged."""
    out: dict[str, tuple[FieldSpec, Rect]] = {}
    specs: dict[str, FieldSpec] = {}
    blocks: dict[str, list[Rect]] = {}
    for spec in model.field_specs(0):
        specs.setdefault(spec.name, spec)
        for rect in rects:
            blocks.setdefault(spec.name, []).append(spec.footprint(rect))
    for name, cells in blocks.items():
        for k, block in enumerate(_merge_touching(cells)):
            out[f"{name}#{k}"] = (specs[name], block)
    return out


def _merge_touching(rects: list[Rect]) -> list[Rect]:
    """Bounding boxes of the groups of ``rects`` that intersect (transitively)."""
    merged = list(rects)
    changed = True
    while changed:
        changed = False
        for i in range(len(merged)):
            for j in range(i + 1, len(merged)):
                if merged[i].intersection(merged[j]) is not None:
                    a, b = merged[i], merged.pop(j)
                    x0, y0 = min(a.x, b.x), min(a.y, b.y)
                    merged[i] = Rect(x0, y0, max(a.right, b.right) - x0, max(a.bottom, b.bottom) - y0)
                    changed = True
                    break
            if changed:
                break
    return merged


def joint_latents(
    model: Generator,
    world: World,
    rects: Sequence[Rect],
    style: bool,
    device: torch.device,
    widths: Sequence[float | None] | None = None,
) -> JointLatents:
    """Every image's footprint cells as trainable copies, and (``style``) one centre per image, of
    the given ``widths`` (default: reaching halfway to the nearest fellow image)."""
    base = LatentSource(world.seed, world.overrides, device=device)
    specs = merged_footprints(model, rects)
    params = {
        key: (cells, base.read_cpu(spec.name, spec.channels, cells).to(device).requires_grad_(True))
        for key, (spec, cells) in specs.items()
    }
    source = JointSource(base, params)
    style_world, centre_styles = world, []
    if style and model.style_fusion(world.styles, world.seed) is not None:
        layout = world.styles
        for index in range(len(rects)):
            centre = _image_centre(model, world, rects, index)
            if widths is not None:
                centre = replace(centre, width=widths[index])
            layout = add_centre(layout, world.seed, centre, model.implicit_style_centre)
        style_world = world.with_styles(layout)
        plain = OptimisableSource(base, {})
        for rect, centre in zip(rects, layout.centres[-len(rects) :], strict=True):
            vector = probe_style(model, plain, style_world, rect, 0, centre.seed)
            if vector is None:  # the family ignores extra centres: no styles to fit
                style_world, centre_styles = world, []
                break
            source.styles[centre.seed] = vector
            centre_styles.append((centre, vector))
    return JointLatents(specs, params, source, None, style_world, centre_styles)


def _image_centre(model: Generator, world: World, rects: Sequence[Rect], index: int) -> StyleCentre:
    """Image ``index``'s own style centre: at its middle, wide enough to reach halfway to its nearest fellow."""
    rect = rects[index]
    x, y = rect.x + rect.w // 2, rect.y + rect.h // 2
    seed = address_seed("inbetween.style", world.seed, rect.x, rect.y, rect.w, rect.h) & (2**31 - 1)
    fusion = model.style_fusion(StyleLayout.of([StyleCentre(x, y, seed)]), world.seed)
    default = fusion.widths[-1] if fusion is not None and fusion.widths else 1.0
    gaps = [math.hypot(o.x + o.w // 2 - x, o.y + o.h // 2 - y) for k, o in enumerate(rects) if k != index]
    return StyleCentre(x, y, seed, width=max(default, min(gaps) / 4.0) if gaps else None)


def joint_world(world: World, latents: JointLatents) -> tuple[World, tuple[StyleCentre, ...]]:
    """``world`` with every fitted block as a field patch and every fitted centre's latent."""
    patches = tuple(
        FieldPatch(key.rsplit("#", 1)[0], cells, p.detach().to("cpu", torch.float32).clone())
        for key, (cells, p) in latents.params.items()
    )
    edited = world.with_overrides((*world.overrides, *patches))
    fitted = [
        replace(centre, latent=tuple(float(v) for v in style.detach().cpu()))
        for centre, style in latents.centre_styles or ()
    ]
    if not fitted:
        return edited, ()
    layout = latents.style_world.styles  # the fitted centres are its last ones, in image order
    centres = (*layout.centres[: len(layout.centres) - len(fitted)], *fitted)
    return replace(edited, styles=replace(layout, centres=centres)), tuple(fitted)
