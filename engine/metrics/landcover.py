"""Land cover by colour: how much ocean, ice, desert and forest a render draws, against the map.

The issue's visual goal ("coastlines, ice caps, deserts and forests recognisable") was judged by
eye; this turns it into numbers a model card can carry and a test can fail. Each pixel of a
Blue Marble-like image falls into one colour class by fixed rules on its 8-bit RGB (written for
NASA's true-colour palette, where open ocean is dark navy, shelves a lighter blue, ice and snow
near-white and grey, deserts tan, forests dark green):

- **ocean**: blue is the largest channel and exceeds red by :data:`OCEAN_BLUE_OVER_RED`;
- **ice**: every channel at least :data:`ICE_MIN` and channels within :data:`ICE_MAX_SPREAD`
  (bright and grey: ice sheets, sea ice, snow; the map's clouds-free mosaic has no clouds);
- **desert**: red the largest, red at least :data:`DESERT_MIN_RED` and red - blue at least
  :data:`DESERT_RED_OVER_BLUE` (sand and rock, tan to ochre);
- **forest**: green the largest and above blue by :data:`FOREST_GREEN_OVER_BLUE` (vegetation,
  from dark forest to grassland; black and grey pixels are not forest);
- **other**: everything else (dark soil, rock, the generator's own colours).

*Coastline* density is the share of cells (of :data:`COAST_CELL` px, so texture inside ocean or
land does not count) with water on one side and land on another: water is ocean, land is ice,
desert or forest. A render "has" a class when its share is at least :data:`MIN_SHARE` of the map's
(a quarter: drawn, if rarer than on Earth); it misses it below. The rules classify the map's own
colours, so they measure a model against its data, not against the world's true land cover.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

CLASSES = ("ocean", "ice", "desert", "forest", "other")
OCEAN_BLUE_OVER_RED = 8
ICE_MIN = 150
ICE_MAX_SPREAD = 48
DESERT_MIN_RED = 110
DESERT_RED_OVER_BLUE = 40
FOREST_GREEN_OVER_BLUE = 6
COAST_CELL = 8  # px: classes are taken per cell by majority before looking for coastlines
MIN_SHARE = 0.25  # a render's class share / the map's share below which the class counts as missing
#: Largest gap allowed between a band's ocean share in a row-dependent render and in the map.
#: Windows of the map itself as wide as the gallery (1.5 map widths at the training scale) stray
#: up to 0.06 from the whole map's, per fifth of the rows; 0.15 leaves room for that, and fails a
#: band drawn as open ocean where the map has a quarter land (the tropics of the InfinityGAN
#: shipped once: 98 % ocean against 77 %), or as one belt of land where it has half ocean.
OCEAN_BY_LATITUDE_GAP = 0.15


def classify(rgb: np.ndarray) -> np.ndarray:
    """Class index (into :data:`CLASSES`) of every pixel of an (H, W, 3) uint8 image -> (H, W) uint8."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {rgb.shape}")
    c = rgb.astype(np.int16)
    r, g, b = c[..., 0], c[..., 1], c[..., 2]
    hi, lo = c.max(axis=2), c.min(axis=2)
    out = np.full(r.shape, CLASSES.index("other"), dtype=np.uint8)
    # Later rules win: ice is tested last, as bright grey pixels can also have a largest channel.
    out[(g >= r) & (g - b >= FOREST_GREEN_OVER_BLUE)] = CLASSES.index("forest")
    out[(r >= g) & (r >= b) & (r >= DESERT_MIN_RED) & (r - b >= DESERT_RED_OVER_BLUE)] = CLASSES.index("desert")
    out[(b >= r) & (b >= g) & (b - r >= OCEAN_BLUE_OVER_RED)] = CLASSES.index("ocean")
    out[(lo >= ICE_MIN) & (hi - lo <= ICE_MAX_SPREAD)] = CLASSES.index("ice")
    return out


def _cell_majority(labels: np.ndarray, cell: int) -> np.ndarray:
    """The most common class of each ``cell`` x ``cell`` block (edges that do not fill a cell are cut)."""
    h, w = (labels.shape[0] // cell) * cell, (labels.shape[1] // cell) * cell
    blocks = (
        labels[:h, :w].reshape(h // cell, cell, w // cell, cell).transpose(0, 2, 1, 3).reshape(h // cell, w // cell, -1)
    )
    counts = np.stack([(blocks == k).sum(axis=2) for k in range(len(CLASSES))], axis=2)
    return counts.argmax(axis=2).astype(np.uint8)


def coast_density(labels: np.ndarray, cell: int = COAST_CELL) -> float:
    """Share of cells with water and land among themselves and their right and lower neighbours."""
    cells = _cell_majority(labels, cell)
    if cells.shape[0] < 2 or cells.shape[1] < 2:
        return 0.0
    water = cells == CLASSES.index("ocean")
    land = np.isin(cells, [CLASSES.index(k) for k in ("ice", "desert", "forest")])
    right = (water[:, :-1] & land[:, 1:]) | (land[:, :-1] & water[:, 1:])
    down = (water[:-1, :] & land[1:, :]) | (land[:-1, :] & water[1:, :])
    coast = np.zeros(cells.shape, dtype=bool)
    coast[:, :-1] |= right
    coast[:-1, :] |= down
    return float(coast.mean())


def cover(rgb: np.ndarray) -> dict[str, float]:
    """Class shares (summing to 1) and coastline density of one image."""
    labels = classify(rgb)
    shares = np.bincount(labels.ravel(), minlength=len(CLASSES)) / labels.size
    result = {name: float(s) for name, s in zip(CLASSES, shares)}
    result["coast"] = coast_density(labels)
    return result


#: Equal row bands a row-dependent model's render and its map are compared in, north to south.
LATITUDE_BANDS = 5


def band_covers(rgb: np.ndarray, bands: int = LATITUDE_BANDS) -> list[dict[str, float]]:
    """:func:`cover` of each of ``bands`` equal bands of rows, top to bottom (a map: north to south).

    Why: a pole-to-pole render can match the map's totals with ice in the wrong places, or miss a
    whole pole while the other makes up part of the share; per band, Antarctica is its own row.
    """
    if rgb.shape[0] < bands:
        raise ValueError(f"an image of {rgb.shape[0]} rows has no {bands} bands")
    edges = np.linspace(0, rgb.shape[0], bands + 1).round().astype(int)
    return [cover(rgb[a:b]) for a, b in itertools.pairwise(edges)]


def band_comparison(
    pixels: np.ndarray, images: list[np.ndarray], bands: int = LATITUDE_BANDS
) -> list[dict[str, dict[str, float]]]:
    """Class shares per band of rows (:func:`band_covers`), a render against the data's images
    (each image's bands pooled by pixels), north to south: for a row-dependent model, whose rows
    stand for the map's latitudes. The coastline density is left out: it is not a share."""
    per_image = [[(c, im.shape[0] * im.shape[1]) for c in band_covers(im, bands)] for im in images]
    reference = [pooled(list(band)) for band in zip(*per_image)]
    keep = CLASSES[:-1]
    return [
        {"render": {k: got[k] for k in keep}, "data": {k: ref[k] for k in keep}}
        for got, ref in zip(band_covers(pixels, bands), reference)
    ]


def compare(render: dict[str, float], data: dict[str, float], min_share: float = MIN_SHARE) -> dict[str, Any]:
    """A render's cover against the data's: per measure, both values, their ratio, whether it is drawn.

    Measures the data lacks (share 0) are reported without a verdict: nothing to recognise.
    """
    rows = {}
    for key in (*CLASSES[:-1], "coast"):
        ref, got = data[key], render[key]
        ratio = got / ref if ref > 0 else None
        rows[key] = {
            "render": got,
            "data": ref,
            "ratio": ratio,
            "pass": None if ratio is None else ratio >= min_share,
        }
    return {"min_share": min_share, "measures": rows}


def verdicts(comparison: dict[str, Any]) -> dict[str, Any]:
    """Model-card goals (``engine.release``) of a :func:`compare` result: one per measure with a
    verdict, and ``ocean_by_latitude`` where the result has bands (:func:`band_comparison`)."""
    limit = comparison["min_share"]
    goals = {
        f"draws_{key}": {"value": row["ratio"], "limit": limit, "pass": row["pass"]}
        for key, row in comparison["measures"].items()
        if row["pass"] is not None
    }
    if comparison.get("by_latitude"):
        goals["ocean_by_latitude"] = latitude_verdict(comparison["by_latitude"])
    return goals


def latitude_verdict(bands: list[dict[str, dict[str, float]]]) -> dict[str, Any]:
    """The worst band's gap between render and map in ocean share, against :data:`OCEAN_BY_LATITUDE_GAP`.

    Why: the totals and the per-class ratios pass for a map whose every latitude is either all
    land or all ocean (one belt of land round the world, open ocean across the tropics), as long
    as the belts add up; continents are land *and* ocean at one latitude.
    """
    worst = max(abs(b["render"]["ocean"] - b["data"]["ocean"]) for b in bands)
    return {"value": worst, "limit": OCEAN_BY_LATITUDE_GAP, "pass": worst <= OCEAN_BY_LATITUDE_GAP}


def pooled(covers: list[tuple[dict[str, float], int]]) -> dict[str, float]:
    """Covers of several images ``(cover, pixels)`` as one: each measure weighted by pixel count."""
    if not covers:
        raise ValueError("no images to pool")
    total = sum(pixels for _, pixels in covers)
    return {key: sum(c[key] * pixels for c, pixels in covers) / total for key in covers[0][0]}
