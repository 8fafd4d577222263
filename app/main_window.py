"""The main window: canvas in the centre, world controls, navigator, device and status read-outs.

It owns the :class:`~app.worker.TileWorker` (started here, joined in :meth:`closeEvent`) and is the one
place that turns user choices (model, seed) into a :class:`~engine.world.World`. Worlds are created
only once the worker reports the model loaded, because a world records the checkpoint's hash. The
last world, view and window geometry are saved on close and restored on start (``persist``).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QInputDialog,
    QMainWindow,
    QWidget,
)

from app.canvas import Canvas
from app.cli_job_actions import install_cli_jobs
from app.device_info import device_memory
from app.export_dialog import ExportDialog
from app.first_view import install_first_view
from app.icon import application_icon
from app.jobs import JobManager
from app.memory import MemoryKeeper, MemoryPlan
from app.navigator import Navigator
from app.panels.jobs_dock import JobsDock
from app.project_controller import ProjectController, ProjectPrompts
from app.session import Session, weakly
from app.settings import Preferences, Settings
from app.startup_safety import restore_window_geometry, startup_default_model, tell_user
from app.theme import apply_theme, install_theme
from app.window_chrome import build_menus, build_status_bar, build_tools_toolbar, build_world_toolbar
from app.worker import ModelInfo, TileWorker, default_loader, tile_region
from app.world_choices import model_choices, parse_position  # parse_position: still importable here
from engine.errors import EverscapeError
from engine.render import Renderer
from engine.world import World


class MainWindow(QMainWindow):
    def __init__(
        self,
        settings: Settings,
        model_ref: str | None = None,
        seed: int | None = None,
        view: tuple[int, int, int] | None = None,
        persist: bool = True,
        loader: Callable | None = None,
        prompts: ProjectPrompts | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.prefs = settings.preferences()
        self.persist = persist
        self.loader = loader
        self.session = Session()  # the document: canvas, tools, navigator, project and docks follow it
        self.last_error: str | None = None
        self._pending: tuple[int, World | None] | None = None
        self._opening: str | None = None  # the model last asked of the worker
        self._fallback_model: str | None = None  # opened instead if the start-up model cannot open
        self.setWindowTitle("Everscape")
        self.setWindowIcon(application_icon())
        self.resize(1280, 800)
        install_theme(self)  # chrome and canvas in the preferred (default: the desktop's) theme

        device = None if self.prefs.device == "auto" else self.prefs.device
        self.worker = TileWorker(device=device, batch_tiles=self.prefs.batch_tiles)
        self.canvas = Canvas(
            self.worker,
            cache_bytes=MemoryPlan.of(self.prefs.memory_mib).tiles,
            prefetch=self.prefs.prefetch,
            synth_levels=self.prefs.synth_levels,
            kinetic=self.prefs.kinetic,
            session=self.session,
        )
        self.setCentralWidget(self.canvas)
        self.navigator = Navigator(self.canvas)
        dock = QDockWidget("Navigator", self)
        dock.setObjectName("navigator")
        dock.setWidget(self.navigator)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.project = ProjectController(self, prompts, enabled=persist)
        self.jobs = JobManager(self)  # export, inversion, training: listed in the Jobs dock
        self.jobs_dock = JobsDock(self, self.jobs)
        self.memory = MemoryKeeper(self)  # one budget over tiles and latents; memory handed back after work
        build_world_toolbar(self)
        build_tools_toolbar(self)
        build_menus(self, dock)
        build_status_bar(self)
        install_cli_jobs(self)  # View ▸ Diagnostics: benchmark, ship a run (jobs)
        self._install_tools()

        self.worker.sig_model_ready.connect(self._on_worker_model_ready)
        self.worker.sig_failed.connect(self._on_worker_failed)
        self.worker.sig_pending_changed.connect(self._on_worker_pending)
        # weakly: no reference cycle through a widget (see app.session.weakly)
        self.session.view_changed.connect(weakly(self.on_canvas_view))
        self.session.world_changed.connect(weakly(self._show_seed))
        self.session.document_changed.connect(weakly(self._show_title))
        self.canvas.sig_cursor_moved.connect(self._on_canvas_cursor)
        self.worker.start()

        self._open_first_world(settings, persist, model_ref, seed, view)

    # -- construction -------------------------------------------------------------------------------

    def _open_first_world(
        self,
        settings: Settings,
        persist: bool,
        model_ref: str | None,
        seed: int | None,
        view: tuple[int, int, int] | None,
    ) -> None:
        """The world the window starts on: the command line's, else the autosave or last project's,
        else the default model's; a first start also probes for an interesting first view."""
        restored = settings.last_world() if persist else None
        if persist and (geometry := settings.geometry()) is not None:
            restore_window_geometry(self, geometry, settings.notices)
        if view is None and persist:
            view = settings.view()
        restored, view = self.project.recover(restored, view)  # unsaved autosave or last project
        if view is not None:
            self.canvas.centre_on(*view)
        if model_ref is None:
            self._fallback_model = startup_default_model(settings.notices)
            model_ref = restored.model if restored is not None else self._fallback_model
        same = restored is not None and restored.model == model_ref and seed in (None, restored.seed)
        keep = restored if same else None
        fresh = persist and view is None and restored is None  # a first start: no remembered place
        # Before the model is asked for: a fast load's ready signal must find the probe connected.
        self.first_view = install_first_view(self, at_start=fresh)
        self.open_world(model_ref, seed if seed is not None else (keep.seed if keep else 0), keep)
        self.canvas.setFocus()
        notices = settings.take_notices() + self.project.take_startup_notices()
        if notices:
            tell_user(self, "; ".join(notices))

    def _install_tools(self) -> None:
        """Edit ▸ Undo/Redo and the canvas tools; every later world change goes through ``self.tools``."""
        from app.painting_setup import install_painting
        from app.staging_session import install_staging
        from app.tools.controller import ToolController
        from app.tools.select_rect import install_select_rect

        self.tools = ToolController(self)
        install_painting(self.tools)
        install_staging(self)  # generative edits are staged (previewed) before they are committed
        self.select_tool = install_select_rect(self)  # File ▸ Export's "Selected rectangle"

    # -- worlds -------------------------------------------------------------------------------------

    @property
    def world(self) -> World | None:
        return self.session.world

    @property
    def model_info(self) -> ModelInfo | None:
        return self.session.open_model  # type: ignore[return-value]  # the worker's, set on model-ready

    @property
    def opening_world(self) -> bool:
        """A world is waiting for its model to load (the worker reports it ready)."""
        return self._pending is not None

    def open_world(self, model_ref: str, seed: int, world: World | None = None) -> None:
        """Load ``model_ref`` in the worker; the world (``world`` or a fresh one) opens when it is ready."""
        self._pending = (seed, world)
        self._opening = model_ref
        self.device_label.setText(f"loading {model_ref}…")
        self.worker.open_model(model_ref, self.loader)

    def new_world(self) -> None:
        seed = random.SystemRandom().randrange(2**31)
        self.seed_field.setText(str(seed))
        self.on_seed_entered()

    def on_seed_entered(self) -> None:
        try:
            seed = int(self.seed_field.text())
        except ValueError:
            self.show_error("the seed must be an integer")
            return
        if self.world is not None and seed != self.world.seed:
            self.tools.apply(self.world.with_seed(seed), label="Change seed")
            self.clear_error()

    def on_picker_activated(self, index: int) -> None:
        """Another model from the picker: the same document when it can render the edits, else a new
        one (asking about unsaved edits first; see :mod:`app.model_switch`)."""
        from app.model_switch import switch_model

        ref = self.model_picker.itemText(index)
        if self.world is None:
            self.open_world(ref, 0)
        elif ref != self.world.model and not switch_model(self, ref):
            self.model_picker.setCurrentText(self.world.model)  # cancelled: the picker shows the open model

    def on_developer_toggled(self, on: bool) -> None:
        self.prefs.developer = on
        self.settings.save_preferences(self.prefs)
        self.refresh_models()

    def edit_preferences(self) -> None:
        from app.preferences_dialog import PreferencesDialog

        dialog = PreferencesDialog(self.prefs, self)
        if dialog.exec() == PreferencesDialog.DialogCode.Accepted:
            self.apply_preferences(dialog.preferences())

    def apply_preferences(self, prefs: Preferences) -> None:
        """Save ``prefs`` and apply what can change live (memory, prefetch, zoom depth, theme, developer)."""
        self.prefs = prefs
        self.settings.save_preferences(prefs)
        self.memory.apply(prefs.memory_mib)
        self.canvas.prefetch = prefs.prefetch
        self.canvas.kinetic = prefs.kinetic
        apply_theme(prefs.theme)
        if prefs.synth_levels != self.canvas.synth_levels:
            self.canvas.synth_levels = prefs.synth_levels
            if self.model_info is not None:
                self.canvas.set_model(self.model_info)
        self.developer_action.setChecked(prefs.developer)
        self.refresh_models()

    def refresh_models(self) -> None:
        """Fill the model picker again (a model shipped, the developer option changed)."""
        current = self.world.model if self.world is not None else None
        self.model_picker.clear()
        self.model_picker.addItems(model_choices(current, self.prefs.developer))
        if current is not None:
            self.model_picker.setCurrentText(current)

    def open_export_dialog(self) -> ExportDialog | None:
        """File ▸ Export: an export job (Jobs dock) with its own renderer, so the canvas's worker
        keeps serving visible tiles meanwhile."""
        world = self.world
        if world is None:
            self.show_error("no world is open yet")
            return None
        loader = self.loader or default_loader
        device = None if self.prefs.device == "auto" else self.prefs.device

        def factory() -> Renderer:  # regions as the canvas's tiles: the same pixels, faster than blocks
            model = loader(world.model).model
            return Renderer(model, device, region=tile_region(model))

        view, selection = self.canvas.view.world_rect(), self.select_tool.selection
        dialog = ExportDialog(world, factory, view, selection, parent=self, jobs=self.jobs)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.export_failed.connect(self.show_error)
        dialog.show()
        return dialog

    def ask_go_to(self) -> None:
        text, ok = QInputDialog.getText(self, "Go to", "World position x, y:")
        if ok:
            self.go_to(text)

    def go_to(self, text: str) -> None:
        try:
            x, y = parse_position(text)
            self.canvas.centre_on(x, y)
        except EverscapeError as error:
            self.show_error(str(error))

    # -- slots --------------------------------------------------------------------------------------

    def _on_worker_model_ready(self, info: ModelInfo) -> None:
        seed, world = self._pending or (0, None)
        self._pending, self._fallback_model = None, None
        if world is None or world.model_hash != info.sha256:
            world = World(info.ref, seed, model_hash=info.sha256)
        self.session.set_open_model(info)
        self.canvas.set_model(info)
        self.canvas.set_world(world)
        self.refresh_models()
        self.clear_error()
        self.update_device_label()

    def _on_worker_failed(self, keys, message: str) -> None:
        self.show_error(message)
        if not keys and self._pending is not None:  # a model failed to open: keep showing the old one
            self._pending = None
            fallback, self._fallback_model = self._fallback_model, None
            if self.world is None and fallback is not None and fallback != self._opening:
                # At start-up nothing is shown yet: a remembered model that no longer opens (renamed,
                # damaged, unknown) must not leave the user on an empty canvas.
                tell_user(self, f"{message}; opening {fallback} instead")
                self.open_world(fallback, 0)
                return
            self.refresh_models()
            self.canvas.schedule_requests()  # opening dropped the worker's queue
            self.update_device_label()

    def _on_worker_pending(self, count: int) -> None:
        self.pending_label.setText(f"{count} pending")

    def _show_seed(self, change) -> None:
        self.seed_field.setText(str(change.world.seed))

    def _show_title(self, session) -> None:
        self.setWindowTitle(session.title)

    def on_canvas_view(self, view) -> None:
        zoom = 2.0**view.zoom
        self.zoom_label.setText(f"zoom {zoom:g}×" if zoom >= 1 else f"zoom 1/{round(1 / zoom)}")

    def _on_canvas_cursor(self, x: int, y: int) -> None:
        self.cursor_label.setText(f"x {x}, y {y}")

    def show_error(self, message: str) -> None:
        self.last_error = message
        self.error_label.setText(message)
        self.error_label.setToolTip(message)

    def clear_error(self) -> None:
        self.last_error = None
        self.error_label.clear()

    def update_device_label(self) -> None:
        info = self.model_info
        if info is None:
            return
        self.device_label.setText(f"{info.device_name} [{info.device}] · {device_memory(info.device)}")

    # -- shutdown -----------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.project.confirm_close() or not self.jobs_dock.confirm_quit():  # the user said no
            event.ignore()
            return
        if self.persist:
            self.settings.save_geometry(self.saveGeometry())
            x, y = self.canvas.view.centre
            self.settings.save_view(x, y, self.canvas.view.zoom)
            if (world := self.project.remembered_world()) is not None:  # not a world whose edits were discarded
                try:
                    self.settings.save_world(world)
                except EverscapeError as error:
                    self.show_error(str(error))
        self.memory_timer.stop()
        self.training.shutdown()
        self.worker.shutdown()
        super().closeEvent(event)
