"""The one image loader, and writing rendered arrays to image files atomically.

Reading (:func:`read_image`, :func:`probe_image`): every image Everscape reads, dropped on the
canvas, in a training folder, a gallery render, goes through here, so all of them are read the
same way and refused the same way:

- the header is read first and the decoded size is checked against the memory budget
  (:mod:`engine.budget`) and the caller's pixel limit *before* decoding: a 1 MB PNG can declare
  gigapixels. Pillow's own decompression-bomb guard is a process-wide constant and too small for
  world maps, so it is lifted under a lock and this explicit check replaces it;
- a caller that needs only a thumbnail passes ``max_side``: JPEGs are then decoded by draft at a
  reduced scale (1/2 .. 1/8), which is cheaper in time and memory than decoding and shrinking;
- EXIF orientation is applied (``ImageOps.exif_transpose``), as a photo viewer shows the photo;
- every mode becomes 8-bit RGB with its meaning kept: 16-bit and 32-bit greyscale are scaled
  from their range (0..65535 -> 0..255) rather than clipped to white, float images from [0, 1]
  (or their own range), palettes are expanded, transparency is composited onto white, CMYK
  converted;
- a missing, truncated, damaged or not-an-image file is one line of :class:`InvalidInput`.

Writing: small and medium images only (the whole array is in memory); huge mosaics stream through
``engine.export``.
"""

from __future__ import annotations

import json
import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from engine.atomic import atomic_path
from engine.budget import check_memory
from engine.errors import InvalidInput, OutputError, first_line

IMAGE_SUFFIXES = (".png", ".tif", ".tiff")
#: Suffixes of the images Everscape reads (training folders, drops).
READ_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
#: Bytes per pixel of a decoded image of each Pillow mode (unknown modes: 4).
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "LA": 2, "PA": 2, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2, "RGB": 3}
_PIL_LOCK = threading.Lock()  # Image.MAX_IMAGE_PIXELS is a Pillow global


@dataclass(frozen=True)
class ImageInfo:
    """What an image file's header says, before any pixel is decoded."""

    width: int
    height: int
    mode: str
    format: str

    @property
    def pixels(self) -> int:
        return self.width * self.height


#: A file to read: a path, or an open binary file (a zip member, bytes in a ``BytesIO``).
ImageSource = str | os.PathLike | BinaryIO


def _as_source(source: ImageSource) -> tuple[Path | BinaryIO, Path | str]:
    """What to open, and how refusals name it (a file object by its ``name``, if it has one)."""
    if isinstance(source, str | os.PathLike):
        return Path(source), Path(source)
    return source, str(getattr(source, "name", None) or "image data")


def _open(path: Path | BinaryIO):
    """``Image.open`` (lazy: header only) with our size check in place of Pillow's global one."""
    from PIL import Image

    with _PIL_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            return Image.open(path)
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _refusal(path: Path | str, error: Exception) -> InvalidInput:
    """The one-line refusal for a file Pillow could not open or decode."""
    from PIL import UnidentifiedImageError

    if isinstance(error, FileNotFoundError):
        return InvalidInput(f"image {path} does not exist")
    if isinstance(error, IsADirectoryError):
        return InvalidInput(f"{path} is a folder, not an image")
    if isinstance(error, UnidentifiedImageError):
        return InvalidInput(f"{path} is not an image Pillow can read")
    return InvalidInput(f"cannot decode {path} (truncated or damaged: {first_line(error)[:160]})")


#: What Pillow raises on damaged files, across its format plugins (struct.error from EXIF and TIFF tags).
_DECODE_ERRORS = (
    OSError, SyntaxError, ValueError, TypeError, IndexError, KeyError, EOFError, ZeroDivisionError, struct.error,
)  # fmt: skip


def probe_image(path: ImageSource) -> ImageInfo:
    """The size, mode and format an image file declares (header only; nothing is decoded)."""
    source, path = _as_source(path)
    try:
        with _open(source) as image:
            return ImageInfo(int(image.width), int(image.height), str(image.mode), str(image.format))
    except _DECODE_ERRORS as error:
        raise _refusal(path, error) from None


def verify_image(path: ImageSource, max_pixels: int | None = None) -> ImageInfo:
    """Check a file is a whole image without decoding it: header, size, and the format's own
    integrity check (PNG chunk CRCs and the end of the stream, where Pillow has one)."""
    source, path = _as_source(path)
    try:
        with _open(source) as image:
            info = ImageInfo(int(image.width), int(image.height), str(image.mode), str(image.format))
            image.verify()
    except _DECODE_ERRORS as error:
        raise _refusal(path, error) from None
    if info.width < 1 or info.height < 1:
        raise InvalidInput(f"{path} is an empty image ({info.width}x{info.height})")
    if max_pixels is not None and info.pixels > max_pixels:
        raise InvalidInput(f"{path} is {info.width}x{info.height}, over the limit of {max_pixels:,} pixels")
    return info


def decoded_bytes(info: ImageInfo) -> int:
    """Peak bytes of decoding ``info``'s image to RGB: the decoded mode, its RGB copy, the array."""
    return info.pixels * (2 * _MODE_BYTES.get(info.mode, 4) + 6)


def read_image(path: ImageSource, *, max_pixels: int | None = None, max_side: int | None = None) -> np.ndarray:
    """Decode an image file to ``(H, W, 3)`` uint8 RGB, upright (see the module docstring).

    ``max_pixels`` refuses larger images (the caller's own limit, on top of the memory budget);
    ``max_side`` asks for a thumbnail no larger than that on either side (draft-decoded where the
    format allows), for previews that need no more.
    """
    from PIL import Image, ImageOps

    source, path = _as_source(path)
    try:
        with _open(source) as image:
            info = ImageInfo(int(image.width), int(image.height), str(image.mode), str(image.format))
            if info.width < 1 or info.height < 1:
                raise InvalidInput(f"{path} is an empty image ({info.width}x{info.height})")
            if max_pixels is not None and info.pixels > max_pixels:
                raise InvalidInput(
                    f"{path} is {info.width}x{info.height} ({info.pixels / 1e9:.3g} gigapixels), "
                    f"over the limit of {max_pixels:,} pixels"
                )
            if max_side is not None and max(info.width, info.height) > max_side:
                image.draft("RGB", (max_side, max_side))  # JPEG: decode at 1/2..1/8 scale; others: no-op
                info = ImageInfo(int(image.width), int(image.height), str(image.mode), info.format)
            check_memory(decoded_bytes(info), f"image {path} ({info.width}x{info.height} {info.mode})")
            image.load()
            upright = ImageOps.exif_transpose(image)
            rgb = to_rgb(upright)
            if max_side is not None and max(rgb.shape[:2]) > max_side:
                thumb = Image.fromarray(rgb, "RGB")
                thumb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
                rgb = np.asarray(thumb, dtype=np.uint8)
            return rgb
    except _DECODE_ERRORS as error:
        raise _refusal(path, error) from None
    except Image.DecompressionBombError as error:  # pragma: no cover - our check comes first
        raise _refusal(path, error) from None


def _scaled(values: np.ndarray, top: float) -> np.ndarray:
    """``values`` in ``0 .. top`` as uint8 ``0 .. 255`` (rounded, clipped)."""
    return np.clip(np.rint(values.astype(np.float64) * (255.0 / top)), 0, 255).astype(np.uint8)


def _grey_to_uint8(image) -> np.ndarray:
    """A 16-bit, 32-bit integer or float greyscale image as 8-bit grey, its range kept.

    16-bit (``I;16*``) spans 0..65535. ``I`` (32-bit, how Pillow often opens 16-bit PNGs and
    TIFFs) is read as 16-bit when its values fit, else from its own minimum to maximum. Float
    (``F``) is read as 0..1 when it fits, else from its own range; non-finite values become 0.
    """
    values = np.asarray(image)
    if image.mode.startswith("I;16"):
        return _scaled(values, 65535.0)
    values = values.astype(np.float64)
    values[~np.isfinite(values)] = 0.0
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if image.mode == "F" and low >= 0.0 and high <= 1.0:
        return _scaled(values, 1.0)
    if image.mode == "I" and low >= 0.0 and high <= 65535.0:
        return _scaled(values, 255.0 if high <= 255.0 else 65535.0)
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return _scaled(values - low, high - low)


def to_rgb(image) -> np.ndarray:
    """A loaded Pillow image of any mode as ``(H, W, 3)`` uint8 RGB (see the module docstring)."""
    from PIL import Image

    mode = image.mode
    if mode.startswith("I") or mode == "F":
        grey = _grey_to_uint8(image)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("LA", "PA", "La", "RGBa") or (mode == "L" and "transparency" in image.info):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image, dtype=np.uint8).reshape(image.height, image.width, 3)


def check_output_path(path: str | Path, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> Path:
    """Fail fast (before any rendering) on an unsupported suffix or an unwritable folder."""
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise InvalidInput(f"cannot write {path}: use one of {', '.join(suffixes)}")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: folder {folder} is not writable")
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder")
    return path


def write_image(path: str | Path, image: np.ndarray, description: dict | None = None) -> None:
    """Write an ``(H, W, 3)`` uint8 array as PNG or TIFF; ``description`` is embedded as JSON."""
    path = check_output_path(path)
    text = json.dumps(description) if description else None
    with atomic_path(path) as temp:
        if path.suffix.lower() == ".png":
            from PIL import Image, PngImagePlugin

            info = PngImagePlugin.PngInfo()
            if text:
                info.add_text("everscape", text)
            Image.fromarray(image, "RGB").save(temp, format="PNG", pnginfo=info)
        else:
            import tifffile

            tifffile.imwrite(temp, image, photometric="rgb", description=text, metadata=None)
