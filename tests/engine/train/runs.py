"""Running a trainer for a few steps through the generic loop, the way the resume tests need it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.train.loop import train

TIMING_KEYS = ("img_per_s", "eta_s")


def run_steps(trainer, dataset, out: Path, steps: int, batch: int, resume: bool = False, **kwargs: Any):
    """``(result, logs)`` after training to ``steps``; logs drop wall-clock fields so runs compare exactly."""
    logs: list[dict] = []
    result = train(
        trainer,
        dataset,
        out,
        batch=batch,
        steps=steps,
        log_every=1,
        sample_every=0,
        snapshot_every=100,
        resume=resume,
        progress_fn=logs.append,
        **kwargs,
    )
    return result, [{k: v for k, v in log.items() if k not in TIMING_KEYS} for log in logs]
