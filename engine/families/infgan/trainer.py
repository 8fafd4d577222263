"""∞-GAN's multi-scale WGAN-GP training (Lu et al. 2020, eqs. 3-5), as a :class:`FamilyTrainer`.

On :class:`~engine.train.adversarial.AdversarialTrainer`, with multi-critic as an override: ∞-GAN
has one discriminator *per level*, each with its own gradient penalty between that level's real
and fake patches, plus consistency losses between levels. Packing the levels into the base
class's single D and GP would change the penalty (one joint gradient norm instead of one per
critic), so the D, R1 and G phases are overridden whole; the schedule (critic updates per
generator update, lazy R1, critic warm-up, learning-rate ramp), the optimisers, bf16 autocast,
gradient averaging and the EMA are the base class's.

One :meth:`InfGANTrainer.step`:

1. **D** (``d_steps`` = 5 times, one chunk of reals each): for every level ``k``, critic
   ``D_k`` scores ``M×M`` real patches (an ``M×M`` crop of the real crop average-pooled by
   ``2^k``: the scale pyramid X_k) against fake level-``k`` patches; loss
   ``Σ_k [D_k(fake) - D_k(real) + λ_gp · GP_k]``.
2. **G**: ``Σ_k -D_k(fake_k)`` + ``λ_cons · Σ_k MSE(AvgPool2(x_k), x_{k+1}[same region])``
   + ``λ_cross · MSE(AvgPool_{2^top}(x_0), x_top[same region])`` (the paper's extra term between
   the coarsest and finest levels; only with 3+ levels). The coarser side is detached: each level's
   own critic decides what it looks like, and the finer level is taught to agree with it.
3. **EMA** of G (the base class's).

Choices where the paper is silent: λ_gp = 10, λ_cons = λ_cross = 10 (MSE on [-1, 1] pixels),
Adam lr 1e-4 with β = (0, 0.9) (the WGAN-GP paper's), levels trained jointly, float32 (no AMP).
Options (:class:`InfGANOptions`): ``lr``, ``gp_weight``, ``cons_weight``, ``cross_weight``,
``d_channel_base``, ``d_max_channels`` (default: twice the generator's widest layer, and 16×
that: 16 channels at 32 px for ``tiny``, 48..192 for ``small``), ``loss``, and ``augment`` (a
:mod:`engine.train.augment` policy applied to every critic input, reals and fakes, in every
critic and generator update and in R1/GP), and ``colour_quantiles`` (a weight, off by default; below).

``colour_quantiles`` (not in the paper) asks the coarsest level's fakes for the colour distribution
of that level's real patches, by sliced optimal transport between pools of recent cell colours
(:class:`~engine.train.colour_quantiles.ColourQuantiles`, one band). Why: on Blue Marble cut as the
paper cuts it (Antarctica dropped) ice is 3.3 % of the map, Greenland and the Arctic, and the
shipped model drew 0.3 %: a rare mode its critics let go. Why the coarsest level only: it alone
lays out the world (the finer levels are held to it by the consistency terms, and their critics
judge texture); asked at every level, the finest levels answered the cheapest way (white
speckles). The shipped recipe does not use it (``docs/experiments/notes.md``).

``loss="logistic"`` swaps the paper's WGAN-GP for StyleGAN2's non-saturating logistic loss with
lazy R1 on the reals (γ = ``r1_gamma``, a separate critic update every ``r1_every`` steps weighted
``γ/2 · r1_every``, with the Adam correction of :mod:`engine.train.optim`), one critic update per
generator update, Adam lr 2e-3, β = (0, 0.99): the loss and schedule the other two families train
with. Lazy R1 matters on a CPU: R1's double backward through all three critics is costly every
step. Why offer it: WGAN-GP's five critic updates a generator step learnt too slowly on a CPU, so
the shipped ∞-GAN recipe uses it. Everything else (levels, consistency terms) is unchanged.

Randomness: noise, crop positions and GP mixing weights come from the trainer's own generators,
whose states are part of :meth:`state_dict`, so a resumed run repeats the uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from engine.families.infgan.model import InfGANGenerator, real_crop_size
from engine.fields import FieldStore, LatentSource, address_seed
from engine.layers.spans import Span
from engine.styles import StyleLayout
from engine.train import distributed
from engine.train.adversarial import AdversarialTrainer, seeded_init
from engine.train.augment import CriticAugment, parse_policy
from engine.train.colour_quantiles import ColourQuantiles
from engine.train.discriminator import Discriminator
from engine.train.losses import d_logistic, g_nonsaturating, gradient_penalty, r1_penalty, wgan_d_loss, wgan_g_loss
from engine.train.options import TrainOptions, colour_quantiles_option, option, options_for
from engine.train.protocol import (
    RealBatch,
    TrainConfig,
)

Patches = dict[int, tuple[torch.Tensor, tuple[int, int]]]


#: ``InfGANOptions.loss`` values: (critic updates per generator update, default lr, Adam betas).
LOSSES = {"wgan-gp": (5, 1e-4, (0.0, 0.9)), "logistic": (1, 2e-3, (0.0, 0.99))}


@dataclass(frozen=True)
class InfGANOptions(TrainOptions):
    """∞-GAN's own training options."""

    loss: str = option(
        "wgan-gp",
        "the adversarial loss: wgan-gp (the paper's: 5 critic updates a step) or logistic (+ R1, one update)",
        choices=tuple(LOSSES),
    )
    lr: float | None = option(
        None, "learning rate of generator and critics (default: the loss's)", low=0, low_open=True, metavar="LR"
    )
    gp_weight: float = option(10.0, "weight of WGAN-GP's gradient penalty", low=0, metavar="W")
    cons_weight: float = option(10.0, "weight of the scale-consistency loss between levels", low=0, metavar="W")
    cross_weight: float = option(10.0, "weight of the cross-level consistency term", low=0, metavar="W")
    colour_quantiles: float = colour_quantiles_option()


class InfGANTrainer(AdversarialTrainer):
    """One critic per level on :class:`AdversarialTrainer`'s schedule: the D, R1 and G phases are
    overridden whole (every level's critic in one update), the rest is the shared machinery."""

    path_length = False  # fakes come from noise fields, not latents a path length could follow

    def __init__(self, model: InfGANGenerator, config: TrainConfig, device: Any) -> None:
        cfg = model.config
        self.levels, self.patch = cfg.levels, cfg.train_patch
        self.crop = real_crop_size(cfg)
        if config.crop is not None and config.crop != self.crop:
            raise ValueError(
                f"infgan trains on {self.crop}-px real crops (train_patch · 2^(levels-1)), not {config.crop}"
            )
        options = options_for(config.options, InfGANOptions)
        self.loss = "logistic" if options.loss == "logistic" else "wgan"
        self.d_steps, default_lr, self.betas = LOSSES[options.loss]
        self.gp_weight, self.cons_weight = options.gp_weight, options.cons_weight
        self.cross_weight = options.cross_weight
        lr = options.lr or default_lr
        # Critics scale with the generator: at most twice its widest layer, width 16·max/size.
        max_channels = options.d_max_channels or 2 * max(cfg.const_channels, *cfg.g1_channels)
        channel_base = options.d_channel_base or 16 * max_channels
        with seeded_init(config.seed):
            critics = [Discriminator(self.patch, channel_base, max_channels) for _ in range(self.levels)]
        super().__init__(model, nn.ModuleList(critics), config, device, g_lr=lr, d_lr=lr)
        seed = distributed.rank_seed(config.seed, "infgan")
        self.rng = torch.Generator(device=self.device).manual_seed(seed)  # noise, GP mixing
        self.crop_rng = torch.Generator().manual_seed(seed + 1)  # crop positions (CPU ints)
        # Critic-input augmentation (``options.augment``), from its own stream: switching it on
        # does not move the noise or the crops.
        self.augment = CriticAugment(parse_policy(options.augment), torch.Generator().manual_seed(seed + 2))
        self.quantiles_weight = options.colour_quantiles
        self.quantiles = ColourQuantiles(bands=1) if self.quantiles_weight else None
        self.store = FieldStore(max_bytes=8 * 2**20)  # previews only
        self._real_levels: list[torch.Tensor] = []  # the last critic update's real patches, for R1
        with torch.no_grad():
            self._fakes(self.ema, 1)  # fails early if train_patch leaves no room for the crops

    @property
    def discriminators(self) -> nn.ModuleList:
        """The critics, one per level (the trainer-state entry and critic files name them so)."""
        return self.discriminator

    # ------------------------------------------------------------------ data

    def _pick(self, lo: int, hi: int, step: int) -> int:
        first, last = -((-lo) // step), hi // step
        if last < first:
            raise ValueError(f"infgan: train_patch {self.patch} leaves no room for the up-scaling crops")
        return step * (first + int(torch.randint(last - first + 1, (1,), generator=self.crop_rng)))

    def _noise(self, stage: int, wx: Span, wy: Span, count: int) -> torch.Tensor:
        return torch.randn(count, 1, wy.size, wx.size, device=self.device, generator=self.rng)

    def _fakes(self, model: InfGANGenerator, count: int) -> Patches:
        return model.patches(count, lambda s, wx, wy: self._noise(s, wx, wy, count), self._pick)

    def _real_pyramid(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Level k's real patches: a random ``M×M`` crop of the real crops pooled by ``2^k``."""
        out = []
        for level in range(self.levels):
            pooled = F.avg_pool2d(images, 2**level) if level else images
            side = pooled.shape[-1]
            x, y = self._pick(0, side - self.patch, 1), self._pick(0, side - self.patch, 1)
            out.append(pooled[..., y : y + self.patch, x : x + self.patch])
        return out

    # ------------------------------------------------------------------ losses

    def _consistency(self, fakes: Patches) -> tuple[torch.Tensor, torch.Tensor]:
        """(adjacent-level term, coarsest-vs-finest term): MSE between pooled finer patches and the
        coarser patch over exactly the same world region."""
        zero = fakes[0][0].new_zeros(())

        def term(fine: int, coarse: int) -> torch.Tensor:
            image, (sx, sy) = fakes[fine]
            target, (tx, ty) = fakes[coarse]
            factor = 2 ** (coarse - fine)
            pooled = F.avg_pool2d(image, factor)  # window starts (sx, sy) / factor on the coarse grid
            x0, y0 = sx // factor - tx, sy // factor - ty
            side = pooled.shape[-1]
            return F.mse_loss(pooled, target[..., y0 : y0 + side, x0 : x0 + side].detach())

        adjacent = sum((term(k, k + 1) for k in range(self.levels - 1)), zero)
        cross = term(0, self.levels - 1) if self.levels >= 3 else zero
        return adjacent, cross

    # ------------------------------------------------------------------ the phases, per level

    def _d_main(self, reals: RealBatch, logs: dict[str, float]) -> None:
        """One update of every level's critic on its level of the real pyramid (+ GP per critic)."""
        real_levels = self._real_pyramid(reals.images)
        self._real_levels = real_levels
        if self.quantiles is not None:
            self.quantiles.observe_reals(real_levels[-1], 0)
        with torch.no_grad(), self.autocast():
            fakes = self._fakes(self.generator, reals.images.shape[0])
        total = reals.images.new_zeros(())
        for level, critic in enumerate(self.discriminator):
            real, fake = real_levels[level], fakes[level][0]
            with self.autocast():
                real_scores, fake_scores = critic(self.augment(real))[0], critic(self.augment(fake))[0]
            real_scores, fake_scores = real_scores.float(), fake_scores.float()
            if self.loss == "logistic":
                adversarial = d_logistic(real_scores, fake_scores)
                total = total + adversarial
            else:
                adversarial = wgan_d_loss(real_scores, fake_scores)
                penalty = gradient_penalty(lambda x, c=critic: c(self.augment(x)), real, fake, generator=self.rng)
                total = total + adversarial + self.gp_weight * penalty
                logs[f"gp_l{level}"] = penalty.item()
            logs[f"d_loss_l{level}"] = adversarial.item()
        self._update(self.discriminator, self.d_opt, total)
        logs["d_loss"] = sum(logs[f"d_loss_l{level}"] for level in range(self.levels))

    def _d_reg(self, reals: RealBatch, logs: dict[str, float]) -> None:
        """Lazy R1: every level's critic penalised on the real patches of the last critic update
        (the pyramid already drawn for it, so R1 draws no crop of its own), in one update."""
        total = self._real_levels[0].new_zeros(())
        for level, critic in enumerate(self.discriminator):
            real = self._real_levels[level].detach().requires_grad_(True)
            penalty = r1_penalty(real, critic(self.augment(real))[0])
            total = total + self.config.r1_gamma / 2 * self.config.r1_every * penalty
            logs[f"r1_l{level}"] = penalty.item()
        self._update(self.discriminator, self.d_opt, total)

    def _g_main(self, batch: int, logs: dict[str, float]) -> None:
        """Adversarial terms at every level plus the cross-level consistency terms."""
        with self.autocast():
            fakes = self._fakes(self.generator, batch)
            scores = [critic(self.augment(fakes[level][0]))[0] for level, critic in enumerate(self.discriminator)]
        g_loss = g_nonsaturating if self.loss == "logistic" else wgan_g_loss
        adversarial = sum(g_loss(level_scores.float()) for level_scores in scores)
        adjacent, cross = self._consistency({k: (image.float(), at) for k, (image, at) in fakes.items()})
        total = adversarial + self.cons_weight * adjacent + self.cross_weight * cross
        if self.quantiles is not None:
            quantiles = self.quantiles.loss(fakes[self.levels - 1][0], 0)
            total = total + self.quantiles_weight * quantiles
            logs["g_quantiles"] = quantiles.item()
        self._update(self.generator, self.g_opt, total)
        logs.update(g_loss=adversarial.item(), cons=adjacent.item(), cross=cross.item())

    def sample(self, count: int) -> torch.Tensor:
        """Level-0 blocks from the EMA generator, rendered as the app renders them (fixed world)."""
        block = self.ema.block_size(0)
        source = LatentSource(address_seed("infgan-sample", self.config.seed), device=self.device, store=self.store)
        with torch.no_grad():
            return self.ema.render_blocks([(i * block, 0) for i in range(count)], source, StyleLayout(), 0)

    # ------------------------------------------------------------------ resume

    def state_dict(self) -> dict[str, Any]:
        state = {
            "generator": self.generator.state_dict(),
            "ema": self.ema.state_dict(),
            "discriminators": self.discriminator.state_dict(),
            "g_opt": self.g_opt.state_dict(),
            "d_opt": self.d_opt.state_dict(),
            "rng": self.rng.get_state(),
            "crop_rng": self.crop_rng.get_state(),
            "aug_rng": self.augment.generator.get_state(),
        }
        if self.quantiles is not None:
            state["colour_quantiles"] = self.quantiles.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.ema.load_state_dict(state["ema"])
        self.discriminator.load_state_dict(state["discriminators"])
        self.g_opt.load_state_dict(state["g_opt"])
        self.d_opt.load_state_dict(state["d_opt"])
        if self.quantiles is not None and "colour_quantiles" in state:  # else the pools refill
            self.quantiles.load_state_dict(state["colour_quantiles"])
        if distributed.rank() == 0:  # rank 0's streams; other ranks keep their own (see load_rank_state)
            self.load_rank_state(state)

    def rank_state(self) -> dict[str, Any]:
        """This rank's private generators: saved per rank by the loop, so every rank resumes exactly."""
        streams = (("rng", self.rng), ("crop_rng", self.crop_rng), ("aug_rng", self.augment.generator))
        return {name: generator.get_state() for name, generator in streams}

    def load_rank_state(self, state: dict[str, Any]) -> None:
        self.rng.set_state(state["rng"].cpu())
        self.crop_rng.set_state(state["crop_rng"].cpu())
        if "aug_rng" in state:  # states saved before augmentation existed keep the fresh stream
            self.augment.generator.set_state(state["aug_rng"].cpu())
