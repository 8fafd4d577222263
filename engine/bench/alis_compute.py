"""ALIS compute per 256² frame: FLOPs and CPU time, before (bilinear up-sampling, one block per
frame) and after (the released transposed up-sampling, regions that pay margins once).

FLOPs are counted with ``torch.utils.flop_counter.FlopCounterMode`` on the meta device (nothing
is computed), over a render of a strip of four blocks (``paper``: 1024x256, divided by 4 frames),
so margins shared by neighbouring blocks count once; ``block`` rows render the strip as four
blocks, ``region`` rows as one window. The official generator costs 31.9 GFLOP per frame;
``discarded_fraction`` is the share of a mode's FLOPs spent on margins: against the cost of a
margin-free pixel, extrapolated from square regions (:func:`margin_free_flops_per_px`; a region
big enough to make margins vanish would need gigabytes of noise fields).

CPU time per frame is measured in the same run for both (``cpu_time_ratio``); the paper config
takes seconds per frame on a CPU, and counting its FLOPs takes minutes (its pixel norms are a
chain of one add per channel, each traced), so ``--quick`` measures ``tiny`` only; the full run
counts and times ``paper`` and the shipped ``small``.
"""

from __future__ import annotations

import dataclasses
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from engine.bench import BenchContext, Row, benchmark, sync
from engine.families.alis import config as alis_config
from engine.families.alis import model as alis
from engine.fields import LatentSource
from engine.models.registry import INIT_SEED
from engine.styles import StyleLayout

FRAME = 256
OFFICIAL_GFLOP = 31.9


def variants(name: str) -> dict[str, alis_config.ALISConfig]:
    """``before``: bilinear up-sampling (every config until now); ``after``: transposed (what
    ``paper`` uses now; for the others a what-if, since their trained weights need bilinear)."""
    config = alis_config.CONFIGS[name]
    return {
        label: dataclasses.replace(config, upsample=up)
        for label, up in (("before", "bilinear"), ("after", "transposed"))
    }


def render_strip(model: alis.ALISGenerator, source: LatentSource, width: int, height: int, blocks: bool) -> None:
    """The strip ``[0, width) x [0, height)`` as blocks (one forward each, as on CPU) or as one region."""
    b = model.config.block
    with torch.inference_mode():
        if blocks:
            for origin in [(x, y) for y in range(0, height, b) for x in range(0, width, b)]:
                model.render_blocks([origin], source, StyleLayout())
        else:
            model.render_blocks([(0, 0)], source, StyleLayout(), size=(width, height))


def flops_per_px(config: alis_config.ALISConfig, width: int, height: int, blocks: bool) -> float:
    """FLOPs per output pixel of a ``width x height`` render, counted on the meta device. As blocks,
    one block is counted: world-aligned blocks have congruent windows, so each costs the same."""
    with torch.device("meta"):
        model = alis.build(config)
    if blocks:
        width = height = config.block
    counter = FlopCounterMode(display=False)
    with counter:
        render_strip(model, LatentSource(1, device="meta"), width, height, blocks)
    return counter.get_total_flops() / (width * height)


def frame_seconds(
    config: alis_config.ALISConfig, width: int, height: int, blocks: bool, device: str
) -> tuple[float, float]:
    """(wall, process CPU) seconds per 256² frame of the strip rendered as blocks or as one region."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(INIT_SEED)
        model = alis.build(config).to(device).eval()
    source = LatentSource(1, device=torch.device(device))
    render_strip(model, source, width, height, blocks)  # warm-up (field chunks, allocator)
    sync(device)
    start, cpu = time.perf_counter(), time.process_time()
    render_strip(model, source, width, height, blocks)
    sync(device)
    frames = width * height / FRAME**2
    return (time.perf_counter() - start) / frames, (time.process_time() - cpu) / frames


@benchmark("alis_flops", quick_limit="alis:tiny only (paper's FLOPs take minutes of CPU to count: the full run)")
def alis_compute(ctx: BenchContext) -> list[Row]:
    rows = []
    for name in ("tiny",) if ctx.quick else ("paper", "small"):
        for label, config in variants(name).items():
            ideal = margin_free_flops_per_px(config, 2 if ctx.quick else 4)
            for mode in ("block", "region"):
                row = _row(ctx, name, label, config, mode, ideal)
                rows.append(row)
    _ratios(rows)
    return rows


def margin_free_flops_per_px(config: alis_config.ALISConfig, blocks: int) -> float:
    """FLOPs per pixel without margins, ``2 F(2n) - F(n)`` over square regions of ``n`` blocks
    (margins cost about 1/side; ``--quick`` extrapolates from smaller regions)."""
    side = blocks * config.block
    return 2 * flops_per_px(config, 2 * side, 2 * side, blocks=False) - flops_per_px(config, side, side, blocks=False)


def _row(ctx: BenchContext, name: str, label: str, config: alis_config.ALISConfig, mode: str, ideal: float) -> Row:
    blocks = mode == "block"
    strip = (4 * config.block, config.block)
    per_px = flops_per_px(config, *strip, blocks=blocks)
    row: Row = {
        "model": f"alis:{name}",
        "variant": f"{label}:{config.upsample}",
        "config_default": config.upsample == alis_config.CONFIGS[name].upsample,
        "mode": mode,
        "gflop_per_256_frame": per_px * FRAME**2 / 1e9,
        "discarded_fraction": 1.0 - ideal / per_px,
    }
    if name == "paper":
        row["official_gflop"] = OFFICIAL_GFLOP
    wall, cpu = frame_seconds(config, *strip, blocks=blocks, device=ctx.device)
    row.update({"s_per_frame": wall, "cpu_s_per_frame": cpu})
    return row


def _ratios(rows: list[Row]) -> None:
    """Each row's FLOPs and CPU time against its model's ``before``/``block`` row (same run)."""
    for row in rows:
        same = [r for r in rows if r["model"] == row["model"] and r["mode"] == "block"]
        base = next(r for r in same if r["variant"].startswith("before"))
        row["flop_ratio"] = row["gflop_per_256_frame"] / base["gflop_per_256_frame"]
        if "cpu_s_per_frame" in row and base.get("cpu_s_per_frame"):
            row["cpu_time_ratio"] = row["cpu_s_per_frame"] / base["cpu_s_per_frame"]
