"""A minute of panning, zooming and editing under the real tile worker, run as a child process.

``python -m tests.faults.soak_canvas SECONDS`` drives a :class:`~app.canvas.Canvas` and the real
:class:`~app.worker.TileWorker` (its thread, queue, signals and tile hand-off, as in the app) the way
``app.bench_ui`` does: pans every frame, a zoom step and a world edit every few frames,
``processEvents`` in between. The model is the tests' fake generator (torch ops that release the
GIL like a forward), so tiles keep arriving on a loaded 2-core machine where a real model would
deliver a handful a minute.
It prints ``soak ok FRAMES TILES PROTECTED`` and exits 0, or dies with the interpreter's fatal error.
Unguarded (``EVERSCAPE_NO_REFCOUNT_GUARD=1``) on PySide6 6.12.0 this loop drains ``None`` by several
hundred references a second, about as fast as ``app.bench_ui`` did before it aborted.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from app.canvas import Canvas
from app.worker import TileWorker
from engine.styles import StyleCentre, StyleLayout
from engine.world import World
from tests.app.fakes import FakeConfig, FakeModel, loader_for


def soak(seconds: float) -> tuple[int, int]:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    worker = TileWorker(batch_tiles=2)
    canvas = Canvas(worker, cache_bytes=64 * 2**20, prefetch=1, kinetic=False)
    canvas.resize(640, 400)
    canvas.show()
    worker.start()
    ready: list = []
    worker.sig_model_ready.connect(ready.append)
    worker.open_model("fake:test", loader_for(FakeModel(FakeConfig(block=64, levels=2), delay=0.002)))
    deadline = time.monotonic() + 120
    while not ready:
        if time.monotonic() > deadline:
            raise SystemExit("the model did not load")
        app.processEvents()
        time.sleep(0.001)
    info = ready[0]
    canvas.set_model(info)
    world = World(info.ref, 1, model_hash=info.sha256)
    canvas.set_world(world)
    frames, end = 0, time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            canvas.pan_by(-7, 3 if frames % 50 < 25 else -3)
            if frames % 120 == 0:
                canvas.zoom_by(-1 if frames % 240 == 0 else 1)
            if frames % 200 == 100:  # an edit: a new world version, tiles of the old one are dropped
                world = world.with_styles(StyleLayout.of([StyleCentre(frames, 0, frames % 7)]))
                canvas.set_world(world)
            canvas.repaint()
            frame_end = time.monotonic() + 0.016
            while time.monotonic() < frame_end:  # the event loop between frames, as bench_ui._wait pumps it
                app.processEvents()
                time.sleep(0)
            frames += 1
    finally:
        worker.shutdown()
        canvas.close()
    return frames, worker.tiles_rendered


if __name__ == "__main__":
    from app.refcounts import binding_leaks, is_protected

    frames, tiles = soak(float(sys.argv[1]) if len(sys.argv) > 1 else 45.0)
    print(f"soak ok {frames} {tiles} {is_protected() or not binding_leaks()}", flush=True)
