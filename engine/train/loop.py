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

from engine.atomic import atomic_paths
from engine.checkpoints import write_checkpoint_file
from engine.errors import CheckpointError, EverscapeError, InvalidInput, first_line
from engine.imageio import write_image
from engine.train import distributed
from engine.train.datasets import CropDataset
from engine.train.protocol import FamilyTrainer, RealBatch
from engine.train.resume import refuse_old_run
from engine.train.runlock import run_lock
from engine.train.state import FILENAME, capture_rng, load_state, restore_rng, seed_everything, write_state_file


@dataclass(frozen=True)
class Snapshot:
    """A checkpoint just written: its path, the ``metric_fn`` value (``None`` without one) and
    whether that value is the best so far (``best.safetensors`` was rewritten)."""

    path: Path
    metric: float | None = None
    best: bool = False


@dataclass
class TrainResult:
    step: int  # steps completed in total (including before a resume)
    stopped: str  # "steps", "time", "abort"
    last_logs: dict[str, float] = field(default_factory=dict)


def _images_seen(state: dict[str, Any], path: Path) -> int:
    """The images a saved run had seen (runs from before the count was kept are refused)."""
    if "images" not in state:
        raise refuse_old_run(path, "its images seen not counted")
    return int(state["images"])


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
    out = Path(out_dir)
    main = distributed.rank() == 0
    device = next(trainer.generator.parameters()).device
    world = distributed.world_size()
    per_step = batch * getattr(trainer, "real_batches_per_step", 1)
    meta = dict(meta or {})
    state_path = out / FILENAME

    # Start or resume.
    if not resume and state_path.exists():
        raise InvalidInput(f"{out} already holds a training run: resume it or choose a new output folder")
    step, wall_before, best = 0, 0.0, None
    images = 0  # generator images seen, counted per step: resumes may change the batch or the process count
    if resume:
        state = load_state(state_path)
        if state.get("family") != trainer.ema.family or state.get("config") != trainer.ema.config_dict():
            raise CheckpointError(
                f"{state_path} is a {state.get('family')} run with another config; use a new --out folder"
            )
        try:
            trainer.load_state_dict(state["trainer"])
            step, wall_before = int(state["step"]), float(state["wall_time_s"])
            best = state.get("best") if state.get("best_metric") == metric_name else None
            images = _images_seen(state, state_path)
        except (KeyError, ValueError, TypeError, RuntimeError, IndexError, AttributeError) as error:
            reason = first_line(error)[:160]
            raise CheckpointError(f"training state {state_path} does not fit this trainer ({reason})") from None
        # The run's provenance outlives the session that wrote it: what this session does not say
        # again (a resume passes no --init) is kept from the state, so the header still counts it.
        meta = {**(state.get("meta") or {}), **meta}
        ranks = state.get("ranks")
        if isinstance(ranks, list) and len(ranks) == world:
            _restore_rank_state(trainer, dataset, ranks[distributed.rank()])
        elif main:
            restore_rng(state["rng"])
            dataset.load_state_dict(state["dataset"])
        else:
            seed_everything(distributed.rank_seed(seed + step, "rng"))
            dataset.reseed(distributed.rank_seed(seed + step))
    else:
        seed_everything(distributed.rank_seed(seed, "rng"))
    saved_at = step if resume else -1  # the state on disk is already at this step
    behind = images_behind(meta)

    def snapshot() -> None:
        nonlocal best, saved_at
        saved_at = step
        ranks = distributed.gather_to_main(_rank_state(trainer, dataset))  # a collective: every rank
        if not main:
            return
        wall = wall_before + time.monotonic() - started
        header = {**meta, "steps": step, "kimg": images / 1000, "wall_time_s": round(wall, 3)}
        ema = trainer.ema
        value, improved = None, False
        if metric_fn is not None:
            with torch.random.fork_rng(devices=_cuda(device)):  # evaluation must not shift training RNG
                value = float(metric_fn(trainer))
            improved = best is None or value < best
        run_best = value if improved else best
        # Weights and their training state are renamed together, or neither is (a full disk).
        targets = [out / "last.safetensors", *([out / "best.safetensors"] if improved else []), state_path]
        with atomic_paths(*targets) as temps:
            write_checkpoint_file(
                temps[0], ema.family, ema.config_dict(), ema.state_dict(), header, target=targets[0]
            )
            if improved:
                best_header = {**header, "metric": value, "metric_name": metric_name}
                write_checkpoint_file(
                    temps[1], ema.family, ema.config_dict(), ema.state_dict(), best_header, target=targets[1]
                )
            write_state_file(
                temps[-1],
                {
                    "family": ema.family,
                    "config": ema.config_dict(),
                    "step": step,
                    "images": images,
                    "wall_time_s": wall,
                    "best": run_best,
                    "best_metric": metric_name,
                    "meta": meta,
                    "trainer": trainer.state_dict(),
                    "rng": capture_rng(),
                    "dataset": dataset.state_dict(),
                    "ranks": ranks,
                },
                target=state_path,
            )
        best = run_best
        if snapshot_fn is not None:
            snapshot_fn(Snapshot(out / "last.safetensors", value, improved))

    if main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "samples").mkdir(exist_ok=True)
    started = time.monotonic()
    window_start, window_steps = started, 0
    logs: dict[str, float] = {}
    stopped = "steps"
    consistent = True  # the trainer is between steps: a snapshot now is a state a resume can continue
    try:
        while True:
            if steps is not None and step >= steps:
                break
            elapsed = time.monotonic() - started
            if _agree(max_minutes is not None and elapsed >= max_minutes * 60, device):
                stopped = "time"
                break
            if _agree(bool(abort_fn and abort_fn()), device):
                stopped = "abort"
                break

            real = dataset.sample(per_step)
            reals = RealBatch(real.images.to(device, non_blocking=True), real.positions.to(device, non_blocking=True))
            consistent = False
            logs = trainer.step(reals, step, images_seen=behind + images)
            step += 1
            images += batch * world
            consistent = True
            window_steps += 1

            if main and progress_fn is not None and (step % log_every == 0 or step == steps):
                now = time.monotonic()
                img_per_s = window_steps * per_step * world / max(now - window_start, 1e-9)
                window_start, window_steps = now, 0
                progress_fn(
                    {
                        "step": step,
                        "kimg": round(images / 1000, 3),
                        **{k: round(v, 6) for k, v in logs.items()},
                        "img_per_s": round(img_per_s, 2),
                        "eta_s": _eta(step, steps, max_minutes, now - started, img_per_s / max(per_step * world, 1)),
                    }
                )
            if main and sample_every and step % sample_every == 0:
                with torch.random.fork_rng(devices=_cuda(device)):
                    grid = image_grid(trainer.sample(sample_count))
                sample_path = out / "samples" / f"step-{step:07d}.png"
                write_image(sample_path, grid)
                if sample_fn is not None:
                    sample_fn(sample_path)
            if snapshot_every and step % snapshot_every == 0:
                snapshot()
    except BaseException:
        # Whatever stops the run between steps (a data error, a failed sample write, Ctrl-C) must
        # not lose the steps since the last snapshot. Mid-step the trainer is half-updated, and
        # under torchrun a snapshot is a collective the other ranks may never join: no rescue then.
        if consistent and saved_at != step and not distributed.active():
            with contextlib.suppress(EverscapeError):
                snapshot()
        raise
    if saved_at != step:
        snapshot()
    distributed.barrier()
    return TrainResult(step, stopped, logs)


def _rank_state(trainer: FamilyTrainer, dataset: CropDataset) -> dict[str, Any]:
    """This process's own random state: what differs between ranks and must resume per rank."""
    state: dict[str, Any] = {"rng": capture_rng(), "dataset": dataset.state_dict()}
    if hasattr(trainer, "rank_state"):
        state["trainer"] = trainer.rank_state()
    return state


def _restore_rank_state(trainer: FamilyTrainer, dataset: CropDataset, state: dict[str, Any]) -> None:
    restore_rng(state["rng"])
    dataset.load_state_dict(state["dataset"])
    if "trainer" in state and hasattr(trainer, "load_rank_state"):
        trainer.load_rank_state(state["trainer"])


def _cuda(device: torch.device) -> list[torch.device]:
    return [device] if device.type == "cuda" else []


def _eta(step: int, steps: int | None, max_minutes: float | None, elapsed: float, steps_per_s: float) -> float | None:
    """Seconds left: the nearer of the step budget and the time budget."""
    left = []
    if steps is not None and steps_per_s > 0:
        left.append((steps - step) / steps_per_s)
    if max_minutes is not None:
        left.append(max(0.0, max_minutes * 60 - elapsed))
    return round(min(left), 1) if left else None
