"""``everscape render``: one rectangle of a world to a PNG or TIFF file, headless."""

from __future__ import annotations

import argparse

import numpy as np

from engine.errors import InvalidInput
from engine.geometry import Rect
from engine.imageio import check_output_path, write_image
from engine.models.registry import load_model
from engine.render import Renderer
from engine.styles import StyleLayout
from engine.world import World

HELP = "render a rectangle of a world to an image file"

#: In-memory renders above this are refused until streamed export handles them.
MAX_PIXELS = 64 * 2**20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="checkpoint name or path, or FAMILY:CONFIG")
    parser.add_argument("--seed", type=int, default=0, help="world seed (default 0)")
    parser.add_argument("--rect", required=True, type=str, help="X,Y,W,H in world pixels")
    parser.add_argument("--out", required=True, help="output file (.png, .tif)")
    parser.add_argument("--styles", help="style layout JSON file")
    parser.add_argument("--level", type=int, default=0, help="scale level (0 = full resolution)")
    parser.add_argument("--tile", type=int, default=0, help="render as tiles of this many pixels")
    parser.add_argument("--batch", type=int, default=8, help="blocks per forward pass")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")


def build_world(args: argparse.Namespace, model_ref: str, model_hash: str | None) -> World:
    styles = StyleLayout.load(args.styles) if args.styles else StyleLayout()
    return World(model=model_ref, seed=args.seed, styles=styles, model_hash=model_hash)


def run(args: argparse.Namespace) -> int:
    rect = Rect.parse(args.rect)
    out = check_output_path(args.out)
    if rect.w * rect.h > MAX_PIXELS:
        raise InvalidInput(f"{rect.w}x{rect.h} is too large for an in-memory render (limit {MAX_PIXELS} pixels)")
    if args.tile < 0 or args.batch < 1:
        raise InvalidInput("--tile must be >= 0 and --batch >= 1")
    loaded = load_model(args.model)
    world = build_world(args, loaded.ref, loaded.sha256)
    renderer = Renderer(loaded.model, args.device, max_batch=args.batch)
    if args.level < 0 or args.level >= loaded.model.num_levels():
        raise InvalidInput(f"--level must be in 0..{loaded.model.num_levels() - 1} for this model")
    if args.tile:
        image = np.empty((rect.h, rect.w, 3), dtype=np.uint8)
        for tile in rect.tiles(args.tile):
            (pixels,) = renderer.render(world, [tile], args.level)
            image[tile.y - rect.y : tile.bottom - rect.y, tile.x - rect.x : tile.right - rect.x] = pixels
    else:
        (image,) = renderer.render(world, [rect], args.level)
    doc, _ = world.to_document()
    write_image(out, image, {"world": doc, "rect": str(rect), "level": args.level})
    return 0
