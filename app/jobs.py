"""Background jobs: ``async`` coroutines on Qt's own event loop (qasync), one shape for every kind.

Export, inversion and training were each written differently (a thread, a QThread, a QProcess),
each with its own cancel flag and error handling. Here a job is a coroutine ``run(job)`` that
awaits the heavy part wherever it runs (:meth:`Job.in_thread`, the tile worker, a child process)
and reports through the :class:`Job` it is given; the GUI thread only ever runs the short pieces
between awaits. Every job has the same surface: a title, progress (fraction, ETA, a status line),
curves worth plotting (the inversion's loss, an export's throughput), a log, cancel, and a result
or a one-line error (an :class:`~engine.errors.EverscapeError`'s message). A failed or cancelled
job can be retried: the :class:`JobManager` runs its coroutine function again.

Cancel is cooperative: :attr:`Job.cancel_event` is the flag heavy code polls (``cancelled=``
arguments of the engine), and the coroutine's awaits are cancelled too. The engine's
:class:`~engine.render.Cancelled` and asyncio's ``CancelledError`` both end a job as cancelled.

The loop: :func:`install_loop` makes a qasync loop asyncio's loop for the application
(``app.main`` runs it; tests install one over pytest-qt's application, see ``tests/app/conftest``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any

import qasync
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication

from engine.errors import EverscapeError
from engine.render import Cancelled

MAX_LOG = 2000


class JobState(Enum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


_loop: qasync.QEventLoop | None = None


def install_loop(app: QApplication | None = None, already_running: bool = False) -> qasync.QEventLoop:
    """Make a qasync loop on ``app`` asyncio's event loop (once; later calls return it).

    ``app.main`` installs it before the window and then runs it (``run_forever`` is ``app.exec``).
    ``already_running``: Qt's loop is run by someone else (pytest-qt's waits): asyncio is told the
    loop runs now, and coroutines step whenever Qt spins (qasync's documented mode for a running
    application; the caller stops and closes it)."""
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = qasync.QEventLoop(app or QApplication.instance(), already_running=already_running)
        asyncio.set_event_loop(_loop)
    return _loop


def current_loop() -> qasync.QEventLoop:
    """The installed loop; starting a job without one is a programming error, said plainly."""
    if _loop is None or _loop.is_closed():
        raise RuntimeError("no qasync loop: app.jobs.install_loop() must run before jobs start")
    return _loop


def one_line(error: BaseException) -> str:
    """An error as the user sees it: our own errors' message, else the kind and its first line."""
    if isinstance(error, EverscapeError):
        return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    text = str(error).strip()
    first = text.splitlines()[0][:200] if text else ""
    return f"internal error: {type(error).__name__}: {first}" if first else f"internal error: {type(error).__name__}"


class Job(QObject):
    """One run of a coroutine; see the module docstring. Created and started by :class:`JobManager`.

    Signals
    -------
    sig_changed()
        Progress, status, curves or log changed (coalesce: many per second during an export).
    sig_finished()
        Once, when the job is done, failed or cancelled.
    """

    sig_changed = Signal()
    sig_finished = Signal()

    def __init__(
        self,
        title: str,
        run: Callable[[Job], Awaitable[Any]],
        show_result: Callable[[Any], None] | None = None,
        kind: str = "",
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.title, self.run, self.kind = title, run, kind
        self.show_result_with = show_result
        self.state = JobState.RUNNING
        self.fraction: float | None = None
        self.status = "starting…"
        self.result: Any = None
        self.error: str | None = None
        self.log: list[str] = []
        self.curves: dict[str, list[tuple[float, float]]] = {}
        self.cancel_event = threading.Event()
        self.started = time.monotonic()
        self.ended: float | None = None
        self.task: asyncio.Task | None = None

    # -- reporting (GUI thread; from other threads use :meth:`threadsafe`) --------------------------

    def progress(self, fraction: float | None, status: str | None = None) -> None:
        self.fraction = None if fraction is None else min(1.0, max(0.0, float(fraction)))
        if status is not None:
            self.status = status
        self.sig_changed.emit()

    def add_point(self, curve: str, x: float, y: float) -> None:
        self.curves.setdefault(curve, []).append((float(x), float(y)))
        self.sig_changed.emit()

    def add_log(self, line: str) -> None:
        self.log.append(line)
        del self.log[:-MAX_LOG]
        self.sig_changed.emit()

    def threadsafe(self, method: Callable[..., None]) -> Callable[..., None]:
        """``method`` (e.g. ``job.progress``) callable from any thread: it runs on the GUI thread."""
        loop = current_loop()
        return lambda *args: loop.call_soon_threadsafe(method, *args)

    @property
    def eta(self) -> float | None:
        """Seconds left, from the time spent so far and the fraction done (None until known)."""
        if self.state is not JobState.RUNNING or not self.fraction or self.fraction <= 0:
            return None
        spent = time.monotonic() - self.started
        return spent * (1 - self.fraction) / self.fraction

    @property
    def running(self) -> bool:
        return self.state is JobState.RUNNING

    # -- control ------------------------------------------------------------------------------------

    def cancel(self) -> None:
        """Ask the job to stop: heavy code sees :attr:`cancel_event`, awaits are cancelled."""
        if not self.running:
            return
        self.cancel_event.set()
        self.status = "cancelling…"
        self.sig_changed.emit()
        if self.task is not None:
            self.task.cancel()

    def cancelled(self) -> bool:
        """For the engine's ``cancelled=`` callbacks (any thread)."""
        return self.cancel_event.is_set()

    async def in_thread(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run ``function(*args)`` on a thread of the loop's pool and await it."""
        return await self.finish(asyncio.get_running_loop().run_in_executor(None, function, *args))

    async def finish(self, future: asyncio.Future | concurrent.futures.Future) -> Any:
        """Await work running elsewhere (a thread, the tile worker). Cancelling the job waits for
        that work to see :attr:`cancel_event` and end, so no work outlives its job."""
        if isinstance(future, concurrent.futures.Future):
            future = asyncio.wrap_future(future, loop=current_loop())
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            self.cancel_event.set()
            await asyncio.wait([future])
            if not future.cancelled():
                future.exception()  # retrieved: its Cancelled is the expected end, never logged at exit
            raise

    def wait(self, timeout: float = 30.0) -> bool:
        """Spin Qt's loop until the job ends (closing the window, tests); True if it has."""
        deadline = time.monotonic() + timeout
        app = QApplication.instance()
        while self.running and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.002)
        return not self.running

    def show_result(self) -> bool:
        """Open what the job made (the export, the edit, the run); False if there is nothing to show."""
        if self.state is not JobState.DONE or self.show_result_with is None:
            return False
        self.show_result_with(self.result)
        return True

    async def _main(self) -> None:
        try:
            self.result = await self.run(self)
        except (Cancelled, asyncio.CancelledError):
            self._end(JobState.CANCELLED, "cancelled")
        except Exception as error:  # noqa: BLE001 - every failure becomes the job's one-line error
            self.error = one_line(error)
            self._end(JobState.FAILED, self.error)
        else:
            self._end(JobState.DONE, f"done in {time.monotonic() - self.started:.1f} s")

    def _on_task_done(self, _task: asyncio.Task) -> None:
        if self.running:  # cancelled before its first step: ``_main`` never ran
            self._end(JobState.CANCELLED, "cancelled")

    def _end(self, state: JobState, status: str) -> None:
        self.state, self.status, self.ended = state, status, time.monotonic()
        if state is JobState.DONE:
            self.fraction = 1.0
        self.add_log(status if state is JobState.DONE else f"{state.value}: {status}")
        self.sig_finished.emit()


class JobManager(QObject):
    """Every job of the session, running and finished, in start order.

    Signals
    -------
    sig_added(Job)
    sig_running_changed(int)
        The number of running jobs.
    """

    sig_added = Signal(object)
    sig_running_changed = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs: list[Job] = []

    def start(
        self,
        title: str,
        run: Callable[[Job], Awaitable[Any]],
        show_result: Callable[[Any], None] | None = None,
        kind: str = "",
    ) -> Job:
        """Start ``run(job)`` as a task of the qasync loop and list it."""
        job = Job(title, run, show_result, kind, parent=self)
        self.jobs.append(job)
        job.sig_finished.connect(lambda: self.sig_running_changed.emit(self.running_count()))
        job.task = current_loop().create_task(job._main())
        job.task.add_done_callback(job._on_task_done)
        self.sig_added.emit(job)
        self.sig_running_changed.emit(self.running_count())
        return job

    def retry(self, job: Job) -> Job | None:
        """Run a failed or cancelled job's coroutine again, as a new job (None if it still runs or succeeded)."""
        if job.state not in (JobState.FAILED, JobState.CANCELLED):
            return None
        return self.start(job.title, job.run, job.show_result_with, job.kind)

    def running(self) -> list[Job]:
        return [job for job in self.jobs if job.running]

    def running_count(self) -> int:
        return len(self.running())

    def cancel_all(self, timeout: float = 30.0) -> bool:
        """Cancel every running job and spin the loop until they end; True if all did in time."""
        running = self.running()
        for job in running:
            job.cancel()
        deadline = time.monotonic() + timeout
        return all(job.wait(max(0.0, deadline - time.monotonic())) for job in running)
