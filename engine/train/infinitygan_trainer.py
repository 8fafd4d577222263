"""InfinityGAN training on the shared adversarial stack: paired batches, vertical positions, diversity.

What it adds to :class:`~engine.train.adversarial.AdversarialTrainer` (paper, Sec. 3 and 4):

- **Patches.** Every fake is one uncropped training patch: ``train_ts_cells`` structure cells (the
  windows one rendered block needs, paper 11) -> ``patch_size`` pixels (paper 101). Reals are crops
  of the same size (:func:`real_crop_size`).
- **Random position per sample.** A z_l row window starting at a random row of a vertical band of
  ``train_rows`` rows centred on the horizon (the training image's height), a random column phase
  ``0..period-1``, and a uniform sub-cell jitter on both (continuous coordinates). Rendering uses
  the same coordinate function with integer cells and no jitter. Where the window starts follows
  the reals' crop sampling (``extra["fake_rows"]``, :func:`window_start`): the critic compares the
  two sets as wholes, so fakes drawn from other latitudes than the reals would be pushed towards
  the reals' latitudes' content at their own. New runs then put each patch where the metrics'
  frame for its position lies (:func:`frame_window`), so training and measurement share one map.
- **Vertical-position auxiliary loss** (λ = 1, ``extra["vpos_weight"]``): D's aux head regresses the
  crop's vertical position in [-1, 1] (L1), on reals (the dataset's crop position) and, as the
  paper's code does, on fakes (the band position of the window); G is trained to make fakes'
  positions recognisable. ``extra["vpos_critic"] = "reals"`` trains the head on reals only: a head
  that also learns fakes' positions reads whatever cue the generator leaves (an AC-GAN's weakness),
  so G can satisfy it without drawing a latitude's real content (a pole's ice); learnt from reals
  alone, it is recognisable only by what the data puts there.
- **A critic conditional on the row** (``extra["critic_rows"]``, not in the paper): the critic scores
  each real crop and fake at its vertical position, through a projection on
  :data:`CRITIC_ROW_FREQUENCIES` Fourier features of it
  (:class:`~engine.train.discriminator.Discriminator`), so a fake must look like the reals *of its
  latitude*, not of the map as a whole: the regressor above never led the shipped model to draw
  Antarctica.
- **A colour critic** (``extra["colour_critic"]``, not in the paper): a second critic on each input
  averaged to :data:`COLOUR_CELLS` squared colours, at its row when the critic is conditional, with
  its own logistic loss and R1 (:class:`~engine.train.discriminator.ColourCritic`). The residual
  critic tells southern fakes from Antarctica by texture and asks for no brightness, so a generator
  that dropped the white mode never finds it again; this one can only ask for colour.
- **Per-latitude colour moments** (``extra["colour_moments"]``, a weight, not in the paper): the
  generator is also asked for the mean and covariance of each band of latitudes' colours, fakes'
  running moments against the reals' (:mod:`engine.train.colour_moments`), with no critic between:
  the direct version of the loss that did brighten a dropped pole where both critics did not.
- **Per-latitude colour quantiles** (``extra["colour_quantiles"]``, a weight, not in the paper):
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
from typing import Any

import torch

from engine.models.infinitygan import InfinityGANGenerator
from engine.models.infinitygan_structure import coordinate_grid
from engine.models.infinitygan_styles import PerSampleStyles
from engine.train.adversarial import AdversarialTrainer, Fakes, seeded_init
from engine.train.colour_moments import CELLS, LatitudeColourMoments
from engine.train.colour_quantiles import GRIDS, LatitudeColourQuantiles
from engine.train.discriminator import Discriminator
from engine.train.losses import d_logistic, g_nonsaturating, r1_penalty
from engine.train.protocol import RealBatch, TrainConfig, loss_weight

MIXING_PROB = 0.9
VERTICAL_WEIGHT = 1.0
DIVERSITY_WEIGHT = 1.0
#: ``extra["fake_rows"]`` values: how fakes' windows are placed in the band (see :func:`window_start`
#: and :func:`frame_window`). ``"frame"`` is what new runs record; the others resume older runs.
FAKE_ROWS = ("offset", "centre", "frame")
#: Fourier frequencies of the row a conditional critic (``extra["critic_rows"]``) is projected on:
#: periods down to 1/8 of the band (on a pole-to-pole map, about 22 degrees of latitude).
CRITIC_ROW_FREQUENCIES = 8
#: Side of the grid of averaged colours the colour critic (``extra["colour_critic"]``) sees: cells
#: of about 17 px on a 133 px patch, a coastline's scale on the halved map.
COLOUR_CELLS = 8
#: Weight of the colour critic's losses (critic and generator) and its R1 γ, on 192 colours.
COLOUR_WEIGHT = 1.0
COLOUR_R1_GAMMA = 1.0
#: ``extra["vpos_critic"]`` values: what the critic's vertical-position head learns from.
VPOS_CRITIC = ("both", "reals")


def diversity_loss(z_l: torch.Tensor, structure: torch.Tensor) -> torch.Tensor:
    """Eq. 2 over pairs ``(2i, 2i+1)``: latent distance over structure distance (mean L1), inverted.

    Shapes: ``z_l`` (2P, C, h, w), ``structure`` (2P, C_s, h', w') -> scalar.
    """
    d_z = (z_l[0::2] - z_l[1::2]).abs().flatten(1).mean(1)
    d_s = (structure[0::2] - structure[1::2]).abs().flatten(1).mean(1)
    return (1.0 / (d_s / d_z + 1e-5)).mean()


def window_start(row: int, jitter: float, lo: int, hi: int, window: int, sampling: str) -> tuple[int, float]:
    """Where a fake's row window starts, ``(row, sub-row jitter in [-1/2, 1/2])``, from a uniform
    draw: ``row`` uniform on ``lo..hi`` and ``jitter`` on ``[-1/2, 1/2)``.

    ``"offset"``: the draw as it is (the window's top uniform over the band, as ``CropDataset``'s
    ``"offset"`` places crops). ``"centre"``: the same draw rescaled to a window *centre* uniform
    over every row a window can cover, the window then clamped inside the band, as ``"centre"``
    and ``"wrap"`` place real crops' rows. Why it matters: with centre-sampled reals, a window at
    the band's edge (a map's pole) is about ``window / 2`` rows in ``train_rows`` of them (about
    5 % at each pole for the shipped recipe's 133 px crops of 1350 rows) against 1 in
    ``hi - lo + 1`` (1.3 %) with offsets; the critic, which sees content and not positions, would
    then find polar content rarer among fakes than reals and push every latitude towards it. Both
    modes use the same random draws, so a run's random stream does not depend on the mode.
    """
    if sampling == "offset":
        return row, jitter
    if sampling != "centre":
        raise ValueError(f"window_start places rows by 'offset' or 'centre', not {sampling!r}")
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
        # Runs from before the option placed windows by offsets: a resume must draw the same fakes.
        self.fake_rows = str(config.extra.get("fake_rows", "offset"))
        if self.fake_rows not in FAKE_ROWS:
            raise ValueError(f"fake_rows must be one of {', '.join(FAKE_ROWS)}, not {self.fake_rows!r}")
        self.vpos_critic = str(config.extra.get("vpos_critic", "both"))
        if self.vpos_critic not in VPOS_CRITIC:
            raise ValueError(f"vpos_critic must be one of {', '.join(VPOS_CRITIC)}, not {self.vpos_critic!r}")
        self.vpos_weight = loss_weight(config, "vpos_weight", VERTICAL_WEIGHT)
        self.critic_rows_on = bool(config.extra.get("critic_rows", False))
        self.colour_on = bool(config.extra.get("colour_critic", False))
        self.moments_weight = loss_weight(config, "colour_moments")
        self.moments = LatitudeColourMoments() if self.moments_weight else None
        self.quantiles_weight = loss_weight(config, "colour_quantiles")
        cells = int(config.extra.get("colour_quantile_cells", CELLS))
        if cells not in GRIDS:
            raise ValueError(f"colour_quantile_cells must be one of {', '.join(map(str, GRIDS))}, not {cells}")
        self.quantiles = LatitudeColourQuantiles.of_cells(cells) if self.quantiles_weight else None
        width = int(config.extra.get("d_max_channels", max(model.config.texture_channels)))
        with seeded_init(config.seed):
            d = Discriminator(
                self.patch,
                channel_base=int(config.extra.get("d_channel_base", 32 * width)),
                max_channels=width,
                aux_outputs=1,
                row_frequencies=CRITIC_ROW_FREQUENCIES if self.critic_rows_on else 0,
                colour_cells=COLOUR_CELLS if self.colour_on else 0,
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
        sampling = "offset" if self.fake_rows == "offset" else "centre"
        placed = [window_start(r, dy, lo, hi, window, sampling) for r, (_, dy) in zip(rows, jitter)]
        # Start rows [lo - 1/2, hi + 1/2] map onto [-1, 1], like real crops' positions.
        position = [(r + dy - lo + 0.5) / (hi - lo + 1) * 2 - 1 for r, dy in placed]
        if self.fake_rows == "frame":
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
        if self.colour_on:
            losses.update(self._colour_d_losses(reals, fakes))
        if self.moments is not None:
            self.moments.observe_reals(reals.images, reals.positions[:, 1])
        if self.quantiles is not None:
            self.quantiles.observe_reals(reals.images, reals.positions[:, 1])
        return losses

    def _colour_d_losses(self, reals: RealBatch, fakes: Fakes) -> dict[str, torch.Tensor]:
        """The colour critic's logistic loss and its R1 on the reals' pooled colours (every step:
        they are 192 numbers a sample)."""
        colour = self.discriminator.colour
        real_rows, fake_rows = self.critic_rows(reals), self.critic_rows(fakes)
        pooled = colour.pool(reals.images).detach().requires_grad_(True)
        real_logits = colour.score(pooled, real_rows)
        fake_logits = self.discriminator.colour_logits(fakes.images.detach(), fake_rows)
        return {
            "colour": COLOUR_WEIGHT * d_logistic(real_logits.float(), fake_logits.float()),
            "colour_r1": COLOUR_R1_GAMMA / 2 * r1_penalty(pooled, real_logits),
        }

    def extra_g_losses(self, fakes: Fakes, fake_aux: torch.Tensor | None) -> dict[str, torch.Tensor]:
        assert fake_aux is not None
        fake_y = fakes.extras["positions"].to(fake_aux.dtype)
        losses = {"vpos": self.vpos_weight * (fake_aux[:, 0] - fake_y).abs().mean()}
        z_l, structure = fakes.extras["z_l"], fakes.extras["structure"]
        usable = z_l.shape[0] // 2 * 2
        if usable:
            losses["div"] = DIVERSITY_WEIGHT * diversity_loss(z_l[:usable], structure[:usable].float())
        if self.colour_on:
            logits = self.discriminator.colour_logits(fakes.images, self.critic_rows(fakes))
            losses["colour"] = COLOUR_WEIGHT * g_nonsaturating(logits.float())
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
