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
    amp: bool = True  # bf16 autocast on CUDA (the CPU's is opt-in: ``extra["cpu_bf16"]``)
    seed: int = 0
    crop: int | None = None  # side of real/fake crops; None = the family's ``real_crop_size``
    extra: dict[str, Any] = field(default_factory=dict)  # family-specific overrides from the CLI


def main_pass_autocast(config: TrainConfig, device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast for a trainer's main passes (fakes, critic scores), never its regularisers: on
    CUDA unless ``config.amp`` is off; on the CPU only when ``extra["cpu_bf16"]`` asks
    (``--cpu-bf16``). CPUs with bf16 units (AMX) run a step 1.35x (InfinityGAN ``small``), 1.54x
    (ALIS ``small``) and about 1.5x (∞-GAN ``small4``) faster, one thread, measured; CPUs without
    emulate bf16 slowly, so it is never the CPU's default."""
    if config.amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if device.type == "cpu" and config.extra.get("cpu_bf16"):
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def in_critic_warmup(config: TrainConfig, step: int) -> bool:
    """Whether ``step`` only trains the critic (``extra["critic_warmup"]``: the first that many steps).

    A warm start (``everscape train --init``) pairs a trained generator with a fresh critic. Until
    the critic has learnt anything its gradients are noise, and they push the generator off what
    it had learnt: InfinityGAN warm-started from its shipped weights drifted to all-ocean frames
    within 2000 steps (quick held-out SWD 212 -> 350). Training the critic alone first, on the
    generator's own output, lets its first gradients to the generator mean something. Measured: it
    did not stop that drift (300 warm-up steps: 372 at step 500; with the EMA fix too: 282-297).
    """
    return step < int(config.extra.get("critic_warmup", 0))


def loss_weight(config: TrainConfig, key: str, default: float = 0.0) -> float:
    """``extra[key]`` (else ``default``) as a loss weight in [0, 100]; a bad one is a ``ValueError``
    naming the key, so every trainer refuses its optional losses' weights alike."""
    weight = float(config.extra.get(key, default))
    if not 0 <= weight <= 100:
        raise ValueError(f"{key} must be in [0, 100], not {weight:g}")
    return weight


class TrainableSubset:
    """The generator's parameters a run trains (``extra["g_trainable"]``: name prefixes; none: all).

    Why: a trained generator's average (what ships) washes out modes that its latest weights draw
    only now and then. InfinityGAN's training generator put land in the tropics under the colour
    loss within 250 steps, but the shipped average never kept it, as the rest of the network moved
    with it and moved back (README, runs ig33-ig36). Training only a small part that can make the
    change (its latitude table) leaves nothing else to drift. Frozen parameters stay bit-exact, so
    their average is the trained weights; the optimiser holds the subset alone. Measured (ig37,
    ig38): with only the table, or only G_S, trainable, the quick score rose as it does with every
    weight and the tropics stayed ocean; the subset is kept for fine-tuning one part of a model.
    """

    def __init__(self, generator: torch.nn.Module, config: TrainConfig) -> None:
        prefixes = [str(q) for q in config.extra.get("g_trainable") or ()]
        named = list(generator.named_parameters())
        if not prefixes:
            self.parameters = [p for _, p in named]
            return

        def under(name: str, prefix: str) -> bool:
            return name == prefix or name.startswith(prefix + ".")

        missing = [q for q in prefixes if not any(under(name, q) for name, _ in named)]
        if missing:
            raise ValueError(f"g_trainable: the generator has no parameters under {', '.join(missing)}")
        self.parameters = [p for name, p in named if any(under(name, q) for q in prefixes)]

    def train(self, generator: torch.nn.Module, flag: bool) -> None:
        """Let gradients reach the subset (``flag``) or nothing."""
        generator.requires_grad_(False)
        for parameter in self.parameters if flag else ():
            parameter.requires_grad_(True)


def generator_lr(config: TrainConfig, lr: float) -> float:
    """The generator's learning rate: a family's ``lr`` times ``extra["g_lr_scale"]`` (default 1).

    For warm starts (``everscape train --init``): the generator is already trained and its critic
    is not, so a slower generator lets the critic catch up before the generator follows it far.
    The critic keeps its own rate: it has everything to learn. Measured on InfinityGAN's shipped
    weights (with 200 critic-only steps): 0.2 held the quick held-out SWD at 209-270 over 2439
    steps (full rate: 263-297), less drift but no gain over the 212 it started from.
    """
    return lr * float(config.extra.get("g_lr_scale", 1.0))


def ramp_generator_lr(config: TrainConfig, optimiser: Any, step: int) -> None:
    """Set the generator optimiser's rate for ``step``: ``extra["g_lr_warmup"]`` ramps it linearly
    from 1/N of its full value to all of it over the N generator steps after the critic warm-up.

    Why: a warm start's optimiser starts with empty Adam moments, and Adam's first updates move
    every weight by about the learning rate whatever its gradient (the second moment is one
    squared gradient): a jolt to all of a trained generator's weights at once, which a long run's
    settled moments never give it. A ramp lets the moments settle on small steps first. No ramp
    configured leaves the rate alone (runs from before it resume unchanged). The full rate is
    kept in each group as ``full_lr`` (saved with the optimiser, so a resume ramps the same).
    """
    ramp = int(config.extra.get("g_lr_warmup", 0))
    if ramp <= 0:
        return
    done = step - int(config.extra.get("critic_warmup", 0)) + 1  # generator steps including this one
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
