"""Real crops to measure against, from the training stack's datasets, at any size and zoom.

The metrics need "``count`` random ``S x S`` crops of the real data, optionally zoomed out by an
integer factor ``N`` (``N*S`` px crops box-averaged to ``S``)", for several crop sizes from one set
of decoded images. :func:`engine.train.datasets.open_dataset` resolves ``--data`` (a basemap name,
an image file or a folder) and decodes once; each request then draws from a
:class:`~engine.train.datasets.CropDataset` over the same sources with its own seed (no flips: we
measure the data as it is).

``band``: measure only inside a band of the width (fractions, e.g. the ``--holdout`` band a model
was trained without), to test on terrain the model never saw.

``sampling``: where crops fall (:data:`engine.train.datasets.SAMPLINGS`); metrics use
``"centre"``, as training does, so every row counts about as much as the model was taught it
does. Corner offsets (``"offset"``, what cards measured before) see a map's top and bottom rows,
its polar ice, a crop side's worth less often: the shipped ∞-GAN's 48 quick frames of 256 px
scored 133.3 against offset crops and 113.5 against centred ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine.errors import InvalidInput
from engine.train.datasets import BASEMAPS, CropDataset, load_image, open_dataset

__all__ = ["BASEMAPS", "RealImages", "zoom_out"]


def zoom_out(images: torch.Tensor, factor: int) -> torch.Tensor:
    """``(N, C, f*S, f*S)`` -> ``(N, C, S, S)`` by averaging ``f x f`` boxes."""
    return images if factor == 1 else F.avg_pool2d(images, factor)


@dataclass
class RealImages:
    """Decoded real images (or image files, for folders), cropped on demand."""

    sources: Sequence[np.ndarray | Path]
    name: str
    scale: float = 1.0  # preparation of files decoded on demand (arrays are already prepared)
    drop_bottom: float = 0.0

    @classmethod
    def load(
        cls, data: str, band: tuple[float, float] | None = None, scale: float = 1.0, drop_bottom: float = 0.0
    ) -> RealImages:
        """``--data`` as images; with ``band``, only the columns inside it (all decoded in memory).

        ``scale`` and ``drop_bottom`` prepare the data as a model was trained on it (the band is
        taken after them, in fractions of the prepared width, as the training ``holdout`` is).
        """
        dataset = open_dataset(data, crop=1, hflip=False, scale=scale, drop_bottom_fraction=drop_bottom)
        whole = cls(dataset.sources, dataset.name, scale, drop_bottom)
        return whole if band is None else whole.within(band)

    def within(self, band: tuple[float, float]) -> RealImages:
        """Only the columns inside ``band`` (fractions of each prepared width), all in memory.

        Slices the images already decoded, so a caller that needs both the whole data and a band
        of it (the ScaleInv reference) decodes once.
        """
        lo, hi = band
        if not 0.0 <= lo < hi <= 1.0:
            raise InvalidInput(f"band must be 0 <= start < end <= 1, not {band}")
        sources = [im[:, int(np.floor(lo * im.shape[1])) : int(np.ceil(hi * im.shape[1]))] for im in self.images()]
        return RealImages(sources, f"{self.name}[{lo:g}..{hi:g}]", self.scale, self.drop_bottom)

    def images(self, limit: int | None = None) -> list[np.ndarray]:
        """The first ``limit`` images (all when None), decoded and prepared: whole-image statistics."""
        chosen = self.sources if limit is None else self.sources[:limit]
        return [s if isinstance(s, np.ndarray) else load_image(s, self.scale, self.drop_bottom) for s in chosen]

    def fits(self, side: int) -> bool:
        """Whether ``side`` px crops can be cut (checked on in-memory images; files are trusted)."""
        return any(not isinstance(s, np.ndarray) or min(s.shape[:2]) >= side for s in self.sources)

    def fitting_side(self, side: int) -> int:
        """``side`` halved until these images hold crops of it: the frame to measure a model on.

        A model whose coarsest level trains on crops wider than a held-out band (∞-GAN ``small4``:
        512 px real crops, Blue Marble's 270 px band) is still measured on unseen terrain, at the
        largest frame the band holds; an odd side that does not fit is left for :meth:`crops`'
        one-line error.
        """
        while side > 1 and side % 2 == 0 and not self.fits(side):
            side //= 2
        return side

    def crops(self, count: int, size: int, seed: int, zoom: int = 1, sampling: str = "centre") -> torch.Tensor:
        """``count`` random ``size * zoom`` px crops zoomed out to ``size``: ``(N, 3, S, S)`` in [-1, 1],
        placed by ``sampling`` (module doc)."""
        side = size * zoom
        usable = [s for s in self.sources if not isinstance(s, np.ndarray) or min(s.shape[:2]) >= side]
        if not usable:
            raise InvalidInput(f"no image in {self.name} is at least {side}x{side} px ({size} px crops x{zoom})")
        prepared = {"scale": self.scale, "drop_bottom_fraction": self.drop_bottom}
        dataset = CropDataset(usable, side, name=self.name, hflip=False, seed=seed, sampling=sampling, **prepared)
        per_draw = max(1, 2**24 // (side * side))  # bound the full-size crops held at once (64 MB)
        parts = []
        for first in range(0, count, per_draw):
            parts.append(zoom_out(dataset.sample(min(per_draw, count - first)).images, zoom))
        return torch.cat(parts)
