"""Memory over a deep zoom: resident size while zooming out to the deepest level and back, per model.

``memory_zoom_round_trip`` opens the app's own window (its memory budget, its worker, its memory
keeper) on a model, fills the view at 1:1, zooms out one level at a time to the deepest level the
app offers (the model's levels plus the synthesised ones), waiting for each view to fill, then
zooms back to 1:1 and lets the window go idle. It samples the resident size (RSS) all along and
reports it against the bound the budget promises: RSS before the window + the budget + the model's
weights + a fixed overhead (:data:`OVERHEAD_MIB`, the interpreter's and Qt's working memory for
one window). Run through ``python -m app.bench_ui --only memory_zoom`` (every shipped model).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QApplication

Row = dict[str, Any]
#: What a window needs beyond its budget and model: widgets, the worker's batch in flight, torch's
#: per-thread scratch. Measured on the shipped models at 1:1 with an empty cache; a bound, not a goal.
#: 400 -> 480: a single-level model's display tile is one 256-px forward pass
#: (``app.worker.tile_region``), whose batch in flight holds 40-90 MiB more than 128-px blocks did,
#: and the ∞-GAN soak on blocks peaked 7 MiB over the old bound on an idle 2-core machine.
OVERHEAD_MIB = 480


def rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def model_mib(model) -> float:
    """Bytes of a generator's weights and buffers, in MiB."""
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


def memory_zoom_round_trip(
    model: str,
    wait: Callable[[Callable[[], bool], float], float],
    memory_mib: int = 512,
    size: tuple[int, int] = (1280, 720),
    level_timeout: float = 900.0,
) -> list[Row]:
    from app.main_window import MainWindow
    from app.settings import Settings

    os.environ["EVERSCAPE_CONFIG_DIR"] = tempfile.mkdtemp(prefix="everscape-bench-")  # never the user's
    start = rss_mib()
    window = MainWindow(Settings(), model, 0, (0, 0, 0), persist=False)
    try:
        prefs = window.prefs
        prefs.memory_mib, prefs.prefetch = memory_mib, 0  # the view's own tiles: what memory needs, no more work
        window.apply_preferences(prefs)
        window.resize(*size)
        window.show()
        wait(lambda: window.world is not None, 600)
        canvas = window.canvas
        samples: list[tuple[int, float, float]] = []  # (zoom, seconds to fill, rss)

        def fill() -> None:
            seconds = wait(canvas.is_complete, level_timeout)
            samples.append((canvas.view.zoom, round(seconds, 2), round(rss_mib())))

        fill()
        deepest = -canvas.plan.max_level
        while canvas.view.zoom > deepest:
            canvas.zoom_by(-1)
            fill()
        deep = rss_mib()
        while canvas.view.zoom < 0:
            canvas.zoom_by(1)
            fill()
        returns = window.memory.returns
        wait(lambda: window.memory.returns > returns, 30)  # idle: the keeper hands memory back
        time.sleep(0.1)
        after = rss_mib()
        weights = model_mib(window.model_info.model)
        from engine.fields import DEFAULT_STORE

        row = {
            "bench": "memory_zoom",
            "model": model,
            "view": f"{size[0]}x{size[1]}",
            "deepest_zoom": f"1/{2**-deepest}",
            "budget_mib": memory_mib,
            "model_mib": round(weights, 1),
            "tile_cache_mib": round(canvas.cache.bytes / 2**20, 1),
            "field_store_mib": round(DEFAULT_STORE.nbytes / 2**20, 1),
            "rss_start_mib": round(start),
            "rss_peak_mib": max(rss for _, _, rss in samples),
            "rss_deepest_mib": round(deep),
            "rss_after_return_mib": round(after),
            "rss_bound_mib": round(start + memory_mib + weights + OVERHEAD_MIB),
            "levels": [{"zoom": z, "fill_s": s, "rss_mib": r} for z, s, r in samples],
        }
    finally:
        window.close()
        QApplication.processEvents()
    row["within_bound"] = row["rss_peak_mib"] <= row["rss_bound_mib"]
    return [row]


def shipped_models() -> list[str]:
    """The shipped checkpoints installed here (the app's default models), in preference order."""
    from engine.checkpoints import list_checkpoints
    from engine.models.registry import DEFAULT_CHECKPOINTS

    installed = set(list_checkpoints())
    return [name for name in DEFAULT_CHECKPOINTS if name in installed]
