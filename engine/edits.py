"""Region edits on latent fields, and where an edit can change pixels.

Resampling a region means redrawing the latent cells under it from a fresh seed and storing them as
:class:`~engine.fields.FieldPatch` overrides. Which cells: those whose own pixel area lies wholly
inside the rectangle, for every field the model reads (or the fields named). A model reads a cell
only from pixels within its lattice's ``support``, so pixels outside the union of the supports are
bit-identical before and after; :func:`changed_regions` states that union for any two worlds of one
lineage, which is what lets a canvas keep every cached tile the edit cannot reach, for undo and redo
as well as for the edit itself.

ALIS has its own meaning of a region (the anchors inside it, :mod:`engine.families.alis.edit`);
:func:`resample_region` picks the right one for a model.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import replace

from engine.errors import InvalidInput
from engine.fields import FieldPatch, gaussian
from engine.geometry import Rect, ceil_div, floor_div
from engine.models.base import FieldSpec, Generator
from engine.stroke_paint import stroke_changes, weight_support
from engine.styles import StyleCentre, StyleLayout
from engine.world import World


def cells_inside(spec: FieldSpec, rect: Rect) -> Rect | None:
    """Cells of ``spec`` whose pixel area (``stride`` pixels a side) lies wholly inside ``rect``."""
    s = spec.lattice.stride
    i0, i1 = ceil_div(rect.x, s), floor_div(rect.right, s)
    j0, j1 = ceil_div(rect.y, s), floor_div(rect.bottom, s)
    if i1 <= i0 or j1 <= j0:
        return None
    return Rect(i0, j0, i1 - i0, j1 - j0)


def resample_patches(
    model: Generator, rect: Rect, seed: int, fields: Iterable[str] | None = None, level: int = 0
) -> tuple[FieldPatch, ...]:
    """New values for the cells inside ``rect`` (pixels of ``level``) of the model's fields.

    ``fields`` limits the edit to those field names (default: every field the model reads). Values
    come from :func:`engine.fields.gaussian` keyed by ``seed``, the field and the cells, so the same
    seed gives the same patch. Raises :class:`InvalidInput` when no cell of any chosen field fits.
    """
    specs = model.field_specs(level)
    wanted = None if fields is None else set(fields)
    if wanted is not None and (unknown := wanted - {s.name for s in specs}):
        raise InvalidInput(f"the model reads no field {sorted(unknown)} (it reads {[s.name for s in specs]})")
    patches = []
    for spec in specs:
        if wanted is not None and spec.name not in wanted:
            continue
        cells = cells_inside(spec, rect)
        if cells is None:
            continue
        values = gaussian((spec.channels, cells.h, cells.w), "resample", seed, spec.name, cells.x, cells.y)
        patches.append(FieldPatch(spec.name, cells, values))
    if not patches:
        raise InvalidInput(f"rectangle {rect} holds no whole latent cell; draw a larger one")
    return tuple(patches)


def resample_fields(
    world: World, model: Generator, rect: Rect, seed: int, fields: Iterable[str] | None = None, level: int = 0
) -> World:
    """``world`` with the latent cells inside ``rect`` redrawn from ``seed`` (one edit, one version)."""
    patches = resample_patches(model, rect, seed, fields, level)
    return world.with_overrides((*world.overrides, *patches))


def resample_region(world: World, model: Generator, rect: Rect, seed: int) -> World:
    """Resample ``rect`` (level-0 pixels) the way the model's family means it: ALIS redraws the anchors
    inside it, every other family the cells of all its fields inside it."""
    if model.family == "alis":
        from engine.families.alis import edit as alis_edit

        return alis_edit.resample(world, model, rect, seed)  # type: ignore[arg-type]
    return resample_fields(world, model, rect, seed)


def _is_prefix(short: Sequence[FieldPatch], long: Sequence[FieldPatch]) -> bool:
    # Identity, not equality: patches hold tensors, and a world's edits are shared by its successors.
    return len(short) <= len(long) and all(a is b for a, b in zip(short, long, strict=False))


def patch_support(model: Generator, patch: FieldPatch, level: int) -> list[Rect]:
    """Pixels of ``level`` that may read any cell of ``patch`` (one rect per field spec reading it)."""
    return [spec.lattice.support(patch.cells) for spec in model.field_specs(level) if spec.name == patch.field]


def changed_regions(model: Generator, before: World, after: World, level: int) -> list[Rect] | None:
    """Rectangles (pixels of ``level``) outside which ``before`` and ``after`` render identically.

    ``None`` means "anywhere": the worlds differ in more than added or removed overrides, painted
    strokes, centre names and (where :func:`centre_regions` can bound them) style centres (seed,
    model), or their overrides do not share a history.
    An empty list means no pixel of that level changes.
    """
    same = (before.model, before.model_hash, before.seed) == (after.model, after.model_hash, after.seed)
    strokes = stroke_regions(model, before.styles, after.styles, level) if same else None
    if strokes is None and same:
        strokes = centre_regions(model, before.styles, after.styles, before.seed, level)
    if strokes is None:
        return None
    a, b = before.overrides, after.overrides
    if _is_prefix(a, b):
        extra = b[len(a) :]
    elif _is_prefix(b, a):
        extra = a[len(b) :]
    else:
        return None
    return [rect for patch in extra for rect in patch_support(model, patch, level)] + strokes


def stroke_regions(model: Generator, before: StyleLayout, after: StyleLayout, level: int) -> list[Rect] | None:
    """Pixels of ``level`` where two layouts that differ at most in painted strokes (and centre
    names, which are labels) can render differently: the B-spline support of every raster cell
    whose id changed, widened by what the model reads around each pixel. ``None``: they differ in
    more (centres, options), which may change any pixel."""
    if before == after:
        return []
    unnamed = [tuple(replace(c, name=None) for c in layout.centres) for layout in (before, after)]
    if unnamed[0] != unnamed[1] or before.extra != after.extra:
        return None
    runs = stroke_changes(before.strokes, after.strokes)
    if runs is None:
        return None
    cell = (before.strokes or after.strokes).cell if runs else 0  # type: ignore[union-attr]
    return [rect for run in runs for rect in model.style_support(weight_support(run, cell), level)]


def centre_regions(
    model: Generator, before: StyleLayout, after: StyleLayout, world_seed: int, level: int
) -> list[Rect] | None:
    """Pixels of ``level`` where layouts differing in their style centres (added, moved, removed,
    re-seeded or re-sized; strokes may differ too) can render differently, or ``None`` when that
    cannot be bounded.

    Bounded only for a fusion over a style lattice (:class:`~engine.styles.StyleFusion`): there the
    centres' weights are their softmax shares times a coverage that is exactly 0 from
    ``2 * COVERAGE_WIDTHS`` widths out of every centre, so outside every centre's disc (of either
    layout) each centre weighs exactly 0 and the lattice alone decides. Inside any disc a change
    anywhere moves the shares (the softmax couples all centres), so every centre's disc counts, not
    only the edited one's. Without a lattice the nearest-centre rule reaches to infinity; a layout
    without centres is blended by another (separable) arithmetic, so the first centre added or the
    last removed changes every pixel by rounding; painted strokes name centres by index, so they
    bound nothing once the centres' latents change places.
    """
    fusions = model.style_fusion(before, world_seed), model.style_fusion(after, world_seed)
    if any(f is None or not f.lattice_cell or f.separable or not f.count for f in fusions):
        return None
    if before.extra != after.extra:
        return None
    strokes: list[Rect] = []
    if before.strokes is not None or after.strokes is not None:
        latents = [[(c.seed, c.latent) for c in layout.centres] for layout in (before, after)]
        runs = stroke_changes(before.strokes, after.strokes)
        if runs is None or latents[0] != latents[1]:
            return None
        cell = (before.strokes or after.strokes).cell  # type: ignore[union-attr]
        strokes = [weight_support(run, cell) for run in runs]
    discs = [
        coverage_square(centre, width, f.COVERAGE_WIDTHS)
        for f in fusions
        for centre, width in zip(f.centres, f.widths, strict=True)  # type: ignore[union-attr]
    ]
    return [rect for region in discs + strokes for rect in model.style_support(region, level)]


def coverage_square(centre: StyleCentre, width: float, coverage_widths: float) -> Rect:
    """World pixels (a square) holding every pixel where ``centre``'s coverage can be non-zero: it
    is 0 from ``2 * coverage_widths * width`` out (a smoothstep reaching 0 there)."""
    reach = math.floor(2 * coverage_widths * width) + 1
    return Rect(centre.x - reach, centre.y - reach, 2 * reach + 1, 2 * reach + 1)
