"""The generic training loop: data, budget, progress, samples, snapshots and exact resume.

It drives any :class:`FamilyTrainer` and knows nothing of its caller: the command line and the
app's training panel both pass callbacks (``progress_fn(dict)`` per logging step,
``abort_fn() -> bool`` polled between steps, ``snapshot_fn(Snapshot)`` after each checkpoint
(with its held-out metric, so a user sees whether the model still improves),
``sample_fn(path)`` after each sample grid).
An abort (or Ctrl-C turned into one by the caller) ends the run *between* steps with a fresh
snapshot. An error between steps (damaged data, a failed sample write) also snapshots before it
propagates, so the steps since the last snapshot are not lost; an error inside a step writes
nothing (the trainer is half-updated). A snapshot's weights and training state are written to
temporary names and renamed together (:func:`engine.atomic.atomic_paths`): a full disk leaves
the previous pair, never new weights beside an old state. The folder is locked for the run
(:mod:`engine.train.runlock`).

Files in ``out_dir`` (rank 0 only):

- ``last.safetensors``: the EMA generator as an ordinary Everscape checkpoint (renderable with
  ``everscape render --model DIR/last.safetensors``), meta: steps, kimg, data, wall time, device;
- ``best.safetensors``: same, at the best ``metric_fn`` value (lower is better), if one is given;
- ``train_state.safetensors``: everything to resume exactly (see :mod:`engine.train.state`);
- ``samples/step-NNNNNNN.png``: preview grids every ``sample_every`` steps.

Under ``torchrun`` every rank runs the loop; stop decisions (abort, time budget) are taken by
rank 0 and broadcast so all ranks stop at the same step. Each snapshot gathers every rank's own
random state (global RNGs, data sampler, and a trainer's private generators through its optional
``rank_state``/``load_rank_state``) into the state file, so a resume with the same number of
processes repeats the uninterrupted run exactly on every rank. Resumed with another number of
processes, rank 0 continues its own stream and the others re-seed from ``(seed, rank, step)``.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from engine.errors import EverscapeError, InvalidInput
from engine.imageio import write_image
from engine.train import distributed
from engine.train.datasets import CropDataset
from engine.train.protocol import FamilyTrainer, RealBatch
from engine.train.runlock import run_lock
from engine.train.session import RunSession, Snapshot, cuda_devices
from engine.train.state import seed_everything


@dataclass
class TrainResult:
    step: int  # steps completed in total (including before a resume)
    stopped: str  # "steps", "time", "abort"
    last_logs: dict[str, float] = field(default_factory=dict)


def images_behind(meta: dict[str, Any]) -> int:
    """Images a warm start's generator had seen before this run (its header's ``init.kimg``), else 0.

    The trainers' EMA ramps its half-life up with the images seen (``engine.train.ema``), which
    protects a random start; counted from 0, a warm start of a trained generator got an EMA that
    followed the raw generator step by step (a half-life of 200 images after 4000), and its
    snapshots scored the generator's noise: InfinityGAN's quick held-out SWD swung 265-485 where
    its source scored 212. Counting the images behind it keeps the average as long as that
    generator had earned.
    """
    init = meta.get("init") or {}
    try:
        return max(0, round(float(init.get("kimg") or 0) * 1000))
    except (TypeError, ValueError):
        return 0


def _agree(flag: bool, device: torch.device) -> bool:
    """Rank 0's decision, for every rank (no-op in one process)."""
    if not distributed.active():
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.broadcast(value, src=0)
    return bool(value.item())


def image_grid(images: torch.Tensor, columns: int | None = None) -> np.ndarray:
    """``(N, 3, H, W)`` in [-1, 1] -> one ``(rows*H, cols*W, 3)`` uint8 image."""
    n, _, h, w = images.shape
    cols = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    pixels = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    grid = torch.zeros(3, rows * h, cols * w, dtype=torch.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        grid[:, r * h : (r + 1) * h, c * w : (c + 1) * w] = pixels[i]
    return grid.permute(1, 2, 0).contiguous().numpy()


def train(trainer: FamilyTrainer, dataset: CropDataset, out_dir: str | Path, **options: Any) -> TrainResult:
    """Train with the run folder locked (:mod:`engine.train.runlock`): see :func:`train_unlocked`.

    Rank 0 holds the lock (only it writes); a second training into the same folder is refused
    in one line before it loads anything into the folder."""
    lock = run_lock(out_dir) if distributed.rank() == 0 else contextlib.nullcontext()
    with lock:
        return train_unlocked(trainer, dataset, out_dir, **options)


def train_unlocked(
    trainer: FamilyTrainer,
    dataset: CropDataset,
    out_dir: str | Path,
    *,
    batch: int,
    steps: int | None = None,
    max_minutes: float | None = None,
    log_every: int = 10,
    sample_every: int = 500,
    snapshot_every: int = 1000,
    sample_count: int = 8,
    resume: bool = False,
    seed: int = 0,
    meta: dict[str, Any] | None = None,
    progress_fn: Callable[[dict[str, Any]], None] | None = None,
    abort_fn: Callable[[], bool] | None = None,
    snapshot_fn: Callable[[Snapshot], None] | None = None,
    sample_fn: Callable[[Path], None] | None = None,
    metric_fn: Callable[[FamilyTrainer], float] | None = None,
    metric_name: str | None = None,
) -> TrainResult:
    """Train until ``steps`` (total, across resumes) or ``max_minutes`` (this session), or abort.

    ``meta`` (e.g. ``{"data": "bluemarble", "device": "cuda"}``) goes into checkpoint headers and
    the training state; ``seed`` seeds global RNGs of a fresh run. ``metric_name`` says what
    ``metric_fn`` measures; a resume keeps the run's best only when it was scored the same way (a
    value of another measurement is no bar), else the next snapshot becomes ``best.safetensors``.
    """
    if steps is None and max_minutes is None:
        raise InvalidInput("give a training budget: steps and/or max minutes")
    run = RunSession(trainer, dataset, Path(out_dir), dict(meta or {}), metric_fn, metric_name, snapshot_fn)
    if not resume and run.state_path.exists():
        raise InvalidInput(f"{run.out} already holds a training run: resume it or choose a new output folder")
    if resume:
        run.resume(seed)
    else:
        seed_everything(distributed.rank_seed(seed, "rng"))
    behind = images_behind(run.meta)
    if run.main:
        run.out.mkdir(parents=True, exist_ok=True)
        (run.out / "samples").mkdir(exist_ok=True)
    per_step = batch * getattr(trainer, "real_batches_per_step", 1)
    world = distributed.world_size()
    run.started = time.monotonic()
    throughput = _Throughput(run.started)
    logs: dict[str, float] = {}
    consistent = True  # the trainer is between steps: a snapshot now is a state a resume can continue
    try:
        while (stopped := _stop_reason(run, steps, max_minutes, abort_fn)) is None:
            real = dataset.sample(per_step)
            reals = RealBatch(
                real.images.to(run.device, non_blocking=True), real.positions.to(run.device, non_blocking=True)
            )
            consistent = False
            logs = trainer.step(reals, run.step, images_seen=behind + run.images)
            run.step += 1
            run.images += batch * world
            consistent = True
            throughput.steps += 1
            if run.main and progress_fn is not None and (run.step % log_every == 0 or run.step == steps):
                progress_fn(throughput.progress(run, logs, per_step * world, steps, max_minutes))
            if run.main and sample_every and run.step % sample_every == 0:
                _write_sample(run, sample_count, sample_fn)
            if snapshot_every and run.step % snapshot_every == 0:
                run.snapshot()
    except BaseException:
        # Whatever stops the run between steps (a data error, a failed sample write, Ctrl-C) must
        # not lose the steps since the last snapshot. Mid-step the trainer is half-updated, and
        # under torchrun a snapshot is a collective the other ranks may never join: no rescue then.
        if consistent and run.saved_at != run.step and not distributed.active():
            with contextlib.suppress(EverscapeError):
                run.snapshot()
        raise
    if run.saved_at != run.step:
        run.snapshot()
    distributed.barrier()
    return TrainResult(run.step, stopped, logs)


def _stop_reason(
    run: RunSession, steps: int | None, max_minutes: float | None, abort_fn: Callable[[], bool] | None
) -> str | None:
    """Why the run stops before its next step (``"steps"``, ``"time"``, ``"abort"``), or None.

    Time and abort are rank 0's decisions, broadcast in this order on every rank (collectives)."""
    if steps is not None and run.step >= steps:
        return "steps"
    elapsed = time.monotonic() - run.started
    if _agree(max_minutes is not None and elapsed >= max_minutes * 60, run.device):
        return "time"
    if _agree(bool(abort_fn and abort_fn()), run.device):
        return "abort"
    return None


@dataclass
class _Throughput:
    """Images per second over the steps since the last progress line (what the line reports)."""

    start: float
    steps: int = 0

    def progress(
        self,
        run: RunSession,
        logs: dict[str, float],
        images_per_step: int,
        steps: int | None,
        max_minutes: float | None,
    ) -> dict[str, Any]:
        """The progress line for ``progress_fn``; starts the next window."""
        now = time.monotonic()
        img_per_s = self.steps * images_per_step / max(now - self.start, 1e-9)
        self.start, self.steps = now, 0
        return {
            "step": run.step,
            "kimg": round(run.images / 1000, 3),
            **{k: round(v, 6) for k, v in logs.items()},
            "img_per_s": round(img_per_s, 2),
            "eta_s": _eta(run.step, steps, max_minutes, now - run.started, img_per_s / max(images_per_step, 1)),
        }


def _write_sample(run: RunSession, count: int, sample_fn: Callable[[Path], None] | None) -> None:
    """A preview grid of ``count`` samples (drawn without shifting the training RNG)."""
    with torch.random.fork_rng(devices=cuda_devices(run.device)):
        grid = image_grid(run.trainer.sample(count))
    sample_path = run.out / "samples" / f"step-{run.step:07d}.png"
    write_image(sample_path, grid)
    if sample_fn is not None:
        sample_fn(sample_path)


def _eta(step: int, steps: int | None, max_minutes: float | None, elapsed: float, steps_per_s: float) -> float | None:
    """Seconds left: the nearer of the step budget and the time budget."""
    left = []
    if steps is not None and steps_per_s > 0:
        left.append((steps - step) / steps_per_s)
    if max_minutes is not None:
        left.append(max(0.0, max_minutes * 60 - elapsed))
    return round(min(left), 1) if left else None
