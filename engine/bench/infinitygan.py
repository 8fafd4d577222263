"""InfinityGAN-specific numbers: FLOPs per pixel, overlap recomputation, and the view fill time.

Blocks overlap: a block keeps ``block`` pixels of the patch its windows produce, and every
coarser stage computes a window wider than the cells the block owns. These are the costs of
rendering any rectangle independently; the rows say how large they are per config. Quick mode
measures ``tiny`` only; the full run adds ``small`` (the shipped default, whose 1280x720 fill time
is the design goal: <= 5 s on 2 CPU cores) and ``paper`` (FLOPs and overlap; its fill time only
on a GPU).
"""

from __future__ import annotations

import dataclasses
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from engine.bench import BenchContext, Row, benchmark
from engine.bench.render_speed import VIEW, discarded_fraction
from engine.families.infinitygan.model import CONFIGS, InfinityGANGenerator
from engine.fields import LatentSource
from engine.geometry import Rect
from engine.models.registry import build_random
from engine.render import Renderer
from engine.styles import StyleCentre, StyleLayout
from engine.world import World

THREE_CENTRES = StyleLayout.of([StyleCentre(-300, 0, 1), StyleCentre(300, -100, 2), StyleCentre(0, 300, 3)])


def overlap_rows(model: InfinityGANGenerator) -> Row:
    """How much of each block's work is recomputed by its neighbours (geometry only, no timing)."""
    block, plan = model.config.block, model.plan
    n_s = len(model.structure.convs)
    patch = model.patch_size  # the uncropped patch of one block's structure window (paper: 101 for 96)
    return {
        "block_px": block,
        "patch_px": patch,
        "discarded_px_fraction": 1.0 - block**2 / patch**2,
        "z_l_cells_read_per_owned": plan[0].size ** 2 / (block // model.scale) ** 2,
        "structure_cells_per_owned": plan[n_s].size ** 2 / (block // model.scale) ** 2,
    }


def flops_per_pixel(name: str, layout: StyleLayout) -> float:
    """FLOPs of one block divided by its pixels, counted on the meta device (nothing is computed)."""
    with torch.device("meta"):
        model = InfinityGANGenerator(CONFIGS[name])
    source = LatentSource(1, device="meta")
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        model.render_blocks([(0, 0)], source, layout)
    return counter.get_total_flops() / model.config.block**2


@benchmark("infinitygan", quick_limit="infinitygan:tiny, FLOPs and overlap only (view fills: the full run)")
def infinitygan_numbers(ctx: BenchContext) -> list[Row]:
    rows = []
    names = ("tiny",) if ctx.quick else tuple(CONFIGS)
    for name in names:
        row: Row = {"model": f"infinitygan:{name}", "device": ctx.device}
        with torch.device("meta"):
            row.update(overlap_rows(InfinityGANGenerator(CONFIGS[name])))
        row["flops_per_px"] = flops_per_pixel(name, StyleLayout())
        row["flops_per_px_fused"] = flops_per_pixel(name, THREE_CENTRES)
        row["discarded_fraction_view"] = discarded_fraction(VIEW, CONFIGS[name].block)
        if not ctx.quick and (name != "paper" or ctx.device != "cpu"):  # the paper config is for GPUs
            world = World(model=f"infinitygan:{name}", seed=1)
            model = build_random("infinitygan", name)
            renderer = Renderer(model, ctx.device)
            renderer.render(world, [Rect(0, 0, 64, 64)])  # warm-up
            for key, target in (
                ("view_1280x720_s", world),
                ("view_1280x720_3_centres_s", world.with_styles(THREE_CENTRES)),
            ):
                row.update(_timed(key, renderer, target))
            if model.config.style_cell:
                row.update(_lattice_cost(model, world, ctx.device, row["view_1280x720_cpu_s"]))
        rows.append(row)
    return rows


def _timed(key: str, renderer: Renderer, world: World) -> Row:
    """Wall and process seconds of one view fill (process time reads true on a busy machine)."""
    start, cpu = time.perf_counter(), time.process_time()
    renderer.render(world, [VIEW])
    return {key: time.perf_counter() - start, key.replace("_s", "_cpu_s"): time.process_time() - cpu}


def _lattice_cost(model: InfinityGANGenerator, world: World, device: str, lattice_cpu_s: float) -> Row:
    """The same weights without the style lattice (one global style per world), in the same run:
    the ratio is what the lattice's per-pixel blending costs a view."""
    plain = InfinityGANGenerator(dataclasses.replace(model.config, style_cell=0))
    plain.load_state_dict(model.state_dict())
    row = _timed("view_1280x720_no_lattice_s", Renderer(plain.eval(), device), world)
    row["lattice_cost_ratio_cpu"] = lattice_cpu_s / row["view_1280x720_no_lattice_cpu_s"]
    return row
