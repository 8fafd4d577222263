"""Drop an image file on the canvas: the world is inverted to contain it, and continues it around.

Not a toolbar tool but always on: dropping a file centres the image on the drop point (one image
pixel per world pixel of level 0) and runs :func:`engine.invert.invert` in an
:class:`InversionJob` thread, never in the GUI thread, behind a progress dialog with Cancel. The
result is committed through the tools controller (one undo step), but only if the shown world is
still the one the inversion started from; an edit made meanwhile wins and the user is told.
Closing the window cancels a running job and waits for it (at most one optimisation step).

The model is only read here (its geometry, its device); the job runs its forward passes on that
device beside the tile worker's, which is safe because generators keep no state in forward.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QThread, Signal
from PySide6.QtWidgets import QProgressDialog

from app.tools.base import Commit
from engine.errors import EverscapeError
from engine.invert import InversionResult, InvertConfig, invert, load_image
from engine.render import Cancelled
from engine.world import World


class InversionJob(QThread):
    """Loads an image and inverts it into ``world``; reports by signals (emitted from this thread)."""

    sig_progress = Signal(int, float)  # step, loss
    sig_done = Signal(object)  # InversionResult
    sig_failed = Signal(str)  # one line; "" when cancelled

    def __init__(self, model, world: World, path: Path, centre: tuple[int, int], config: InvertConfig) -> None:
        super().__init__()
        self.model, self.world, self.path, self.centre, self.config = model, world, path, centre, config
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:
        try:
            image = load_image(self.path)
            h, w = image.shape[:2]
            at = (self.centre[0] - w // 2, self.centre[1] - h // 2)
            device = next(self.model.parameters()).device
            result = invert(
                self.model,
                self.world,
                image,
                at,
                self.config,
                device=device,
                progress=self.sig_progress.emit,
                cancelled=self._cancel.is_set,
            )
        except Cancelled:
            self.sig_failed.emit("")
        except EverscapeError as error:
            self.sig_failed.emit(str(error))
        except Exception as error:  # noqa: BLE001 - a model bug must not kill the app: report it in one line
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            self.sig_failed.emit(f"inversion failed: {first}")
        else:
            self.sig_done.emit(result)


class ImageDropper(QObject):
    """Accepts image files dropped on ``canvas`` and commits their inversions (see module docstring)."""

    def __init__(
        self,
        canvas,
        commit: Commit,
        model: Callable[[], object | None],
        report_error: Callable[[str], None] | None = None,
        config: InvertConfig | None = None,
    ) -> None:
        super().__init__(canvas)
        self.canvas = canvas
        self._commit = commit
        self.model = model
        self.report_error = report_error or (lambda message: None)
        self.config = config or InvertConfig(steps=200)
        self.job: InversionJob | None = None
        self.dialog: QProgressDialog | None = None
        self._window = canvas.window()
        canvas.setAcceptDrops(True)
        canvas.installEventFilter(self)
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

    def drop_file(self, path: str | Path, x: int, y: int) -> bool:
        """Start inverting the image at ``path`` centred on world pixel ``(x, y)``; False if refused."""
        if self.job is not None:
            self.report_error("an image is already being inverted; wait or cancel it")
            return False
        model, world = self.model(), self.canvas.world
        if model is None or world is None:
            self.report_error("open a model before dropping an image")
            return False
        job = InversionJob(model, world, Path(path), (int(x), int(y)), self.config)
        dialog = QProgressDialog(f"Fitting the world to {Path(path).name}…", "Cancel", 0, self.config.steps)
        dialog.setWindowTitle("Invert image")
        dialog.setMinimumDuration(0)
        dialog.canceled.connect(job.cancel)
        job.sig_progress.connect(self._on_progress)
        job.sig_done.connect(self._on_done)
        job.sig_failed.connect(self._on_failed)
        self.job, self.dialog = job, dialog
        job.start()
        return True

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def shutdown(self) -> None:
        """Cancel a running job and wait for it (the window is closing)."""
        if self.job is not None:
            self.job.cancel()
            self.job.wait()
            self._finish()

    def _on_progress(self, step: int, loss: float) -> None:
        if self.dialog is not None:
            self.dialog.setValue(step)
            self.dialog.setLabelText(f"Fitting the world to the image: step {step}, loss {loss:.4f}")

    def _on_done(self, result: InversionResult) -> None:
        start = None if self.job is None else self.job.world
        self._finish()
        if start is None:
            return
        if self.canvas.world is not start:
            self.report_error("the world changed while the image was being inverted; drop it again")
            return
        self._commit(result.world)

    def _on_failed(self, message: str) -> None:
        self._finish()
        if message:
            self.report_error(message)

    def _finish(self) -> None:
        if self.job is not None:
            self.job.wait()
            self.job.deleteLater()
            self.job = None
        if self.dialog is not None:
            self.dialog.canceled.disconnect()
            self.dialog.reset()
            self.dialog.deleteLater()
            self.dialog = None
