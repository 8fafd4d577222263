"""Export benchmark: a huge BigTIFF from ``reference:tiny`` — peak memory, exporter overhead, waste.

The goals (issue 7) are for a 1-gigapixel (65536 x 16384) BigTIFF on CPU: peak RSS <= 1 GiB,
exporter overhead beyond pure rendering <= 10 %, discarded (recomputed or cropped) block pixels
<= 2 %. Each measurement runs in a fresh subprocess so its peak RSS is its own; the time inside
the model and the whole export's wall time come from the same run. Quick mode exports 1024 x 512.

Reading the memory figure: ``rss_before_export_mib`` is Python + torch + the model; the latent
field chunk cache (``engine.fields.FieldStore``, bounded at 256 MiB by default) fills during any
long render and accounts for most of the rest. The exporter's own buffers are a row of blocks
across the image, a few tiles in the writer queue (<= 48 MiB) and one tile being encoded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from engine.bench import BenchContext, Row, benchmark

FULL = (65536, 16384)
QUICK = (1024, 512)  # the same pipeline (tiles, pyramid, writer thread) in seconds
ORIGIN = (-12345, 678)  # off the block grid, as a user's selection would be

_CHILD = """
import json, resource, sys, time
from engine.export import ExportOptions, export
from engine.geometry import Rect
from engine.models.registry import load_model
from engine.render import Renderer
from engine.world import World

x, y, w, h, device, path, compression, pyramid = sys.argv[1:9]
renderer = Renderer(load_model("reference:tiny").model, device)
world = World(model="reference:tiny", seed=1)
renderer.render(world, [Rect(0, 0, 64, 64)])  # warm-up, outside the timing
base_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
options = ExportOptions(compression=compression, pyramid=int(pyramid), bigtiff=True)
result = export(renderer, world, Rect(int(x), int(y), int(w), int(h)), path, options)
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({
    "seconds": result.seconds, "render_seconds": result.render_seconds, "levels": result.levels,
    "discarded_fraction": result.discarded_fraction, "bytes": result.bytes,
    "peak_rss_mib": peak_kib / 1024, "rss_before_export_mib": base_kib / 1024,
}))
"""


def measure_export(width: int, height: int, device: str = "cpu", compression: str = "zlib", pyramid: int = -1) -> Row:
    """Export ``width x height`` in a subprocess; its numbers as one row."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with tempfile.TemporaryDirectory(prefix="everscape-bench-export-") as folder:
        path = Path(folder) / "bench.tif"
        args = [*map(str, (*ORIGIN, width, height)), device, str(path), compression, str(pyramid)]
        done = subprocess.run([sys.executable, "-c", _CHILD, *args], env=env, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(done.stderr.strip().splitlines()[-1])
        stats = json.loads(done.stdout.strip().splitlines()[-1])
    pixels = width * height
    return {
        "model": "reference:tiny",
        "device": device,
        "size": f"{width}x{height}",
        "compression": compression,
        "pyramid_levels": stats["levels"],
        "export_s": stats["seconds"],
        "render_s": stats["render_seconds"],
        "overhead_fraction": stats["seconds"] / stats["render_seconds"] - 1,
        "mpx_per_s": pixels / stats["seconds"] / 1e6,
        "peak_rss_mib": stats["peak_rss_mib"],
        "rss_before_export_mib": stats["rss_before_export_mib"],
        "discarded_fraction": stats["discarded_fraction"],
        "file_mib": stats["bytes"] / 2**20,
    }


@benchmark("export", quick_limit="reference:tiny, 1024x512 px BigTIFF, one subprocess")
def export_bigtiff(ctx: BenchContext) -> list[Row]:
    width, height = QUICK if ctx.quick else FULL
    return [measure_export(width, height, ctx.device)]
