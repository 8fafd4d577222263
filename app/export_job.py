"""An export as a job: :func:`engine.export.export` on a thread of the job loop's pool.

The export renders with its own :class:`~engine.render.Renderer` (from the factory it is given) so
the canvas's tile worker keeps serving the view while a huge export streams to disk. Progress
becomes the job's fraction and status line, and its throughput (megapixels per second against
seconds) a curve the Jobs dock plots. Cancel sets the flag the exporter polls between blocks; the
exporter's atomic write guarantees that a cancelled or failed export leaves no file under the name.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

from app.jobs import Job
from engine.export import ExportOptions, ExportProgress, export
from engine.geometry import Rect
from engine.render import Renderer
from engine.world import World

RendererFactory = Callable[[], Renderer]
THROUGHPUT = "Mpx/s"


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "estimating…"
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"


def _report(job: Job, report: ExportProgress) -> None:
    rate = report.done / report.elapsed / 1e6 if report.elapsed > 0 else 0.0
    job.progress(report.fraction, f"{report.stage}: {rate:.2f} Mpx/s, {format_eta(report.eta)} left")
    if report.elapsed > 0:
        job.add_point(THROUGHPUT, report.elapsed, rate)


def export_coroutine(factory: RendererFactory, world: World, rect: Rect, path: Path, options: ExportOptions):
    """``run(job)`` for :meth:`~app.jobs.JobManager.start`: writes ``path``, returns it as text."""

    async def run(job: Job) -> str:
        report = job.threadsafe(lambda progress: _report(job, progress))

        def work() -> str:
            export(factory(), world, rect, path, options, progress=report, cancelled=job.cancelled)
            return str(path)

        return await job.in_thread(work)

    return run


def show_export(path: str) -> None:
    """ "Show result": open the written image with the system's viewer."""
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).resolve())))
