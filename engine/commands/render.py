"""``everscape render``: any rectangle of a world, of any size, to a PNG or (Big)TIFF file, headless.

Every size goes through the streaming exporter (:mod:`engine.export`), so memory stays bounded
whether the output is 64 pixels or 10^10. Under ``torchrun ... --distributed`` the ranks split
the tiles and rank 0 writes a file identical to the single-process one.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TextIO

import torch

from engine.cyclic import loop_rect
from engine.errors import InvalidInput
from engine.export import COMPRESSIONS, ExportOptions, ExportProgress, TileExchange, export, format_of
from engine.geometry import Rect
from engine.imageio import check_output_path
from engine.models.registry import LoadedModel, load_model
from engine.project import load_project
from engine.render import Renderer, choose_device, region_for, region_side
from engine.styles import StyleLayout
from engine.world import World

HELP = "render a rectangle of a world to an image file (any size, streamed)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="checkpoint name or path, or FAMILY:CONFIG (or give --project)")
    parser.add_argument("--project", help="render the world of this .everscape project (model, seed, styles, edits)")
    parser.add_argument("--seed", type=int, default=None, help="world seed (default 0)")
    parser.add_argument("--rect", type=str, help="X,Y,W,H in world pixels")
    parser.add_argument("--loop", action="store_true", help="write the world's cyclic panorama loop (no --rect)")
    parser.add_argument("--out", required=True, help="output file (.png, .tif)")
    parser.add_argument("--styles", help="style layout JSON file")
    parser.add_argument("--level", type=int, default=0, help="model scale level the rect is in (0 = full resolution)")
    parser.add_argument(
        "--scale-level",
        type=int,
        default=0,
        metavar="K",
        help="write at 1/2^K scale (the model's level K, or box-reduced)",
    )
    parser.add_argument("--tile", type=int, default=0, help="tile size (TIFF tile, PNG strip height; 0 = default)")
    parser.add_argument("--batch", type=int, default=8, help="blocks per forward pass")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    all_codecs = sorted({c for codecs in COMPRESSIONS.values() for c in codecs})
    parser.add_argument(
        "--compression", default="zlib", choices=all_codecs, help="zlib (default), zstd, jpeg (TIFF only), none"
    )
    parser.add_argument("--quality", type=int, default=None, help="compression level, or JPEG quality")
    parser.add_argument(
        "--pyramid",
        type=int,
        nargs="?",
        const=-1,
        default=0,
        metavar="N",
        help="TIFF: add N reduced levels (no N: until one tile holds the smallest)",
    )
    parser.add_argument("--distributed", action="store_true", help="split tiles across torchrun ranks; rank 0 writes")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def build_world(args: argparse.Namespace, model_ref: str, model_hash: str | None) -> World:
    styles = StyleLayout.load(args.styles) if args.styles else StyleLayout()
    return World(model=model_ref, seed=args.seed or 0, styles=styles, model_hash=model_hash)


def load_world(args: argparse.Namespace) -> tuple[LoadedModel, World]:
    """The model and world to render: from ``--project``, or built from ``--model/--seed/--styles``."""
    if args.project is None:
        if args.model is None:
            raise InvalidInput("render needs --model (or --project FILE.everscape)")
        loaded = load_model(args.model)
        return loaded, build_world(args, loaded.ref, loaded.sha256)
    if args.model is not None or args.seed is not None or args.styles is not None:
        raise InvalidInput("--project sets the model, seed and styles; drop --model, --seed and --styles")
    world = load_project(args.project).world
    loaded = load_model(world.model)
    if world.model_hash is not None and loaded.sha256 is not None and loaded.sha256 != world.model_hash:
        raise InvalidInput(
            f"project {args.project} was made with another {world.model} checkpoint "
            f"(sha256 {world.model_hash[:12]}…, now {loaded.sha256[:12]}…); its pixels would differ"
        )
    return loaded, world


def run(args: argparse.Namespace) -> int:
    if args.loop == (args.rect is not None):
        raise InvalidInput("render needs --rect X,Y,W,H or --loop (the world's seamless loop), not both")
    rect = None if args.loop else Rect.parse(args.rect)
    format_of(args.out)
    if args.tile < 0 or args.batch < 1:
        raise InvalidInput("--tile must be >= 0 and --batch >= 1")
    exchange = TileExchange.from_environment() if args.distributed else TileExchange()
    try:
        if exchange.is_writer:
            check_output_path(args.out)
        loaded, world = load_world(args)
        rect = rect or loop_rect(world)
        device = rank_device(args.device, exchange)
        region = region_for(loaded.model, rect, max_side=region_side(choose_device(device)))  # margins once per region
        renderer = Renderer(loaded.model, device, max_batch=args.batch, region=region)
        options = ExportOptions(
            compression=args.compression,
            quality=args.quality,
            pyramid=args.pyramid,
            tile=args.tile,
            level=args.level,
            scale_level=args.scale_level,
        )
        show = exchange.is_writer and not args.quiet and sys.stderr.isatty()
        bar = ProgressBar(sys.stderr) if show else None
        export(renderer, world, rect, args.out, options, progress=bar, exchange=exchange)
        if bar is not None:
            bar.close()
    finally:
        if args.distributed and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    return 0


def rank_device(preference: str, exchange: TileExchange) -> str:
    """Under torchrun with CUDA, each rank takes the GPU of its local rank."""
    if preference == "auto" and exchange.world_size > 1 and torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', exchange.rank)) % torch.cuda.device_count()}"
    return preference


class ProgressBar:
    """A one-line progress bar with rate and ETA, redrawn in place on a terminal."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.drawn = False

    def __call__(self, report: ExportProgress) -> None:
        filled = int(self.width * report.fraction)
        eta = "--:--" if report.eta is None else format_seconds(report.eta)
        rate = report.done / report.elapsed / 1e6 if report.elapsed > 0 else 0.0
        line = (
            f"\r[{'#' * filled}{'.' * (self.width - filled)}] {100 * report.fraction:5.1f}%  "
            f"{rate:6.2f} Mpx/s  ETA {eta}  {report.stage:<10}"
        )
        self.stream.write(line)
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def format_seconds(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"
