"""Metric benchmarks: what SWD costs, and a quick quality number for every available model.

The quality rows are a smoke signal, not the quality report (that is ``everscape eval`` with full
sets): few frames give a noisy SWD, so each row carries the real-vs-real SWD measured with the same
counts: a model is only "good" relative to that floor. Quick mode measures each family's test
configs; the full suite measures every config and every installed checkpoint, with ScaleInv too.
"""

from __future__ import annotations

import functools
import math

import torch

from engine.bench import BenchContext, Row, benchmark, timed
from engine.checkpoints import list_checkpoints
from engine.errors import EverscapeError
from engine.metrics.evaluate import EvalOptions, evaluate
from engine.metrics.realdata import RealImages
from engine.metrics.swd import SWDConfig, describe, swd_descriptors
from engine.models.registry import available_families, get_family, load_model
from engine.render import Renderer
from engine.world import World


@benchmark("metrics.swd_cost", quick_limit="32 random 64 px images, 128 projections")
def swd_cost(ctx: BenchContext) -> list[Row]:
    """Describing images (pyramid + neighbourhoods) and the distance itself, on random images."""
    count, size = (32, 64) if ctx.quick else (256, 128)
    config = SWDConfig(projections=128 if ctx.quick else 512)
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(count, 3, size, size, generator=gen) * 2 - 1
    b = torch.rand(count, 3, size, size, generator=gen) * 2 - 1
    describe_s = timed(functools.partial(describe, a, config, ctx.device), repeat=1 if ctx.quick else 3)
    da, db = describe(a, config, ctx.device), describe(b, config, ctx.device, stream=1)
    distance_s = timed(functools.partial(swd_descriptors, da, db, config), repeat=1 if ctx.quick else 3)
    return [
        {
            "images": count,
            "frame_px": size,
            "patches_per_image": config.patches_per_image,
            "projections": config.projections,
            "describe_images_per_s": count / describe_s,
            "swd_s": distance_s,
        }
    ]


def models_to_measure(ctx: BenchContext) -> list[str]:
    refs = []
    for family in available_families():
        record = get_family(family)
        names = record.test_configs if ctx.quick else tuple(record.configs)
        refs += [f"{family}:{name}" for name in names]
    return refs if ctx.quick else refs + list(list_checkpoints())


#: A quick quality entry whose renders would take longer than this (estimated from one block) is skipped.
QUICK_ENTRY_BUDGET_S = 5.0


def estimated_render_seconds(renderer: Renderer, options: EvalOptions) -> float:
    """Time of the frames and strip ``evaluate`` renders, from the time of one block (ScaleInv excluded)."""
    block = renderer.block_size()
    world = World(model="estimate", seed=0)
    renderer.render_blocks(world, [(0, 0)])  # warm-up
    seconds = timed(functools.partial(renderer.render_blocks, world, [(block, 0)]), repeat=1, warmup=0)
    frame_blocks = math.ceil(options.frame / block) ** 2
    strip_blocks = math.ceil(options.strip_frames * options.frame / block) * math.ceil(options.frame / block)
    return seconds * (options.frames * frame_blocks + strip_blocks)


@benchmark(
    "quality",
    quick_limit=f"test configs; 16 frames of 64 px, a 6-frame strip; skipped if over ~{QUICK_ENTRY_BUDGET_S:.0f} s",
)
def quality(ctx: BenchContext) -> list[Row]:
    """SWD and ∞-SWD (and ScaleInv in the full suite) of each model vs a small set of real crops."""
    try:
        data = RealImages.load(ctx.data)
    except EverscapeError as error:
        return [{"skipped": str(error)}]
    if ctx.quick:
        options = EvalOptions(
            frame=64, frames=16, strip_frames=6, scale_frames=1, scales=(), swd=SWDConfig(projections=128)
        )
    else:
        options = EvalOptions(frame=64, frames=64, strip_frames=30, scale_frames=8, scales=(1, 4))
    rows = []
    for ref in models_to_measure(ctx):
        loaded = load_model(ref)
        if ctx.quick:
            estimate = estimated_render_seconds(Renderer(loaded.model, ctx.device), options)
            if estimate > QUICK_ENTRY_BUDGET_S:
                rows.append({"model": ref, "skipped": f"renders would take ~{estimate:.0f}s, over the quick budget"})
                continue
        report = evaluate(loaded.model, ref, data, options, ctx.device)
        row = {
            "model": ref,
            "data": data.name,
            "frames": options.frames,
            "real_vs_real": report["real_vs_real"]["mean"],
            "swd": report["swd"]["mean"],
            "inf_swd": report["inf_swd"]["swd"]["mean"],
            "inf_over_swd": report["inf_swd"]["ratio_to_frames"],
            "strip_first_vs_last": report["inf_swd"]["first_vs_last_third"]["mean"],
        }
        for zoom, value in report["scaleinv"].items():
            row[f"scaleinv_{zoom}x"] = value["mean"]
        rows.append(row)
    return rows
