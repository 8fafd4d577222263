"""Canvas benchmarks: paint time while panning, time to fill a view, memory after a long pan.

Run ``python -m app.bench_ui [--model M] [--quick] [--json PATH]`` (offscreen unless a display is
set). They live in ``app/`` because ``engine/bench`` must not import Qt; ``everscape bench`` does not
see them. Each returns result rows (flat dicts) and never asserts: goals are stated beside numbers.

- ``paint_while_panning``: ``paintEvent`` time per frame (p50/p95; wall, and the GUI thread's own CPU
  time, which leaves out preemption on a loaded machine) of a 1280x720 canvas panned a few pixels
  per frame while the worker is saturated (goal p95 <= 16.7 ms); case ``inverting`` pans while an
  image inversion runs as a call of the same worker, serving tiles between its steps (same goal).
- ``time_to_fill``: from a new world to every visible tile of a 1280x720 view painted (goal <= 5 s on
  2 CPU cores, <= 0.1 s on a GPU); cold (first world after loading) and warm (a second world).
- ``memory_after_pan``: resident memory after panning 10^6 px in 2000-px frames with the worker
  rendering all along (goal: flat, within the cache budget + 300 MiB of the start). Most growth is
  the engine's latent-chunk store (``field_store_mib``, itself bounded at 256 MiB), which fills
  with the chunks of every place rendered; ``--pan-px 4000000`` renders long enough to fill it.
- ``memory_zoom``: resident memory while zooming out to the deepest level and back, for every shipped
  model, against budget + model + a fixed overhead (:mod:`app.bench_memory`; ``--only memory_zoom``).
- ``paint_stroke``: a 20-dab brush stroke: release to tiles invalidated, tiles invalidated vs
  changed, paint p95 while painting (:mod:`app.bench_paint`). ``--only paint_stroke`` runs it alone.
- ``centre_move``, ``undo``, ``zoom_fill``: tiles re-rendered after a style-centre move vs the
  predicted minimum, renders after undo, time to first preview and to a full view at zoom 1, 1/4
  and 1/16 (:mod:`app.bench_edits`). ``--only edits`` runs them alone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from app.canvas import Canvas
from app.worker import TileWorker
from engine.world import World

Row = dict[str, Any]
SIZE = (1280, 720)


def _wait(predicate, timeout: float) -> float:
    """Process events until ``predicate()``; returns the seconds waited (inf on timeout)."""
    start = time.perf_counter()
    while not predicate():
        if time.perf_counter() - start > timeout:
            return float("inf")
        QApplication.processEvents()
        time.sleep(0.001)
    return time.perf_counter() - start


def _rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


class Session:
    """A worker with ``model`` loaded and a canvas of ``SIZE`` on a fresh world."""

    def __init__(
        self, model: str, cache_mib: int = 512, prefetch: int = 1, synth_levels: int = 2, size: tuple[int, int] = SIZE
    ) -> None:
        self.worker = TileWorker()
        self.canvas = Canvas(
            self.worker, cache_bytes=cache_mib * 2**20, prefetch=prefetch, synth_levels=synth_levels, kinetic=False
        )
        self.canvas.resize(*size)
        self.canvas.show()
        self.worker.start()
        ready: list = []
        self.worker.sig_model_ready.connect(ready.append)
        self.worker.sig_failed.connect(lambda keys, message: print("worker:", message, file=sys.stderr))
        self.worker.open_model(model)
        if _wait(lambda: bool(ready), 600) == float("inf"):
            raise RuntimeError(f"model {model} did not load")
        self.info = ready[0]
        self.canvas.set_model(self.info)
        self.seed = 0

    def new_world(self) -> None:
        self.seed += 1
        self.canvas.set_world(World(self.info.ref, self.seed, model_hash=self.info.sha256))

    def close(self) -> None:
        self.worker.shutdown()
        self.canvas.close()


def time_to_fill(model: str) -> list[Row]:
    session = Session(model, prefetch=0)
    rows = []
    try:
        for label in ("cold", "warm"):
            session.canvas.centre_on(session.seed * 100_000, 0, 0)
            session.new_world()
            seconds = _wait(session.canvas.is_complete, 600)
            rows.append({"bench": "time_to_fill", "case": label, "view": "1280x720", "seconds": round(seconds, 3)})
    finally:
        session.close()
    return rows


def _start_inversion(session: Session):
    """An endless inversion of a 64x64 noise image on the session's worker; set the event to stop it."""
    import numpy as np

    from engine.invert import InvertConfig, invert
    from engine.render import Cancelled

    stop = threading.Event()
    image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    world = session.canvas.world

    def call(renderer, serve_tiles) -> None:
        with contextlib.suppress(Cancelled):  # the benchmark's end stops it
            invert(renderer.model, world, image, (0, 0), InvertConfig(steps=10**9), device=renderer.device,
                   progress=lambda step, loss: serve_tiles(), cancelled=stop.is_set)  # fmt: skip

    return stop, session.worker.call(call)


def paint_while_panning(model: str, frames: int, inverting: bool = False) -> list[Row]:
    session = Session(model)
    stop = future = None
    try:
        session.new_world()
        _wait(session.canvas.is_complete, 600)
        if inverting:
            stop, future = _start_inversion(session)
        session.canvas.paint_times.clear()
        session.canvas.paint_cpu_times.clear()
        saturated = 0
        frame_times = []
        for _ in range(frames):
            start = time.perf_counter()
            session.canvas.pan_by(-6, -2)
            session.canvas.repaint()  # synchronous paintEvent, timed inside the canvas
            QApplication.processEvents()
            frame_times.append(time.perf_counter() - start)
            saturated += session.worker.pending() > 0
        paints = sorted(session.canvas.paint_times)
        cpu = sorted(session.canvas.paint_cpu_times)
    finally:
        if stop is not None:
            stop.set()
            future.result(timeout=600)
        session.close()
    q = statistics.quantiles(paints, n=20)
    return [
        {
            "bench": "paint_while_panning",
            "case": "inverting" if inverting else "tiles only",
            "frames": len(paints),
            "paint_p50_ms": round(statistics.median(paints) * 1e3, 2),
            "paint_p95_ms": round(q[18] * 1e3, 2),
            "paint_cpu_p50_ms": round(statistics.median(cpu) * 1e3, 2),
            "paint_cpu_p95_ms": round(statistics.quantiles(cpu, n=20)[18] * 1e3, 2),
            "frame_p95_ms": round(statistics.quantiles(frame_times, n=20)[18] * 1e3, 2),
            "worker_busy_frames": round(saturated / frames, 2),
        }
    ]


def memory_after_pan(model: str, distance: int, cache_mib: int) -> list[Row]:
    session = Session(model, cache_mib=cache_mib)
    try:
        session.new_world()
        _wait(session.canvas.is_complete, 600)
        before = _rss_mib()
        step, moved, peak, samples = 2000, 0, before, []
        while moved < distance:
            session.canvas.pan_by(-step, 0)
            moved += step
            end = time.perf_counter() + 0.016
            while time.perf_counter() < end:
                QApplication.processEvents()
                time.sleep(0.002)
            peak = max(peak, _rss_mib())
            if moved % (distance // 4) < step:
                samples.append(round(_rss_mib()))  # at each quarter of the pan: flat or growing?
        after = _rss_mib()
        rendered = session.worker.tiles_rendered
        from engine.fields import DEFAULT_STORE

        store_mib = DEFAULT_STORE._bytes / 2**20  # the engine's latent-chunk cache (bounded, 256 MiB)
        cache_mib_used = session.canvas.cache.bytes / 2**20
    finally:
        session.close()
    return [
        {
            "bench": "memory_after_pan",
            "pan_px": distance,
            "cache_budget_mib": cache_mib,
            "cache_used_mib": round(cache_mib_used, 1),
            "tiles_rendered": rendered,
            "field_store_mib": round(store_mib, 1),
            "rss_before_mib": round(before),
            "rss_peak_mib": round(peak),
            "rss_after_mib": round(after),
            "growth_mib": round(after - before),
            "rss_quarters_mib": samples,
        }
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.bench_ui", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model (default: the app's default model)")
    parser.add_argument("--quick", action="store_true", help="fewer frames and a shorter pan")
    parser.add_argument("--cache-mib", type=int, default=128, help="cache budget for the memory run")
    parser.add_argument("--pan-px", type=int, default=None, help="distance of the memory run (default 10^6)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument(
        "--only",
        choices=["paint_stroke", "edits", "centre_move", "memory_zoom"],
        default=None,
        help="run just this benchmark",
    )
    parser.add_argument("--cap-s", type=float, default=120.0, help="longest wait for one view of the edits rows")
    parser.add_argument("--memory-mib", type=int, default=512, help="the app's memory budget for memory_zoom")
    args = parser.parse_args(argv)
    from engine.default_model import default_model_ref

    model = args.model or default_model_ref()
    _app = QApplication.instance() or QApplication(sys.argv[:1])
    from app.bench_edits import centre_move_and_undo, zoom_fill
    from app.bench_memory import memory_zoom_round_trip, shipped_models
    from app.bench_paint import paint_stroke

    def session(**options) -> Session:
        return Session(model, **options)

    small = (640, 360) if args.quick else SIZE
    rows = paint_stroke(model, _wait, small) if args.only in (None, "paint_stroke") else []
    if args.only in (None, "edits", "centre_move"):
        rows += centre_move_and_undo(lambda **options: session(size=small, **options), _wait, args.cap_s)
    if args.only in (None, "edits"):
        rows += zoom_fill(session, _wait, args.cap_s)
    if args.only in (None, "memory_zoom"):  # every shipped model (or --model), the app's deepest zoom and back
        for name in [args.model] if args.model else shipped_models() or [model]:
            rows += memory_zoom_round_trip(name, _wait, args.memory_mib, (320, 200) if args.quick else small)
    if args.only is None:
        rows += time_to_fill(model)
        rows += paint_while_panning(model, 200 if args.quick else 1000)
        rows += paint_while_panning(model, 200 if args.quick else 1000, inverting=True)
        distance = args.pan_px or (100_000 if args.quick else 1_000_000)
        rows += memory_after_pan(model, distance, args.cache_mib)
    import torch

    machine = {
        "model": model,
        "platform": os.environ.get("QT_QPA_PLATFORM", ""),
        "cpu": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    for row in rows:
        print(json.dumps(row))
    print(json.dumps({"machine": machine}))
    if args.json:
        from engine.atomic import atomic_path

        with atomic_path(args.json) as temp:
            temp.write_text(json.dumps({"machine": machine, "rows": rows}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
