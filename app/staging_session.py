"""The staging session: every generative edit is previewed on the canvas until the user accepts it.

:func:`install_staging` wires a :class:`StagingSession` into the main window: the image dropper and
the resample tool hand their results here instead of committing them (their ``stage`` hooks), a
second image dropped while one is staged or being inverted becomes an inbetween of both (the
dropper's ``route`` hook, :mod:`app.staging_jobs`), and Edit ▸ Make seamless loop… stages a loop.

While an edit is staged the canvas shows its current variant (:meth:`Canvas.set_preview`): the
document (the canvas's world, the history, the project) is untouched, tiles of the preview render
like any others (panning never waits), and the canvas tools are locked, so nothing is built on a
preview. Accept commits the chosen variant through the tools controller (one named undo step);
Discard (or Escape) shows the document again, with the tiles outside the edit kept; it also cancels a
job still making the edit. Any other change of the document (undo, redo, a project opened) discards
the staged edit first. Thumbnails of the variants are rendered by the tile worker as idle calls
(:meth:`TileWorker.call_idle`): after every visible tile, never on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget

from app.jobs import Job
from app.panels.staging_strip import StagingStrip
from app.staging import VARIANTS_PER_BATCH, StagedEdit
from app.tools.style_centres import random_seed
from engine.edits import changed_regions
from engine.errors import EverscapeError
from engine.geometry import Rect
from engine.invert import InversionResult
from engine.render import Cancelled
from engine.variants import surroundings_variant
from engine.world import World


class StagingSession(QObject):
    """See the module docstring; ``window.staging`` once installed."""

    sig_thumbnail = Signal(object, int, object)  # (edit, index, pixels), from the worker thread
    sig_staged = Signal(object)  # the edit now shown, or None

    def __init__(self, window, seed_source: Callable[[], int] = random_seed) -> None:
        super().__init__(window)
        self.window, self.canvas, self.tools = window, window.canvas, window.tools
        self.seed_source = seed_source
        self.edit: StagedEdit | None = None
        self.job: Job | None = None  # a job making a staged edit (inbetween, loop)
        self.accepted: list[Callable[[StagedEdit], None]] = []  # told of each accepted edit
        self._asked: set[tuple[int, int]] = set()  # (id(edit), index) thumbnails already asked for
        self._build_actions()
        self.strip = StagingStrip(self.actions)
        self.strip.sig_select.connect(self.select)
        self.dock = QDockWidget("Staging", window)
        self.dock.setObjectName("staging")
        self.dock.setWidget(self.strip)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.dock)
        self.dock.hide()
        self.sig_thumbnail.connect(self._on_thumbnail)
        self.tools.before_change.append(self._on_document_change)
        self.canvas.sig_view_changed.connect(self._check_still_shown)
        self._refresh()

    def _build_actions(self) -> None:
        menu = self.tools.edit_menu.addMenu("&Staging")
        specs = (
            ("&Previous variant", "Alt+Left", lambda: self.step(-1)),
            ("&Next variant", "Alt+Right", lambda: self.step(1)),
            ("&Generate more", "Ctrl+Shift+M", self.generate_more),
            ("&Accept", "Ctrl+Return", self.accept),
            ("&Discard", "Escape", self.discard),
        )
        self.actions: list[QAction] = []
        for text, keys, slot in specs:
            action = menu.addAction(text, QKeySequence(keys), slot)
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            self.actions.append(action)
        self.previous_action, self.next_action, self.more_action, self.accept_action, self.discard_action = self.actions

    # -- staging ----------------------------------------------------------------------------------

    def model(self):
        return self.tools.model()

    def stage(self, edit: StagedEdit, more: int = VARIANTS_PER_BATCH - 1) -> None:
        """Show ``edit`` (its first variant) in place of whatever was staged, with ``more`` variants."""
        if self.edit is not None:
            self._drop(restore=True)
        self._add_variants(edit, more)
        self.edit = edit
        self._show(edit.preview)
        self._refresh()
        self.dock.show()
        self.sig_staged.emit(edit)

    def stage_resample(self, base: World, edited: World, rect: Rect, seed: int) -> None:
        """The resample tool's result: variants are the same rect with other seeds."""
        from engine.edits import resample_region

        model = self.model()
        edit = StagedEdit(base, "Resample region", "resample", (rect,),
                          lambda s: resample_region(base, model, rect, s))  # fmt: skip
        edit.add(edited, seed)
        self.stage(edit)

    def stage_fit(self, result: InversionResult, base: World, label: str, kind: str,
                  footprints: tuple[Rect, ...], sources=()) -> None:  # fmt: skip
        """An inversion, inbetween or loop: variants redraw what the images do not pin."""
        model = self.model()
        fitted = result.world

        def variant(seed: int) -> World:
            return surroundings_variant(model, fitted, footprints, seed)

        edit = StagedEdit(base, label, kind, footprints, variant, sources=sources)
        edit.add(fitted)
        self.stage(edit)

    def stage_inversion(self, result: InversionResult, base: World, path: Path,
                        centre: tuple[int, int], size: tuple[int, int]) -> None:  # fmt: skip
        """The image dropper's result (outpainting): staged, its footprint the image's rect."""
        w, h = size
        footprints = result.footprints or (Rect(centre[0] - w // 2, centre[1] - h // 2, w, h),)
        self.stage_fit(result, base, f"Import {path.name}", "outpaint", footprints, ((str(path), centre),))

    # -- the user's choices -----------------------------------------------------------------------

    def select(self, index: int) -> None:
        if self.edit is not None and self.edit.select(index):
            self._show(self.edit.preview)
            self._refresh()

    def step(self, delta: int) -> None:
        if self.edit is not None and self.edit.step(delta):
            self._show(self.edit.preview)
            self._refresh()

    def generate_more(self) -> None:
        if self.edit is None or self.edit.make_variant is None:
            return
        first = self._add_variants(self.edit, VARIANTS_PER_BATCH)
        if first:
            self.select(first[0])
        self._refresh()

    def accept(self) -> None:
        """Commit the current variant: one undo step named after the edit."""
        edit = self.edit
        if edit is None:
            return
        self.edit = None  # before the commit: the controller's before-change hook must not discard it
        self.tools.apply(edit.chosen(), label=edit.label)
        self._refresh()
        for listener in self.accepted:
            listener(edit)
        self.sig_staged.emit(None)

    def discard(self) -> None:
        """Show the document again (and stop a job still making an edit): nothing changes."""
        if self.job is not None and self.job.running:
            self.job.cancel()
        dropper = self.tools.image_dropper
        if dropper.job is not None:
            dropper.cancel()
        if self.edit is not None:
            self._drop(restore=True)

    # -- internals ------------------------------------------------------------------------------------

    def _add_variants(self, edit: StagedEdit, count: int) -> list[int]:
        """``count`` more variants of ``edit`` (fresh seeds); a refusal is one line, fewer variants."""
        try:
            return edit.more([self.seed_source() for _ in range(count)])
        except EverscapeError as error:
            self.window.show_error(str(error))
            return []

    def _drop(self, restore: bool) -> None:
        """Forget the staged edit; ``restore``: show the document's world again."""
        edit, self.edit = self.edit, None
        if restore and edit is not None and self.canvas.preview is edit.preview:
            self.canvas.set_preview(None, self._damage(edit.preview, edit.base, edit.base))
        self._refresh()
        self.sig_staged.emit(None)

    def _show(self, preview: World) -> None:
        assert self.edit is not None
        shown = self.canvas.shown
        self.canvas.set_preview(preview, None if shown is None else self._damage(shown, preview, self.edit.base))
        self._ask_thumbnails()

    def _damage(self, old: World, new: World, base: World):
        """Where ``old`` and ``new`` (each ``base`` or derived from it) can differ, per level."""
        model = self.model()
        if model is None:
            return None

        def regions(level: int):
            parts = [changed_regions(model, old, base, level), changed_regions(model, base, new, level)]
            return None if any(p is None for p in parts) else [r for p in parts for r in p]

        return regions

    def _on_document_change(self) -> None:
        if self.edit is not None:
            self._drop(restore=True)

    def _check_still_shown(self, _view=None) -> None:
        """A world shown by anyone else (a project opened) replaced the preview: nothing is staged."""
        if self.edit is not None and self.canvas.preview is not self.edit.preview:
            self._drop(restore=False)

    def _refresh(self) -> None:
        edit, busy = self.edit, self.job is not None and self.job.running
        many = edit is not None and len(edit.variants) > 1
        self.previous_action.setEnabled(many)
        self.next_action.setEnabled(many)
        self.more_action.setEnabled(edit is not None and edit.make_variant is not None)
        self.accept_action.setEnabled(edit is not None)
        self.discard_action.setEnabled(edit is not None or busy)
        self.strip.show_edit(edit, self.job.status if busy and self.job is not None else "")
        self.window.tool_group.setEnabled(edit is None)  # no tool builds on a preview
        if edit is not None and self.canvas.tool is not None:
            self.canvas.set_tool(None)
            self.tools.pan_action.setChecked(True)
        if edit is None and not busy:
            self.dock.hide()

    def set_job(self, job: Job | None) -> None:
        """A job making a staged edit: its status shows in the strip, Discard cancels it."""
        self.job = job
        if job is not None:
            self.dock.show()
            job.sig_changed.connect(self._refresh)
            job.sig_finished.connect(self._on_job_finished)
        self._refresh()

    def _on_job_finished(self) -> None:
        job, self.job = self.job, None
        if job is not None and job.error:
            self.window.show_error(job.error)
        self._refresh()

    # -- thumbnails ---------------------------------------------------------------------------------

    def _ask_thumbnails(self) -> None:
        edit = self.edit
        if edit is None:
            return
        rect = edit.thumbnail_rect()
        for index in edit.missing_thumbnails():
            if (id(edit), index) in self._asked:
                continue
            self._asked.add((id(edit), index))
            world = edit.variants[index]
            future = self.canvas.worker.call_idle(self._thumbnail_call(edit, world, rect))
            future.add_done_callback(lambda f, e=edit, i=index: self._thumbnail_done(f, e, i))

    def _thumbnail_call(self, edit: StagedEdit, world: World, rect: Rect):
        def call(renderer, _serve_tiles):
            if self.edit is not edit:  # discarded or accepted meanwhile: no work for nothing
                raise Cancelled("no longer staged")
            return renderer.render(world, [rect], 0, cancelled=lambda: self.edit is not edit)[0]

        return call

    def _thumbnail_done(self, future, edit: StagedEdit, index: int) -> None:
        """In the worker thread: hand the pixels to the GUI thread (a queued signal)."""
        if not future.cancelled() and future.exception() is None:
            self.sig_thumbnail.emit(edit, index, future.result())

    def _on_thumbnail(self, edit: StagedEdit, index: int, pixels) -> None:
        edit.thumbnails[index] = pixels
        if edit is self.edit:
            self.strip.set_thumbnail(index, pixels)


def install_staging(window) -> StagingSession:
    """Put every generative edit of ``window`` through a staging session (see module docstring)."""
    session = StagingSession(window)
    dropper, resample = window.tools.image_dropper, window.tools.resample_tool
    dropper.stage = session.stage_inversion
    resample.stage = session.stage_resample
    window.staging = session
    from app.staging_jobs import install_staging_jobs

    install_staging_jobs(session)
    return session
