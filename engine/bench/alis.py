"""ALIS-specific numbers: milliseconds per 256² frame, one block per forward and batched.

The paper reports 53.9 ms per 256² frame on a V100 for its released generator (patches of one
frame in a batch, fp16). Our frame is rendered as the world-aligned blocks that cover it, each
with its valid-convolution margins, so the ratio to the paper's figure includes the cost of
exact consistency (margins recomputed per block) as well as the hardware difference.
"""

from __future__ import annotations

import functools

from engine.bench import BenchContext, Row, benchmark, timed
from engine.families.alis import config as alis_config
from engine.models.registry import build_random
from engine.render import Renderer
from engine.world import World

FRAME = 256
PAPER_MS_V100 = 53.9


def frame_origins(block: int, frames: int) -> list[tuple[int, int]]:
    """The blocks of ``frames`` separate 256² frames (one block per frame when the block is 256)."""
    per_side = max(1, FRAME // block)
    origins = []
    for f in range(frames):
        x0 = f * 4 * FRAME  # frames apart: no block is shared
        origins += [(x0 + i * block, j * block) for j in range(per_side) for i in range(per_side)]
    return origins


@benchmark("alis_frame", quick_limit="alis:tiny, one 256 px frame (64 blocks) at batch 1 only, no warm-up")
def frame_time(ctx: BenchContext) -> list[Row]:
    rows = []
    names = alis_config.TEST_CONFIGS if ctx.quick else tuple(alis_config.CONFIGS)
    for name in names:
        model = build_random("alis", name)
        renderer = Renderer(model, ctx.device, exact=False)
        world = World(f"alis:{name}", seed=1)
        frames = 1 if ctx.quick else 8
        origins = frame_origins(model.config.block, frames)
        ms = {}
        for batch in (1,) if ctx.quick else (1, min(8, len(origins))):
            renderer.max_batch = batch
            render = functools.partial(renderer.render_blocks, world, origins)
            seconds = timed(render, repeat=1, warmup=0) if ctx.quick else timed(render)
            ms[batch] = 1000 * seconds / frames
        batched = max(ms)
        rows.append(
            {
                "model": f"alis:{name}",
                "device": str(renderer.device),
                "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
                "block_px": model.config.block,
                "ms_per_256_frame_batch1": round(ms[1], 2),
                "ms_per_256_frame_batched": round(ms[batched], 2),
                "batched_blocks": batched,
                "paper_ms_v100": PAPER_MS_V100,
            }
        )
    return rows
