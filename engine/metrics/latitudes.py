"""Land cover by latitude on pole-to-pole strips: does a row-dependent model draw each band's map?

Why a measure of its own: a world model can match the map's totals while drawing them at the
wrong latitudes (the shipped InfinityGAN's gallery has ice, but not at the south pole, where the
map is 91 % ice). ``models ship`` compares its 4096-px gallery by band of rows, which takes
minutes; while training, a few narrow strips from pole to pole (seconds on a CPU) tell whether a
run is finding a pole, and that is what ``everscape eval --latitudes`` measures. Strips lie far
apart in x (:data:`STRIP_SPACING`), so they show unrelated terrain; each spans the model's data
rows (:meth:`~engine.models.base.Generator.data_rows`), which stand for the map's height.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import InvalidInput
from engine.geometry import Rect
from engine.metrics import landcover
from engine.metrics.realdata import RealImages
from engine.models.base import Generator
from engine.render import Renderer
from engine.world import World

#: World px between the strips' left edges: more than a map's width on any shipped recipe.
STRIP_SPACING = 4000
#: Real images of a folder pooled for the data's bands (a basemap is one image).
DATA_IMAGES = 32


@dataclass(frozen=True)
class LatitudeOptions:
    strips: int = 8  # 3 strips of 384 px put one ice blob at 6-12 % of a band, or none at 0-1 %
    width: int = 384  # px per strip
    bands: int = 10  # equal bands of rows, north to south
    seed: int = 0

    def check(self) -> None:
        if self.strips < 1 or self.width < 1 or self.bands < 1:
            raise InvalidInput("latitude strips need at least one strip, one px and one band")


def latitude_strips(model: Generator, ref: str, options: LatitudeOptions, device: Any = None) -> np.ndarray:
    """The strips side by side, ``(rows, strips * width, 3)`` uint8, at world seed ``options.seed``."""
    rows = model.data_rows()
    if rows is None:
        raise InvalidInput(f"{ref} draws every row alike: land cover by latitude is for row-dependent models")
    options.check()
    top, bottom = rows
    if bottom - top < options.bands:
        raise InvalidInput(f"{ref}'s {bottom - top} data rows cannot hold {options.bands} bands")
    rects = [Rect(k * STRIP_SPACING, top, options.width, bottom - top) for k in range(options.strips)]
    renderer = Renderer(model, device)
    return np.concatenate(renderer.render(World(model=ref, seed=options.seed), rects), axis=1)


def latitude_cover(
    model: Generator, ref: str, data: RealImages, options: LatitudeOptions, device: Any = None
) -> dict[str, Any]:
    """Class shares per band of rows, strips against the data's whole images, and the options."""
    pixels = latitude_strips(model, ref, options, device)
    bands = landcover.band_comparison(pixels, data.images(DATA_IMAGES), options.bands)
    return {"strips": options.strips, "width": options.width, "seed": options.seed, "bands": bands}


def summary(result: dict[str, Any]) -> str:
    """A markdown table: per band, the render's share of each class and the data's, in %."""
    keys = landcover.CLASSES[:-1]
    head = "| band | " + " | ".join(keys) + " |"
    lines = [
        f"Land cover by latitude ({result['strips']} strips of {result['width']} px; render % / data %)",
        "",
        head,
        "|---" * (len(keys) + 1) + "|",
    ]
    for k, band in enumerate(result["bands"]):
        cells = " | ".join(f"{100 * band['render'][c]:.1f} / {100 * band['data'][c]:.1f}" for c in keys)
        lines.append(f"| {k + 1} | {cells} |")
    return "\n".join(lines)
