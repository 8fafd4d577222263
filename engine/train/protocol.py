"""What the generic training loop needs from a family, and what it gives it.

The loop (``engine.train.loop``) owns data, timing, logging, snapshots, resume, the time budget
and DDP; it knows nothing of GAN losses. A family's trainer owns its discriminator(s), optimisers,
losses and lazy regularisation schedule; it knows nothing of files or processes. Everything the
trainer holds that must survive a resume goes through ``state_dict``/``load_state_dict`` (tensors
and plain data only: it is saved with safetensors + JSON, never pickled).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from engine.models.base import Generator
from engine.train.options import TrainOptions


@dataclass
class RealBatch:
    """A batch of real training crops.

    ``images``: (N, 3, S, S) float in [-1, 1] on the training device.
    ``positions``: (N, 2) float, the crop's (x, y) position in its source image, each in [-1, 1]
    (-1 = left/top edge, +1 = right/bottom edge). InfinityGAN's vertical auxiliary loss uses y.
    """

    images: torch.Tensor
    positions: torch.Tensor


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters shared by all families (family-specific ones live in the family)."""

    batch: int = 16  # per process
    g_lr: float = 0.002
    d_lr: float = 0.002
    r1_gamma: float = 10.0
    r1_every: int = 16
    path_weight: float = 2.0
    path_every: int = 4
    ema_half_life_kimg: float = 10.0
    amp: bool = True  # bf16 autocast on CUDA (the CPU's is opt-in: ``options.cpu_bf16``)
    seed: int = 0
    crop: int | None = None  # side of real/fake crops; None = the family's ``crop_size``
    #: The run's options: :class:`TrainOptions` or the family's subclass of it.
    options: TrainOptions = field(default_factory=TrainOptions)


def main_pass_autocast(config: TrainConfig, device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast for a trainer's main passes (fakes, critic scores), never its regularisers: on
    CUDA unless ``config.amp`` is off; on the CPU only when ``options.cpu_bf16`` asks
    (``--cpu-bf16``): CPUs with bf16 units (AMX) run a step faster, CPUs without emulate bf16
    slowly, so it is never the CPU's default."""
    if config.amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if device.type == "cpu" and config.options.cpu_bf16:
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def in_critic_warmup(config: TrainConfig, step: int) -> bool:
    """Whether ``step`` only trains the critic (``options.critic_warmup``: the first that many steps).

    A warm start (``everscape train --init``) pairs a trained generator with a fresh critic. Until
    the critic has learnt anything its gradients are noise, and they push the generator off what
    it had learnt. Training the critic alone first, on the generator's own output, lets its first
    gradients to the generator mean something.
    """
    return step < config.options.critic_warmup


def generator_lr(config: TrainConfig, lr: float) -> float:
    """The generator's learning rate: a family's ``lr`` times ``options.g_lr_scale`` (default 1).

    For warm starts (``everscape train --init``): the generator is already trained and its critic
    is not, so a slower generator lets the critic catch up before the generator follows it far.
    The critic keeps its own rate: it has everything to learn.
    """
    return lr * config.options.g_lr_scale


def ramp_generator_lr(config: TrainConfig, optimiser: Any, step: int) -> None:
    """Set the generator optimiser's rate for ``step``: ``options.g_lr_warmup`` ramps it linearly
    from 1/N of its full value to all of it over the N generator steps after the critic warm-up.

    Why: a warm start's optimiser starts with empty Adam moments, and Adam's first updates move
    every weight by about the learning rate whatever its gradient (the second moment is one
    squared gradient): a jolt to all of a trained generator's weights at once, which a long run's
    settled moments never give it. A ramp lets the moments settle on small steps first. No ramp
    configured leaves the rate alone (runs from before it resume unchanged). The full rate is
    kept in each group as ``full_lr`` (saved with the optimiser, so a resume ramps the same).
    """
    ramp = config.options.g_lr_warmup
    if ramp <= 0:
        return
    done = step - config.options.critic_warmup + 1  # generator steps including this one
    factor = min(1.0, max(done, 1) / ramp)
    for group in optimiser.param_groups:
        group.setdefault("full_lr", group["lr"])
        group["lr"] = group["full_lr"] * factor


class FamilyTrainer(Protocol):
    """One family's GAN training step, driven by the generic loop.

    Optional attribute ``real_batches_per_step`` (default 1): the loop then passes that many
    batches of reals concatenated (WGAN critics updated several times per G step).
    Optional methods ``rank_state() -> dict`` and ``load_rank_state(dict)``: random state the
    trainer keeps outside the global RNGs, different on every rank (``state_dict`` is rank 0's);
    the loop saves it for every rank and gives each its own back on resume.
    """

    generator: Generator  # trained weights (train mode)
    ema: Generator  # exponential moving average of ``generator``: what checkpoints ship

    def step(self, reals: RealBatch, step: int, images_seen: int | None = None) -> dict[str, float]:
        """One full iteration (D update(s), G update, lazy regularisers due at ``step``, EMA).

        ``images_seen``: generator images seen by every process before this step (the loop's
        count, kept across resumes, plus the images behind a warm start's generator: see
        ``engine.train.loop.images_behind``); the EMA's half-life ramp reads it.

        Returns scalar losses/diagnostics for logging (plain floats).
        """
        ...

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly: D, optimisers, EMA, regulariser state."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def sample(self, count: int) -> torch.Tensor:
        """``(count, 3, H, W)`` in [-1, 1]: preview frames from ``ema`` with fixed latents."""
        ...
