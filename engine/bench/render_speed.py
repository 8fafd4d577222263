"""Per-family render benchmarks: throughput by batch, FLOPs per pixel, waste, seam error.

Every available family's configs are measured the same way, so a new family gets its numbers by
existing. Quick mode measures only each family's test configs.
"""

from __future__ import annotations

import functools
import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from engine.bench import BenchContext, Row, benchmark, timed
from engine.geometry import Rect, aligned_cover
from engine.models.registry import available_families, build_random, family_module
from engine.render import Renderer
from engine.world import World

VIEW = Rect(-640, -360, 1280, 720)  # a typical window, straddling the origin


def configs_to_measure(ctx: BenchContext) -> list[tuple[str, str]]:
    pairs = []
    for family in available_families():
        module = family_module(family)
        names = module.TEST_CONFIGS if ctx.quick else tuple(module.CONFIGS)
        pairs += [(family, name) for name in names]
    return pairs


def flops_per_pixel(renderer: Renderer, world: World, level: int = 0) -> float:
    block = renderer.block_size(level)
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        renderer.model.render_blocks([(0, 0)], renderer.source(world), world.styles, level)
    return counter.get_total_flops() / (block * block)


def discarded_fraction(rect: Rect, block: int) -> float:
    """Share of rendered block pixels outside ``rect`` (recomputed or thrown away)."""
    cover = aligned_cover(rect, block)
    return 1.0 - (rect.w * rect.h) / (cover.w * cover.h)


@benchmark("render")
def render_throughput(ctx: BenchContext) -> list[Row]:
    rows = []
    for family, config in configs_to_measure(ctx):
        model = build_random(family, config)
        world = World(model=f"{family}:{config}", seed=1)
        renderer = Renderer(model, ctx.device, exact=False)  # measure real batching
        block = renderer.block_size()
        count = 4 if ctx.quick else 16
        origins = [(block * i, 0) for i in range(count)]
        per_batch = {}
        for batch in sorted({1, 4, count}):
            renderer.max_batch = batch
            seconds = timed(functools.partial(renderer.render_blocks, world, origins), repeat=1 if ctx.quick else 3)
            per_batch[batch] = count * block * block / seconds
        best = max(per_batch, key=per_batch.get)
        renderer.max_batch = best
        start = time.perf_counter()
        whole = renderer.render(world, [VIEW])[0] if not ctx.quick else None
        view_seconds = time.perf_counter() - start if whole is not None else None
        rows.append(
            {
                "model": f"{family}:{config}",
                "device": str(renderer.device),
                "block_px": block,
                "px_per_s_batch1": round(per_batch[1]),
                "px_per_s_best": round(per_batch[best]),
                "best_batch": best,
                "batch_speedup": per_batch[best] / per_batch[1],
                "flops_per_px": flops_per_pixel(renderer, world),
                "view_1280x720_s": view_seconds,
                "discarded_fraction_view": discarded_fraction(VIEW, block),
            }
        )
    return rows


@benchmark("seams")
def seam_error(ctx: BenchContext) -> list[Row]:
    """Max |difference| between a rect rendered at once and stitched from odd tiles (goal: 0)."""
    rows = []
    for family, config in configs_to_measure(ctx):
        model = build_random(family, config)
        world = World(model=f"{family}:{config}", seed=3)
        renderer = Renderer(model, ctx.device)
        rect = Rect(10**9 + 7, -333, 300, 200)
        (whole,) = renderer.render(world, [rect])
        stitched = np.empty_like(whole)
        renderer.max_batch = 3
        for tile in rect.tiles(71, 53):
            (pixels,) = renderer.render(world, [tile])
            stitched[tile.y - rect.y : tile.bottom - rect.y, tile.x - rect.x : tile.right - rect.x] = pixels
        diff = np.abs(whole.astype(np.int16) - stitched.astype(np.int16))
        rows.append(
            {"model": f"{family}:{config}", "seam_max_abs_u8": int(diff.max()), "seam_mean_abs_u8": float(diff.mean())}
        )
    return rows
