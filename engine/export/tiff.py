"""Tiled (Big)TIFF with an optional pyramid of reduced levels in SubIFDs, written from a tile stream.

tifffile writes a page from an iterator of tiles in row-major order, so the full-resolution page
streams straight from the renderer. Reduced levels must follow it in the file, and computing them
needs the pixels again: while a level streams past, each tile's 2x2 reduction (a quarter of its
bytes) goes to an anonymous temporary file beside the output, in a fixed slot per tile; the next
level's tiles are assembled from four such slots, and so on. Memory stays at a few tiles; the
extra disk is a third of the raw image at most, and the temporary files vanish even on a kill.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import tifffile

from engine.render import Cancelled

from .pipeline import ProgressMeter
from .reduce import pyramid_shapes, reduce2

COMPRESSIONS = ("zlib", "zstd", "jpeg", "none")
#: Pyramid pixels are cheap next to rendered ones; they count this much in progress reports.
PYRAMID_WEIGHT = 0.05
#: Classic TIFF addresses 4 GiB; leave room for tables and compressed-size surprises.
CLASSIC_LIMIT = 2**32 - 2**25


def needs_bigtiff(height: int, width: int, levels: int) -> bool:
    raw = 3 * sum(h * w for h, w in [(height, width), *pyramid_shapes(height, width, levels)])
    return raw * 1.02 > CLASSIC_LIMIT


def compression_args(compression: str, quality: int | None) -> dict:
    if compression not in COMPRESSIONS:
        raise ValueError(f"unknown TIFF compression {compression!r}")
    if compression == "none":
        return {"compression": None}
    args: dict = {"compression": compression}
    if quality is not None:
        args["compressionargs"] = {"level": quality}
    elif compression == "jpeg":
        args["compressionargs"] = {"level": 90}
    return args


class _Slots:
    """Fixed-size slots in an anonymous temporary file: the reduced tiles of one level."""

    def __init__(self, folder: Path, slot_shape: tuple[int, int]) -> None:
        self.file = tempfile.TemporaryFile(dir=folder, prefix=".everscape-pyramid-")  # noqa: SIM115 - closed by close()
        self.slot_bytes = slot_shape[0] * slot_shape[1] * 3

    def put(self, index: int, array: np.ndarray) -> None:
        data = np.ascontiguousarray(array).tobytes()
        written = os.pwrite(self.file.fileno(), data, index * self.slot_bytes)
        if written != len(data):
            raise OSError(28, "short write to a temporary pyramid file")

    def get(self, index: int, shape: tuple[int, int]) -> np.ndarray:
        size = shape[0] * shape[1] * 3
        data = os.pread(self.file.fileno(), size, index * self.slot_bytes)
        return np.frombuffer(data, dtype=np.uint8).reshape(shape[0], shape[1], 3)

    def close(self) -> None:
        self.file.close()


def _grid(height: int, width: int, tile: int) -> tuple[int, int]:
    return -(-height // tile), -(-width // tile)


def _tile_shape(height: int, width: int, tile: int, row: int, col: int) -> tuple[int, int]:
    return min(tile, height - row * tile), min(tile, width - col * tile)


def write_tiff(
    path: Path,
    tiles: Iterator[np.ndarray],
    *,
    height: int,
    width: int,
    tile: int,
    compression: str = "zlib",
    quality: int | None = None,
    levels: int = 0,
    description: str | None = None,
    bigtiff: bool | None = None,
    meter: ProgressMeter | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> None:
    """Write the row-major ``tiles`` (``tile x tile``, clipped at the edges) and ``levels`` reductions."""
    if tile % 16:
        raise ValueError("TIFF tiles must be a multiple of 16 pixels")
    shapes = [(height, width), *pyramid_shapes(height, width, levels)]
    bigtiff = needs_bigtiff(height, width, levels) if bigtiff is None else bigtiff
    common = dict(
        dtype=np.uint8, tile=(tile, tile), photometric="rgb", metadata=None, maxworkers=1,
        **compression_args(compression, quality),
    )  # fmt: skip
    slots: list[_Slots] = []
    try:
        with tifffile.TiffWriter(path, bigtiff=bigtiff) as tif:
            for level, (h, w) in enumerate(shapes):
                source = tiles if level == 0 else _assemble(slots[-1], shapes[level - 1], tile, cancelled)
                sink = _Slots(path.parent, (tile // 2, tile // 2)) if level < levels else None
                if sink is not None:
                    slots.append(sink)
                stream = _reduce_into(source, sink, meter, level)
                if level == 0:
                    tif.write(stream, shape=(h, w, 3), subifds=levels or None, description=description, **common)
                else:
                    tif.write(stream, shape=(h, w, 3), subfiletype=1, **common)
    finally:
        for sink in slots:
            sink.close()


def _reduce_into(
    tiles: Iterator[np.ndarray], sink: _Slots | None, meter: ProgressMeter | None, level: int
) -> Iterator[np.ndarray]:
    """Pass tiles through, saving each one's 2x2 reduction in ``sink``'s slot of the same index."""
    for index, array in enumerate(tiles):
        if sink is not None:
            sink.put(index, reduce2(array))
        if meter is not None and level > 0:  # before the yield: tifffile never resumes after the last tile
            meter.add(array.shape[0] * array.shape[1] * PYRAMID_WEIGHT, f"pyramid {level}")
        yield array


def _assemble(
    slots: _Slots, above: tuple[int, int], tile: int, cancelled: Callable[[], bool] | None
) -> Iterator[np.ndarray]:
    """The tiles of the level below ``above`` (its size), each from up to 2x2 reduced tiles of it."""
    rows_above, cols_above = _grid(*above, tile)
    height, width = (above[0] + 1) // 2, (above[1] + 1) // 2
    rows, cols = _grid(height, width, tile)
    half = tile // 2
    for row in range(rows):
        for col in range(cols):
            if cancelled is not None and cancelled():
                raise Cancelled("export was cancelled")
            out = np.empty((*_tile_shape(height, width, tile, row, col), 3), dtype=np.uint8)
            for r in range(2 * row, min(2 * row + 2, rows_above)):
                for c in range(2 * col, min(2 * col + 2, cols_above)):
                    th, tw = _tile_shape(*above, tile, r, c)
                    part = slots.get(r * cols_above + c, ((th + 1) // 2, (tw + 1) // 2))
                    y, x = (r - 2 * row) * half, (c - 2 * col) * half
                    out[y : y + part.shape[0], x : x + part.shape[1]] = part
            yield out
