"""InfinityGAN training on the shared adversarial stack: paired batches, vertical positions, diversity.

What it adds to :class:`~engine.train.adversarial.AdversarialTrainer` (paper, Sec. 3 and 4):

- **Patches.** Every fake is one uncropped training patch: ``train_ts_cells`` structure cells (the
  windows one rendered block needs, paper 11) -> ``patch_size`` pixels (paper 101). Reals are crops
  of the same size (:func:`real_crop_size`).
- **Random position per sample.** A z_l row window starting at a random row of a vertical band of
  ``train_rows`` rows centred on the horizon (the training image's height), a random column phase
  ``0..period-1``, and a uniform sub-cell jitter on both (continuous coordinates). Rendering uses
  the same coordinate function with integer cells and no jitter. Where the window starts follows
  the reals' crop sampling (:func:`window_start`): the critic compares the two sets as wholes, so
  fakes drawn from other latitudes than the reals would be pushed towards the reals' latitudes'
  content at their own. Each patch is then put where the metrics' frame for its position lies
  (:func:`frame_window`), so training and measurement share one map.
- **Vertical-position auxiliary loss** (λ = 1): D's aux head regresses the
  crop's vertical position in [-1, 1] (L1), on reals (the dataset's crop position) and, as the
  paper's code does, on fakes (the band position of the window); G is trained to make fakes'
  positions recognisable. ``vpos_critic = "reals"`` trains the head on reals only: a head
  that also learns fakes' positions reads whatever cue the generator leaves (an AC-GAN's weakness),
  so G can satisfy it without drawing a latitude's real content (a pole's ice); learnt from reals
  alone, it is recognisable only by what the data puts there.
- **A critic conditional on the row** (``critic_rows``, not in the paper): the critic scores
  each real crop and fake at its vertical position, through a projection on
  :data:`CRITIC_ROW_FREQUENCIES` Fourier features of it
  (:class:`~engine.train.discriminator.Discriminator`), so a fake must look like the reals *of its
  latitude*, not of the map as a whole: the regressor above never led the shipped model to draw
  Antarctica.
- **Per-latitude colour moments** (``colour_moments``, a weight, not in the paper): the
  generator is also asked for the mean and covariance of each band of latitudes' colours, fakes'
  running moments against the reals' (:mod:`engine.train.colour_moments`), with no critic between:
  the direct version of the loss that did brighten a dropped pole where both critics did not.
- **Per-latitude colour quantiles** (``colour_quantiles``, a weight, not in the paper):
  each band's whole distribution of cell colours, fakes' against reals' by sliced optimal
  transport between pools of recent cells (:mod:`engine.train.colour_quantiles`): the moments
  cannot tell a band of ocean and green land from one with desert among them.
- **Paired batches and the diversity loss** (Eq. 2, λ = 1): samples come in pairs that share z_g,
  the style-mixing latent and the coordinates but not z_l; the loss is
  ``1 / (mean|z_S,a - z_S,b| / mean|z_l,a - z_l,b| + 1e-5)`` on G_S's output: mean L1 distances,
  rewarding structure that follows z_l (the official config used an angular similarity, which
  inverts the sign, and can produce NaNs).
- **Style mixing** in G_T with probability 0.9 (G_S always uses the first z_g); path-length
  regularisation on W+ with squared gradients averaged over layers and dimensions.

All randomness comes from the global torch RNG, which the generic loop saves, so resume is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from engine.families.infinitygan.model import InfinityGANGenerator
from engine.families.infinitygan.structure import coordinate_grid
from engine.families.infinitygan.styles import PerSampleStyles
from engine.train.adversarial import AdversarialTrainer, Fakes, seeded_init
from engine.train.colour_moments import LatitudeColourMoments
from engine.train.colour_quantiles import LatitudeColourQuantiles
from engine.train.discriminator import Discriminator
from engine.train.options import TrainOptions, colour_quantiles_option, option, options_for
from engine.train.protocol import RealBatch, TrainConfig

MIXING_PROB = 0.9
VERTICAL_WEIGHT = 1.0
DIVERSITY_WEIGHT = 1.0
#: Fourier frequencies of the row a conditional critic (``critic_rows``) is projected on:
#: periods down to 1/8 of the band (on a pole-to-pole map, about 22 degrees of latitude).
CRITIC_ROW_FREQUENCIES = 8
#: ``vpos_critic`` values: what the critic's vertical-position head learns from.
VPOS_CRITIC = ("both", "reals")


@dataclass(frozen=True)
class InfinityGANOptions(TrainOptions):
    """InfinityGAN's own training options (row-dependent: each crop has a latitude)."""

    vpos_critic: str = option(
        "both",
        "what the critic's vertical-position head learns from; reals: only real crops, so the generator must draw "
        "each latitude's real content to be placed (both: the paper's)",
        choices=VPOS_CRITIC,
    )
    critic_rows: bool = option(
        False,
        "a critic conditional on each crop's row (latitude), so fakes must look like the reals of their latitude; "
        "a trained unconditional critic from --init grows into one",
        kept_on_resume="its critic (conditional on rows or not)",
    )
    colour_moments: float = option(
        0.0,
        "weight W of a loss that asks each band of latitudes for the reals' mean colour and colour covariance "
        "(running moments of 8x8-averaged crops, fakes against reals), for a colour its critics do not ask back "
        "(0: off)",
        low=0,
        high=100,
        metavar="W",
    )
    colour_quantiles: float = colour_quantiles_option()


def diversity_loss(z_l: torch.Tensor, structure: torch.Tensor) -> torch.Tensor:
    """Eq. 2 over pairs ``(2i, 2i+1)``: latent distance over structure distance (mean L1), inverted.

    Shapes: ``z_l`` (2P, C, h, w), ``structure`` (2P, C_s, h', w') -> scalar.
    """
    d_z = (z_l[0::2] - z_l[1::2]).abs().flatten(1).mean(1)
    d_s = (structure[0::2] - structure[1::2]).abs().flatten(1).mean(1)
    return (1.0 / (d_s / d_z + 1e-5)).mean()


def window_start(row: int, jitter: float, lo: int, hi: int, window: int) -> tuple[int, float]:
    """Where a fake's row window starts, ``(row, sub-row jitter in [-1/2, 1/2])``, from a uniform
    draw: ``row`` uniform on ``lo..hi`` and ``jitter`` on ``[-1/2, 1/2)``, rescaled to a window
    *centre* uniform over every row a window can cover, the window then clamped inside the band,
    as ``"centre"`` and ``"wrap"`` place real crops' rows. Why: a window at the band's edge (a
    map's pole) is then about ``window / 2`` rows in ``train_rows`` of them, as among the reals;
    with tops drawn uniformly, the critic, which sees content and not positions, would find polar
    content rarer among fakes than reals and push every latitude towards it.
    """
    low, starts = lo - 0.5, hi - lo + 1
    centre = (row + jitter - low) / starts * (starts + window)  # uniform on [0, starts + window]
    start = min(max(low + centre - window / 2, low), low + starts)
    nearest = min(max(math.floor(start + 0.5), lo), hi)
    return nearest, start - nearest


def frame_window(model: InfinityGANGenerator, position: float) -> tuple[int, float]:
    """``(row, jitter)`` of the window whose patch shows ``position`` where the metrics look for it
    (``"frame"`` fake rows: :meth:`InfinityGANGenerator.window_row`).

    Why: ``"centre"`` spreads window *starts* over the band, so patches span ``hi - lo + 1`` rows of
    starts plus one patch (the shipped recipe: world rows -635..650), while :meth:`frame_top` spreads frames
    over the whole band (-672..672), as real crops over their image: the model learnt each latitude
    up to 37 px away from where it is measured, rendered and shown, a 5 % squeeze of the map.
    Windows may start up to a few rows outside ``lo..hi``; only the coordinates there are new.
    """
    start = model.window_row(position)
    nearest = math.floor(start + 0.5)
    return nearest, start - nearest


class InfinityGANTrainer(AdversarialTrainer):
    path_mean_over = 2  # W+ latents (N, layers, dim): the official code's path-length scale

    def __init__(self, model: InfinityGANGenerator, config: TrainConfig, device: Any) -> None:
        self.patch = model.patch_size
        if config.crop not in (None, self.patch):
            raise ValueError(f"InfinityGAN trains on its {self.patch}-px patch; --crop {config.crop} does not fit")
        if model.config.train_rows <= model.train_ts_cells:
            raise ValueError(f"train_rows must exceed the {model.train_ts_cells} structure rows of a patch")
        if config.batch < 2:
            raise ValueError("InfinityGAN trains on pairs of samples: batch must be at least 2")
        options = options_for(config.options, InfinityGANOptions)
        self.vpos_critic = options.vpos_critic
        self.vpos_weight = VERTICAL_WEIGHT
        self.critic_rows_on = options.critic_rows
        self.moments_weight = options.colour_moments
        self.moments = LatitudeColourMoments() if self.moments_weight else None
        self.quantiles_weight = options.colour_quantiles
        self.quantiles = LatitudeColourQuantiles() if self.quantiles_weight else None
        width = options.d_max_channels or max(model.config.texture_channels)
        with seeded_init(config.seed):
            d = Discriminator(
                self.patch,
                channel_base=options.d_channel_base or 32 * width,
                max_channels=width,
                aux_outputs=1,
                row_frequencies=CRITIC_ROW_FREQUENCIES if self.critic_rows_on else 0,
            )
        super().__init__(model, d, config, device)

    # -- fakes -----------------------------------------------------------------------------------

    def generate(self, model: InfinityGANGenerator, batch: int, need_latent_grad: bool) -> Fakes:
        cfg, dev = model.config, self.device
        pairs = (batch + 1) // 2
        windows = model.train_windows(model.train_ts_cells)
        n_s = len(model.structure.convs)
        z_size = windows[0][0].size
        margin = (z_size - model.train_ts_cells) // 2  # z_l cells around the structure window

        # Per pair: z_g, the mixing latent and cut, the window's position and jitter.
        z_g = torch.randn(pairs, cfg.z_global, device=dev)
        z_mix = torch.randn(pairs, cfg.z_global, device=dev)
        lo, hi = model.train_band()  # first visible row
        rows = torch.randint(lo, hi + 1, (pairs,)).tolist()
        cols = torch.randint(0, cfg.period, (pairs,)).tolist()
        jitter = (torch.rand(pairs, 2) - 0.5).tolist()
        cuts = torch.randint(1, model.texture.num_styles, (pairs,))
        mixed = torch.rand(pairs) < MIXING_PROB
        # The jittered start row is uniform on [lo - 1/2, hi + 1/2]; placed like the reals' rows.
        window = model.train_ts_cells
        placed = [window_start(r, dy, lo, hi, window) for r, (_, dy) in zip(rows, jitter)]
        # Start rows [lo - 1/2, hi + 1/2] map onto [-1, 1], like real crops' positions.
        position = [(r + dy - lo + 0.5) / (hi - lo + 1) * 2 - 1 for r, dy in placed]
        placed = [frame_window(model, p) for p in position]
        coords = torch.stack(
            [
                coordinate_grid(
                    c - margin, r - margin, z_size, z_size, cfg.period, cfg.v_per_cell, (dx, dy), cfg.vertical
                )
                for (r, dy), c, (dx, _) in zip(placed, cols, jitter)
            ]
        ).to(dev)
        positions = torch.tensor(position)

        w = model.mapping(torch.cat([z_g, z_mix]))  # (2P, W)
        layer = torch.arange(model.texture.num_styles)[None, :]
        use_mix = (mixed[:, None] & (layer >= cuts[:, None])).to(dev)[..., None]  # (P, L, 1)
        w_plus = torch.where(use_mix, w[pairs:, None], w[:pairs, None])  # (P, L, W)

        def paired(t: torch.Tensor) -> torch.Tensor:
            return t.repeat_interleave(2, dim=0)[:batch]

        z_l = torch.randn(batch, cfg.z_local, z_size, z_size, device=dev)
        noises = [
            torch.randn(batch, 1, windows[s][1].size, windows[s][0].size, device=dev) for s in model.noise_stages()
        ]
        w_plus = paired(w_plus)  # (N, L, W): the path-length regulariser averages over (L, W)
        styles = PerSampleStyles(paired(z_g), w_plus)
        images, structure = model.synthesize(z_l, paired(coords), noises, windows, styles)
        assert structure.shape[-1] == windows[n_s][0].size and images.shape[-1] == self.patch
        return Fakes(
            images,
            w_plus if need_latent_grad else None,
            {"positions": paired(positions).to(dev), "z_l": z_l, "structure": structure},
        )

    def critic_rows(self, batch: RealBatch | Fakes) -> torch.Tensor | None:
        """Vertical positions in [-1, 1] (reals: their crop's; fakes: their window's) for a
        conditional critic; None for the paper's unconditional one."""
        if not self.critic_rows_on:
            return None
        if isinstance(batch, RealBatch):
            return batch.positions[:, 1].to(batch.images.device)
        return batch.extras["positions"].to(batch.images.device)

    # -- extra losses ----------------------------------------------------------------------------

    def extra_d_losses(
        self, reals: RealBatch, real_aux: torch.Tensor | None, fakes: Fakes, fake_aux: torch.Tensor | None
    ) -> dict[str, torch.Tensor]:
        assert real_aux is not None and fake_aux is not None
        real_y = reals.positions[:, 1].to(real_aux.dtype)
        fake_y = fakes.extras["positions"].to(fake_aux.dtype)
        losses = {"vpos_real": self.vpos_weight * (real_aux[:, 0] - real_y).abs().mean()}
        if self.vpos_critic == "both":
            losses["vpos_fake"] = self.vpos_weight * (fake_aux[:, 0] - fake_y).abs().mean()
        if self.moments is not None:
            self.moments.observe_reals(reals.images, reals.positions[:, 1])
        if self.quantiles is not None:
            self.quantiles.observe_reals(reals.images, reals.positions[:, 1])
        return losses

    def extra_g_losses(self, fakes: Fakes, fake_aux: torch.Tensor | None) -> dict[str, torch.Tensor]:
        assert fake_aux is not None
        fake_y = fakes.extras["positions"].to(fake_aux.dtype)
        losses = {"vpos": self.vpos_weight * (fake_aux[:, 0] - fake_y).abs().mean()}
        z_l, structure = fakes.extras["z_l"], fakes.extras["structure"]
        usable = z_l.shape[0] // 2 * 2
        if usable:
            losses["div"] = DIVERSITY_WEIGHT * diversity_loss(z_l[:usable], structure[:usable].float())
        if self.moments is not None:
            losses["moments"] = self.moments_weight * self.moments.loss(fakes.images, fakes.extras["positions"])
        if self.quantiles is not None:
            losses["quantiles"] = self.quantiles_weight * self.quantiles.loss(fakes.images, fakes.extras["positions"])
        return losses

    # -- resume ----------------------------------------------------------------------------------

    def extra_state(self) -> dict[str, Any]:
        state = {}
        if self.moments is not None:
            state["colour_moments"] = self.moments.state_dict()
        if self.quantiles is not None:
            state["colour_quantiles"] = self.quantiles.state_dict()
        return state

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if self.moments is not None and "colour_moments" in state:
            self.moments.load_state_dict(state["colour_moments"])
        if self.quantiles is not None and "colour_quantiles" in state:
            self.quantiles.load_state_dict(state["colour_quantiles"])
