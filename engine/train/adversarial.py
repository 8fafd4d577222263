"""StyleGAN2-style adversarial training as a reusable :class:`FamilyTrainer` base class.

One :meth:`AdversarialTrainer.step` runs these phases (rosinality/stylegan3 order):

1. **D main** (``d_steps`` times, one chunk of the real batch each): fakes from
   :meth:`generate` without grad; logistic loss (or WGAN + gradient penalty when
   ``loss = "wgan"``) plus :meth:`extra_d_losses`.
2. **D reg** every ``r1_every`` steps (logistic only): lazy R1, weighted ``γ/2 · r1_every``.
3. **G main**: fakes with grad; non-saturating (or WGAN) loss plus :meth:`extra_g_losses`.
4. **G reg** every ``path_every`` steps: lazy path length on a ``1/path_batch_shrink`` batch,
   weighted ``λ · path_every``, against the latents :meth:`generate` returns.
5. **EMA** of G (half-life in kimg, optional ramp-up).

After every backward the trainer calls ``distributed.average_gradients`` (no-op in one process).
Adam uses β = (0, 0.99) by default, with the lazy-regularisation correction
(``lr · c``, ``β ** c``, ``c = k / (k + 1)``) so regularising every k steps has the same
effective step size. Mixed precision: bf16 autocast on CUDA when ``config.amp`` (no scaler
needed for bf16); regularisers always run in float32. On the CPU only when asked
(``options.cpu_bf16``, :func:`~engine.train.protocol.main_pass_autocast`).

Hooks a family overrides (only :meth:`generate` is required):

- ``generate(model, batch, need_latent_grad) -> Fakes``: render ``batch`` fakes of D's input
  size from ``model`` (``self.generator`` or ``self.ema``), drawing randomness from the global
  torch RNG (saved by the loop for exact resume) or from addresses derived from
  ``self.current_step``. ``Fakes.latents``: tensor(s) the images depend on, requiring grad when
  ``need_latent_grad`` (path length; ``None`` skips it). ``Fakes.extras``: anything the extra
  losses need — InfinityGAN puts its fake vertical positions and paired z_S for the diversity
  loss there, ALIS its anchor shift.
- ``extra_d_losses(reals, real_aux, fakes, fake_aux) -> {name: tensor}``: added to D's loss
  (InfinityGAN: L1 of the aux head's vertical position on reals and fakes).
- ``extra_g_losses(fakes, fake_aux) -> {name: tensor}``: added to G's loss (InfinityGAN:
  vertical aux loss on fakes, diversity loss).
- ``discriminate(images, rows=None) -> (logits, aux)``: defaults to ``self.discriminator(images, rows)``
  after the critic-input augmentation of ``options.augment`` (none by default).
- ``critic_rows(batch) -> tensor or None``: the rows a conditional critic scores a batch of reals or
  fakes at (InfinityGAN's vertical positions, ``options.critic_rows``); None (the default): an
  unconditional critic.
- ``sample(count)``: preview frames; the default calls ``generate(self.ema, ...)`` under a
  fixed forked RNG, so previews at different steps use the same latents.
- ``extra_state()`` / ``load_extra_state(dict)``: more resume state (tensors/plain data).

The phases are methods (``_d_main``, ``_d_reg``, ``_g_main``, ``_g_reg``) a family may
override whole when a hook is not enough: ∞-GAN's one critic per level overrides the three it
uses (``engine.families.infgan.trainer``) and keeps the schedule, optimisers, critic warm-up,
learning-rate ramp, EMA and resume machinery of this class. Class attributes tune the schedule:
``loss`` ("logistic" | "wgan"), ``d_steps``, ``gp_weight``, ``betas``, ``path_batch_shrink``,
``path_mean_over``, ``ema_rampup``, ``path_length``.
Losses are weighted by the trainer, so ``extra_*_losses`` return weighted terms themselves.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from engine.fields import address_seed
from engine.models.base import Generator
from engine.train import distributed
from engine.train.augment import CriticAugment, parse_policy
from engine.train.ema import RAMPUP, step_decay, update_ema
from engine.train.losses import (
    PathLengthRegularizer,
    d_logistic,
    g_nonsaturating,
    gradient_penalty,
    r1_penalty,
    wgan_d_loss,
    wgan_g_loss,
)
from engine.train.optim import lazy_adam
from engine.train.protocol import (
    RealBatch,
    TrainConfig,
    generator_lr,
    in_critic_warmup,
    main_pass_autocast,
    ramp_generator_lr,
)


@contextlib.contextmanager
def seeded_init(seed: int, salt: str = "discriminator") -> Iterator[None]:
    """Build modules with weights drawn from ``(seed, salt)`` without touching the global RNG.

    Families build their discriminator inside this, so two runs with the same seed start from
    the same D (exact resume tests, reproducible runs) whatever ran before.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(address_seed("init", salt, seed))
        yield


@dataclass
class Fakes:
    """What :meth:`AdversarialTrainer.generate` returns."""

    images: torch.Tensor  # (N, 3, S, S) in [-1, 1]: exactly what D sees
    latents: torch.Tensor | list[torch.Tensor] | None = None  # path-length inputs (None = skip)
    extras: dict[str, Any] = field(default_factory=dict)  # family data for the extra losses


class AdversarialTrainer:
    """Base class; see the module docstring for the phases and the hooks."""

    loss: str = "logistic"  # "logistic" (StyleGAN2) or "wgan" (WGAN-GP, ∞-GAN)
    d_steps: int = 1  # D updates per G update, each on its own chunk of reals
    gp_weight: float = 10.0  # WGAN-GP λ
    betas: tuple[float, float] = (0.0, 0.99)
    path_batch_shrink: int = 2  # path-length batch = batch // this
    path_mean_over: int = 0  # see PathLengthRegularizer
    ema_rampup: float | None = RAMPUP  # None: a fixed half-life from the first step
    #: Whether :meth:`generate` gives latents a path length can be taken through (False: no G reg).
    path_length: bool = True

    def __init__(
        self,
        generator: Generator,
        discriminator: nn.Module,
        config: TrainConfig,
        device: Any,
        *,
        g_lr: float | None = None,
        d_lr: float | None = None,
    ) -> None:
        """``g_lr``/``d_lr``: a family's own rates (default: ``config.g_lr``/``config.d_lr``); the
        generator's is scaled by ``options.g_lr_scale`` either way."""
        self.config = config
        self.device = torch.device(device)
        self.generator = generator.to(self.device).train().requires_grad_(True)
        self.discriminator = discriminator.to(self.device).train().requires_grad_(True)
        distributed.broadcast_module(self.generator)
        distributed.broadcast_module(self.discriminator)
        self.ema = copy.deepcopy(self.generator).eval().requires_grad_(False)
        self.path_reg = PathLengthRegularizer(mean_over=self.path_mean_over).to(self.device)
        self.r1_active = self.loss == "logistic" and config.r1_gamma > 0 and config.r1_every > 0
        self.path_active = self.path_length and config.path_weight > 0 and config.path_every > 0
        g_rate = generator_lr(config, config.g_lr if g_lr is None else g_lr)
        self.g_opt = lazy_adam(
            list(self.generator.parameters()), g_rate, self.betas, config.path_every if self.path_active else 0
        )
        self.d_opt = lazy_adam(
            self.discriminator.parameters(),
            config.d_lr if d_lr is None else d_lr,
            self.betas,
            config.r1_every if self.r1_active else 0,
        )
        self.current_step = 0
        # ``options.augment``: every critic input (reals, fakes, R1 and GP points) is augmented
        # inside :meth:`discriminate`, from the global RNG the loop saves (exact resume). Aux heads
        # see it too: InfinityGAN's vertical-position target is off by at most the 1/8 shift.
        self.augment = CriticAugment(parse_policy(config.options.augment))

    # ------------------------------------------------------------------ hooks

    def generate(self, model: Generator, batch: int, need_latent_grad: bool) -> Fakes:
        raise NotImplementedError

    def extra_d_losses(
        self, reals: RealBatch, real_aux: torch.Tensor | None, fakes: Fakes, fake_aux: torch.Tensor | None
    ) -> dict[str, torch.Tensor]:
        return {}

    def extra_g_losses(self, fakes: Fakes, fake_aux: torch.Tensor | None) -> dict[str, torch.Tensor]:
        return {}

    def discriminate(
        self, images: torch.Tensor, rows: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.discriminator(self.augment(images), rows)

    def critic_rows(self, batch: RealBatch | Fakes) -> torch.Tensor | None:
        return None

    def sample(self, count: int) -> torch.Tensor:
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            torch.manual_seed(self.config.seed)
            return self.generate(self.ema, count, False).images.float().clamp(-1, 1)

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        return None

    # ------------------------------------------------------------------ machinery

    @property
    def real_batches_per_step(self) -> int:
        """The loop hands ``step`` this many batches of reals, concatenated."""
        return self.d_steps

    def autocast(self) -> contextlib.AbstractContextManager:
        return main_pass_autocast(self.config, self.device)

    def _update(self, module: nn.Module, optimiser: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        distributed.average_gradients(module)
        optimiser.step()

    @staticmethod
    def _train(module: nn.Module, flag: bool) -> None:
        module.requires_grad_(flag)

    # ------------------------------------------------------------------ one iteration

    def step(self, reals: RealBatch, step: int, images_seen: int | None = None) -> dict[str, float]:
        self.current_step = step
        logs: dict[str, float] = {}
        batch = reals.images.shape[0] // self.d_steps
        chunks = [
            RealBatch(reals.images[k * batch : (k + 1) * batch], reals.positions[k * batch : (k + 1) * batch])
            for k in range(self.d_steps)
        ]
        self.generator.requires_grad_(False)
        self._train(self.discriminator, True)
        for chunk in chunks:
            self._d_main(chunk, logs)
        if self.r1_active and step % self.config.r1_every == 0:
            self._d_reg(chunks[-1], logs)
        if in_critic_warmup(self.config, step):
            return logs  # G untouched, so its EMA too
        ramp_generator_lr(self.config, self.g_opt, step)
        self.generator.requires_grad_(True)
        self._train(self.discriminator, False)
        self._g_main(batch, logs)
        if self.path_active and step % self.config.path_every == 0:
            self._g_reg(max(1, batch // self.path_batch_shrink), logs)
        self.generator.requires_grad_(False)
        total_batch = batch * distributed.world_size()
        decay = step_decay(total_batch, self.config.ema_half_life_kimg, step, images_seen, self.ema_rampup)
        update_ema(self.ema, self.generator, decay)
        return logs

    def _d_main(self, reals: RealBatch, logs: dict[str, float]) -> None:
        """One D update: adversarial loss (+ gradient penalty for WGAN) + the family's extras."""
        with torch.no_grad(), self.autocast():
            fakes = self.generate(self.generator, reals.images.shape[0], False)
        with self.autocast():
            real_logits, real_aux = self.discriminate(reals.images, self.critic_rows(reals))
            fake_logits, fake_aux = self.discriminate(fakes.images.detach(), self.critic_rows(fakes))
            extras = self.extra_d_losses(reals, real_aux, fakes, fake_aux)
        if self.loss == "wgan":
            main = wgan_d_loss(real_logits.float(), fake_logits.float())
            extras = {**extras, "gp": self.gp_weight * self._gp(reals.images, fakes.images)}
        else:
            main = d_logistic(real_logits.float(), fake_logits.float())
        self._update(self.discriminator, self.d_opt, main + sum(v.float() for v in extras.values()))
        logs["d_loss"] = main.item()
        logs["real_score"] = real_logits.float().mean().item()
        logs["fake_score"] = fake_logits.float().mean().item()
        logs.update({f"d_{name}": value.item() for name, value in extras.items()})

    def _d_reg(self, reals: RealBatch, logs: dict[str, float]) -> None:
        """Lazy R1 in float32, weighted γ/2 × interval."""
        cfg = self.config
        images = reals.images.detach().float().requires_grad_(True)
        logits, aux = self.discriminate(images, self.critic_rows(reals))
        penalty = r1_penalty(images, logits)
        # "+ 0 * output" keeps every D head in the graph, so each parameter gets a (zero) gradient.
        unused = 0 * logits[0] + (0 * aux[0, 0] if aux is not None else 0)
        self._update(self.discriminator, self.d_opt, cfg.r1_gamma / 2 * penalty * cfg.r1_every + unused)
        logs["r1"] = penalty.item()

    def _g_main(self, batch: int, logs: dict[str, float]) -> None:
        with self.autocast():
            fakes = self.generate(self.generator, batch, False)
            fake_logits, fake_aux = self.discriminate(fakes.images, self.critic_rows(fakes))
            extras = self.extra_g_losses(fakes, fake_aux)
        main = wgan_g_loss(fake_logits.float()) if self.loss == "wgan" else g_nonsaturating(fake_logits.float())
        self._update(self.generator, self.g_opt, main + sum(v.float() for v in extras.values()))
        logs["g_loss"] = main.item()
        logs.update({f"g_{name}": value.item() for name, value in extras.items()})

    def _g_reg(self, batch: int, logs: dict[str, float]) -> None:
        """Lazy path length in float32, skipped when ``generate`` gives no latents or they carry no
        gradient (then there is no path length to take through them)."""
        cfg = self.config
        fakes = self.generate(self.generator, batch, True)
        latents = [fakes.latents] if isinstance(fakes.latents, torch.Tensor) else fakes.latents or []
        if not latents or not all(t.requires_grad for t in latents):
            return
        penalty = self.path_reg(fakes.images.float(), fakes.latents, distributed.mean_over_processes)
        loss = cfg.path_weight * cfg.path_every * penalty + 0 * fakes.images[0, 0, 0, 0]
        self._update(self.generator, self.g_opt, loss)
        logs["path"] = penalty.item()
        logs["path_mean"] = self.path_reg.mean.item()

    def _gp(self, reals: torch.Tensor, fakes: torch.Tensor) -> torch.Tensor:
        return gradient_penalty(self.discriminate, reals.float(), fakes.float())

    # ------------------------------------------------------------------ resume

    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator.state_dict(),
            "ema": self.ema.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "g_opt": self.g_opt.state_dict(),
            "d_opt": self.d_opt.state_dict(),
            "path_reg": self.path_reg.state_dict(),
            "extra": self.extra_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.ema.load_state_dict(state["ema"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.g_opt.load_state_dict(state["g_opt"])
        self.d_opt.load_state_dict(state["d_opt"])
        self.path_reg.load_state_dict(state["path_reg"])
        self.load_extra_state(state.get("extra", {}))
