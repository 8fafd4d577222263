"""Edit and zoom benchmarks of ``python -m app.bench_ui``: what an edit, an undo and a zoom cost.

Each runs on a fresh :class:`app.bench_ui.Session` (worker + canvas of ``SIZE``, prefetch off, so
counts are of visible tiles) and returns flat rows:

- ``centre_move``: a 1280x720 view with two style centres; one moves by 40 px. Tiles the worker
  re-rendered vs the visible tiles :func:`engine.edits.changed_regions` predicts (the minimum a
  safe prediction allows) and vs all visible tiles (what every centre edit cost before centre
  damage was predicted), seconds to a complete view, paint p95 while the tiles stream in.
- ``undo``: the move undone: renders and seconds to a complete view (goal: 0 renders).
- ``zoom_fill``: a new world at zoom 1, 1/4 and 1/16: seconds to the first preview (a tile at the
  view's level or coarser, or a coarse preview, covering the view centre), to the view covered by
  tiles or coarse previews, and to a complete view, or the share of tiles done when ``cap_s`` ran
  out; paint p95 meanwhile. Goals: first preview <= 0.5 s, zoom 1 <= 5 s.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QApplication

from app.coarse_previews import coarse_state
from engine.edits import changed_regions
from engine.geometry import Rect
from engine.style_edits import move_centre
from engine.styles import StyleCentre, StyleLayout
from engine.world import World

Row = dict[str, Any]
FRAME_S = 1 / 60  # one repaint per display frame while tiles stream in
Wait = Callable[[Callable[[], bool], float], float]


def _stream(
    canvas, worker, cap_s: float, first: Callable[[], bool] | None = None, covered: Callable[[], bool] | None = None
) -> dict[str, Any]:
    """Repaint until the view is complete and the worker idle (or ``cap_s``); times and paint p95,
    and the seconds until ``first()`` and ``covered()`` first held."""
    canvas.paint_times.clear()
    start = time.perf_counter()
    seen: dict[str, float | None] = {"first_preview_s": None, "covered_s": None}
    checks = {"first_preview_s": first, "covered_s": covered}

    def look() -> None:
        for name, check in checks.items():
            if seen[name] is None and check is not None and check():
                seen[name] = round(time.perf_counter() - start, 3)

    while not (canvas.is_complete() and worker.pending() == 0) and time.perf_counter() - start < cap_s:
        frame_start = time.perf_counter()
        look()
        canvas.repaint()
        QApplication.processEvents()
        # Frames at a display's 60 Hz: a busier loop would only take CPU from the renderer it measures.
        time.sleep(max(0.0, FRAME_S - (time.perf_counter() - frame_start)))
    done = canvas.is_complete()
    look()
    paints = sorted(canvas.paint_times)
    p95 = statistics.quantiles(paints, n=20)[18] if len(paints) >= 20 else (paints[-1] if paints else 0.0)
    visible = canvas.visible_keys()
    return {
        "complete": done,
        "seconds": round(time.perf_counter() - start, 3) if done else None,
        **{name: value for name, value in seen.items() if checks[name] is not None},
        "tiles_done": sum(k in canvas.cache for k in visible),
        "tiles_visible": len(visible),
        "paint_p95_ms": round(p95 * 1e3, 2),
    }


def centre_move_and_undo(session_factory, wait: Wait, cap_s: float) -> list[Row]:
    session = session_factory(prefetch=0)
    canvas, worker = session.canvas, session.worker
    try:
        model = session.info.model
        cx, cy = canvas.view.centre
        # Scaled to the view (1280 px wide: 380 px apart from the centre, width 40 px, so each
        # centre reaches 161 px plus what the model reads around a pixel).
        scale = canvas.width() / 1280
        off, width = round(380 * scale), 40.0 * scale
        layout = StyleLayout.of(
            [StyleCentre(cx - off, cy, 101, width=width), StyleCentre(cx + off, cy + off // 4, 202, width=width)]
        )
        before = World(session.info.ref, 7, layout, model_hash=session.info.sha256)
        canvas.set_world(before)
        wait(lambda: canvas.is_complete() and worker.pending() == 0, 3600)
        moved = before.with_styles(move_centre(layout, 0, cx - off + round(40 * scale), cy))
        regions = changed_regions(model, before, moved, 0)
        rendered = worker.tiles_rendered
        canvas.set_world(moved, lambda level: changed_regions(model, before, moved, level))
        visible = canvas.visible_keys()
        predicted = (
            len(visible)
            if regions is None
            else sum(any(k.world_rect().intersection(r) is not None for r in regions) for k in visible)
        )
        edit = _stream(canvas, worker, cap_s)
        move = {
            "bench": "centre_move",
            "view": f"{canvas.width()}x{canvas.height()}",
            "tiles_rerendered": worker.tiles_rendered - rendered,
            "tiles_predicted": predicted,
            "tiles_before": len(visible),  # every centre edit re-rendered the whole view before
            **edit,
        }
        rendered = worker.tiles_rendered
        canvas.set_world(before, lambda level: changed_regions(model, moved, before, level))
        undo = {"bench": "undo", **_stream(canvas, worker, cap_s)}
        undo["renders"] = worker.tiles_rendered - rendered
        undo["renders_before"] = len(visible)  # undo re-rendered what the edit had changed, at least
    finally:
        session.close()
    return [move, undo]


def _previewed(canvas) -> Callable[[], bool]:
    """Whether the view centre shows the new world: a tile of the shown state at the view's level or
    coarser covers it, or a coarse preview of that state (:mod:`app.coarse_previews`) does."""
    level, (x, y) = canvas.view.level(canvas.plan), canvas.view.centre
    centre = Rect(x, y, 1, 1)

    def done() -> bool:
        return any(
            ((k.state == canvas.state and k.level >= level) or k.state == coarse_state(canvas.state))
            and k.world_rect().contains(centre)
            for k in canvas.cache.key_list()
        )

    return done


def _covered(canvas) -> Callable[[], bool]:
    """Whether every visible tile is there, or covered by coarse previews of its area."""
    level = canvas.view.level(canvas.plan)

    def done() -> bool:
        keys = set(canvas.cache.key_list())
        return all(k in keys or canvas.coarse.covers(k, level, keys.__contains__) for k in canvas.visible_keys())

    return done


def zoom_fill(session_factory, wait: Wait, cap_s: float, zooms: tuple[int, ...] = (0, -2, -4)) -> list[Row]:
    rows = []
    for zoom in zooms:
        session = session_factory(prefetch=0, synth_levels=4)
        canvas, worker = session.canvas, session.worker
        try:
            canvas.centre_on(0, 0, zoom)
            session.new_world()
            row = {"bench": "zoom_fill", "zoom": f"1/{2**-zoom}", "level": canvas.view.level(canvas.plan)}
            rows.append({**row, **_stream(canvas, worker, cap_s, _previewed(canvas), _covered(canvas))})
        finally:
            session.close()
    return rows
