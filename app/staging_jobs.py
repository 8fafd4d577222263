"""Jobs that make staged edits from dropped images: inbetweening two images, a seamless loop.

A second image dropped (or imported) while a first one is staged or still being inverted does not
start a second outpainting: it asks for an inbetween of both (:func:`engine.inbetween.inbetween`),
one job of the Jobs dock that inverts both images in one optimisation and fills the world between
them; the first image's own inversion is cancelled, and the result replaces it in the staging strip.
A further image dropped on a staged inbetween joins it (all of them are fitted again, together).
Edit ▸ Make seamless loop… puts the staged image at both ends of a period the user chooses
(:func:`engine.cyclic.cyclic_panorama`); the world records its loop, and once it is accepted
File ▸ Export offers to write that loop (the export dialog's "Seamless loop" region).

Both are optimisations run as calls of the tile worker (:func:`app.tools.drop_image.fit_call`), so
the canvas keeps being served between steps, and both commit nothing: their result is staged only
if the document is still the world they started from. A family that cannot inbetween, or images the
engine refuses (too large, out of the vertical range, overlapping), get one line and change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QInputDialog

from app.jobs import Job
from app.tools.drop_image import fit_call
from engine.cyclic import MAX_QUANTUM, cyclic_panorama, loop_quantum
from engine.errors import EverscapeError
from engine.inbetween import inbetween, inbetween_support
from engine.invert import load_image
from engine.world import World


class StagingJobs:
    """The inbetween and loop jobs of a :class:`~app.staging_session.StagingSession`."""

    def __init__(self, session) -> None:
        self.session = session
        self.window, self.canvas = session.window, session.canvas
        self.dropper = session.tools.image_dropper
        self.ask_period: Callable[[], int | None] = self._ask_period  # tests script the dialog
        self.loop_action = session.tools.edit_menu.addAction("Make seamless &loop…", self.make_loop)
        self.loop_action.setToolTip("Repeat the staged image after a period so the panorama wraps around")

    # -- inbetween -----------------------------------------------------------------------------------

    def route(self, path: Path, centre: tuple[int, int]) -> bool:
        """The dropper's hook: True when this drop becomes an inbetween (or is refused as one)."""
        edit, session = self.session.edit, self.session
        if edit is not None and edit.kind in ("outpaint", "inbetween"):  # a third image joins an inbetween
            drops, base = [(Path(p), c) for p, c in edit.sources], edit.base
        elif self.dropper.dropping is not None:
            drops, base = [self.dropper.dropping], self.canvas.world
        else:
            return False
        if session.job is not None and session.job.running:
            self.dropper.report_error("an inbetween is already being made; wait for it or discard it")
            return True
        model = session.model()
        reason = None if model is None else inbetween_support(model)
        if model is None or base is None or reason is not None:
            self.dropper.report_error(reason or "open a model before dropping an image")
            return True
        self.dropper.cancel()  # the first image's own outpainting gives way to the inbetween
        drops.append((path, centre))
        names = [p.name for p, _ in drops]
        title = f"Inbetween {', '.join(names[:-1])} and {names[-1]}"
        job = session.window.jobs.start(
            title, self._inbetween(base, drops, title),
            show_result=lambda _result: self.canvas.centre_on(*_middle(drops[0][1], centre)), kind="inbetween",
        )  # fmt: skip
        session.set_job(job)
        return True

    def _inbetween(self, base: World, drops: list[tuple[Path, tuple[int, int]]], label: str):
        config, worker = self.dropper.config, self.canvas.worker

        async def run(job: Job):
            images = [await job.in_thread(load_image, path) for path, _centre in drops]
            placements = [(image, centre) for image, (_path, centre) in zip(images, drops, strict=True)]

            def fit(model, device, progress, cancelled):
                return inbetween(model, base, placements, config, device=device, progress=progress,
                                 cancelled=cancelled)  # fmt: skip

            result = await job.finish(worker.call(fit_call(job, config.steps, fit, worker.stopping)))
            self._stage(result, base, label, "inbetween", tuple((str(p), c) for p, c in drops))
            return result

        return run

    def _stage(self, result, base: World, label: str, kind: str, sources) -> None:
        if self.canvas.world is not base:
            raise EverscapeError("the world changed while the images were being fitted; drop them again")
        self.session.stage_fit(result, base, label, kind, result.footprints, sources)

    # -- seamless loop -------------------------------------------------------------------------------

    def make_loop(self) -> bool:
        """Edit ▸ Make seamless loop…: the staged image repeated after a period; False if refused."""
        session, edit = self.session, self.session.edit
        if edit is None or edit.kind != "outpaint" or not edit.sources:
            self.window.show_error("drop an image first: the loop repeats the staged image")
            return False
        if session.job is not None and session.job.running:
            self.window.show_error("a staged edit is still being made; wait for it or discard it")
            return False
        period = self.ask_period()
        if period is None:
            return False  # the user cancelled
        (path, centre), base = edit.sources[0], edit.base
        title = f"Loop {Path(path).name} every {period} px"
        job = self.window.jobs.start(title, self._loop(base, Path(path), centre, period, title), kind="loop")
        session.set_job(job)
        return True

    def _loop(self, base: World, path: Path, centre: tuple[int, int], period: int, label: str):
        config, worker = self.dropper.config, self.canvas.worker

        async def run(job: Job):
            image = await job.in_thread(load_image, path)

            def fit(model, device, progress, cancelled):
                return cyclic_panorama(model, base, image, centre, period, config, device=device, progress=progress,
                                       cancelled=cancelled)  # fmt: skip

            result = await job.finish(worker.call(fit_call(job, config.steps, fit, worker.stopping)))
            # The whole seam band is pinned at both ends: variants redraw the rest and still wrap seamlessly.
            self._stage(result, base, label, "loop", ((str(path), centre),))
            return result

        return run

    def _ask_period(self) -> int | None:
        """The loop's period, in steps of the model's loop quantum (so every offer is a valid one)."""
        model = self.session.model()
        step = min(loop_quantum(model), MAX_QUANTUM) if model is not None else 64
        default = step * max(1, round(2048 / step))
        period, ok = QInputDialog.getInt(
            self.window, "Make seamless loop", f"Period (pixels between the two copies, a multiple of {step}):",
            default, step, step * max(1, (1 << 30) // step), step,
        )  # fmt: skip
        return period if ok else None


def _middle(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    return (a[0] + b[0]) // 2, (a[1] + b[1]) // 2


def install_staging_jobs(session) -> StagingJobs:
    jobs = StagingJobs(session)
    jobs.dropper.route = jobs.route
    session.jobs = jobs
    return jobs
