"""Export any world rectangle, of any size, to a tiled (Big)TIFF or a PNG with bounded memory.

    result = export(renderer, world, Rect(x, y, w, h), "out.tif", ExportOptions(pyramid=-1))

The output is a grid of tiles (:mod:`.plan`) rendered in row-major order through a block cache
that renders every model block once, handed to a writer thread (:mod:`.pipeline`) that encodes
them into the file (:mod:`.tiff`, :mod:`.png`). The file is written under a temporary name and
renamed at the end (:func:`engine.atomic.atomic_path`): a cancelled, failed or killed export
never leaves a file under the final name. The world description (its JSON document, with any
override tensors) and the rectangle are embedded, so an export can be reproduced from itself.
"""

from __future__ import annotations

import base64
import functools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.torch import save as save_tensors

from engine.atomic import atomic_path
from engine.errors import InvalidInput
from engine.geometry import Rect
from engine.imageio import check_output_path
from engine.render import Cancelled, Renderer
from engine.world import World

from .distributed import TileExchange
from .limits import check_export
from .pipeline import ExportProgress, ProgressCallback, ProgressMeter, run_pipeline
from .plan import ExportPlan, TileRenderer, output_rect
from .png import PngStreamWriter
from .reduce import auto_levels, pyramid_shapes
from .tiff import COMPRESSIONS as TIFF_COMPRESSIONS
from .tiff import PYRAMID_WEIGHT, write_tiff

__all__ = [
    "COMPRESSIONS",
    "ExportOptions",
    "ExportPlan",
    "ExportProgress",
    "ExportResult",
    "TileExchange",
    "estimate",
    "export",
    "format_of",
    "plan_export",
    "raw_bytes",
]

FORMATS = {".tif": "tiff", ".tiff": "tiff", ".png": "png"}
COMPRESSIONS = {"tiff": TIFF_COMPRESSIONS, "png": ("zlib", "none")}
DEFAULT_TILE = {"tiff": 512, "png": 128}  # TIFF tile side; PNG strip height
STRIP_BYTES = 32 * 2**20  # PNG strips of very wide images are cut to about this size
#: Override tensors larger than this are not embedded (the description says so).
EMBED_TENSOR_BYTES = 16 * 2**20


@dataclass(frozen=True)
class ExportOptions:
    compression: str = "zlib"  # tiff: zlib | zstd | jpeg | none; png: zlib | none
    quality: int | None = None  # zlib/zstd level or JPEG quality (None: the codec's default)
    pyramid: int = 0  # TIFF reduced levels; -1: until the smallest fits one tile
    tile: int = 0  # TIFF tile side (multiple of 16) or PNG strip height; 0: format default
    level: int = 0  # model level whose pixel coordinates the rect is in
    scale_level: int = 0  # write at 1 / 2**scale_level of that level
    bigtiff: bool | None = None  # None: only when the file could pass 4 GiB


@dataclass(frozen=True)
class ExportResult:
    path: Path
    width: int
    height: int
    levels: int  # reduced pyramid levels written
    seconds: float  # wall time of the whole export
    render_seconds: float  # time inside the model (this process)
    blocks_rendered: int
    discarded_fraction: float  # rendered block pixels not in the output (this process)
    bytes: int


def format_of(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InvalidInput(f"cannot write {path}: use one of {', '.join(FORMATS)}")
    return FORMATS[suffix]


def plan_export(renderer: Renderer, rect: Rect, path: str | Path, options: ExportOptions) -> tuple[ExportPlan, int]:
    """Validate options for ``path``'s format; the output grid and the number of pyramid levels."""
    kind = format_of(path)
    if options.compression not in COMPRESSIONS[kind]:
        raise InvalidInput(f"{kind.upper()} compression must be one of {', '.join(COMPRESSIONS[kind])}")
    make = functools.partial(
        ExportPlan.make, renderer.model, rect, level=options.level, scale_level=options.scale_level
    )
    if kind == "tiff":
        tile = tiff_tile(options)
        plan = make(tile_w=tile, tile_h=tile)
        levels = auto_levels(plan.out.h, plan.out.w, tile) if options.pyramid < 0 else options.pyramid
        if levels and min(pyramid_shapes(plan.out.h, plan.out.w, levels)[-1]) < 1:
            raise InvalidInput(f"{levels} pyramid levels is more than this image has")
        block = renderer.block_size(plan.render_level)
        check_export(plan, levels, path, kind, options.compression, block=block, bigtiff=options.bigtiff)
        return plan, levels
    if options.pyramid:
        raise InvalidInput("pyramids are a TIFF feature; export to .tif for one")
    out = output_rect(rect, options.scale_level)
    if max(out.w, out.h) >= 2**31:
        raise InvalidInput("PNG sides are limited to 2^31-1 pixels; export to .tif")
    # Full-width strips; a very wide PNG gets fewer rows per strip, so a strip stays near STRIP_BYTES.
    rows = options.tile or max(1, min(DEFAULT_TILE["png"], STRIP_BYTES // (3 * out.w)))
    plan = make(tile_w=out.w, tile_h=rows)
    check_export(plan, 0, path, kind, options.compression, block=renderer.block_size(plan.render_level))
    return plan, 0


def tiff_tile(options: ExportOptions) -> int:
    """The TIFF tile side: the requested size rounded up to a multiple of 16, as TIFF requires."""
    return -(-max(options.tile or DEFAULT_TILE["tiff"], 16) // 16) * 16


def raw_bytes(width: int, height: int, levels: int) -> int:
    """Uncompressed bytes of an image and ``levels`` reductions (about an upper bound for lossless files)."""
    return 3 * sum(h * w for h, w in [(height, width), *pyramid_shapes(height, width, levels)])


def estimate(rect: Rect, path: str | Path, options: ExportOptions) -> tuple[int, int, int]:
    """Output ``(width, height, raw bytes)`` of an export, without a model (for dialogs)."""
    out = output_rect(rect, options.scale_level)
    levels = 0
    if format_of(path) == "tiff":
        levels = auto_levels(out.h, out.w, tiff_tile(options)) if options.pyramid < 0 else options.pyramid
    return out.w, out.h, raw_bytes(out.w, out.h, levels)


def describe(world: World, plan: ExportPlan, levels: int) -> str:
    """The JSON embedded in the file: enough to render the same pixels again."""
    doc, tensors = world.to_document()
    info: dict = {
        "everscape_export": 1,
        "world": doc,
        "rect": str(plan.rect),
        "level": plan.level,
        "scale_level": plan.scale_level,
        "out_rect": str(plan.out),
        "pyramid_levels": levels,
    }
    if tensors:
        blob = save_tensors(tensors)
        if len(blob) <= EMBED_TENSOR_BYTES:
            info["tensors_safetensors_b64"] = base64.b64encode(blob).decode("ascii")
        else:
            info["tensors_embedded"] = False
    return json.dumps(info)


def export(
    renderer: Renderer,
    world: World,
    rect: Rect,
    path: str | Path,
    options: ExportOptions | None = None,
    *,
    progress: ProgressCallback | None = None,
    cancelled: Callable[[], bool] | None = None,
    exchange: TileExchange | None = None,
) -> ExportResult | None:
    """Render ``rect`` of ``world`` into ``path`` (format by suffix); see the module docstring.

    ``progress`` receives :class:`ExportProgress` reports (from the rendering and the writer
    thread); ``cancelled`` is polled between blocks and tiles and stops the export with
    :class:`engine.render.Cancelled`. Under ``torchrun`` pass ``exchange``: every rank calls this,
    rank 0 writes the file and gets the result, the others render their share and get None.
    """
    options = options or ExportOptions()
    exchange = exchange or TileExchange()
    plan, levels = plan_export(renderer, rect, path, options)
    path = check_output_path(path) if exchange.is_writer else Path(path)
    start = time.perf_counter()
    tiles = TileRenderer(renderer, world, plan, owned=exchange.owned, cancelled=cancelled)
    if not exchange.is_writer:
        for index in range(exchange.rank, plan.num_tiles, exchange.world_size):
            exchange.send(tiles.render(index))
        exchange.finish()
        return None

    kind = format_of(path)
    pyramid_pixels = raw_bytes(plan.out.w, plan.out.h, levels) // 3 - plan.pixels
    meter = ProgressMeter(plan.pixels + pyramid_pixels * PYRAMID_WEIGHT, progress)
    description = describe(world, plan, levels)

    def produce() -> Iterator[np.ndarray]:
        for index in range(plan.num_tiles):
            if cancelled is not None and cancelled():
                raise Cancelled("export was cancelled")
            if exchange.owned(index):
                array = tiles.render(index)
            else:
                tile = plan.tile(index)
                array = exchange.receive(index, (tile.h, tile.w))
            yield array
            meter.add(array.shape[0] * array.shape[1], "render")

    with atomic_path(path) as temp:
        write = _writer(kind, temp, plan, levels, options, description, meter, cancelled)
        run_pipeline(produce(), write, plan.tile_bytes)
    exchange.finish()
    meter.add(0, "done", force=True)
    return ExportResult(
        path=path,
        width=plan.out.w,
        height=plan.out.h,
        levels=levels,
        seconds=time.perf_counter() - start,
        render_seconds=tiles.render_seconds,
        blocks_rendered=tiles.blocks_rendered,
        discarded_fraction=tiles.discarded_fraction(),
        bytes=path.stat().st_size,
    )


def _writer(
    kind: str,
    temp: Path,
    plan: ExportPlan,
    levels: int,
    options: ExportOptions,
    description: str,
    meter: ProgressMeter,
    cancelled: Callable[[], bool] | None,
) -> Callable[[Iterator[np.ndarray]], None]:
    """The function the writer thread runs: it consumes the row-major tile stream into ``temp``."""
    if kind == "tiff":

        def write_tiff_file(stream: Iterator[np.ndarray]) -> None:
            write_tiff(
                temp, stream, height=plan.out.h, width=plan.out.w, tile=plan.tile_w,
                compression=options.compression, quality=options.quality, levels=levels,
                description=description, bigtiff=options.bigtiff, meter=meter, cancelled=cancelled,
            )  # fmt: skip

        return write_tiff_file

    def write_png_file(stream: Iterator[np.ndarray]) -> None:
        level = 0 if options.compression == "none" else (6 if options.quality is None else options.quality)
        with open(temp, "wb") as handle:
            writer = PngStreamWriter(handle, plan.out.w, plan.out.h, level=level, text={"everscape": description})
            for strip in stream:
                writer.write_rows(strip)
            writer.close()

    return write_png_file
