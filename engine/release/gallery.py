"""The gallery render that ships with a model, and its land cover against the data's."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from engine.atomic import atomic_path
from engine.export import export
from engine.geometry import Rect
from engine.imageio import read_image
from engine.metrics import landcover
from engine.metrics.realdata import RealImages
from engine.models.base import Generator
from engine.render import Renderer
from engine.world import World

GALLERY = (4096, 2048)
QUICK_GALLERY = (512, 256)
GALLERY_JPEG_QUALITY = 90


def render_gallery(
    model: torch.nn.Module, world: World, path: Path, size: tuple[int, int], device: str | None
) -> dict[str, Any]:
    """A ``w x h`` render centred on the world origin, saved as a JPEG at ``path``.

    Rendered by the exporter (streamed, bounded memory) to a temporary PNG, then re-encoded:
    a 4096x2048 render of terrain is about 11 MB as PNG and about a tenth of that as a quality-90
    JPEG, and gallery images live in the repository, where every re-ship adds to its history.
    The decoded image (25 MB for 4096x2048) is the only full-size buffer.
    """
    w, h = size
    rect = Rect(-w // 2, -h // 2, w, h)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.stem}.{os.getpid()}.", suffix=".part.png", dir=path.parent)
    os.close(handle)
    png = Path(name)
    try:
        result = export(Renderer(model, device), world, rect, png)
        assert result is not None  # one process: this process writes
        with atomic_path(path) as jpeg:
            gallery = Image.fromarray(read_image(png), "RGB")
            gallery.save(jpeg, format="JPEG", quality=GALLERY_JPEG_QUALITY, optimize=True)
    finally:
        png.unlink(missing_ok=True)
    return {
        "path": str(path),
        "size": [w, h],
        "rect": str(rect),
        "seed": world.seed,
        "seconds": round(result.seconds, 1),
    }


LANDCOVER_DATA_IMAGES = 32  # images of a folder pooled for its land cover (a basemap is one image)


def gallery_rows(model: Generator, size: Sequence[int]) -> tuple[int, int] | None:
    """Rows of a ``w x h`` gallery (:func:`render_gallery`, centred on the origin) that show a
    row-dependent model's data rows (:meth:`Generator.data_rows`), clipped to it; None: all rows."""
    rows = model.data_rows()
    if rows is None:
        return None
    h = int(size[1])
    return max(rows[0] + h // 2, 0), min(rows[1] + h // 2, h)


def gallery_landcover(gallery: Path, data: RealImages, rows: tuple[int, int] | None = None) -> dict[str, Any]:
    """Land cover of the gallery render against the prepared data's (whole images).

    ``rows`` (:func:`gallery_rows`) keeps a row-dependent model's gallery to the rows that stand
    for the data's height: the data runs pole to pole once, and rows beyond the poles are the
    model's extrapolation, not a part of the map. Measured on InfinityGAN's shipped gallery: ice
    3.2 % beyond its poles, 1.0 % between them, 1.8 % over the whole render.
    """
    pixels = read_image(gallery)
    if rows is not None:
        pixels = pixels[rows[0] : rows[1]]
    images = data.images(LANDCOVER_DATA_IMAGES)
    reference = landcover.pooled([(landcover.cover(im), im.shape[0] * im.shape[1]) for im in images])
    result = landcover.compare(landcover.cover(pixels), reference)
    if rows is not None:
        result["gallery_rows"] = list(rows)
        result["by_latitude"] = landcover.band_comparison(pixels, images)
    return result
