"""ALIS world edits: resample the anchors of a region, and truncate towards the mean style.

Resampling (the paper's Fig. 11, made 2-D): new codes for the anchors inside a rectangle, stored
as one :class:`FieldPatch` over exactly those anchor cells. A pixel blends only the anchors
around it (widened by the network's reach), so pixels outside the cells' support are
bit-identical before and after, and because styles are blended continuously the new region joins
its unchanged neighbours without a seam: there is no hard edge to hide. The stage-0 input field
(``alis.input``, capped configs) is deliberately left as it is: redrawing its cells would switch
the input abruptly inside the anchors' fading rim, and a region's character is the anchors' part.

Truncation (``psi``) pulls every anchor's ``w`` towards the mean ``w``; it is the mitigation for
the paper's first failure mode, connecting anchors too different to blend plausibly. It is a
world option stored in the layout's ``extra`` (key ``alis.psi``), so it saves with the world.
"""

from __future__ import annotations

from engine.errors import InvalidInput
from engine.families.alis.config import ANCHOR_FIELD, PSI_KEY
from engine.families.alis.model import ALISGenerator
from engine.fields import FieldPatch, gaussian
from engine.geometry import Rect, ceil_div
from engine.styles import StyleLayout
from engine.world import World


def anchors_in(model: ALISGenerator, rect: Rect) -> Rect:
    """The anchor cells whose anchor point (cell corner ``(i * d, j * d)``) lies inside ``rect``.

    In panorama mode only x matters and the cells are on row 0. Raises when the rectangle holds
    no anchor (it is smaller than the spacing and falls between anchors).
    """
    d = model.config.spacing
    i0, i1 = ceil_div(rect.x, d), ceil_div(rect.right, d)
    j0, j1 = (0, 1) if model.config.panorama else (ceil_div(rect.y, d), ceil_div(rect.bottom, d))
    if i1 <= i0 or j1 <= j0:
        raise InvalidInput(f"rectangle {rect} contains no anchor (anchors are {d} px apart); draw a larger one")
    return Rect(i0, j0, i1 - i0, j1 - j0)


def resample_patch(model: ALISGenerator, cells: Rect, seed: int) -> FieldPatch:
    """New anchor codes for ``cells``, drawn from ``seed`` (pure: same seed, same codes)."""
    if model.config.panorama and (cells.y != 0 or cells.h != 1):
        raise InvalidInput("panorama ALIS has one anchor row: resample cells on row 0 only")
    values = gaussian((model.config.z_dim, cells.h, cells.w), "alis.resample", seed, cells.x, cells.y, cells.w, cells.h)
    return FieldPatch(ANCHOR_FIELD, cells, values)


def resample(world: World, model: ALISGenerator, region: Rect, seed: int, *, cells: Rect | None = None) -> World:
    """``world`` with the anchors inside ``region`` (or exactly ``cells``) redrawn from ``seed``."""
    cells = cells if cells is not None else anchors_in(model, region)
    return world.with_override(resample_patch(model, cells, seed))


def resample_support(model: ALISGenerator, cells: Rect) -> Rect:
    """Pixels that may change when ``cells`` are resampled (from the anchor field's lattice)."""
    return model.anchor_support(cells)


def with_truncation(world: World, psi: float) -> World:
    """``world`` rendered with styles pulled towards the mean by ``psi`` (1 = off, 0 = mean only)."""
    if not 0.0 <= psi <= 2.0:
        raise InvalidInput(f"truncation psi must be in [0, 2], got {psi}")
    extra = dict(world.styles.extra)
    extra[PSI_KEY] = float(psi)
    return world.with_styles(StyleLayout(world.styles.centres, tuple(sorted(extra.items()))))
