"""Training throughput and the cost of an exact-resume round trip, for every trainable family.

Generic: any trainable family (``Family.trainable``) is measured on its test configs (``--quick``)
or all configs, with random crops standing in for data (speed does not depend on content).
Rows: images per second of full ``trainer.step`` iterations (lazy regularisers included at their
real frequency) at the device's default precision and at the other one (bf16 main passes against
fp32: ``bf16_speedup``, what ``--cpu-bf16`` buys on a CPU and ``--no-amp`` costs on a GPU), and the
seconds to write + read + load the training state, with its size.

A row's steps come in whole regulariser cycles (``CYCLE`` steps: the lazy R1 and path-length
passes at their real share) and stop once a row has taken ``ROW_SECONDS``: a paper config on a
CPU costs seconds per step, and 64 fixed steps made a four-config CPU run take over an hour.
The step count is in the row, so a figure from few steps reads as what it is. ``--quick`` times
``QUICK_STEPS`` steps at the default precision, bounded on any CPU: a smoke figure of the main
passes (steps 1 and 2: the lazy regularisers, which run at multiples of ``CYCLE``, do not run).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from engine.bench import BenchContext, Row, benchmark
from engine.bench.render_speed import configs_to_measure
from engine.models.family import Family
from engine.models.registry import build_random, get_family
from engine.train.options import TrainOptions
from engine.train.protocol import RealBatch, TrainConfig
from engine.train.state import capture_rng, load_state, save_state

BATCH = 8
CYCLE = 16  # a multiple of every family's r1_every and path_every
MAX_CYCLES = 4  # 64 steps: enough on a GPU, where a cycle takes about a second
ROW_SECONDS = 60.0  # a row stops after the cycle that passes this (the full run)
QUICK_STEPS = 2  # --quick: steps, not a whole cycle (no lazy regularisers)


@benchmark(
    "train",
    quick_limit=f"test configs; {QUICK_STEPS} steps of batch {BATCH}, default precision, no lazy regularisers",
)
def train_throughput(ctx: BenchContext) -> list[Row]:
    rows = []
    for family, config in configs_to_measure(ctx):
        record = get_family(family)
        if not record.trainable:
            continue
        default, steps, trainer, crop = _throughput(ctx, record, family, config)
        # The other precision: bf16 on the CPU (opt-in there, --cpu-bf16), fp32 on a GPU (--no-amp);
        # --quick measures the default only (its row says so: the other columns are None).
        on_cpu = torch.device(ctx.device).type == "cpu"
        if ctx.quick:
            mixed, mixed_steps = float("nan"), steps
        else:
            mixed, mixed_steps, _, _ = _throughput(ctx, record, family, config, amp=on_cpu, cpu_bf16=on_cpu)
        bf16, fp32 = (mixed, default) if on_cpu else (default, mixed)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "state.safetensors"
            start = time.perf_counter()
            # a whole snapshot's shape, so the load pays for the same checks a resume does
            state = {"family": family, "config": {}, "step": steps, "wall_time_s": 0.0, "rng": capture_rng()}
            save_state(path, {**state, "trainer": trainer.state_dict()})
            saved = time.perf_counter()
            trainer.load_state_dict(load_state(path)["trainer"])
            loaded = time.perf_counter()
            size = path.stat().st_size
        rows.append(
            {
                "model": f"{family}:{config}",
                "device": ctx.device,
                "batch": BATCH,
                "crop": crop,
                "steps": min(steps, mixed_steps),
                "img_per_s": round(default, 2),
                "img_per_s_fp32": round(fp32, 2),
                "img_per_s_bf16": round(bf16, 2),
                "bf16_speedup": round(bf16 / fp32, 2),
                "state_save_s": round(saved - start, 3),
                "state_load_s": round(loaded - saved, 3),
                "state_mib": round(size / 2**20, 2),
            }
        )
    return rows


def _throughput(
    ctx: BenchContext, record: Family, family: str, config: str, *, amp: bool = True, cpu_bf16: bool = False
) -> tuple:
    """``(images per second, steps timed, trainer, crop)`` of full ``trainer.step`` iterations of a
    fresh model, with ``TrainConfig.amp`` (CUDA autocast) and ``--cpu-bf16`` as given."""
    model = build_random(family, config)
    crop = record.crop_size(model.config)
    options = TrainOptions(cpu_bf16=cpu_bf16)
    trainer = record.make_trainer(model, TrainConfig(batch=BATCH, crop=crop, amp=amp, options=options), ctx.device)
    per_step = BATCH * getattr(trainer, "real_batches_per_step", 1)
    reals = RealBatch(
        torch.rand(per_step, 3, crop, crop, device=ctx.device) * 2 - 1,
        torch.rand(per_step, 2, device=ctx.device) * 2 - 1,
    )
    trainer.step(reals, 1)  # warm-up (no lazy regularisers at step 1)
    cycles = 1 if ctx.quick else MAX_CYCLES
    steps = 0
    _sync(ctx.device)
    start = time.perf_counter()
    for _ in range(cycles):
        for _ in range(QUICK_STEPS if ctx.quick else CYCLE):
            trainer.step(reals, steps + 1 if ctx.quick else steps)  # quick: off the regularisers' steps
            steps += 1
        _sync(ctx.device)
        if time.perf_counter() - start >= ROW_SECONDS:
            break
    return steps * per_step / (time.perf_counter() - start), steps, trainer, crop


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
