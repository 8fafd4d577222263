"""Cyclic panoramas: the same image at both ends of a period, so a loop of that period wraps seamlessly.

A loop of period ``P`` is the world's columns ``[x, x + P)``; it wraps seamlessly when the world at
``x + P + d`` renders exactly what it renders at ``x + d`` for the columns around the seam. A pixel
is a pure function of the latent cells it reads, its coordinates and the style weights at its
position (the consistency contract), so the seam repeats bit-exactly when all three repeat:

- latents: the image is inverted once at ``at`` and every cell a band around the seam reads (the
  image's footprint and the loop's rows) is copied, unchanged, ``P`` px to the right. Fitting the
  second end separately would give other latents for the same pixels; copying is exact and half
  the cost. The world between the ends is the world's own, so the loop shows fresh terrain;
- coordinates: ``P`` is a multiple of every coordinate period and latent stride the seam reads
  (:func:`loop_quantum`), so the copied cells sit at the same phase;
- styles: both ends carry a style centre with the fitted latent, wide enough that it covers the band
  fully (InfinityGAN's background style lattice then weighs exactly zero there), and ``P`` is long
  enough that each end's softmax weight rounds to exactly one at its own seam.

The last condition depends on other centres of the world too, so it is not assumed: the result is
rendered at both seams and compared; a loop that does not repeat bit-exactly is refused with the
reason. The loop itself (seam column, period, rows) is stored in the layout's ``extra`` (key
``loop``) so it saves with the world and the exporter reads it (:func:`loop_rect`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch

from engine.errors import InvalidInput
from engine.fields import FieldPatch, LatentSource, address_seed
from engine.geometry import Rect
from engine.inbetween import freeze, image_target, joint_latents, joint_world, merged_footprints, placement_rects
from engine.invert import InversionResult, InvertConfig, fit_latents
from engine.models.base import Generator
from engine.render import Renderer
from engine.styles import StyleCentre, StyleLayout
from engine.world import World

#: Layout ``extra`` keys of a world's loop (level-0 px ints; plain scalars keep the layout hashable
#: and equal to itself after a JSON round trip): the seam column, the period, and the loop's rows.
LOOP_KEYS = ("loop.x", "loop.period", "loop.top", "loop.bottom")
#: Largest loop step accepted: beyond it a loop would be an export of millions of columns.
MAX_QUANTUM = 2**14


def loop_quantum(model: Generator) -> int:
    """Loop periods must be multiples of this (level-0 px): every coordinate period and the stride of
    every latent field finer than a block. Coarser fields (InfinityGAN's style lattice) are not
    copied: the ends' style centres cover them with weight zero at the seam."""
    block = model.block_size(0)
    steps = [spec.lattice.stride for spec in model.field_specs(0) if spec.lattice.stride <= block]
    return math.lcm(1, *steps, *model.coordinate_periods())


def check_period(model: Generator, period: int) -> None:
    """A one-line :class:`InvalidInput` unless ``period`` is a loop period this model can repeat."""
    quantum = loop_quantum(model)
    if quantum > MAX_QUANTUM:
        raise InvalidInput(f"{model.family}'s coordinates repeat only every {quantum} px: no loop of a usable period")
    if not isinstance(period, int) or isinstance(period, bool) or period <= 0 or period % quantum:
        raise InvalidInput(f"loop period must be a positive multiple of {quantum} px for this model, got {period!r}")


def cyclic_panorama(
    model: Generator,
    world: World,
    image: np.ndarray,
    at: tuple[int, int],
    period: int,
    config: InvertConfig,
    device: torch.device | str | None = None,
    progress: Callable[[int, float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> InversionResult:
    """The same image centred at ``at`` and at ``at + (period, 0)`` (level-0 px), so that the loop
    ``loop_rect(result.world)`` (from the image's centre column, ``period`` wide, the image's rows)
    wraps seamlessly. Progress, cancel and refusals as in :func:`engine.inbetween.inbetween`."""
    check_period(model, period)
    if config.steps < 1 or config.level != 0:
        raise InvalidInput("a cyclic panorama needs at least one step at full resolution (level 0)")
    copy_at = (int(at[0]) + period, int(at[1]))
    rect, copy = placement_rects(model, [(image, at), (image, copy_at)])
    seam = rect.x + rect.w // 2
    half = max(1, model.block_size(0) // 2)
    band = Rect(seam - half, rect.y, 2 * half, rect.h)
    pinned = _bounding(rect, band)
    for spec, cells in merged_footprints(model, [pinned]).values():
        stride = spec.lattice.stride
        if period % stride == 0 and cells.translate(period // stride, 0).intersection(cells):
            raise InvalidInput(f"a period of {period} px is too short for a {rect.w} px image: its ends would overlap")
    device = torch.device(device or "cpu")
    freeze(model)
    target = image_target(image, device)
    width = _covering_width(model, world, rect, band)
    latents = joint_latents(model, world, [rect], config.style, device, widths=[width])
    losses, seconds = fit_latents(model, latents, [(rect, target)], config, progress, cancelled)
    fitted, centres = joint_world(world, latents)
    looped = _repeat(model, fitted, pinned, period)
    looped, centres = _repeat_centres(looped, centres, period)
    looped = looped.with_styles(_with_extra(looped.styles, (seam, period, rect.y, rect.bottom)))
    _check_seam(model, looped, band, period, device)
    return InversionResult(looped, losses, seconds, centres[0] if centres else None, (rect, copy), centres)


def _bounding(a: Rect, b: Rect) -> Rect:
    x0, y0 = min(a.x, b.x), min(a.y, b.y)
    return Rect(x0, y0, max(a.right, b.right) - x0, max(a.bottom, b.bottom) - y0)


def _covering_width(model: Generator, world: World, rect: Rect, band: Rect) -> float | None:
    """A style width for the ends' centres under which each covers every style sample the seam band
    reads (full coverage reaches two widths), or None (the model's default) when that is enough."""
    fusion = model.style_fusion(world.styles, world.seed)
    if fusion is None:
        return None
    reads = model.style_support(band) or [band]
    cx, cy = rect.x + rect.w // 2, rect.y + rect.h // 2
    far = max(math.hypot(max(cx - r.x, r.right - cx), max(cy - r.y, r.bottom - cy)) for r in reads)
    default = model.style_fusion(StyleLayout.of([StyleCentre(cx, cy, 0)]), world.seed)
    return max(default.widths[-1] if default is not None else 0.0, far / 2.0)


def _repeat(model: Generator, world: World, region: Rect, period: int) -> World:
    """``world`` with every cell that pixels of ``region`` read pinned (written as an override with
    the value it has, so a surroundings variant keeps the whole seam band, not just the image) and
    copied ``period`` px to the right.

    A field whose stride does not divide the period (a coarse style lattice, weighed zero at the seam:
    module docstring) cannot be copied; its cells at the far end are pinned at the values they have,
    so the far end is pinned as wholly as the near one."""
    source = LatentSource(world.seed, world.overrides)
    far = region.translate(period, 0)
    patches = []
    for spec, cells in merged_footprints(model, [region]).values():
        stride = spec.lattice.stride
        patches.append(FieldPatch(spec.name, cells, source.read_cpu(spec.name, spec.channels, cells)))
        if period % stride:
            pinned = spec.footprint(far)
            patches.append(FieldPatch(spec.name, pinned, source.read_cpu(spec.name, spec.channels, pinned)))
            continue
        values = source.read_cpu(spec.name, spec.channels, cells)
        patches.append(FieldPatch(spec.name, cells.translate(period // stride, 0), values))
    return world.with_overrides((*world.overrides, *patches))


def _repeat_centres(world: World, centres: tuple, period: int) -> tuple[World, tuple]:
    """The fitted centres again at the far end, same latent and width (a new seed: another centre)."""
    if not centres:
        return world, ()
    copies = tuple(
        replace(c, x=c.x + period, seed=address_seed("loop.end", c.seed, period) & (2**31 - 1)) for c in centres
    )
    layout = world.styles
    return world.with_styles(replace(layout, centres=(*layout.centres, *copies))), (*centres, *copies)


def _with_extra(layout: StyleLayout, loop: tuple[int, int, int, int]) -> StyleLayout:
    extra = dict(layout.extra)
    extra.update(zip(LOOP_KEYS, loop, strict=True))
    return replace(layout, extra=tuple(sorted(extra.items())))


def _check_seam(model: Generator, world: World, band: Rect, period: int, device: torch.device) -> None:
    """Render the seam band at both ends; refuse a loop whose ends are not bit-identical."""
    renderer = Renderer(model, device)
    first, second = renderer.render(world, [band, band.translate(period, 0)])
    if not np.array_equal(first, second):
        worst = int(np.abs(first.astype(np.int16) - second.astype(np.int16)).max())
        raise InvalidInput(
            f"the loop would show a seam (ends differ by up to {worst} LSB): other style centres are too "
            "close to the image; move it or them"
        )


def loop_of(world: World) -> dict[str, int] | None:
    """The world's loop (``x``, ``period``, ``top``, ``bottom``), or None; checked as a file's data."""
    extra = dict(world.styles.extra)
    if not any(key in extra for key in LOOP_KEYS):
        return None
    values = [extra.get(key) for key in LOOP_KEYS]
    if any(not isinstance(v, int) or isinstance(v, bool) or abs(v) > 2**62 for v in values):
        raise InvalidInput(f"the world's loop keys {', '.join(LOOP_KEYS)} must all be integers")
    loop = dict(zip(("x", "period", "top", "bottom"), values, strict=True))
    if loop["period"] <= 0 or loop["bottom"] <= loop["top"]:
        raise InvalidInput(f"the world's loop {loop} has no area")
    return loop


def loop_rect(world: World, period: int | None = None, y: int | None = None, height: int | None = None) -> Rect:
    """The world's seamless loop as an export rect: from its seam column, ``period`` wide, over its
    rows (or ``y``/``height`` inside them). ``period`` (if given) must be the loop's."""
    loop = loop_of(world)
    if loop is None:
        raise InvalidInput("this world has no cyclic panorama: make one first")
    if period is not None and period != loop["period"]:
        raise InvalidInput(f"the world loops every {loop['period']} px, not {period}")
    top = loop["top"] if y is None else int(y)
    bottom = loop["bottom"] if height is None else top + int(height)
    if top < loop["top"] or bottom > loop["bottom"] or bottom <= top:
        raise InvalidInput(f"a loop's rows must lie within {loop['top']}..{loop['bottom']}, got {top}..{bottom}")
    return Rect(loop["x"], top, loop["period"], bottom - top)
