"""Margins per family at export sizes: the share of computed pixels an export throws away, and CPU
time per megapixel, rendered as blocks (before) and as regions (after), in one run.

A padding-free block computes margins its neighbours compute again; a region of ``k x k`` blocks
computes them once (``Renderer(region=k)``, :func:`engine.render.region_for` picks ``k`` for an
export, up to :func:`engine.render.region_side` of the device: 256 px on a CPU (the fastest there,
not the fewest FLOPs), 2048 on a GPU; ``*_gpu`` columns give the 2048 px figures on any device).
Two kinds of waste make up ``discarded_fraction``:

- ``margin_fraction``: the share of a window's FLOPs spent outside its own pixels, against the
  cost of a margin-free pixel, from FLOPs per pixel of windows of 1, 2 and 4 blocks per side
  counted with ``FlopCounterMode`` on the meta device (nothing is computed, so ``paper`` configs
  count in seconds) and the exact form of their curve (:func:`flops_curve`);
- ``cover_fraction``: block pixels outside the export rectangle (an export clips its rim regions
  to the rectangle's block cover, so this is the block's, whatever the region).

The goal is ``discarded_fraction`` <= 2 % at :data:`EXPORT` (65536 x 16384, off the grid). CPU
time is measured over a square of ``min(k, TIMED_BLOCKS)`` blocks per side rendered both ways
(``--quick``: 2), so ratios come from one run on one machine; a family without regions (the
reference) is not timed. ``paper`` configs are timed on a CPU only when named
(``--configs paper``): their FLOP figures need no timing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
from torch.utils.flop_counter import FlopCounterMode

from engine.bench import BenchContext, Row, benchmark
from engine.bench.render_speed import EXPORT, configs_to_measure, discarded_fraction
from engine.fields import LatentSource
from engine.models.base import Generator
from engine.models.registry import build_random, get_family
from engine.render import MAX_REGION_SIDE, Renderer, region_for, region_side
from engine.world import World

GOAL = 0.02
TIMED_BLOCKS = 4  # blocks per side of the square timed both ways (full run)


def flops_per_px(model: Generator, blocks: int) -> float:
    """FLOPs per output pixel of one square window of ``blocks`` blocks per side (one block for a
    model without regions), counted on the meta device."""
    side = model.block_size() * (blocks if model.renders_regions else 1)
    size = {"size": (side, side)} if model.renders_regions else {}
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        model.render_blocks([(0, 0)], LatentSource(1, device="meta"), World("m", seed=1).styles, 0, **size)
    return counter.get_total_flops() / side**2


def meta_model(family: str, config: str) -> Generator:
    """The model's structure on the meta device: no weights allocated, nothing computed."""
    record = get_family(family)
    with torch.device("meta"):
        return record.build(record.configs[config]).eval().requires_grad_(False)


def flops_curve(model: Generator) -> tuple[float, float, float]:
    """``(I, a, b)`` with FLOPs per pixel of a square window of ``k`` blocks ``F(k) = I + a/k + b/k^2``:
    every layer computes ``(S + 2m)^2`` values for ``S^2`` pixels (``S`` the window's side, ``m`` the
    layer's margin), so three exact counts (``k`` = 1, 2, 4) fix the curve, and ``I`` is the cost of
    a margin-free pixel. Counting big windows instead would read megapixels of latent fields."""
    f1, f2, f4 = (flops_per_px(model, k) for k in (1, 2, 4))
    b = 8.0 / 3.0 * (f1 - 3.0 * f2 + 2.0 * f4)
    a = 2.0 * (f1 - f2) - 1.5 * b
    return f1 - a - b, a, b


def margin_fractions(model: Generator, regions: Sequence[int]) -> list[float] | None:
    """Shares of FLOPs spent on margins by windows of each of ``regions`` blocks per side; None for
    a model without regions (no curve to fit)."""
    if not model.renders_regions:
        return None
    ideal, a, b = flops_curve(model)
    return [1.0 - ideal / (ideal + a / k + b / k**2) for k in regions]


def cpu_seconds_per_mpx(model: Generator, world: World, blocks: int, region: int) -> float:
    """Process CPU seconds per megapixel for a square of ``blocks`` blocks per side, rendered with
    ``Renderer(region=region)`` (after a warm-up render of another square, for the field chunks)."""
    renderer = Renderer(model, "cpu", region=region)
    side = blocks * model.block_size()
    origins = [(x, y) for y in range(0, side, renderer.block_size()) for x in range(0, side, renderer.block_size())]
    renderer.render_blocks(world, [(o[0] + 8 * side, o[1]) for o in origins])
    start = time.process_time()
    renderer.render_blocks(world, origins)
    return (time.process_time() - start) / (side * side / 1e6)


def _discarded(cover: float, block_margin: float, region_margin: float, gpu_margin: float) -> Row:
    """Margins and cover combined, before (blocks) and after (regions: this device's, a GPU's)."""

    def total(margin: float) -> float:
        return 1.0 - (1.0 - margin) * (1.0 - cover)

    return {
        "margin_fraction_blocks": block_margin,
        "margin_fraction_region": region_margin,
        "discarded_fraction_before": total(block_margin),
        "discarded_fraction": total(region_margin),
        "meets_goal": total(region_margin) <= GOAL,
        "discarded_fraction_gpu": total(gpu_margin),
        "meets_goal_gpu": total(gpu_margin) <= GOAL,
    }


@benchmark("margins", quick_limit="test configs, FLOPs on meta, CPU time of 2x2 blocks both ways")
def margins(ctx: BenchContext) -> list[Row]:
    rows = []
    timed_blocks = 2 if ctx.quick else TIMED_BLOCKS
    for family, config in configs_to_measure(ctx):
        model = meta_model(family, config)
        region = region_for(model, EXPORT, max_side=region_side(ctx.device))
        gpu_region = region_for(model, EXPORT, max_side=MAX_REGION_SIDE)
        row: Row = {
            "model": f"{family}:{config}",
            "export_size": f"{EXPORT.w}x{EXPORT.h}",
            "block_px": model.block_size(),
            "region_px": model.block_size() * region,
            "region_px_gpu": model.block_size() * gpu_region,
            "cover_fraction": discarded_fraction(EXPORT, model.block_size()),
        }
        fractions = margin_fractions(model, (1, region, gpu_region))
        if fractions is not None:
            row.update(_discarded(row["cover_fraction"], *fractions))
        measure = model.renders_regions and ctx.device == "cpu"
        if measure and (config != "paper" or config in ctx.configs):  # paper: hours on a CPU
            real = build_random(family, config)
            world = World(f"{family}:{config}", seed=1)
            k = min(region, timed_blocks) if model.renders_regions else 1
            before = cpu_seconds_per_mpx(real, world, k, 1)
            after = cpu_seconds_per_mpx(real, world, k, k)
            row.update(
                {"timed_square_px": k * model.block_size(), "cpu_s_per_mpx_blocks": before},
                cpu_s_per_mpx_region=after,
                cpu_time_ratio=after / before,
            )
        rows.append(row)
    return rows
