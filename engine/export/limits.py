"""An export request checked against the format, the disk and the memory budget before rendering.

A rectangle is two numbers a user types; ``10^7 x 10^7`` is 300 TB of pixels, and finding that
out by writing (or by allocating the exporter's working set, which grows with the width) wastes
minutes and gigabytes before failing. So a plan is refused up front, with the numbers, when:

- the format cannot hold it: PNG sides stop at 2^31-1, TIFF sides at 2^32-1, a classic (not Big)
  TIFF at 4 GiB;
- the disk cannot hold it: the file is at least its raw bytes over the best ratio its compression
  reaches on rendered landscapes (none 1:1; zlib/zstd are taken as at most 1:20 and JPEG 1:100,
  far beyond what terrain gives, so only hopeless requests are refused);
- the working set is over the memory budget: the exporter keeps a row of model blocks across the
  whole width (blocks that straddle two tile rows), the hand-over queue, a few cells, and the
  TIFF writer's tile tables (16 bytes a tile and level).
"""

from __future__ import annotations

from pathlib import Path

from engine.budget import check_disk, check_memory, human_bytes
from engine.errors import InvalidInput

from .pipeline import QUEUE_BYTES
from .plan import SOURCE_SIDE, ExportPlan
from .reduce import pyramid_shapes
from .tiff import CLASSIC_LIMIT

#: Best compression ratio assumed per codec (file >= raw / ratio).
BEST_RATIO = {"none": 1, "zlib": 20, "zstd": 20, "jpeg": 100}
PNG_SIDE = 2**31 - 1
TIFF_SIDE = 2**32 - 1


def working_bytes(plan: ExportPlan, block: int, levels: int) -> int:
    """Peak memory of the exporter for ``plan`` (see the module docstring)."""
    source_width = plan.out.w * plan.factor
    block_row = (source_width + 2 * block) * block * 3
    cells = 4 * SOURCE_SIDE * SOURCE_SIDE * 3 + 4 * plan.tile_bytes
    tables = 16 * sum(-(-h // plan.tile_h) * -(-w // plan.tile_w) for h, w in _shapes(plan, levels))
    return block_row + cells + QUEUE_BYTES + tables


def _shapes(plan: ExportPlan, levels: int) -> list[tuple[int, int]]:
    return [(plan.out.h, plan.out.w), *pyramid_shapes(plan.out.h, plan.out.w, levels)]


def check_export(
    plan: ExportPlan,
    levels: int,
    path: str | Path,
    kind: str,
    compression: str,
    *,
    block: int,
    bigtiff: bool | None = None,
) -> None:
    """Refuse an export the format, the disk or the memory budget cannot take, naming the numbers.

    ``block`` is the model's block side at the render level; ``bigtiff`` as the TIFF writer takes it."""
    w, h = plan.out.w, plan.out.h
    side = PNG_SIDE if kind == "png" else TIFF_SIDE
    if max(w, h) > side:
        raise InvalidInput(f"cannot export {w}x{h} to {path}: {kind.upper()} sides are limited to {side:,} pixels")
    raw = 3 * sum(a * b for a, b in _shapes(plan, levels))
    if kind == "tiff" and bigtiff is False and raw > CLASSIC_LIMIT:
        raise InvalidInput(
            f"cannot export {w}x{h} to {path}: {human_bytes(raw)} of pixels do not fit a classic TIFF (4 GiB); "
            "allow BigTIFF"
        )
    least = raw // BEST_RATIO.get(compression, 1)
    check_disk(Path(path).parent if str(Path(path).parent) else Path("."), least, f"exporting {w}x{h} to {path}")
    check_memory(working_bytes(plan, block, levels), f"exporting {w}x{h} to {path}")
