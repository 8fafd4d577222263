"""The tile worker: one thread that owns the model, the torch device and the :class:`Renderer`.

The GUI thread never touches torch. It tells the worker which model to open (:meth:`open_model`) and,
whenever the view or the world changes, hands it the *whole* list of tiles it now wants
(:meth:`submit`), which starts a new epoch: the list replaces the queue, so requests of earlier
epochs that are no longer wanted (tiles that left the view, tiles of an older world) are dropped
before they cost anything, while tiles still wanted keep their place. A batch already running is
never interrupted mid-forward; if the world changed meanwhile, its results are dropped instead of
emitted (the renderer also stops between forward passes once the batch is stale). Results of a
batch whose world is still current stay useful after a mere pan, so they are delivered.

Model work other than tiles (an image inversion, variants) is a *call* (:meth:`call`): a function
the worker runs with its :class:`Renderer` and a ``serve_tiles`` hook that renders the next
pending tile batch. A long call invokes the hook between its own steps, so visible tiles keep
arriving while it runs: tiles first, a call's step next, never a second thread on the model.
The caller gets a ``concurrent.futures.Future`` (awaitable from a job via ``asyncio.wrap_future``).
:meth:`call_idle` is the lowest priority: it waits until no tile and no other call is pending
(thumbnails of staged variants, which must never delay a visible tile).

Each step takes the best request and the next best ones of the same level (same shape) up to
``batch_tiles`` and renders them in one :meth:`Renderer.render` call, which batches the model's
blocks. Results cross to the GUI thread as numpy arrays already in ``QImage.Format_RGB32`` layout;
errors (out of memory, a model raising) become :attr:`sig_failed` messages and the worker carries on.

Signals
-------
sig_model_ready(ModelInfo)
    A model finished loading; tiles may be submitted for worlds of it.
sig_tile_ready(TileKey, numpy.ndarray)
    A ``(256, 256, 4)`` uint8 RGB32 tile of the current world: one asked for, or (after a
    synthesised one) one of its four children, made on the way at no cost.
sig_failed(list[TileKey], str)
    A one-line error; the keys (maybe empty) are the tiles it concerned.
sig_pending_changed(int)
    Tiles queued or being rendered.
sig_call_done(str, object)
    A :meth:`TileWorker.call_latest` of that group returned this result (small model-side work such
    as the fusion overlay and style swatches, run here because this thread owns the model).
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QThread, Signal

from app.coarse_previews import coarse_rect, is_coarse
from app.qimage import rgb_to_rgb32
from app.tiles import TILE, LevelPlan, TileKey, downsample_box
from engine.errors import EverscapeError
from engine.render import Cancelled, Renderer, is_out_of_memory
from engine.world import World


@dataclass(frozen=True)
class ModelInfo:
    """What the GUI needs to know about the open model."""

    ref: str
    sha256: str | None
    num_levels: int
    device: str  # "cpu", "cuda:0", "mps"
    device_name: str  # human readable, e.g. "NVIDIA H100" or "CPU"
    # The generator itself, for its latent geometry (field specs, config) that edit tools read on
    # the GUI thread; only the worker ever runs it.
    model: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class TileRequest:
    key: TileKey
    priority: tuple[Any, ...]


#: ``function(renderer, serve_tiles)``, run by :meth:`TileWorker.call` in the worker thread.
WorkerCall = Callable[[Renderer, Callable[[], None]], Any]


def tile_region(model) -> int:
    """Model blocks per side of the windows the worker renders: one display tile per forward pass.

    A tile rendered as one padding-free region pays the model's margins once instead of once per
    block; on 2 CPU cores that makes the shipped models' tiles about 1.5x cheaper than 128-px blocks
    (while larger regions get slower per pixel again: their activations leave the caches). Every tile
    uses the same grid, so tiles stitch exactly; against block- or export-sized regions they agree
    within 1 LSB (kernels sum in a shape-dependent order).

    Single-level models only: with ∞-GAN's four native levels in play, a zooming and panning canvas
    rendering regions held hundreds of MiB more in short spikes (tests/app/test_memory_soak.py)
    than with blocks, for reasons not yet pinned down (not the forward's own working set, which
    grows by under 100 MiB at any level); its tiles stay on blocks until that is understood.
    """
    block = model.block_size(0)
    if not getattr(model, "renders_regions", False) or TILE % block or model.num_levels() > 1:
        return 1
    return TILE // block


def default_loader(ref: str):
    from engine.models.registry import load_model

    return load_model(ref)


class TileWorker(QThread):
    """See the module docstring. Create, :meth:`start`, and always :meth:`shutdown` before dropping."""

    sig_model_ready = Signal(object)
    sig_tile_ready = Signal(object, object)
    sig_failed = Signal(object, str)
    sig_pending_changed = Signal(int)
    sig_call_done = Signal(str, object)

    def __init__(self, device: str | None = None, batch_tiles: int = 4, max_batch: int = 8, parent=None) -> None:
        super().__init__(parent)
        self.device_preference = device
        self.batch_tiles = max(1, batch_tiles)
        self.max_batch = max_batch
        self._cond = threading.Condition()
        self._stopping = False
        self._load: tuple[str, Callable] | None = None
        self._queue: dict[TileKey, TileRequest] = {}
        self._calls: deque[tuple[concurrent.futures.Future, WorkerCall]] = deque()
        self._idle_calls: deque[tuple[concurrent.futures.Future, WorkerCall]] = deque()
        self._latest: dict[str, Callable[[Renderer], Any]] = {}  # group -> newest call not yet started
        self._in_flight: set[TileKey] = set()
        self._world: World | None = None
        self._plan = LevelPlan()
        self._epoch = 0
        self._first_of_list = False  # the next batch is the first of a newly submitted list
        self._renderer: Renderer | None = None
        self._model_ref: str | None = None
        self._calibrate: World | None = None  # a world of the open model whose preview colours to fit
        self._last_pending = -1
        self.tiles_rendered = 0  # statistics for tests and benchmarks
        self.busy_seconds = 0.0

    # -- GUI thread API ---------------------------------------------------------------------------

    def open_model(self, ref: str, loader: Callable | None = None) -> None:
        """Load ``ref`` (in the worker) and forget every queued tile of the previous model."""
        with self._cond:
            self._load = (ref, loader or default_loader)
            self._queue.clear()
            self._latest.clear()  # overlays and swatches were asked of the previous model
            self._world = None
            self._epoch += 1
            self._cond.notify_all()
        self._report_pending()

    def submit(self, world: World, plan: LevelPlan, requests: Sequence[TileRequest]) -> int:
        """Replace the queue with ``requests`` for ``world``; returns the new epoch."""
        with self._cond:
            self._world, self._plan = world, plan
            self._queue = {r.key: r for r in requests if r.key not in self._in_flight}
            self._first_of_list = True
            self._epoch += 1
            self._cond.notify_all()
            epoch = self._epoch
            calibrate, self._calibrate = self._calibrate, None
        if calibrate is not None:
            # Fit (or read) the model's coarse preview colours once the first view's tiles are done, so
            # that neither the first view nor the first zoom-out waits for it.
            self.call_idle(lambda renderer, _serve: renderer.preview_calibration(calibrate))
        self._report_pending()
        return epoch

    def call(self, function: WorkerCall) -> concurrent.futures.Future:
        """Run ``function(renderer, serve_tiles)`` in the worker once the open model is loaded.

        The future fails with :class:`~engine.errors.EverscapeError` if no model is open or
        opening, and with :class:`Cancelled` if the worker shuts down first."""
        return self._enqueue(self._calls, function)

    def call_idle(self, function: WorkerCall) -> concurrent.futures.Future:
        """:meth:`call`, but run only once no tile and no other call waits (lowest priority)."""
        return self._enqueue(self._idle_calls, function)

    def _enqueue(self, queue: deque, function: WorkerCall) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._cond:
            if self._stopping:
                future.set_exception(Cancelled("the tile worker has stopped"))
            elif self._renderer is None and self._load is None:
                future.set_exception(EverscapeError("no model is open"))
            else:
                queue.append((future, function))
                self._cond.notify_all()
        return future

    def call_latest(self, group: str, fn: Callable[[Renderer], Any]) -> None:
        """Run ``fn(renderer)`` in the worker before further tiles, keeping only the newest call of
        each ``group`` not yet started (an overlay asked again replaces the stale request). Its
        result arrives as :attr:`sig_call_done`; an error as :attr:`sig_failed` with no keys."""
        with self._cond:
            scheduled = group in self._latest
            self._latest[group] = fn
        if scheduled:
            return
        if self.call(lambda renderer, _serve_tiles: self._run_latest(group, renderer)).done():
            with self._cond:  # no model open, or stopping: nothing will run it
                self._latest.pop(group, None)

    def stopping(self) -> bool:
        """True once :meth:`shutdown` began (long calls poll it to end early)."""
        return self._stopping

    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + len(self._in_flight)

    def shutdown(self, timeout_ms: int = 30000) -> None:
        """Stop after the running forward pass (if any) and join the thread."""
        with self._cond:
            self._stopping = True
            self._queue.clear()
            calls, self._calls = [*self._calls, *self._idle_calls], deque()
            self._idle_calls.clear()
            self._cond.notify_all()
        for future, _function in calls:
            if future.set_running_or_notify_cancel():
                future.set_exception(Cancelled("the tile worker has stopped"))
        if self.isRunning() and not self.wait(timeout_ms):
            raise RuntimeError("tile worker did not stop")

    # -- worker thread ----------------------------------------------------------------------------

    def run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and self._load is None and not self._has_work():
                    self._cond.wait()
                if self._stopping:
                    return
                load, self._load = self._load, None
                call = self._next_call() if load is None and self._renderer else None
            if load is not None:
                self._open(*load)
            elif call is not None:
                self._run_call(*call)
            else:
                self._serve_tiles()

    def _has_work(self) -> bool:
        return self._renderer is not None and bool(self._queue or self._calls or self._idle_calls)

    def _next_call(self) -> tuple[concurrent.futures.Future, WorkerCall] | None:
        """A waiting call, else an idle call once no tile waits either (caller holds the lock)."""
        if self._calls:
            return self._calls.popleft()
        return self._idle_calls.popleft() if self._idle_calls and not self._queue else None

    def _serve_tiles(self) -> None:
        """Render the best pending batch of tiles, if any (also the hook calls get)."""
        with self._cond:
            if self._stopping or not self._queue or self._renderer is None:
                return
            batch = self._take_batch()
            world, plan = self._world, self._plan
            self._in_flight = set(batch)
        self._report_pending()
        try:
            self._render(batch, world, plan)
        finally:
            with self._cond:
                self._in_flight = set()
            self._report_pending()

    def _run_call(self, future: concurrent.futures.Future, function: WorkerCall) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            result = function(self._renderer, self._serve_tiles)
        except BaseException as error:  # noqa: BLE001 - handed to the caller, who reports it
            future.set_exception(error)
        else:
            future.set_result(result)

    def _run_latest(self, group: str, renderer: Renderer) -> None:
        with self._cond:
            fn = self._latest.pop(group, None)
        if fn is None:  # the model changed since it was asked
            return
        try:
            result = fn(renderer)
        except EverscapeError as error:
            self.sig_failed.emit([], str(error))
            return
        except Exception as error:  # noqa: BLE001 - a failing overlay must not kill the worker
            self.sig_failed.emit([], f"{group} failed: {type(error).__name__}: {_first_line(error)}")
            return
        self.sig_call_done.emit(group, result)

    def _take_batch(self) -> list[TileKey]:
        """The best request plus the next best ones of the same level (caller holds the lock).

        A tile of a synthesised level is rendered at ``4**halvings`` times its pixels, so a batch holds
        at most the native pixels of ``batch_tiles`` plain tiles (at least one tile): the working set
        of a batch, which the memory budget leaves headroom for, is then the same at every zoom (with
        the default 4, one tile per call at 1/2 and below: the first arrives after ``4**k`` blocks)."""
        ordered = sorted(self._queue.values(), key=lambda r: r.priority)
        level = ordered[0].key.level
        # The first tile of a new list (the view's centre) comes alone, so the view shows something
        # after one tile's work.
        first, self._first_of_list = self._first_of_list, False
        coarse = is_coarse(ordered[0].key)  # a preview costs about one plain tile at any level
        _, halvings = (level, 0) if coarse else self._plan.source(level)
        per_batch = 1 if first else max(1, self.batch_tiles >> (2 * halvings))
        batch = [r.key for r in ordered if r.key.level == level and is_coarse(r.key) == coarse][:per_batch]
        for key in batch:
            del self._queue[key]
        return batch

    def _stale(self, world: World) -> bool:
        return self._stopping or self._world is not world

    def _open(self, ref: str, loader: Callable) -> None:
        try:
            loaded = loader(ref)
            region = tile_region(loaded.model)
            renderer = Renderer(loaded.model, self.device_preference, max_batch=self.max_batch, region=region)
        except EverscapeError as error:
            self.sig_failed.emit([], str(error))
            return
        except Exception as error:  # noqa: BLE001 - a broken model must not kill the app
            self.sig_failed.emit([], f"could not open model {ref}: {type(error).__name__}: {_first_line(error)}")
            return
        with self._cond:
            if self._load is not None or self._stopping:
                return  # superseded while loading
            self._renderer = renderer
            self._model_ref = ref
            self._calibrate = World(ref, 0, model_hash=loaded.sha256) if loaded.model.preview_levels() else None
        device = renderer.device
        name = "CPU"
        if device.type == "cuda":
            import torch

            name = torch.cuda.get_device_name(device)
        elif device.type == "mps":
            name = "Apple GPU (MPS)"
        self.sig_model_ready.emit(
            ModelInfo(ref, loaded.sha256, loaded.model.num_levels(), str(device), name, loaded.model)
        )

    def _render(self, batch: list[TileKey], world: World, plan: LevelPlan) -> None:
        renderer = self._renderer
        if not batch or renderer is None or world is None or world.model != self._model_ref:
            return  # nothing to do, or tiles of a world of the previous model (queued while loading)
        if is_coarse(batch[0]):  # a coarse preview (app.coarse_previews): the tile at its own level
            rects, levels, halvings = [coarse_rect(key) for key in batch], [batch[0].level], [0] * len(batch)
            draw = renderer.render_preview
        else:
            rects, levels, halvings = zip(*(plan.render_rect(key) for key in batch))
            draw = renderer.render
        start = time.perf_counter()
        try:
            arrays = draw(world, list(rects), levels[0], cancelled=lambda: self._stale(world))
        except Cancelled:
            return
        except EverscapeError as error:
            self.sig_failed.emit(batch, str(error))
            return
        except Exception as error:  # noqa: BLE001 - model failures are reported, the app stays alive
            if is_out_of_memory(error):
                message = f"out of memory on {renderer.device}; try a smaller model or the CPU"
            else:
                message = f"the model failed: {type(error).__name__}: {_first_line(error)}"
            self.sig_failed.emit(batch, message)
            return
        finally:
            self.busy_seconds += time.perf_counter() - start
        for key, pixels, k in zip(batch, arrays, halvings, strict=True):
            finer = downsample_box(pixels, k - 1) if k else pixels
            if self._stale(world):
                return  # the world changed while we rendered: drop, never show old pixels
            self.tiles_rendered += 1
            self.sig_tile_ready.emit(key, rgb_to_rgb32(downsample_box(finer, 1) if k else pixels))
            if k:  # the next level in comes free with a synthesised tile: the pyramid from one render
                for child in key.children(1):
                    i, j = (child.tx - 2 * key.tx) * TILE, (child.ty - 2 * key.ty) * TILE
                    self.sig_tile_ready.emit(child, rgb_to_rgb32(finer[j : j + TILE, i : i + TILE]))

    def _report_pending(self) -> None:
        with self._cond:
            count = len(self._queue) + len(self._in_flight)
            changed, self._last_pending = count != self._last_pending, count
        if changed:
            self.sig_pending_changed.emit(count)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else ""
