"""Drop an image file on the canvas: the world is inverted to contain it, and continues it around.

Not a toolbar tool but always on: dropping a file centres the image on the drop point (one image
pixel per world pixel of level 0) and starts an inversion job (:mod:`app.jobs`): the file is read
on a pool thread and :func:`engine.invert.invert` runs as a call of the tile worker, the one
thread that runs the model, which renders pending tiles between optimisation steps so the canvas
stays live. A progress dialog with Cancel follows it; the Jobs dock lists it with its loss curve.
The result is committed through the tools controller (one undo step), but only if the shown world
is still the one the inversion started from; an edit made meanwhile wins and the user is told.
Closing the window asks first and cancels a running job (the Jobs dock, :mod:`app.panels.jobs_dock`);
the tile worker's shutdown ends it at the next optimisation step at the latest. File ▸ Import
image… (:meth:`ImageDropper.import_file`) takes the same path for a file picked in a dialog,
centred on the view, for users (and platforms) without drag and drop.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QFileDialog, QProgressDialog

from app.jobs import Job, JobManager, JobState
from app.tools.base import Commit
from engine.errors import EverscapeError, InvalidInput
from engine.geometry import Rect
from engine.imageio import READ_SUFFIXES
from engine.invert import InversionResult, InvertConfig, invert, load_image
from engine.render import Renderer
from engine.world import World

LOSS = "loss"
IMAGE_FILTER = f"Images ({' '.join('*' + suffix for suffix in READ_SUFFIXES)})"


def inversion_call(job: Job, world: World, image, at: tuple[int, int], config: InvertConfig, stopping):
    """The worker call: invert with the worker's model on its device, serving tiles between steps."""

    def fit(model, device, progress, cancelled) -> InversionResult:
        return invert(model, world, image, at, config, device=device, progress=progress, cancelled=cancelled)

    return fit_call(job, config.steps, fit, stopping)


def fit_call(job: Job, steps: int, fit: Callable[..., InversionResult], stopping: Callable[[], bool]):
    """A worker call running ``fit(model, device, progress, cancelled)`` (an engine optimisation:
    inversion, inbetween, loop) with the worker's model on its device, serving tiles between steps
    and reporting each step's loss to ``job``."""
    on_step = job.threadsafe(lambda step, loss: _on_step(job, steps, step, loss))

    def call(renderer: Renderer, serve_tiles: Callable[[], None]) -> InversionResult:
        def progress(step: int, loss: float) -> None:
            on_step(step, loss)
            serve_tiles()  # the view's tiles between two steps: the canvas stays responsive

        return fit(renderer.model, renderer.device, progress, lambda: job.cancelled() or stopping())

    return call


def check_rows(model, rect: Rect) -> None:
    """One line when ``rect`` leaves the rows the model was trained on (a row-dependent model such as
    InfinityGAN draws nothing meaningful there, so an image cannot be fitted)."""
    rows = None if model is None else model.data_rows()
    if rows is not None and (rect.y < rows[0] or rect.bottom > rows[1]):
        raise InvalidInput(
            f"the image spans rows {rect.y}..{rect.bottom}, outside the model's rows {rows[0]}..{rows[1]}; "
            "drop it higher or lower"
        )


def _on_step(job: Job, steps: int, step: int, loss: float) -> None:
    job.progress(step / steps, f"step {step} of {steps}, loss {loss:.4f}")
    job.add_point(LOSS, step, loss)


class ImageDropper(QObject):
    """Accepts image files dropped on ``canvas`` and commits their inversions (see module docstring)."""

    def __init__(
        self,
        canvas,
        commit: Commit,
        model: Callable[[], object | None],
        report_error: Callable[[str], None] | None = None,
        config: InvertConfig | None = None,
        jobs: JobManager | None = None,
    ) -> None:
        super().__init__(canvas)
        self.jobs = jobs or JobManager(self)
        self.canvas = canvas
        self._commit = commit
        self.model = model
        self.report_error = report_error or (lambda message: None)
        self.config = config or InvertConfig(steps=200)
        self.job: Job | None = None
        self.dropping: tuple[Path, tuple[int, int]] | None = None  # the image being inverted, its centre
        # Hooks of the staging strip (app.staging_session): a result staged instead of committed,
        # and a drop taken over (a second image while one is staged: an inbetween). Unset: commit.
        self.stage: Callable[[InversionResult, World, Path, tuple[int, int], tuple[int, int]], None] | None = None
        self.route: Callable[[Path, tuple[int, int]], bool] | None = None
        self.dialog: QProgressDialog | None = None
        self._window = canvas.window()
        canvas.setAcceptDrops(True)
        canvas.installEventFilter(self)
        if jobs is None:  # its own jobs: closing the window cancels them (else the jobs' owner asks first)
            self._window.installEventFilter(self)

    # -- events ---------------------------------------------------------------------------------

    def eventFilter(self, watched, event) -> bool:
        kind = event.type()
        if watched is self._window and kind == QEvent.Type.Close:
            self.shutdown()
            return False
        if watched is not self.canvas:
            return False
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            if self._dropped_path(event) is not None:
                event.acceptProposedAction()
                return True
            return False
        if kind == QEvent.Type.Drop:
            path = self._dropped_path(event)
            if path is None:
                return False
            event.acceptProposedAction()
            pos = event.position()
            self.drop_file(path, *self.canvas.view.screen_to_world(pos.x(), pos.y()))
            return True
        return False

    @staticmethod
    def _dropped_path(event) -> Path | None:
        mime = event.mimeData()
        if mime is None or not mime.hasUrls():
            return None
        files = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
        return Path(files[0]) if files else None

    # -- jobs -----------------------------------------------------------------------------------

    def import_file(self) -> bool:
        """File ▸ Import image…: pick a file, then invert it centred on the view, as a drop there would."""
        path, _filter = QFileDialog.getOpenFileName(self._window, "Import image", "", IMAGE_FILTER)
        if not path:
            return False  # the user cancelled
        return self.drop_file(path, *self.canvas.view.centre)

    def drop_file(self, path: str | Path, x: int, y: int) -> bool:
        """Start inverting the image at ``path`` centred on world pixel ``(x, y)``; False if refused."""
        if self.route is not None and self.route(Path(path), (int(x), int(y))):
            return True
        if self.job is not None:
            self.report_error("an image is already being inverted; wait or cancel it")
            return False
        world = self.canvas.world
        if self.model() is None or world is None:
            self.report_error("open a model before dropping an image")
            return False
        path, centre = Path(path), (int(x), int(y))
        job = self.jobs.start(
            f"Invert {path.name}", self._inversion(world, path, centre, self.config),
            show_result=lambda _result: self.canvas.centre_on(*centre), kind="inversion",
        )  # fmt: skip
        dialog = QProgressDialog(f"Fitting the world to {path.name}…", "Cancel", 0, self.config.steps)
        dialog.setWindowTitle("Invert image")
        dialog.setMinimumDuration(0)
        dialog.canceled.connect(job.cancel)
        job.sig_changed.connect(self._on_progress)
        job.sig_finished.connect(self._on_finished)
        self.job, self.dialog, self.dropping = job, dialog, (path, centre)
        return True

    def _inversion(self, world: World, path: Path, centre: tuple[int, int], config: InvertConfig):
        """The job's coroutine: read the image (pool thread), invert (tile worker), commit (here)."""
        worker = self.canvas.worker

        async def run(job: Job) -> InversionResult:
            image = await job.in_thread(load_image, path)
            h, w = image.shape[:2]
            at = (centre[0] - w // 2, centre[1] - h // 2)
            check_rows(self.model(), Rect(at[0], at[1], w, h))
            result = await job.finish(worker.call(inversion_call(job, world, image, at, config, worker.stopping)))
            if self.canvas.world is not world:
                raise EverscapeError("the world changed while the image was being inverted; drop it again")
            if self.stage is not None:
                self.stage(result, world, path, centre, (w, h))
            else:
                self._commit(result.world, None, f"Import {path.name}")
            return result

        return run

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def shutdown(self) -> None:
        """Cancel a running job and wait for it (the window is closing)."""
        if self.job is not None:
            self.job.cancel()
            self.job.wait()
            self._finish()

    def _on_progress(self) -> None:
        job = self.job
        if self.dialog is not None and job is not None and job.running and job.curves.get(LOSS):
            step, _loss = job.curves[LOSS][-1]
            self.dialog.setValue(int(step))
            self.dialog.setLabelText(f"Fitting the world to the image: {job.status}")

    def _on_finished(self) -> None:
        job = self.job
        self._finish()
        if job is not None and job.state is JobState.FAILED and job.error:
            self.report_error(job.error)

    def _finish(self) -> None:
        self.job, self.dropping = None, None
        if self.dialog is not None:
            self.dialog.canceled.disconnect()
            self.dialog.reset()
            self.dialog.deleteLater()
            self.dialog = None
