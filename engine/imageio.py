"""Writing rendered arrays to image files, atomically, with formats chosen by suffix.

Small and medium images only: the whole array is in memory. Huge mosaics stream through
``engine.export``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from engine.atomic import atomic_path
from engine.errors import InvalidInput, OutputError

IMAGE_SUFFIXES = (".png", ".tif", ".tiff")


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
