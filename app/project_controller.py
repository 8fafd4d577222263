"""Project files in the app: File ▸ New / Open / Save / Save As / Open Recent, the title, autosave, recovery.

The controller follows the :class:`~app.session.Session` (the document) rather than being told
about edits: every world shown is a ``world_changed`` event, and a world that is not the one last
seen is an edit. Path and saved world live in the session, so "modified" is the session's "the shown
world is not the saved world object"; undoing back to the saved world clears the ``*`` again, and
the window takes its title from the session. The controller never reaches into the canvas or the
window's widgets: it shows a project through the session, or asks the window to open its model.

Autosave: a few seconds after each edit (a single-shot ``QTimer``, restarted by every edit, so a
burst of edits costs one write) the world and view are written atomically as an ordinary project
file in the config folder, with a small ``autosave.json`` naming the project it belongs to. Saving or
discarding removes it; a cancelled close or a failed save flushes it at once. So an autosave exists
exactly while there are unsaved changes, and finding one at start means the last session ended
without saving them (a crash): the user is offered to restore it, unless the project it belongs to
was saved after it was written.

Every question (unsaved changes, restore, file names) goes through :class:`ProjectPrompts`, so tests
and headless runs script the answers instead of blocking on a modal dialog.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMenu

from app.project_prompts import (  # re-exported: tests and the window name them here
    ProjectPrompts,
    ProjectWindow,
    SaveChoice,
    default_prompts,
)
from app.session import WorldChange, weakly
from app.startup_safety import read_autosave
from engine.atomic import write_bytes_atomic
from engine.errors import EverscapeError, first_line
from engine.project import SUFFIX, Project, ProjectView, load_project, project_path, save_project
from engine.world import World

AUTOSAVE_MS = 2000


class ProjectController(QObject):
    """The project behind a :class:`ProjectWindow` (the main window): its file, modified state and autosave.

    ``enabled=False`` (headless screenshots) keeps the File actions but never autosaves, recovers
    or asks on close.
    """

    def __init__(self, window: ProjectWindow, prompts: ProjectPrompts | None = None, enabled: bool = True) -> None:
        super().__init__(window)
        self.window = window
        self.prompts = prompts or default_prompts()
        self.enabled = enabled
        self.project = Project(World("none"))  # metadata carried across saves (images, created)
        self._seen: World | None = None
        self._baseline: str | None = "clean"  # what the next world to appear is: "clean", "dirty" or None
        self._expected: World | None = None
        self._discarded = False
        self._notices: list[str] = []  # errors to show once the awaited world is up
        self.startup_notices: list[str] = []  # files set aside at start (the window tells the user)
        self.autosave_timer = QTimer(self, singleShot=True, interval=AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.write_autosave)
        self._before_open: tuple[Path | None, Project] | None = None  # restored if the model fails to load
        self.session = window.session
        self.session.world_changed.connect(weakly(self._on_world_changed))
        window.worker.sig_failed.connect(self._on_worker_failed)

    # -- state --------------------------------------------------------------------------------------

    @property
    def path(self) -> Path | None:
        """The project file (the session's), None while untitled."""
        return self.session.path

    @path.setter
    def path(self, path: Path | None) -> None:
        self.session.set_path(path)

    @property
    def saved_world(self) -> World | None:
        return self.session.saved_world

    @saved_world.setter
    def saved_world(self, world: World | None) -> None:
        self.session.mark_saved(world)

    @property
    def modified(self) -> bool:
        return self.session.modified

    @property
    def name(self) -> str:
        return self.session.name

    def set_autosave_interval(self, ms: int) -> None:
        self.autosave_timer.setInterval(ms)

    def update_title(self) -> None:
        """Tell the session's listeners (the window's title) the document may read differently now."""
        self.session.document_changed.emit(self.session)

    def current_project(self) -> Project:
        """The shown world and view with this project's images and creation time."""
        world = self.session.world
        if world is None:
            raise EverscapeError("no world is open yet")
        view = self.session.view
        shown = ProjectView(*view.centre, view.zoom, self.window.select_tool.selection)  # the selection too
        return Project(world, shown, self.project.images, self.project.created)

    def _on_world_changed(self, change: WorldChange) -> None:
        world = change.world
        if world is self._seen:
            return  # a pan or zoom: the document did not change
        self._seen = world
        if self._baseline is not None:
            expected = self._expected
            if expected is not None and world is not expected:
                # Another model was opened instead (an explicit --model), or the checkpoint changed and
                # the window started a fresh world: this is not the project, so never save over it.
                if world.model == expected.model:
                    self._notices.append(
                        f"{self.name}: model {expected.model} is a different checkpoint now; "
                        "the project's edits could not be applied"
                    )
                self.path, self.project, self._baseline = None, Project(world), "clean"
            if self._baseline == "clean":
                self.saved_world = world
            self._baseline, self._expected, self._before_open = None, None, None
            if self._notices:  # shown after the window's own model-ready update, which clears errors
                message, self._notices = "; ".join(self._notices), []
                QTimer.singleShot(0, lambda: self.window.show_error(message))
        elif self.enabled:
            self.autosave_timer.start()  # restart: one write after a burst of edits
        self.update_title()

    def _on_worker_failed(self, keys, _message: str) -> None:
        if keys or self._expected is None:
            return  # tiles failed, or no project is waiting for its model
        # The project's model could not be opened: the window keeps its world, so does the project.
        if self._before_open is not None:
            self.path, self.project = self._before_open
        self._baseline, self._expected, self._before_open = None, None, None
        self.update_title()

    def _show(self, project: Project, path: Path | None, baseline: str) -> None:
        """Show ``project`` (through the session); ``baseline`` says whether it counts as saved ("clean")."""
        self._before_open = (self.path, self.project)
        self.path, self.project = path, project
        world, window = project.world, self.window
        self._baseline, self._expected = baseline, world
        info, current = self.session.open_model, self.session.world
        if (
            info is not None
            and current is not None
            and (info.ref, info.sha256) == (world.model, world.model_hash)
            and not window.opening_world
        ):
            self.session.show(world)  # same model: no reload
        else:
            window.open_world(world.model, world.seed, world)
        self.session.centre_on(project.view.x, project.view.y, project.view.zoom)
        self.window.select_tool.set_selection(project.view.selection)
        self.update_title()

    # -- File actions -------------------------------------------------------------------------------

    def build_file_menu(self, menu: QMenu) -> None:
        """Add New / Open… / Open Recent / Save / Save As… at the top of ``menu``."""
        self.new_action = menu.addAction("&New project", QKeySequence.StandardKey.New, self.new_project)
        self.open_action = menu.addAction("&Open…", QKeySequence.StandardKey.Open, lambda: self.open_project())
        self.recent_menu = menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.save_action = menu.addAction("&Save", QKeySequence.StandardKey.Save, self.save)
        self.save_as_action = menu.addAction("Save &As…", QKeySequence.StandardKey.SaveAs, self.save_as)
        menu.addSeparator()

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.window.settings.recent_projects()
        for entry in recent:
            self.recent_menu.addAction(entry, lambda p=entry: self.open_project(p))
        if not recent:
            self.recent_menu.addAction("(none)").setEnabled(False)

    def new_project(self) -> bool:
        """An untitled project on a fresh seed of the current model."""
        current = self.session.world
        if current is None:
            self.window.show_error("no world is open yet")
            return False
        if not self.keep_changes():
            return False
        seed = random.SystemRandom().randrange(2**31)
        self._show(Project(World(current.model, seed, model_hash=current.model_hash)), None, "clean")
        self.remove_autosave()
        return True

    def open_project(self, path: str | Path | None = None) -> bool:
        """Open ``path`` (or ask for one); a bad file is one error line and the current world stays."""
        if not self.keep_changes():
            return False
        if path is None:
            folder = str(self.path.parent) if self.path is not None else str(Path.home())
            path = self.prompts.open_path(self.window, folder)
            if path is None:
                return False
        path = Path(path)
        try:
            project = load_project(path)
        except EverscapeError as error:
            self.window.show_error(str(error))
            if not path.exists():
                self.window.settings.remove_recent_project(path)
            return False
        self._show(project, path, "clean")
        self.window.settings.add_recent_project(path)
        self.window.settings.save_session_project(path)
        self.remove_autosave()
        self.window.clear_error()
        return True

    def save(self) -> bool:
        if self.path is None:
            return self.save_as()
        return self._save_to(self.path)

    def save_as(self) -> bool:
        suggested = str(self.path) if self.path is not None else str(Path.home() / f"{self.name}{SUFFIX}")
        answer = self.prompts.save_path(self.window, suggested)
        if answer is None:
            return False
        return self._save_to(project_path(answer))

    def _save_to(self, path: Path) -> bool:
        try:
            project = save_project(path, self.current_project())
        except EverscapeError as error:
            self.window.show_error(str(error))
            return False
        self.path, self.project, self.saved_world = path, project, project.world
        self.window.settings.add_recent_project(path)
        self.window.settings.save_session_project(path)
        self.remove_autosave()
        self.window.clear_error()
        self.update_title()
        return True

    def keep_changes(self) -> bool:
        """Before the shown world goes away: ask about unsaved changes; False means "stop"."""
        if not self.modified or not self.enabled:
            return True
        choice = self.prompts.unsaved(self.window, self.name)
        if choice is SaveChoice.SAVE:
            return self.save()
        return choice is SaveChoice.DISCARD

    def switch_model(self, open_model: Callable[[], None]) -> bool:
        """Another model is a new, untitled document: its edits cannot carry over, so unsaved work is
        saved or discarded first, as the user chooses (never silently). False: the user cancelled,
        and nothing changed."""
        if not self.keep_changes():
            return False
        self._before_open = (self.path, self.project)
        self.path, self.project = None, Project(World("none"))
        self._baseline, self._expected = "clean", None
        self.remove_autosave()
        open_model()
        self.update_title()
        return True

    def confirm_close(self) -> bool:
        """The window's close hook: True lets it close. Unsaved work is autosaved if the close stops."""
        if not self.enabled:
            return True
        if not self.keep_changes():
            self.write_autosave()
            return False
        self._discarded = self.modified
        if self._discarded:
            self.remove_autosave()
        self.autosave_timer.stop()
        self.window.settings.save_session_project(self.path)
        return True

    def remembered_world(self) -> World | None:
        """The world the window keeps as "last world" on close: not the one whose changes were discarded."""
        return self.saved_world if self._discarded else self.session.world

    # -- autosave and recovery ----------------------------------------------------------------------

    def _autosave_note(self) -> Path:
        return self.window.settings.autosave_path().with_suffix(".json")

    def write_autosave(self) -> None:
        """Write the shown world and view to the autosave file, or remove it when nothing is unsaved."""
        self.autosave_timer.stop()
        if not self.enabled or self.session.world is None:
            return
        if not self.modified:
            self.remove_autosave()
            return
        target = self.window.settings.autosave_path()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            save_project(target, self.current_project())
            note = {"project": str(self.path) if self.path is not None else None, "written": time.time()}
            write_bytes_atomic(self._autosave_note(), json.dumps(note).encode())
        except (EverscapeError, OSError) as error:
            self.window.show_error(f"autosave failed: {error}")

    def remove_autosave(self) -> None:
        self.autosave_timer.stop()
        if self.enabled:
            self.window.settings.autosave_path().unlink(missing_ok=True)
            self._autosave_note().unlink(missing_ok=True)

    def recover(
        self, world: World | None, view: tuple[int, int, int] | None
    ) -> tuple[World | None, tuple[int, int, int] | None]:
        """At start: the world and view to open, from an unsaved autosave (if the user wants it back) or
        the project open when the app last closed; else ``world`` and ``view`` unchanged."""
        if not self.enabled:
            return world, view
        settings = self.window.settings
        autosave = settings.autosave_path()
        if autosave.exists():
            project, source = self._read_autosave(autosave)
            if project is not None:
                stale = source is not None and source.exists() and source.stat().st_mtime >= autosave.stat().st_mtime
                when = time.strftime("%Y-%m-%d %H:%M", time.localtime(autosave.stat().st_mtime))
                name = source.name if source is not None else "an untitled project"
                text = f"Everscape closed on {when} with unsaved changes to {name}. Restore them?"
                if not stale and self.prompts.restore(self.window, text):
                    return self._start_with(project, source, "dirty")
                self.remove_autosave()
                if source is not None:
                    settings.save_session_project(source)  # declined: the saved project it belonged to
        path = settings.session_project()
        if path is not None and path.exists():
            try:
                return self._start_with(load_project(path), path, "clean")
            except EverscapeError as error:
                # The user's own file is never renamed: start-up forgets it (Open shows why again).
                settings.save_session_project(None)
                self.startup_notices.append(f"{first_line(error)}; opening the default world instead")
        return world, view

    def _read_autosave(self, autosave: Path) -> tuple[Project | None, Path | None]:
        """The autosaved project and the project file it belongs to; a damaged autosave is set aside."""
        project, source, problem = read_autosave(autosave, self._autosave_note())
        if problem is not None:
            self.startup_notices.append(problem)  # a message box now
            self._notices.append(problem)  # and the status line once the world is up
        return project, source

    def take_startup_notices(self) -> list[str]:
        notices, self.startup_notices = self.startup_notices, []
        return notices

    def _start_with(self, project: Project, path: Path | None, baseline: str) -> tuple[World, tuple[int, int, int]]:
        self.path, self.project = path, project
        self._baseline, self._expected = baseline, project.world
        self.saved_world = None
        self.window.select_tool.set_selection(project.view.selection)
        v = project.view
        return project.world, (v.x, v.y, v.zoom)
