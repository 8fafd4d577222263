"""Colour quantiles: a loss that asks each band of crops (of latitudes, for InfinityGAN; ∞-GAN's
coarsest level, as one band) for the reals' colours, mode by mode, where the colour moments ask
only for their mean and covariance.

Why (not in the paper): with the colour moments (:mod:`engine.train.colour_moments`) and a learnt
latitude table, the shipped InfinityGAN draws Antarctica's ice again, but no desert: the Sahara's
latitudes come out forest. A band's two moments cannot tell those apart. Between 15 and 30 degrees
north the map is mostly ocean, some green land and some tan desert; a band of ocean and a greener
land can have the same mean colour and nearly the same covariance. What tells them apart is the
*distribution* of the band's colours: the reals have a mode of tan cells that the fakes lack.

What it matches, per band of vertical positions (as the moments: ``bands`` equal bands of
[-1, 1], averaged ``cells × cells`` colours of each crop): the one-dimensional distributions of
the cells' colours along :data:`DIRECTIONS` fixed directions of RGB space (a sliced Wasserstein
distance; in three dimensions a few dozen directions pin a distribution down).

How: each band keeps a pool of recent real cells and one of recent fake cells (ring buffers,
gathered from every process, part of the trainer's saved state so a resume continues exactly). A fake
cell's projection has a rank among the fake pool's; the real pool's value at the same rank is
where one-dimensional optimal transport sends it. The gradient pulls each cell towards that
target, so the *brightest-red* fakes of a band are asked to become the reals' tan, while its
ocean cells, whose rank matches ocean in the reals, are left alone. A band of fakes with the
reals' distribution asks nothing of its crops, however different each crop is from the band's
mean (a crop of ocean and one of desert in a band of both are each right). The pools, not the
batch, supply the ranks: a batch of 4-8 crops holds about one crop a band.

The value reported is the mean squared distance from each cell to its target (per direction);
only its gradient is the transport one (value and gradient are set apart as in the moments).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from engine.train import distributed
from engine.train.colour_moments import BANDS, CELLS, band_of, cell_colours

#: Directions of RGB space the colours are compared along (a half-sphere: a direction and its
#: opposite give the same transport).
DIRECTIONS = 24
#: Real crops each band keeps: 64, refilled every ~150 steps at 8 reals a step.
REAL_CROPS = 64
#: Fake crops each band keeps: 16, a few dozen steps, recent enough to follow the generator.
FAKE_CROPS = 16
#: A band is compared once its real pool holds this many crops.
MIN_REAL_CROPS = 4
#: The same in cells of the 8 x 8 grid (cells of about 17 px on InfinityGAN's patch).
REAL_POOL, FAKE_POOL, MIN_REAL = (crops * CELLS * CELLS for crops in (REAL_CROPS, FAKE_CROPS, MIN_REAL_CROPS))


def half_sphere(count: int) -> torch.Tensor:
    """``(count, 3)`` unit vectors spread evenly over the upper half-sphere (a Fibonacci spiral):
    deterministic, so there is no random state to save, and even, so no colour axis is favoured."""
    i = torch.arange(count, dtype=torch.float64) + 0.5
    z = i / count  # evenly spaced heights on (0, 1): equal areas of the half-sphere
    radius = (1 - z**2).sqrt()
    angle = i * math.pi * (3 - math.sqrt(5))
    return torch.stack([radius * angle.cos(), radius * angle.sin(), z], dim=1).float()


class RingPools:
    """Per-band ring buffers of colour cells: the most recent ``size`` cells each band has seen."""

    def __init__(self, bands: int, size: int) -> None:
        self.values = torch.zeros(bands, size, 3)
        self.filled = torch.zeros(bands, dtype=torch.long)
        self.head = torch.zeros(bands, dtype=torch.long)

    def push(self, band: int, cells: torch.Tensor) -> None:
        """Add ``(K, 3)`` cells to ``band``, overwriting its oldest when full."""
        size = self.values.shape[1]
        cells = cells[-size:]
        at = (self.head[band] + torch.arange(len(cells))) % size
        self.values[band, at] = cells.to(self.values)
        self.head[band] = (self.head[band] + len(cells)) % size
        self.filled[band] = min(int(self.filled[band]) + len(cells), size)

    def cells(self, band: int) -> torch.Tensor:
        """``(filled, 3)``: every cell ``band`` holds (in buffer order; the ranks ignore order)."""
        return self.values[band, : int(self.filled[band])]


class ColourQuantiles:
    """Pools of real and fake cell colours per band, and the generator's transport loss between them.

    A *band* is whatever the caller groups crops by, named by index: a band of latitudes
    (:class:`LatitudeColourQuantiles`), or one band for all of ∞-GAN's coarsest-level patches
    (a stationary model: every crop is drawn from the same distribution)."""

    def __init__(
        self,
        bands: int = BANDS,
        cells: int = CELLS,
        real_pool: int = REAL_POOL,
        fake_pool: int = FAKE_POOL,
        directions: int = DIRECTIONS,
        min_real: int = MIN_REAL,
    ) -> None:
        if min(bands, cells, real_pool, fake_pool, directions) < 1 or not 0 < min_real <= real_pool:
            raise ValueError("colour quantiles need positive sizes and 0 < min_real <= real_pool")
        self.bands, self.cells, self.min_real = bands, cells, min_real
        self.reals = RingPools(bands, real_pool)
        self.fakes = RingPools(bands, fake_pool)
        self.directions = half_sphere(directions)

    def _observe(self, pools: RingPools, images: torch.Tensor, index: torch.Tensor) -> None:
        """Push every process's crops (cells ``(N, 3, K)``) into their bands' pools, in rank order,
        so the pools are the same on every process. A collective: every process passes the same
        number of crops (the trainers' per-process batches are equal)."""
        cells = cell_colours(images.detach(), self.cells).float()
        index = index.to(cells.device).float()
        everyone = distributed.all_gather_cat(torch.cat([cells.flatten(1), index[:, None]], dim=1)).cpu()
        for crop in everyone:
            pools.push(int(crop[-1]), crop[:-1].view(3, -1).T)

    def _index(self, bands: torch.Tensor | int, count: int) -> torch.Tensor:
        """Band indices ``(count,)`` from one band for every crop or one per crop, checked."""
        index = torch.full((count,), bands, dtype=torch.long) if isinstance(bands, int) else bands.long().cpu()
        if index.shape != (count,) or int(index.min()) < 0 or int(index.max()) >= self.bands:
            raise ValueError(f"colour quantiles: need {count} band indices in [0, {self.bands}), got {bands}")
        return index

    def observe_reals(self, images: torch.Tensor, bands: torch.Tensor | int) -> None:
        """Add real crops to their bands' pools (``bands``: one index for all, or one per crop)."""
        self._observe(self.reals, images, self._index(bands, len(images)))

    def targets(self, band: int, projected: torch.Tensor) -> torch.Tensor:
        """``(K, D)`` projections of fake cells -> where transport onto ``band``'s reals sends them:
        the real pool's value at each projection's rank in the fake pool, per direction."""
        fake = torch.sort(self.fakes.cells(band) @ self.directions.T, dim=0).values  # (F, D)
        real = torch.sort(self.reals.cells(band) @ self.directions.T, dim=0).values  # (R, D)
        columns, fake_rows = projected.T.contiguous(), fake.T.contiguous()  # (D, K), (D, F)
        below = torch.searchsorted(fake_rows, columns, right=False)
        upto = torch.searchsorted(fake_rows, columns, right=True)
        quantile = (below + upto).double() / (2 * len(fake))  # mid-rank: ties share their middle
        index = (quantile * len(real)).long().clamp(0, len(real) - 1)  # (D, K)
        return real.gather(0, index.T)

    def loss(self, images: torch.Tensor, bands: torch.Tensor | int) -> torch.Tensor:
        """The generator's loss on fakes ``images`` in ``bands``; adds them to the fake pools first
        (the current batch takes part in its own ranks). Bands whose real pool holds fewer than
        ``min_real`` cells contribute nothing."""
        index = self._index(bands, len(images))
        self._observe(self.fakes, images, index)
        c = cell_colours(images, self.cells)  # (N, 3, K), with gradient
        projected = torch.einsum("nck,dc->nkd", c.float(), self.directions.to(c.device))  # (N, K, D)
        gaps = torch.zeros_like(projected)
        for band in index.unique().tolist():
            if int(self.reals.filled[band]) < self.min_real:
                continue
            chosen = (index == band).to(c.device)
            mine = projected[chosen].detach()
            target = self.targets(band, mine.flatten(0, 1).cpu()).to(mine).view_as(mine)
            gaps[chosen] = mine - target
        # 3 / D: the directions' outer products sum to about D/3 times the identity, so a cell's
        # gradient is about its own colour's distance to its target, as the moments' mean term.
        linear = (gaps * projected).sum(2).mean() * 3 / len(self.directions)
        squared = (gaps.double() ** 2).mean().float()
        return squared + (linear - linear.detach())

    def state_dict(self) -> dict[str, Any]:
        state = {}
        for name, pools in (("real", self.reals), ("fake", self.fakes)):
            state[f"{name}_pool"] = pools.values.clone()
            state[f"{name}_filled"] = pools.filled.clone()
            state[f"{name}_head"] = pools.head.clone()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, pools in (("real", self.reals), ("fake", self.fakes)):
            values = state[f"{name}_pool"]
            if values.shape != pools.values.shape:
                raise ValueError(
                    f"colour quantiles {name}_pool has shape {tuple(values.shape)}, this run's is "
                    f"{tuple(pools.values.shape)}"
                )
            pools.values = values.float().clone()
            pools.filled = state[f"{name}_filled"].long().clone()
            pools.head = state[f"{name}_head"].long().clone()


class LatitudeColourQuantiles(ColourQuantiles):
    """:class:`ColourQuantiles` whose bands are equal bands of vertical positions in [-1, 1]."""

    def observe_reals(self, images: torch.Tensor, rows: torch.Tensor) -> None:  # type: ignore[override]
        """Add real crops (at vertical positions ``rows``) to their bands' pools."""
        super().observe_reals(images, band_of(rows, self.bands))

    def loss(self, images: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """The generator's loss on fakes ``images`` at vertical positions ``rows``."""
        return super().loss(images, band_of(rows, self.bands))
