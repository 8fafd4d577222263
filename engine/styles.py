"""Style layouts: where the world's global styles sit (InfinityGAN's style centres).

A layout is plain data: a list of centres, each with a world position, the seed of its global
latent (or an explicit latent vector, e.g. from inversion), and an optional blend width, plus
optional painted strokes (:class:`StrokeRaster`: a sparse raster of centre indices on a coarse world
lattice). An empty layout means "one style everywhere, drawn from the world seed".

The model side is :class:`StyleFusion`: the weight of every style at any world position, a pure
function of that position (never a canvas-sized map), so tiles fused independently stay seamless
and memory stays O(1) however large the canvas. Without strokes the weights are a softmax over
distances to the centres, shifted so the nearest centre has logit 0::

    logit_c(p) = -4 * (d_c(p) - min_k d_k(p)) / width_c

which keeps the Voronoi boundaries of the nearest-centre rule (two centres weigh the same exactly
on their bisector) and fades each centre out over about its own ``width`` beyond its cell. Painted
strokes take precedence: their one-hot raster is smoothed with a quadratic B-spline (a partition of
unity over lattice cells), giving per style a coverage ``S_c(p)`` with painted mass ``m(p)``, and

    weight_c(p) = S_c(p) + (1 - m(p)) * softmax_c(p),

which sums to one, equals the painted style inside strokes and the centre rule far from them.
All distances are formed by subtracting Python ints before any float, so they are as exact at
x = 10^12 as at 0.

A **style lattice** (``lattice_cell`` > 0, a model option) replaces "one style everywhere" with an
endless lattice of global latents, one per ``lattice_cell``-pixel cell, blended by the same
quadratic B-spline: the background style then changes across the world as the terrain does (one
global latent per world made a 100 000 px strip far less varied than frames of many worlds). The
layout's centres are local on top of it: each covers its surroundings fully out to twice its
width and fades out by four widths (coverage ``m(p)``), and

    weight_c(p) = m(p) * softmax_c(p),    weight_q(p) = (1 - m(p)) * B_q(p)

for centre ``c`` and lattice cell ``q`` (strokes paint over both as above). So an empty layout is
the lattice alone, and dropping a centre restyles its neighbourhood, not the whole world.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch

from engine.errors import InvalidInput
from engine.geometry import Rect, floor_div
from engine.strokes import StrokeRaster

MAX_NAME = 200  # characters of a style centre's name


@dataclass(frozen=True)
class StyleCentre:
    """One style centre at world pixel ``(x, y)``."""

    x: int
    y: int
    seed: int
    width: float | None = None  # blend width in world pixels; None = the model's default
    latent: tuple[float, ...] | None = None  # explicit global latent (inversion), overrides seed
    name: str | None = None  # the user's label (styles palette); never affects pixels

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"x": self.x, "y": self.y, "seed": self.seed}
        if self.width is not None:
            doc["width"] = self.width
        if self.latent is not None:
            doc["latent"] = list(self.latent)
        if self.name is not None:
            doc["name"] = self.name
        return doc

    @classmethod
    def from_json(cls, doc: Any) -> StyleCentre:
        if not isinstance(doc, dict):
            raise InvalidInput(f"a style centre must be an object, got {doc!r}")
        try:
            x, y, seed = doc["x"], doc["y"], doc["seed"]
        except KeyError as missing:
            raise InvalidInput(f"style centre {doc!r} lacks {missing}") from None
        for name, value in (("x", x), ("y", y), ("seed", seed)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidInput(f"style centre {name} must be an integer, got {value!r}")
        width = doc.get("width")
        if width is not None and (not isinstance(width, int | float) or not 0 < width < math.inf):
            raise InvalidInput(f"style centre width must be a finite positive number, got {width!r}")
        latent = doc.get("latent")
        if latent is not None:
            if not isinstance(latent, list) or not all(isinstance(v, int | float) and math.isfinite(v) for v in latent):
                raise InvalidInput("style centre latent must be a list of finite numbers")
            latent = tuple(float(v) for v in latent)
        name = doc.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > MAX_NAME):
            raise InvalidInput(f"style centre name must be text of at most {MAX_NAME} characters")
        return cls(x, y, seed, None if width is None else float(width), latent, name)


@dataclass(frozen=True)
class StyleLayout:
    """The style centres of a world and its painted strokes; immutable and JSON-serialisable."""

    centres: tuple[StyleCentre, ...] = field(default_factory=tuple)
    extra: tuple[tuple[str, Any], ...] = field(default_factory=tuple)  # forward-compatible keys
    strokes: StrokeRaster | None = None

    def __post_init__(self) -> None:
        if self.strokes is not None and self.strokes.max_id() >= len(self.centres):
            raise InvalidInput(
                f"painted style id {self.strokes.max_id()} has no centre (the layout has {len(self.centres)})"
            )

    def resolved(self, world_seed: int) -> tuple[StyleCentre, ...]:
        """The centres a model should use: an empty layout is one centre seeded by the world."""
        return self.centres or (StyleCentre(0, 0, world_seed),)

    def with_strokes(self, strokes: StrokeRaster | None) -> StyleLayout:
        return StyleLayout(self.centres, self.extra, strokes)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = dict(self.extra)
        doc["centres"] = [c.to_json() for c in self.centres]
        if self.strokes is not None and not self.strokes.empty:
            doc["strokes"] = self.strokes.to_json()
        return doc

    @classmethod
    def from_json(cls, doc: Any) -> StyleLayout:
        if not isinstance(doc, dict) or not isinstance(doc.get("centres", []), list):
            raise InvalidInput('a style layout must be {"centres": [...]}')
        centres = tuple(StyleCentre.from_json(c) for c in doc.get("centres", []))
        strokes = StrokeRaster.from_json(doc["strokes"]) if "strokes" in doc else None
        extra = tuple(sorted((k, v) for k, v in doc.items() if k not in ("centres", "strokes")))
        return cls(centres, extra, strokes)

    @classmethod
    def load(cls, path: str | Path) -> StyleLayout:
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InvalidInput(f"style layout {path} does not exist") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise InvalidInput(f"style layout {path} is not readable JSON: {error}") from None
        return cls.from_json(doc)

    @classmethod
    def of(cls, centres: Sequence[StyleCentre], strokes: StrokeRaster | None = None) -> StyleLayout:
        return cls(tuple(centres), (), strokes)


def _axis(start: int, count: int, step: int, origin: int) -> torch.Tensor:
    """``float64(start + i * step - origin)`` for ``i < count``: the int difference first, exactly."""
    return torch.tensor([float(start - origin + i * step) for i in range(count)], dtype=torch.float64)


def _bspline2(u: torch.Tensor) -> torch.Tensor:
    """Quadratic B-spline: smooth (C1) bump of support 3 whose integer shifts sum to one."""
    a = u.abs()
    inner = 0.75 - a * a
    outer = 0.5 * (1.5 - a).clamp(min=0) ** 2
    return torch.where(a < 0.5, inner, outer)


def _smoothstep(t: torch.Tensor) -> torch.Tensor:
    t = t.clamp(0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def lattice_weights(x0: int, y0: int, w: int, h: int, step: int, cell: int) -> tuple[Rect, torch.Tensor]:
    """B-spline weights of the lattice cells around the points ``(x0 + i * step, y0 + j * step)``.

    Returns the cells (trimmed to those with weight somewhere on the grid) and ``(Q, h, w)``
    float64 weights, ``Q = cells.w * cells.h`` in row-major order; they sum to one at every point.
    Each weight is the product of two 1-D weights, each a function of one exact int difference, so
    it is the same for a point whatever grid asked for it.
    """
    cells, rows, cols = lattice_factors(x0, y0, w, h, step, cell)
    weights = rows[:, None, :, None] * cols[None, :, None, :]  # (Qy, Qx, h, w)
    return cells, weights.reshape(-1, h, w)


def lattice_factors(x0: int, y0: int, w: int, h: int, step: int, cell: int) -> tuple[Rect, torch.Tensor, torch.Tensor]:
    """:func:`lattice_weights` as its two 1-D factors: the cells, ``(Qy, h)`` and ``(Qx, w)``
    float64 weights whose outer products are the cells' weights (each factor sums to one)."""
    qx, bx = _trimmed_spline(x0, w, step, cell)  # (w, Qx)
    qy, by = _trimmed_spline(y0, h, step, cell)  # (h, Qy)
    return Rect(qx, qy, bx.shape[1], by.shape[1]), by.t(), bx.t()


def _trimmed_spline(start: int, count: int, step: int, cell: int) -> tuple[int, torch.Tensor]:
    q0, b = _spline_matrix(start, count, step, cell)
    used = (b > 0).any(dim=0).nonzero().flatten()  # the support is contiguous
    first, last = int(used[0]), int(used[-1])
    return q0 + first, b[:, first : last + 1]


def _spline_matrix(start: int, count: int, step: int, cell: int) -> tuple[int, torch.Tensor]:
    """First raster cell and ``(count, Q)`` B-spline weights of raster cells for points ``start + i * step``."""
    q0 = floor_div(start, cell) - 2
    q1 = floor_div(start + (count - 1) * step, cell) + 3
    base = 2 * start - (2 * q0 + 1) * cell  # 2 * (point - centre of cell q0), a small exact int
    i = torch.arange(count, dtype=torch.int64)[:, None]
    q = torch.arange(q1 - q0, dtype=torch.int64)[None, :]
    u = (base + 2 * step * i - 2 * cell * q).to(torch.float64) / (2 * cell)
    return q0, _bspline2(u)


class StyleFusion:
    """Per-position style weights for one layout in one world (see the module docstring).

    ``weights`` evaluates them on any regular grid of world points; the result depends on each
    point's world position only, never on the grid it was asked with.
    """

    #: A centre covers its surroundings fully out to this many widths, fading out by twice as far.
    COVERAGE_WIDTHS: ClassVar[float] = 2.0

    def __init__(self, layout: StyleLayout, world_seed: int, default_width: float, lattice_cell: int = 0) -> None:
        if lattice_cell < 0:
            raise InvalidInput(f"style lattice cell must be >= 0, got {lattice_cell}")
        self.lattice_cell = lattice_cell
        self.centres = layout.centres if lattice_cell else layout.resolved(world_seed)
        self.widths = [float(c.width or default_width) for c in self.centres]
        strokes = layout.strokes
        self.strokes = strokes if strokes is not None and not strokes.empty else None

    @property
    def count(self) -> int:
        """The layout's centres (without the lattice's cells)."""
        return len(self.centres)

    @property
    def single(self) -> bool:
        """One style everywhere (strokes can only paint that one): models take their per-sample path."""
        return not self.lattice_cell and self.count == 1

    @property
    def separable(self) -> bool:
        """A lattice alone (no centres, no strokes): every weight is a product of two 1-D splines,
        which lets a model blend a row of cells at a time (:meth:`lattice_factors`)."""
        return bool(self.lattice_cell) and not self.count and self.strokes is None

    def lattice_factors(
        self, x0: int, y0: int, w: int, h: int, step: int = 1
    ) -> tuple[Rect, torch.Tensor, torch.Tensor]:
        """A separable fusion's cells and ``(Qy, h)``, ``(Qx, w)`` float64 factors of their weights."""
        if not self.separable:
            raise ValueError("centres or strokes make the weights non-separable: use lattice_weights")
        return lattice_factors(x0, y0, w, h, step, self.lattice_cell)

    def weights(self, x0: int, y0: int, w: int, h: int, step: int = 1) -> torch.Tensor:
        """``(K, h, w)`` float32 weights at world points ``(x0 + i * step, y0 + j * step)``; sum 1 over K.

        Only without a lattice (with one, :meth:`lattice_weights` gives centres and cells together).
        """
        if self.lattice_cell:
            raise ValueError("a lattice fusion has per-window cells: use lattice_weights")
        if self.count == 1:
            return torch.ones((1, h, w), dtype=torch.float32)
        fused = torch.softmax(self._logits(x0, y0, w, h, step)[0], dim=0)
        if self.strokes is not None:
            fused = self._paint(fused, x0, y0, w, h, step)
        return fused.to(torch.float32)

    def lattice_weights(self, x0: int, y0: int, w: int, h: int, step: int = 1) -> tuple[Rect, torch.Tensor]:
        """The lattice cells around the grid and ``(K + Q, h, w)`` float32 weights: the K centres
        first, then the Q cells in row-major order (see the module docstring); sum 1 over K + Q."""
        cells, background = lattice_weights(x0, y0, w, h, step, self.lattice_cell)
        if self.count:
            logits, dist = self._logits(x0, y0, w, h, step)
            share = torch.softmax(logits, dim=0)
            reach = self.COVERAGE_WIDTHS * torch.tensor(self.widths, dtype=torch.float64)[:, None, None]
            cover = (share * _smoothstep(2.0 - dist / reach)).sum(dim=0, keepdim=True)  # m(p), (1, h, w)
            fused = torch.cat([share * cover, background * (1.0 - cover)])
        else:
            fused = background
        if self.strokes is not None:
            fused = self._paint(fused, x0, y0, w, h, step)
        return cells, fused.to(torch.float32)

    def _logits(self, x0: int, y0: int, w: int, h: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The centres' softmax logits and distances, ``(K, h, w)`` float64 each."""
        dist = torch.stack(
            [
                torch.sqrt(_axis(y0, h, step, c.y)[:, None] ** 2 + _axis(x0, w, step, c.x)[None, :] ** 2)
                for c in self.centres
            ]
        )
        widths = torch.tensor(self.widths, dtype=torch.float64)[:, None, None]
        return -4.0 * (dist - dist.min(dim=0, keepdim=True).values) / widths, dist

    def _paint(self, fused: torch.Tensor, x0: int, y0: int, w: int, h: int, step: int) -> torch.Tensor:
        assert self.strokes is not None
        qx, bx = _spline_matrix(x0, w, step, self.strokes.cell)  # (w, Qx)
        qy, by = _spline_matrix(y0, h, step, self.strokes.cell)  # (h, Qy)
        ids = torch.from_numpy(self.strokes.read(Rect(qx, qy, bx.shape[1], by.shape[1])))  # (Qy, Qx)
        if not (ids >= 0).any():
            return fused
        cover = torch.zeros_like(fused)
        for style in ids.unique().tolist():
            if style >= 0:
                cover[style] = by @ (ids == style).to(torch.float64) @ bx.t()  # (h, w)
        return cover + (1.0 - cover.sum(dim=0, keepdim=True)) * fused
