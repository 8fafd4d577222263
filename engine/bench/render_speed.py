"""Per-family render benchmarks: throughput by batch, FLOPs per pixel, waste, seam error.

Every available family's configs are measured the same way, so a new family gets its numbers by
existing. Quick mode measures only each family's test configs, with few blocks and one repeat.
On CUDA the render row also gives the fraction of the GPU's dense bf16 peak the render path
reaches (FLOPs per pixel x px/s / peak; :mod:`engine.bench.peaks`), per numerics (fp32,
channels-last, bf16 autocast), the best counting only numerics whose seams stay within 1 LSB
(:mod:`engine.bench.precision`).
"""

from __future__ import annotations

import functools
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from engine.bench import BenchContext, Row, benchmark, timed
from engine.bench.peaks import peak_bf16_tflops, peak_fraction
from engine.bench.precision import precision_rows
from engine.geometry import Rect, aligned_cover
from engine.metrics import diagnostics
from engine.models.registry import available_families, build_random, get_family
from engine.render import Renderer, region_for, region_side
from engine.world import World

VIEW = Rect(-640, -360, 1280, 720)  # a typical window, straddling the origin
EXPORT = Rect(-12345, 678, 65536, 16384)  # the export benchmark's gigapixel, off the block grid
SEAM_RECT = Rect(10**9 + 7, -333, 150, 100)  # far out, off the grid: seams under every numerics


def configs_to_measure(ctx: BenchContext) -> list[tuple[str, str]]:
    """``(family, config)`` pairs a benchmark measures: each family's test configs (``--quick``)
    or all of them, narrowed to ``ctx.configs`` where given (a family without one is skipped)."""
    pairs = []
    for family in available_families():
        record = get_family(family)
        if ctx.configs:
            names = tuple(name for name in record.configs if name in ctx.configs)
        else:
            names = record.test_configs if ctx.quick else tuple(record.configs)
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


def batch_plan(ctx: BenchContext, device: torch.device) -> tuple[int, list[int]]:
    """How many blocks to render and which batch sizes to try: GPUs need bigger batches to fill."""
    if device.type == "cuda":
        count = 16 if ctx.quick else 64
        return count, sorted({1, 4, count // 2, count})
    count = 4 if ctx.quick else 16
    return count, sorted({1, 4, count})


@benchmark("render", quick_limit="test configs, 4 blocks at batches 1 and 4, one repeat, no view fill")
def render_throughput(ctx: BenchContext) -> list[Row]:
    rows = []
    for family, config in configs_to_measure(ctx):
        model = build_random(family, config)
        world = World(model=f"{family}:{config}", seed=1)
        renderer = Renderer(model, ctx.device, exact=False)  # measure real batching
        block = renderer.block_size()
        count, batches = batch_plan(ctx, renderer.device)
        origins = [(block * i, 0) for i in range(count)]
        per_batch = {}
        for batch in batches:
            renderer.max_batch = batch
            seconds = timed(functools.partial(renderer.render_blocks, world, origins), repeat=1 if ctx.quick else 3)
            per_batch[batch] = count * block * block / seconds
        best = max(per_batch, key=per_batch.get)
        renderer.max_batch = best
        start = time.perf_counter()
        whole = renderer.render(world, [VIEW])[0] if not ctx.quick else None
        view_seconds = time.perf_counter() - start if whole is not None else None
        flops = flops_per_pixel(renderer, world)
        row = {
            "model": f"{family}:{config}",
            "device": ctx.device_label,
            "block_px": block,
            "px_per_s_batch1": round(per_batch[1]),
            "px_per_s_best": round(per_batch[best]),
            "best_batch": best,
            "batch_speedup": per_batch[best] / per_batch[1],
            "flops_per_px": flops,
            "view_1280x720_s": view_seconds,
            "discarded_fraction_view": discarded_fraction(VIEW, block),
            # An export renders regions (margins once per region: bench margins) clipped to its rect,
            # so the pixels it crops away are the block cover's:
            "export_block_px": block * region_for(model, EXPORT, max_side=region_side(renderer.device)),
            "discarded_fraction_export": discarded_fraction(EXPORT, block),
        }
        if renderer.device.type == "cuda":  # GPUs only: a CPU has no bf16 tensor-core peak to compare with
            row.update(cuda_peak_fractions(ctx, renderer, world, origins, flops, per_batch[best]))
        rows.append(row)
    return rows


def cuda_peak_fractions(
    ctx: BenchContext, renderer: Renderer, world: World, origins: list, flops: float, fp32_px_per_s: float
) -> Row:
    """The render path's achieved FLOP/s as a fraction of the GPU's dense bf16 peak, per numerics
    (fp32, channels-last, bf16 autocast; :mod:`engine.bench.precision`), same blocks, same batch;
    ``best_peak_fraction`` counts only modes whose seams stay within 1 LSB."""
    peak = peak_bf16_tflops(torch.cuda.get_device_name(renderer.device), ctx.peak_tflops)
    modes, best = precision_rows(renderer, world, origins, SEAM_RECT, flops, peak, repeat=1 if ctx.quick else 3)
    row: Row = {"fp32_render_peak_fraction": peak_fraction(flops, fp32_px_per_s, peak), **best}
    for mode in modes:
        name = mode["mode"]
        row.update({f"{name}_px_per_s": round(mode["px_per_s"]), f"{name}_peak_fraction": mode["peak_fraction"]})
        row.update({f"{name}_seam_max_u8": mode["seam_max_u8"], f"{name}_fp32_drift_max_u8": mode["fp32_drift_max_u8"]})
    return row


@benchmark("seams", quick_limit="test configs, a 150x100 rect")
def seam_error(ctx: BenchContext) -> list[Row]:
    """Max |difference| between a rect rendered at once and stitched from odd tiles (goal: 0)."""
    rows = []
    for family, config in configs_to_measure(ctx):
        model = build_random(family, config)
        world = World(model=f"{family}:{config}", seed=3)
        renderer = Renderer(model, ctx.device)
        rect = SEAM_RECT if ctx.quick else Rect(10**9 + 7, -333, 300, 200)
        rows.append({"model": f"{family}:{config}", **diagnostics.seam_error(renderer, world, rect)})
    return rows
