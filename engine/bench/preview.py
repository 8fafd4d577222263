"""Coarse previews against the real render: seconds per 256 px tile of a zoomed-out view, and error.

A zoomed-out view of a single-level model is built from level-0 renders box-filtered down, so a
level-``k`` tile costs ``4**k`` level-0 tiles. A preview (:meth:`engine.render.Renderer.render_preview`)
stops the network early instead. Per preview level the row gives the median seconds (of
:data:`REPEATS`, each at its own place) of one tile as a preview and as the real render of its
``256 << k`` world px (``Renderer(region=2)``, the downsampling itself not counted), their ratio,
the same as FLOPs counted on the meta device (exact, where timings are noisy), and the preview's
mean absolute error against the box-downsampled real render (LSB); the level-0
row times one real tile, and the calibration row the one-off colour fit (a model without a hash, so
nothing is kept). Measured on the shipped InfinityGAN where installed, else its ``small`` config with
initial weights; ``--quick``: a tiny four-block config, one repeat.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from engine.bench import BenchContext, Row, benchmark, sync
from engine.checkpoints import find_checkpoint
from engine.families.infinitygan.model import CONFIGS, build
from engine.fields import LatentSource
from engine.geometry import Rect
from engine.models.base import Generator
from engine.models.registry import build_initial, load_model
from engine.preview import box_downsample
from engine.render import Renderer
from engine.world import World

SHIPPED = "infinitygan-bluemarble"
TILE = 256
REPEATS = 3


def median_seconds(function: Callable[[int], object], repeats: int) -> float:
    """Median wall time of ``function(i)`` for ``i`` in ``range(repeats)`` (each call its own place)."""
    times = []
    for i in range(repeats):
        sync()
        start = time.perf_counter()
        function(i)
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def tile_gflop(model: Generator, level: int | None, side: int) -> float:
    """GFLOPs of one tile as region renders (``level`` None) or previews of ``level`` in windows of
    ``side`` px, as the renderer runs them, counted on a meta-device copy of ``model`` (nothing computed)."""
    with torch.device("meta"):
        meta = build(model.config).eval().requires_grad_(False)
    source, styles, counter = LatentSource(0, device="meta"), World("m").styles, FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        if level is None:
            meta.render_blocks([(0, 0)], source, styles, 0, (side, side))
        else:
            meta.render_preview([(0, 0)], source, styles, level, (side, side))
    return counter.get_total_flops() / 1e9 * max(1, TILE // side) ** 2


def bench_model(ctx: BenchContext) -> tuple[str, Generator]:
    if ctx.quick:
        config = dataclasses.replace(CONFIGS["tiny"], texture_channels=(16, 12, 8, 8), block=32)
        return "infinitygan:tiny (4 blocks)", build_initial("infinitygan", config)
    if find_checkpoint(SHIPPED) is not None:
        return SHIPPED, load_model(SHIPPED).model
    return "infinitygan:small (initial weights)", build_initial("infinitygan", CONFIGS["small"])


@benchmark("preview", quick_limit="tiny four-block InfinityGAN, one repeat")
def preview_tiles(ctx: BenchContext) -> list[Row]:
    name, model = bench_model(ctx)
    repeats = 1 if ctx.quick else REPEATS
    renderer = Renderer(model, ctx.device, region=2)
    world = World(name, seed=0)
    start = time.perf_counter()
    renderer.preview_calibration(world)
    calibration = time.perf_counter() - start
    rows: list[Row] = [{"model": name, "what": "colour calibration (once per model)", "seconds": calibration}]

    def tile(i: int) -> Rect:  # the i-th repeat's tile, in pixels of its level
        return Rect(TILE * (i + 1), 0, TILE, TILE)

    def real(level: int, i: int) -> np.ndarray:
        side = TILE << level
        return renderer.render(world, [Rect(side * (i + 1), 0, side, side)])[0]

    real_tile = median_seconds(lambda i: real(0, i), repeats)
    side = renderer.block_size(0)  # the windows of real tiles and of previews
    real_gflop = tile_gflop(model, None, side)
    rows.append({"model": name, "what": "real tile, level 0", "seconds": real_tile, "gflop": real_gflop})
    for level in model.preview_levels():
        preview = median_seconds(lambda i, lv=level: renderer.render_preview(world, [tile(i)], lv), repeats)
        downsampled = median_seconds(lambda i, lv=level: real(lv, i), repeats)
        image = renderer.render_preview(world, [tile(0)], level)[0]
        target = box_downsample(real(level, 0), level).permute(1, 2, 0).numpy()
        rows.append(
            {
                "model": name,
                "what": f"preview tile, level {level}",
                "seconds": preview,
                "real_seconds": downsampled,
                "speedup": downsampled / preview,
                "gflop": tile_gflop(model, level, side),
                "real_gflop": real_gflop * 4**level,
                "mae_lsb": float(np.abs(image - target).mean()),
            }
        )
    return rows
