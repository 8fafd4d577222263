"""Colours for coarse previews: the affine map from a network's early RGB to its real render's.

A preview (:meth:`engine.models.base.Generator.render_preview`) is the image a network draws on its
way to full resolution, InfinityGAN's skip path cut after a few blocks. Its layout is the real
render's, its colours are not: the later blocks still add to every channel. Per preview level an
affine map ``rgb' = A @ (r, g, b, 1)`` (3x4) from the raw preview to the 8-bit colours of the
box-downsampled real render removes most of the difference. Measured on the shipped InfinityGAN
(fitted on :data:`CALIBRATION_RECT` of seed 0), the mean absolute error against the box-downsampled
real render is 18..21 LSB at level 1 and 43..45 at level 2 uncalibrated (two places), and 2..9 and
3..14 LSB calibrated (five places of other seeds, the worst where the strip is the calibration's).

The map is fitted by least squares from one real render of a fixed place (:func:`calibration_rect`,
about 1 s on a CPU for the shipped model) and depends on the weights only, so it is kept per
checkpoint SHA-256: in memory, and in the user's cache folder, where a file that does not hold
finite maps of the right shape and a sane size is ignored (the map is then fitted again).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from engine.atomic import write_bytes_atomic
from engine.errors import EverscapeError
from engine.folders import cache_dir
from engine.geometry import Rect, aligned_cover

#: The world the map is fitted on: a 256 px strip across the rows around the horizon (a world
#: map's latitudes from pole to pole), so the fit sees every kind of ground the model draws.
CALIBRATION_SEED = 0
CALIBRATION_RECT = Rect(0, -640, 256, 1280)
#: Largest coefficient a kept map may have: raw RGB is about [-1, 1] and the targets 0..255, so a
#: working model's gains and offsets are in the hundreds; far beyond is a broken fit or file.
MAX_COEFFICIENT = 1e4
#: Bumped whenever the fitting recipe changes, so maps fitted the old way are fitted again.
RECIPE = 1
_MEMORY: dict[str, PreviewCalibration] = {}


class PreviewCalibration:
    """Per preview level, a ``(3, 4)`` float64 map from raw preview RGB (and 1) to 8-bit RGB."""

    def __init__(self, maps: Mapping[int, torch.Tensor]) -> None:
        self.maps = {int(level): m.detach().to("cpu", torch.float64) for level, m in maps.items()}

    @classmethod
    def fit(cls, real: np.ndarray, raws: Mapping[int, torch.Tensor]) -> PreviewCalibration:
        """Least-squares maps from each level's raw preview ``(3, H >> level, W >> level)`` of a place
        to ``real`` ``(H, W, 3)`` uint8, that place's level-0 render, box-downsampled to the level."""
        maps = {}
        for level, raw in raws.items():
            target = box_downsample(real, level)
            if raw.shape != target.shape:
                raise ValueError(f"level {level} preview is {tuple(raw.shape)}, its target {tuple(target.shape)}")
            pixels = raw.detach().cpu().double().reshape(3, -1)
            inputs = torch.cat([pixels, torch.ones_like(pixels[:1])])
            solution = torch.linalg.lstsq(inputs.T, target.reshape(3, -1).T).solution  # (4, 3)
            maps[level] = torch.round(solution.T, decimals=4)  # lstsq's last bits vary from run to run
        return cls(maps)

    def apply(self, level: int, raw: torch.Tensor) -> np.ndarray:
        """``(N, 3, h, w)`` raw preview -> ``(N, h, w, 3)`` uint8, rounding half up as ``to_uint8``.

        Elementwise, channel by channel (no matrix product, whose kernel may sum differently with
        the tensor's shape), so a pixel's colour never depends on the region it was rendered in."""
        m, x = self.maps[level], raw.detach().cpu().double()
        channels = [m[o, 0] * x[:, 0] + m[o, 1] * x[:, 1] + m[o, 2] * x[:, 2] + m[o, 3] for o in range(3)]
        rgb = torch.stack(channels, dim=-1).clamp(0.0, 255.0)
        return torch.floor(rgb + 0.5).to(torch.uint8).cpu().numpy()

    def to_json(self) -> dict[str, Any]:
        return {str(level): m.tolist() for level, m in sorted(self.maps.items())}

    @classmethod
    def from_json(cls, doc: Any, levels: tuple[int, ...]) -> PreviewCalibration | None:
        """The maps in ``doc`` if it holds exactly ``levels``, each 3x4 finite numbers of at most
        :data:`MAX_COEFFICIENT`; None otherwise (a damaged or foreign file is refitted, not trusted)."""
        if not isinstance(doc, dict) or sorted(doc) != sorted(str(level) for level in levels):
            return None
        maps = {}
        for level in levels:
            rows = doc[str(level)]
            if not (isinstance(rows, list) and len(rows) == 3 and all(_map_row(row) for row in rows)):
                return None
            maps[level] = torch.tensor(rows, dtype=torch.float64)
        return cls(maps)


def _map_row(row: Any) -> bool:
    return (
        isinstance(row, list)
        and len(row) == 4
        and all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and abs(v) <= MAX_COEFFICIENT
            for v in row
        )
    )


def box_downsample(real: np.ndarray, level: int) -> torch.Tensor:
    """``(H, W, 3)`` uint8 -> ``(3, H >> level, W >> level)`` float64 means of ``2**level`` squares:
    what a zoomed-out view of the real render shows."""
    image = torch.from_numpy(np.ascontiguousarray(real)).permute(2, 0, 1).double()
    return F.avg_pool2d(image[None], 2**level)[0]


def calibration_rect(block: int) -> Rect:
    """:data:`CALIBRATION_RECT` grown to whole level-0 blocks of ``block`` px (so whole preview blocks
    at every level too)."""
    return aligned_cover(CALIBRATION_RECT, block)


def cache_file() -> Path:
    """Where fitted maps persist: ``$EVERSCAPE_CACHE`` (as the smoke verdicts) or the cache folder."""
    env = os.environ.get("EVERSCAPE_CACHE")
    return (Path(env) if env else cache_dir()) / "preview_calibration.json"


def _load_file() -> dict[str, Any]:
    try:
        stored = json.loads(cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(stored, dict) or stored.get("recipe") != RECIPE or not isinstance(stored.get("models"), dict):
        return {}
    return stored["models"]


def cached_calibration(sha: str, levels: tuple[int, ...]) -> PreviewCalibration | None:
    """The maps of the checkpoint with SHA-256 ``sha`` for ``levels``: from memory, else the cache
    file (valid entries only), else None."""
    found = _MEMORY.get(sha)
    if found is None:
        found = PreviewCalibration.from_json(_load_file().get(sha), levels)
    if found is not None and sorted(found.maps) != sorted(levels):
        found = None
    if found is not None:
        _MEMORY[sha] = found
    return found


def remember_calibration(sha: str, calibration: PreviewCalibration) -> None:
    """Keep the maps in memory and in the cache file (atomically; a read-only cache only costs a
    refit next time)."""
    _MEMORY[sha] = calibration
    document = {"recipe": RECIPE, "models": {**_load_file(), sha: calibration.to_json()}}
    try:
        cache_file().parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(cache_file(), json.dumps(document).encode("utf-8"))
    except (OSError, EverscapeError):
        pass


def forget_calibrations() -> None:
    """Drop the in-memory maps (tests; the file stays)."""
    _MEMORY.clear()
