"""One session of a training run and its files: resuming from the state a run saved, and
snapshots (last and best weights with the exact-resume state, written together; see
:mod:`engine.train.loop` for the files and the callbacks)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from engine.atomic import atomic_paths
from engine.checkpoints import write_checkpoint_file
from engine.errors import CheckpointError, first_line
from engine.train import distributed
from engine.train.datasets import CropDataset
from engine.train.protocol import FamilyTrainer
from engine.train.resume import refuse_old_run
from engine.train.state import FILENAME, capture_rng, load_state, restore_rng, seed_everything, write_state_file


@dataclass(frozen=True)
class Snapshot:
    """A checkpoint just written: its path, the ``metric_fn`` value (``None`` without one) and
    whether that value is the best so far (``best.safetensors`` was rewritten)."""

    path: Path
    metric: float | None = None
    best: bool = False


def images_seen(state: dict[str, Any], path: Path) -> int:
    """The images a saved run had seen (runs from before the count was kept are refused)."""
    if "images" not in state:
        raise refuse_old_run(path, "its images seen not counted")
    return int(state["images"])


@dataclass
class RunSession:
    """One session of a training run: where it writes, how far it is, and its snapshots.

    ``step`` and ``images`` count the whole run (across resumes; images per step may change with
    the batch or the process count); ``saved_at`` is the step the files on disk hold."""

    trainer: FamilyTrainer
    dataset: CropDataset
    out: Path
    meta: dict[str, Any]
    metric_fn: Callable[[FamilyTrainer], float] | None
    metric_name: str | None
    snapshot_fn: Callable[[Snapshot], None] | None
    step: int = 0
    images: int = 0
    wall_before: float = 0.0
    best: float | None = None
    saved_at: int = -1
    started: float = 0.0

    @property
    def state_path(self) -> Path:
        return self.out / FILENAME

    @property
    def main(self) -> bool:
        return distributed.rank() == 0

    @property
    def device(self) -> torch.device:
        return next(self.trainer.generator.parameters()).device

    def resume(self, seed: int) -> None:
        """Continue from the run's state file: counters, best, trainer and random state."""
        state_path, trainer = self.state_path, self.trainer
        state = load_state(state_path)
        if state.get("family") != trainer.ema.family or state.get("config") != trainer.ema.config_dict():
            raise CheckpointError(
                f"{state_path} is a {state.get('family')} run with another config; use a new --out folder"
            )
        try:
            trainer.load_state_dict(state["trainer"])
            self.step, self.wall_before = int(state["step"]), float(state["wall_time_s"])
            self.best = state.get("best") if state.get("best_metric") == self.metric_name else None
            self.images = images_seen(state, state_path)
        except (KeyError, ValueError, TypeError, RuntimeError, IndexError, AttributeError) as error:
            reason = first_line(error)[:160]
            raise CheckpointError(f"training state {state_path} does not fit this trainer ({reason})") from None
        # The run's provenance outlives the session that wrote it: what this session does not say
        # again (a resume passes no --init) is kept from the state, so the header still counts it.
        self.meta = {**(state.get("meta") or {}), **self.meta}
        ranks = state.get("ranks")
        if isinstance(ranks, list) and len(ranks) == distributed.world_size():
            _restore_rank_state(trainer, self.dataset, ranks[distributed.rank()])
        elif self.main:
            restore_rng(state["rng"])
            self.dataset.load_state_dict(state["dataset"])
        else:
            seed_everything(distributed.rank_seed(seed + self.step, "rng"))
            self.dataset.reseed(distributed.rank_seed(seed + self.step))
        self.saved_at = self.step  # the state on disk is already at this step

    def snapshot(self) -> None:
        """Write last (and best) weights with the state to resume from: a collective on every rank."""
        self.saved_at = self.step
        ranks = distributed.gather_to_main(_rank_state(self.trainer, self.dataset))
        if not self.main:
            return
        wall = self.wall_before + time.monotonic() - self.started
        header = {**self.meta, "steps": self.step, "kimg": self.images / 1000, "wall_time_s": round(wall, 3)}
        value, improved = None, False
        if self.metric_fn is not None:
            with torch.random.fork_rng(devices=cuda_devices(self.device)):  # evaluation must not shift training RNG
                value = float(self.metric_fn(self.trainer))
            improved = self.best is None or value < self.best
        run_best = value if improved else self.best
        self._write(
            header, {"metric": value, "metric_name": self.metric_name} if improved else None, wall, run_best, ranks
        )
        self.best = run_best
        if self.snapshot_fn is not None:
            self.snapshot_fn(Snapshot(self.out / "last.safetensors", value, improved))

    def _write(
        self, header: dict[str, Any], best: dict[str, Any] | None, wall: float, run_best: float | None, ranks: Any
    ) -> None:
        """Weights and their training state, renamed together or not at all (a full disk)."""
        ema = self.ema
        targets = [self.out / "last.safetensors", *([self.out / "best.safetensors"] if best else []), self.state_path]
        with atomic_paths(*targets) as temps:
            write_checkpoint_file(temps[0], ema.family, ema.config_dict(), ema.state_dict(), header, target=targets[0])
            if best:
                write_checkpoint_file(
                    temps[1], ema.family, ema.config_dict(), ema.state_dict(), {**header, **best}, target=targets[1]
                )
            state = {
                "family": ema.family,
                "config": ema.config_dict(),
                "step": self.step,
                "images": self.images,
                "wall_time_s": wall,
                "best": run_best,
                "best_metric": self.metric_name,
                "meta": self.meta,
                "trainer": self.trainer.state_dict(),
                "rng": capture_rng(),
                "dataset": self.dataset.state_dict(),
                "ranks": ranks,
            }
            write_state_file(temps[-1], state, target=self.state_path)

    @property
    def ema(self) -> Any:
        return self.trainer.ema


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


def cuda_devices(device: torch.device) -> list[torch.device]:
    return [device] if device.type == "cuda" else []
