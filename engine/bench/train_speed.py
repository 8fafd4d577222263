"""Training throughput and the cost of an exact-resume round trip, for every trainable family.

Generic: any family module with ``make_trainer`` is measured on its test configs (``--quick``)
or all configs, with random crops standing in for data (speed does not depend on content).
Rows: images per second of full ``trainer.step`` iterations (lazy regularisers included at their
real frequency), and the seconds to write + read + load the training state, with its size.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from engine.bench import BenchContext, Row, benchmark
from engine.bench.render_speed import configs_to_measure
from engine.models.registry import build_random, family_module
from engine.train.protocol import RealBatch, TrainConfig
from engine.train.state import load_state, save_state

BATCH = 8


@benchmark("train")
def train_throughput(ctx: BenchContext) -> list[Row]:
    rows = []
    for family, config in configs_to_measure(ctx):
        module = family_module(family)
        if not hasattr(module, "make_trainer"):
            continue
        model = build_random(family, config)
        crop = module.real_crop_size(model.config)
        trainer = module.make_trainer(model, TrainConfig(batch=BATCH, crop=crop), ctx.device)
        per_step = BATCH * getattr(trainer, "real_batches_per_step", 1)
        reals = RealBatch(
            torch.rand(per_step, 3, crop, crop, device=ctx.device) * 2 - 1,
            torch.rand(per_step, 2, device=ctx.device) * 2 - 1,
        )
        trainer.step(reals, 1)  # warm-up (no lazy regularisers at step 1)
        steps = 16 if ctx.quick else 64  # a multiple of r1_every and path_every: real regulariser mix
        _sync(ctx.device)
        start = time.perf_counter()
        for step in range(steps):
            trainer.step(reals, step)
        _sync(ctx.device)
        seconds = time.perf_counter() - start
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "state.safetensors"
            start = time.perf_counter()
            save_state(path, {"trainer": trainer.state_dict()})
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
                "img_per_s": round(steps * per_step / seconds, 2),
                "state_save_s": round(saved - start, 3),
                "state_load_s": round(loaded - saved, 3),
                "state_mib": round(size / 2**20, 2),
            }
        )
    return rows


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
