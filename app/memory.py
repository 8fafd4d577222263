"""One memory budget for the app (Preferences ▸ Memory budget), shared out to what keeps pixels and latents.

The user sets one number; the caches it bounds get fixed shares of it, so no combination of zooms,
pans and edits can grow them past it:

- the canvas's tile cache (:class:`~app.tiles.TileCache`): half;
- the engine's latent-chunk store (:data:`engine.fields.DEFAULT_STORE`): a quarter;
- the rest is headroom for work in flight: the worker's current batch, an inversion's or an
  export's working set (exports check theirs against the machine's budget, :mod:`engine.budget`).

What the caches do not hold is transient, but the C allocator keeps freed memory unless asked
(:func:`engine.budget.return_memory`): :class:`MemoryKeeper` asks after every job ends and once the
worker has been idle for a moment after rendering, so the resident size comes back down after a
deep zoom-out or a long job instead of staying at its peak. While tiles keep coming (a user who
zooms and pans without pause) the heap alone is trimmed every few seconds on a helper thread
(:func:`engine.budget.trim_heap`): without it, fragments of freed render buffers piled up at about
8 MiB a second over a minute and a half of deep zooms and pans; with it the resident size stays flat.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer

from engine.budget import return_memory, trim_heap
from engine.fields import DEFAULT_STORE

MIB = 2**20
IDLE_MS = 1500  # quiet time after the last tile before memory is handed back
TRIM_MS = 3000  # while rendering goes on: how often the heap is trimmed


@dataclass(frozen=True)
class MemoryPlan:
    """Bytes of one budget per consumer (see module docstring)."""

    total: int
    tiles: int
    fields: int
    headroom: int

    @classmethod
    def of(cls, total_mib: int) -> MemoryPlan:
        total = int(total_mib) * MIB
        tiles, fields = total // 2, total // 4
        return cls(total, tiles, fields, total - tiles - fields)


class MemoryKeeper(QObject):
    """Applies a window's memory budget and hands freed memory back when work ends."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.plan = MemoryPlan.of(window.prefs.memory_mib)
        self.returns = 0  # times memory was handed back (tests, diagnostics)
        self.trims = 0  # heap trims while rendering went on
        self._rendered = False  # tiles arrived since the last return
        self._rendered_since_trim = False
        self._trim = QTimer(self, interval=TRIM_MS)
        self._trim.timeout.connect(self._trim_while_busy)
        self._trim.start()
        self._running_jobs = 0
        self._idle = QTimer(self, singleShot=True, interval=IDLE_MS)
        self._idle.timeout.connect(self.give_back)
        window.worker.sig_tile_ready.connect(self._on_tile)
        window.worker.sig_pending_changed.connect(self._on_pending)
        window.jobs.sig_running_changed.connect(self._on_jobs)
        self.apply(window.prefs.memory_mib)

    def apply(self, total_mib: int) -> MemoryPlan:
        """Share ``total_mib`` out (caches shrink at once when it went down)."""
        self.plan = MemoryPlan.of(total_mib)
        self.window.canvas.cache.set_budget(self.plan.tiles)
        DEFAULT_STORE.set_max_bytes(self.plan.fields)
        return self.plan

    def give_back(self) -> None:
        self._rendered = False
        return_memory()
        self.returns += 1

    def _trim_while_busy(self) -> None:
        if self._rendered_since_trim:
            self._rendered_since_trim = False
            threading.Thread(target=trim_heap, name="heap-trim", daemon=True).start()
            self.trims += 1

    def _on_tile(self, *_args) -> None:
        self._rendered = self._rendered_since_trim = True

    def _on_pending(self, count: int) -> None:
        if count == 0 and self._rendered:
            self._idle.start()
        elif count:
            self._idle.stop()

    def _on_jobs(self, running: int) -> None:
        if running < self._running_jobs:
            self.give_back()  # a job ended: its working set is garbage now
        self._running_jobs = running
