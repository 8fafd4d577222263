"""The infinite canvas widget: pan, zoom, and tiles painted from a byte-bounded cache.

A plain ``QWidget`` whose ``paintEvent`` blits the visible 256-px tiles (see :mod:`app.painting`);
no ``QGraphicsScene``, so the cost of a frame is the number of visible tiles, not of known ones.
Tiles are keyed by ``(world state, level, tx, ty)`` (:mod:`app.world_states`: worlds that render
the same pixels share a state, so undo and redo find their tiles) and live in a
:class:`~app.tiles.TileCache` bounded in bytes. An edit never blanks the view: tiles it cannot reach
are shared with the new state, and damaged ones stay on screen from the previous state until their
new pixels arrive. The canvas never waits for the model: whenever the view or world changes it hands
the :class:`~app.worker.TileWorker` the full list of tiles it now wants (coalesced to once per event
loop turn) and paints stand-ins until they arrive.

Zoom is a power of two around the cursor, limited by :class:`~app.tiles.LevelPlan` (model levels plus
``synth_levels`` downsampled ones; see :mod:`app.tiles` for the bound on work per view).

Signals
-------
sig_view_changed(View)
    After every pan, zoom or resize.
sig_cursor_moved(int, int)
    World pixel under the mouse (Python ints, any size).
sig_view_complete()
    Every visible tile of the current view is painted from its own pixels (or failed).

The world and view live in an :class:`~app.session.Session` (the document), not here: the canvas
subscribes to it and shows what it holds. ``set_world``/``set_view``/``centre_on`` are kept as thin
adapters that change the session (the view after clamping it to what this widget can show).
"""

from __future__ import annotations

import time
from collections import deque

from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent, QPainter, QWheelEvent
from PySide6.QtWidgets import QWidget

from app.coarse_previews import CoarsePreviews, coarse_state, is_coarse
from app.kinetic import Glide
from app.painting import paint_view
from app.pyramid import fill_from_children
from app.qimage import rgb32_to_qimage
from app.session import Damage, Session, WorldChange, weakly
from app.tiles import LevelPlan, TileCache, TileKey, View, plan_requests, visible_keys
from app.tools.base import CanvasTool
from app.worker import ModelInfo, TileRequest, TileWorker
from app.world_states import WorldStates, drop_tiles_of_dead_states, share_undamaged_tiles
from engine.edits import changed_regions
from engine.world import World

__all__ = ["Canvas", "Damage"]

STANDINS = 4  # earlier states whose tiles stand in for missing ones after an edit


class Canvas(QWidget):
    sig_view_changed = Signal(object)
    sig_cursor_moved = Signal(object, object)
    sig_view_complete = Signal()

    def __init__(
        self,
        worker: TileWorker,
        cache_bytes: int = 512 * 2**20,
        prefetch: int = 1,
        synth_levels: int = 4,
        kinetic: bool = True,
        parent: QWidget | None = None,
        *,
        session: Session | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session or Session()
        self.worker = worker
        self.cache = TileCache(cache_bytes)
        self.prefetch = prefetch
        self.synth_levels = synth_levels
        self.kinetic = kinetic
        self.plan: LevelPlan | None = None
        self.coarse = CoarsePreviews()  # the model's cheap stand-ins for zoomed-out tiles
        self._model = None  # the generator whose tiles the cache holds
        self.states = WorldStates()
        self.state: int | None = None  # the shown world's state: the first field of its tiles' keys
        self._recent: deque[tuple[World, int]] = deque(maxlen=STANDINS)  # shown before (kept alive)
        self.preview: World | None = None  # a staged edit shown instead of the world (set_preview)
        self.failed: set[TileKey] = set()
        # Seconds per paintEvent, wall and this thread's CPU (benchmarks; the CPU time excludes
        # preemption by other processes, the wall time is what a user sees).
        self.paint_times: deque[float] = deque(maxlen=2000)
        self.paint_cpu_times: deque[float] = deque(maxlen=2000)
        self.submitted: list[list[TileKey]] = []  # history of submitted key lists (tests, debugging)
        self._complete_sent = False
        self._request_timer = QTimer(self, singleShot=True, interval=0)
        self._request_timer.timeout.connect(self._request_tiles)
        self._drag_last: QPointF | None = None
        self.glide = Glide(weakly(self.pan_by), self)  # weakly: no cycle through the widget
        self.tool: CanvasTool | None = None  # sees input first, paints overlays last
        self.overlays: list = []  # objects with paint(painter, view), drawn over the tiles (fusion overlay)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumSize(64, 64)
        worker.sig_tile_ready.connect(self._on_worker_tile)
        worker.sig_failed.connect(self._on_worker_failed)
        # Every view the session takes is one this canvas shows. Weakly held: the session must not
        # keep the widget alive (see app.session.weakly).
        self.session.fit_view = weakly(self.shown_view, otherwise=lambda view: view)
        self.session.set_view(self.session.view)
        self.session.world_changed.connect(weakly(self._on_world_changed))
        self.session.view_changed.connect(weakly(self._on_view_changed))

    # -- state --------------------------------------------------------------------------------------

    @property
    def view(self) -> View:
        return self.session.view

    _view = view  # the name the code below reads the session's view by

    @property
    def world(self) -> World | None:
        return self.session.world

    def set_model(self, info: ModelInfo) -> None:
        if self._model is not None and info.model is not self._model:
            # Another generator (maybe under the same name and no hash): no cached pixel is its.
            self.cache.clear()
            self._recent.clear()
            self.states.forget()
            # A fresh state for the shown world (numbers are never reused): its old tiles were the old
            # generator's, and no late one of them can be taken for the new generator's.
            self.state = None if self.shown is None else self.states.state_of(self.shown)
        self._model = info.model
        self.plan = LevelPlan(max(1, info.num_levels), self.synth_levels)
        levels = getattr(info.model, "preview_levels", None)  # coarse previews (app.coarse_previews)
        self.coarse = CoarsePreviews(tuple(levels()) if callable(levels) else ())
        self.set_view(self._view)  # re-clamp the zoom to the new model's range

    @property
    def shown(self) -> World | None:
        """What the tiles show: a staged preview (:mod:`app.staging`) over the world, else the world."""
        return self.preview if self.preview is not None else self.world

    def set_world(self, world: World, damage: Damage | None = None) -> None:
        """Show ``world`` (through the session: a world that is not its history's starts a new one)."""
        self.session.show(world, damage)

    def _on_world_changed(self, change: WorldChange) -> None:
        """A world shown. Tiles are keyed by its state (:mod:`app.world_states`), so a world equal
        to one shown before (undo, redo) finds that one's tiles still cached.

        With ``damage`` (where ``world`` may differ from the shown one), cached tiles the edit cannot
        reach are shared with the new state, so only the damaged ones are rendered again. Until
        those arrive, the shown world's tiles stay on screen in their place (:attr:`standins`).
        A preview shown until now goes away; a world equal to it (the accepted variant) has its state
        and so its tiles.
        """
        old, damage = change.previous, change.damage  # the session already holds the new world
        if self.preview is not None:
            old = self.preview  # the edit replaces a staged preview: damage is counted from it
            damage = self._damage_between(old, change.world)
            self.preview = None
        self._show_instead_of(old, damage)

    def _damage_between(self, before: World, after: World) -> Damage | None:
        model = self.session.model()
        if model is None or before.model != after.model:
            return None
        return lambda level: changed_regions(model, before, after, level)

    def set_preview(self, preview: World | None, damage: Damage | None = None) -> None:
        """Show ``preview`` (a staged edit, never the document's world) instead of the world, or the
        world again for ``None``; ``damage``: where it may differ from what is shown now."""
        old = self.shown
        self.preview = preview
        self._show_instead_of(old, damage)

    def _show_instead_of(self, old: World | None, damage: Damage | None) -> None:
        """Key the tiles by the state of :attr:`shown`, which replaces ``old`` (shown until now)."""
        world, old_state = self.shown, self.state
        assert world is not None
        state = self.states.state_of(world)
        if old is not None and (world.model, world.model_hash) != (old.model, old.model_hash):
            self._recent.clear()  # another model's pixels are no stand-ins (nor are its levels)
        elif old is not None and old_state is not None and state != old_state:
            if damage is not None and self.plan is not None:
                self._share_tiles(old_state, state, damage)
            self._recent = deque([(old, old_state), *((w, s) for w, s in self._recent if s != state)], STANDINS)
        self.state = state
        self.failed.clear()
        self._drop_dead_states()
        self._changed()

    @property
    def standins(self) -> list[int]:
        """States shown before this one, newest first: their tiles fill in for missing ones."""
        return [state for _, state in self._recent]

    @property
    def fallbacks(self) -> list[int]:
        """States whose tiles are painted where this state's are missing: its coarse previews first
        (the new pixels, roughly), then :attr:`standins`."""
        coarse = [coarse_state(self.state)] if self.coarse.levels and self.state is not None else []
        return coarse + self.standins

    def _share_tiles(self, old: int, new: int, damage: Damage) -> None:
        assert self.plan is not None
        share_undamaged_tiles(self.cache, self.plan, old, new, damage)

    def _drop_dead_states(self) -> None:
        """Forget tiles of states no world has any more (they could never be shown again)."""
        live = self.states.live()
        drop_tiles_of_dead_states(self.cache, live | {coarse_state(state) for state in live})
        self.coarse.keep_states(live)

    def set_tool(self, tool: CanvasTool | None) -> None:
        """Route input to ``tool`` first (``None``: the built-in pan and zoom only)."""
        if self.tool is not None:
            self.tool.deactivate()
        self.tool = tool
        if tool is not None:
            tool.activate()
        self.update()

    def shown_view(self, view: View) -> View:
        """``view`` as this canvas can show it: its widget size, zoomed out no further than the plan."""
        view = view.resized(max(1, self.width()), max(1, self.height()))
        if self.plan is not None and not -self.plan.max_level <= view.zoom:
            view = View(view.cx, view.cy, -self.plan.max_level, view.width, view.height)
        return view

    def set_view(self, view: View) -> None:
        if self.shown_view(view) == self.session.view:
            self._changed()  # the same view, but the plan or the tiles may not be: ask again
        else:
            self.session.set_view(view)  # -> _on_view_changed

    def _on_view_changed(self, _view: View) -> None:
        self._changed()

    def centre_on(self, x: int, y: int, zoom: int | None = None) -> None:
        self.set_view(View.centred(x, y, self._view.zoom if zoom is None else zoom, self.width(), self.height()))

    def pan_by(self, dx: int, dy: int) -> None:
        if dx or dy:
            self.set_view(self._view.panned(dx, dy))

    def zoom_by(self, steps: int, anchor: tuple[float, float] | None = None) -> None:
        plan = self.plan or LevelPlan(1, self.synth_levels)
        self.set_view(self._view.zoomed(steps, plan, anchor))

    def visible_keys(self) -> list[TileKey]:
        if self.world is None or self.plan is None or self.state is None:
            return []
        return visible_keys(self._view, self.plan, self.state)

    def is_complete(self) -> bool:
        keys = self.visible_keys()
        return bool(keys) and all(k in self.cache or k in self.failed for k in keys)

    def schedule_requests(self) -> None:
        """Tell the worker again what the view wants (after the worker dropped its queue)."""
        self._request_timer.start()

    def _changed(self) -> None:
        self._complete_sent = False
        self._request_timer.start()
        self.update()
        self.sig_view_changed.emit(self._view)

    # -- worker traffic ---------------------------------------------------------------------------

    def _request_tiles(self) -> None:
        if self.world is None or self.plan is None or self.state is None:
            return
        if fill_from_children(self.cache, self.plan, self.visible_keys(), self._store_tile):
            self.update()
        def skip(key: TileKey) -> bool:
            return key in self.cache or key in self.failed

        wanted = self.coarse.requests(self._view, self.plan, self.state, skip)
        wanted += plan_requests(self._view, self.plan, self.state, skip, self.prefetch)
        self.submitted.append([key for _, key in wanted])
        del self.submitted[:-50]
        self.worker.submit(self.shown, self.plan, [TileRequest(key, priority) for priority, key in wanted])
        self._check_complete()

    def _on_worker_tile(self, key: TileKey, array) -> None:
        if self.world is None or self.state is None or key.state not in (self.state, coarse_state(self.state)):
            return  # a late tile of a world no longer shown
        if is_coarse(key) and self.plan is not None:  # a coarse preview, maybe a piece of a view-level tile
            key, array = self.coarse.receive(key, array, self._view.level(self.plan), self._cached_array)
        self._store_tile(key, array)
        self.update()
        self._check_complete()

    def _cached_array(self, key: TileKey):
        entry = self.cache.get(key)
        return None if entry is None else entry[1]

    def _store_tile(self, key: TileKey, array) -> None:
        self.cache.put(key, (rgb32_to_qimage(array), array), array.nbytes)

    def _on_worker_failed(self, keys: list[TileKey], message: str) -> None:
        self.failed.update(keys)
        self.update()
        self._check_complete()

    def _check_complete(self) -> None:
        if not self._complete_sent and self.is_complete():
            self._complete_sent = True
            self.sig_view_complete.emit()

    # -- Qt events ------------------------------------------------------------------------------------

    def paintEvent(self, event) -> None:
        start, cpu_start = time.perf_counter(), time.thread_time()
        painter = QPainter(self)
        state = None if self.plan is None else self.state
        paint_view(
            painter, self._view, self.plan or LevelPlan(), state, self.cache, self.failed, standins=self.fallbacks
        )
        for overlay in self.overlays:
            overlay.paint(painter, self._view)
        if self.tool is not None and self.world is not None:
            self.tool.paint(painter, self._view)
        painter.end()
        self.paint_times.append(time.perf_counter() - start)
        self.paint_cpu_times.append(time.thread_time() - cpu_start)

    def resizeEvent(self, event) -> None:
        self.set_view(self._view)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self.tool is not None and self.tool.wheel(event):
            return
        delta = event.angleDelta().y()
        if delta:
            pos = event.position()
            self.zoom_by(1 if delta > 0 else -1, (pos.x(), pos.y()))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.tool is not None and self.tool.press(event):
            return
        if event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton):
            self.glide.grab()
            self._drag_last = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        self.sig_cursor_moved.emit(*self._view.screen_to_world(pos.x(), pos.y()))
        if self._drag_last is None and self.tool is not None and self.tool.move(event):
            return
        if self._drag_last is None:
            return
        delta = pos - self._drag_last
        dx, dy = round(delta.x()), round(delta.y())
        if not (dx or dy):
            return
        self.glide.track(dx, dy)
        self._drag_last = QPointF(self._drag_last.x() + dx, self._drag_last.y() + dy)
        self.pan_by(dx, dy)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag_last is None and self.tool is not None and self.tool.release(event):
            return
        if self._drag_last is None:
            return
        self._drag_last = None
        self.unsetCursor()
        if self.kinetic:
            self.glide.release()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self.tool is not None and self.tool.key(event):
            return
        key = event.key()
        step_x, step_y = max(1, self.width() // 4), max(1, self.height() // 4)
        moves = {
            Qt.Key.Key_Left: (step_x, 0),
            Qt.Key.Key_Right: (-step_x, 0),
            Qt.Key.Key_Up: (0, step_y),
            Qt.Key.Key_Down: (0, -step_y),
        }
        if key in moves:
            self.pan_by(*moves[key])
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_by(1)
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            self.zoom_by(-1)
        elif key == Qt.Key.Key_Home:
            self.centre_on(0, 0, 0)
        else:
            super().keyPressEvent(event)
