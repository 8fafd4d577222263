"""Per-latitude colour moments: a loss that asks a row-dependent generator for each band's colours.

Why (not in the paper): InfinityGAN trained on Blue Marble drops the map's bright mode (ice, snow,
bright sand) and draws ocean where Antarctica is, and no critic leads it back. The residual
critic tells southern fakes apart by texture, and its gradients never brightened them; a direct
loss on the colours did. This is the distribution-level version of that loss: the moments of the colours a band
of rows holds, fakes against reals, with no critic between them.

What it matches, per band of vertical positions (``bands`` equal bands of [-1, 1], a map's
latitudes): the first and second raw moments of *cell colours* (each crop averaged to
``cells × cells`` regions, about 17 px on a 133 px patch, so white specks do not count as ice):
``phi(c) = (r, g, b, r², g², b², rg, rb, gb)``, 9 numbers whose means give the band's mean colour
and its colour covariance; the gap between fakes and reals is taken on the mean and on the second
moments about the reals' mean.

How, and why that way: the reals' moments are a running mean over every real crop seen in the
band (the data does not change, so the mean converges). The fakes' are an exponential moving
average over the fakes of recent steps, in which the current batch takes part. The generator's
gradient is the gap between the two, ``fake - real``, applied to the current fakes' moments: a
band whose fakes are on average too dark brightens all of them a little, and the push stops when
the band *as a whole* has the reals' colours, not when every crop has the band's mean colour
(which would grey a band that is 90 % ice and 10 % ocean, and wash out mid-latitudes, where
ocean and land crops are both right). A batch of 4-8 crops holds about one crop a band, too few
for a batch-only statistic. The value reported is the squared gap, averaged over the bands of
the batch's fakes; only its gradient is the linear one (value and gradient are set apart below).

Running statistics are summed over processes (identical on every rank, each crop weighing the
same in any world size) and are part of the trainer's saved state, so a resumed run continues
exactly.

It is opt-in (``--colour-moments W``); the shipped InfinityGAN recipe weights it 1.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from engine.train import distributed

#: Equal bands of vertical position over [-1, 1]: 9 degrees of latitude each on a pole-to-pole map.
BANDS = 20
#: Side of the grid of averaged colours each crop is reduced to (as the colour critic's).
CELLS = 8
#: Weight of each new fake crop in its band's moving average: about 10 crops' memory, a few dozen
#: steps at 8 fakes a step, short enough to follow the generator and long enough to average it.
FAKE_RATE = 0.1
_FEATURES = 9
#: The running statistics a resume needs (:meth:`LatitudeColourMoments.state_dict`).
_STATE = ("real_sum", "real_count", "fake_mean", "fake_seen")
#: Channel pairs of the second moments, in feature order after the three means.
_PAIRS = ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))


def cell_colours(images: torch.Tensor, cells: int = CELLS) -> torch.Tensor:
    """``(N, 3, S, S)`` -> ``(N, 3, cells²)``: each crop averaged over ``cells × cells`` regions."""
    return F.adaptive_avg_pool2d(images.float(), cells).flatten(2)


def products(c: torch.Tensor) -> torch.Tensor:
    """``(N, 3, K)`` -> ``(N, 6, K)``: the channel products of :data:`_PAIRS`."""
    return torch.stack([c[:, i] * c[:, j] for i, j in _PAIRS], dim=1)


def colour_features(images: torch.Tensor, cells: int = CELLS) -> torch.Tensor:
    """``(N, 3, S, S)`` -> ``(N, 9)``: each crop's mean over its cells of ``phi`` (module docstring)."""
    c = cell_colours(images, cells)
    return torch.cat([c, products(c)], dim=1).mean(2)


def centred(moments: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    """Raw moments ``(B, 9)`` -> ``(B, 9)``: the means less ``centre`` (B, 3), and the second
    moments about ``centre``: ``E[(c_i - m_i)(c_j - m_j)] = E[c_i c_j] - m_i E[c_j] - E[c_i] m_j + m_i m_j``."""
    mean = moments[:, :3]
    second = [
        moments[:, 3 + k] - centre[:, i] * mean[:, j] - mean[:, i] * centre[:, j] + centre[:, i] * centre[:, j]
        for k, (i, j) in enumerate(_PAIRS)
    ]
    return torch.cat([mean - centre, torch.stack(second, dim=1)], dim=1)


def band_of(rows: torch.Tensor, bands: int = BANDS) -> torch.Tensor:
    """Vertical positions in [-1, 1] -> band indices ``0 .. bands - 1`` (clamped at the edges)."""
    return ((rows.float() + 1) / 2 * bands).floor().long().clamp(0, bands - 1)


class LatitudeColourMoments:
    """Running per-band colour moments of reals and fakes, and the generator's loss between them."""

    def __init__(self, bands: int = BANDS, cells: int = CELLS, fake_rate: float = FAKE_RATE) -> None:
        if bands < 1 or cells < 1 or not 0 < fake_rate <= 1:
            raise ValueError("colour moments need bands >= 1, cells >= 1 and a fake rate in (0, 1]")
        self.bands, self.cells, self.fake_rate = bands, cells, fake_rate
        self.real_sum = torch.zeros(bands, _FEATURES, dtype=torch.float64)
        self.real_count = torch.zeros(bands, dtype=torch.float64)
        self.fake_mean = torch.zeros(bands, _FEATURES, dtype=torch.float64)
        self.fake_seen = torch.zeros(bands, dtype=torch.float64)

    def _per_band(self, images: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(band sums (B, 9), band counts (B,))`` of the crops' features over every process."""
        features = colour_features(images.detach(), self.cells).double()
        index = band_of(rows.to(features.device), self.bands)
        sums = torch.zeros(self.bands, _FEATURES, dtype=torch.float64, device=features.device)
        sums.index_add_(0, index, features)
        counts = torch.bincount(index, minlength=self.bands).double()
        both = distributed.mean_over_processes(torch.cat([sums, counts[:, None]], dim=1)) * distributed.world_size()
        return both[:, :-1].cpu(), both[:, -1].cpu()

    def observe_reals(self, images: torch.Tensor, rows: torch.Tensor) -> None:
        """Add real crops (at vertical positions ``rows``) to their bands' running means."""
        sums, counts = self._per_band(images, rows)
        self.real_sum += sums
        self.real_count += counts

    def real_moments(self) -> torch.Tensor:
        """``(B, 9)`` mean real features per band (zeros where no real crop was seen yet)."""
        return self.real_sum / self.real_count.clamp(min=1)[:, None]

    def loss(self, images: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """The generator's loss on fakes ``images`` at ``rows``; updates the fakes' running moments.

        Bands no real crop has reached yet contribute nothing. The fakes' first crops in a band
        set its average outright (there is nothing to blend them with).
        """
        sums, counts = self._per_band(images, rows)
        seen = counts > 0
        batch_mean = sums / counts.clamp(min=1)[:, None]
        keep = torch.where(self.fake_seen > 0, (1 - self.fake_rate) ** counts, torch.zeros_like(counts))[:, None]
        self.fake_mean = torch.where(seen[:, None], keep * self.fake_mean + (1 - keep) * batch_mean, self.fake_mean)
        self.fake_seen += counts
        # Compared about the reals' band mean, so that a band whose fakes are shifted (all ocean
        # where the reals are ice and ocean) is asked to move, not to spread: raw second moments
        # of dark colours grow as they darken, and would pull against the mean's push.
        real = self.real_moments()
        centre = real[:, :3]
        gap = torch.where((self.real_count > 0)[:, None], centred(self.fake_mean, centre) - centred(real, centre), 0.0)
        index = band_of(rows, self.bands).cpu()
        sample_gap = gap[index].to(images.device, torch.float32)  # (N, 9): the gap of each fake's band
        c = cell_colours(images, self.cells)  # (N, 3, K)
        about = c - centre[index].to(c)[:, :, None]
        features = torch.cat([c.mean(2), products(about).mean(2)], dim=1)  # gradient only: see the module doc
        linear = (sample_gap * features).sum(1).mean()
        squared = (sample_gap.double() ** 2).sum(1).mean().float()
        return squared + (linear - linear.detach())

    def state_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name).clone() for name in _STATE}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in _STATE:
            value = state[name].to(torch.float64)
            if value.shape != getattr(self, name).shape:
                raise ValueError(
                    f"colour moments {name} has shape {tuple(value.shape)}, this run's is "
                    f"{tuple(getattr(self, name).shape)}"
                )
            setattr(self, name, value.clone())
