"""Render in one thread, encode and write in another, with a bounded hand-over and progress.

Rendering (torch) and compressing (zlib, zstd, JPEG in C) both release the GIL, so with a
writer thread the encoder runs while the next tile renders and the exporter costs little beyond
the rendering itself. The queue between them is bounded in bytes, so a slow disk throttles
rendering instead of filling memory. Errors travel both ways: a failed writer stops the
producer at its next tile, a failed or cancelled producer makes the writer's tile iterator raise.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

#: Bytes of finished tiles allowed to wait for the writer.
QUEUE_BYTES = 48 * 2**20


@dataclass(frozen=True)
class ExportProgress:
    """A progress report: work units done of total (rendered pixels, pyramid pixels count less)."""

    done: float
    total: float
    elapsed: float
    stage: str  # "render" or "pyramid k"

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 1.0

    @property
    def eta(self) -> float | None:
        """Seconds left, extrapolated from the rate so far (None until there is a rate)."""
        if self.done <= 0 or self.elapsed <= 0:
            return None
        return max(0.0, self.elapsed * (self.total - self.done) / self.done)


ProgressCallback = Callable[[ExportProgress], None]


class ProgressMeter:
    """Accumulates work from both threads and forwards reports, at most every ``interval`` seconds."""

    def __init__(self, total: float, callback: ProgressCallback | None, interval: float = 0.1) -> None:
        self.total = total
        self.callback = callback
        self.interval = interval
        self.start = time.perf_counter()
        self.done = 0.0
        self._last = -1.0
        self._lock = threading.Lock()

    def add(self, units: float, stage: str, force: bool = False) -> None:
        with self._lock:
            self.done += units
            now = time.perf_counter()
            if self.callback is None or (not force and now - self._last < self.interval):
                return
            self._last = now
            # Called under the lock so reports from the two threads arrive in order.
            self.callback(ExportProgress(self.done, self.total, now - self.start, stage))


class _Failed:
    """Queue item telling the writer that the producer stopped."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class ProducerStopped(Exception):
    """Raised inside the writer's tile iterator when the producer failed or was cancelled."""


_DONE = object()


def run_pipeline(produce: Iterator[np.ndarray], write: Callable[[Iterator[np.ndarray]], None], tile_bytes: int) -> None:
    """Feed the arrays of ``produce`` (run in this thread) to ``write`` (run in a writer thread)."""
    depth = max(1, min(16, QUEUE_BYTES // max(1, tile_bytes)))
    hand_over: queue.Queue = queue.Queue(maxsize=depth)
    errors: list[BaseException] = []

    def tiles() -> Iterator[np.ndarray]:
        while True:
            item = hand_over.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise ProducerStopped from item.error
            yield item

    def writer() -> None:
        try:
            write(tiles())
        except BaseException as error:  # noqa: BLE001 - handed to the producer thread
            errors.append(error)

    thread = threading.Thread(target=writer, name="everscape-export-writer", daemon=True)
    thread.start()

    def put(item: object) -> bool:
        """Hand over ``item``; False when the writer is gone (it failed)."""
        while thread.is_alive():
            try:
                hand_over.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    try:
        for tile in produce:
            if not put(tile):
                break
        else:
            put(_DONE)
    except BaseException as error:
        put(_Failed(error))
        thread.join()
        raise
    thread.join()
    if errors:
        raise errors[0]
