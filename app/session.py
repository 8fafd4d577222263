"""The open document: world, view, selection, undo history, file path and modified flag, with events.

Qt-free on purpose (an import-linter contract keeps it so): the document is owned by neither the
canvas nor the main window. Widgets and controllers *subscribe* to its events and change it only
through its methods, so none of them needs another's members (napari's evented-model idea, written
small: an :class:`Event` is a typed list of callbacks, called in the order they were connected, on
the thread that changed the session, which in the app is always the GUI thread).

Who listens, in the app: the canvas (shows the world, follows the view), the navigator (redraws),
the tools controller (Undo/Redo actions), the project controller (autosave, what "saved" means),
the main window (seed field, title, zoom read-out) and the Styles dock (its list of centres).

Worlds are immutable, so "modified" is "the shown world is not the saved world object": undoing back
to the saved world clears it again. A world shown that is not the history's current one starts a
new history (a model or project opened); :meth:`Session.apply` records an edit instead.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from app.history import History
from app.tiles import View
from engine.edits import changed_regions
from engine.geometry import Rect
from engine.world import World

T = TypeVar("T")

#: ``damage(level)``: rects (pixels of native ``level``) outside which an edit left pixels as they
#: were, or ``None`` for "anywhere" (see :func:`engine.edits.changed_regions`).
Damage = Callable[[int], "Sequence[Rect] | None"]


def weakly(method: Callable[..., Any], otherwise: Callable[..., Any] = lambda *args: None) -> Callable[..., Any]:
    """``method`` (a bound method) as a callback that does not keep its object alive: called while
    the object lives, else ``otherwise`` is called with the same arguments. Widgets subscribe to the
    session this way, so no reference cycle runs through a widget's Python wrapper: Python's cycle
    collector may run at any allocation, even inside a Qt event being delivered to that widget, and
    freeing the widget there crashes the process."""
    ref = weakref.WeakMethod(method)

    def call(*args: Any) -> Any:
        bound = ref()
        return otherwise(*args) if bound is None else bound(*args)

    return call


class Event(Generic[T]):
    """Callbacks taking one ``T``. A callback connected twice is called once; one that raises stops
    the emit (a bug in a listener must surface, not be swallowed)."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[T], object]] = []

    def connect(self, callback: Callable[[T], object]) -> Callable[[T], object]:
        if callback not in self._callbacks:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[[T], object]) -> None:
        self._callbacks.remove(callback)

    def emit(self, value: T) -> None:
        for callback in list(self._callbacks):  # a listener may disconnect itself while called
            callback(value)

    def __len__(self) -> int:
        return len(self._callbacks)


@dataclass(frozen=True)
class WorldChange:
    """A world shown: ``previous`` was shown before; ``damage`` (if known) bounds where they differ."""

    world: World
    previous: World | None
    damage: Damage | None = None


class OpenModel(Protocol):
    """The loaded model as the session needs it (the worker's ``ModelInfo`` is one)."""

    ref: str
    model: Any  # the generator, read for its latent geometry only (the worker alone runs it)


class Session:
    """One open document. Events: ``world_changed`` (:class:`WorldChange`), ``view_changed``
    (:class:`~app.tiles.View`), ``selection_changed`` (the selected style centre or None),
    ``document_changed`` (the session: path, saved state or title may differ) and
    ``history_changed`` (the session: what Undo/Redo would do)."""

    def __init__(self, world: World | None = None, view: View | None = None) -> None:
        self.world_changed: Event[WorldChange] = Event()
        self.view_changed: Event[View] = Event()
        self.selection_changed: Event[int | None] = Event()
        self.document_changed: Event[Session] = Event()
        self.history_changed: Event[Session] = Event()
        self.history = History(world)
        self.world = world
        self.view = view or View()
        self.selection: int | None = None
        self.path: Path | None = None
        self.saved_world: World | None = None
        self.open_model: OpenModel | None = None
        # What the display can show of a view (its size, its zoom range): the canvas sets it, so every
        # view listeners see is one it shows, and none is corrected after they were told.
        self.fit_view: Callable[[View], View] = lambda view: view

    # -- document state ------------------------------------------------------------------------------

    @property
    def modified(self) -> bool:
        return self.world is not None and self.world is not self.saved_world

    @property
    def name(self) -> str:
        return self.path.stem if self.path is not None else "Untitled"

    @property
    def title(self) -> str:
        """The window title: project name, ``*`` while modified, model."""
        model = f" — {self.world.model}" if self.world is not None else ""
        return f"{self.name}{'*' if self.modified else ''}{model} — Everscape"

    def set_path(self, path: Path | None) -> None:
        if path != self.path:
            self.path = path
            self.document_changed.emit(self)

    def mark_saved(self, world: World | None) -> None:
        """``world`` is what the file holds now (None: nothing shown counts as saved)."""
        self.saved_world = world
        self.document_changed.emit(self)

    def set_open_model(self, model: OpenModel | None) -> None:
        """The model the worker has open: edits of its worlds get exact damage from it."""
        self.open_model = model

    def model(self) -> Any:
        """The open model's generator, or None while it is not the shown world's model."""
        info, world = self.open_model, self.world
        if info is None or world is None or info.ref != world.model:
            return None
        return info.model

    # -- worlds ----------------------------------------------------------------------------------------

    def show(self, world: World, damage: Damage | None = None) -> None:
        """Show ``world``. Not the history's current world: a new document lineage (a model or project
        opened), so the history starts over from it."""
        if world is not self.history.current:
            self.history.reset(world)
            self.history_changed.emit(self)
        previous, self.world = self.world, world
        self.world_changed.emit(WorldChange(world, previous, damage))
        self.document_changed.emit(self)

    def open(self, world: World) -> None:
        """Show ``world`` as a fresh document: the history restarts from it."""
        self.history.reset(world)
        self.show(world)
        self.history_changed.emit(self)

    def apply(self, world: World, merge: Hashable | None = None, label: str = "Edit") -> None:
        """Record an edit of the shown world (``label``: what it did, for Edit ▸ Undo) and show it."""
        self.history.push(world, merge, label)
        self._show_step(world)

    def undo(self) -> None:
        world = self.history.undo()
        if world is not None:
            self._show_step(world)

    def redo(self) -> None:
        world = self.history.redo()
        if world is not None:
            self._show_step(world)

    def _show_step(self, world: World) -> None:
        """Show a world of the history, telling listeners where it can differ from the shown one."""
        shown, model = self.world, self.model()
        damage = None
        if shown is not None and model is not None and world.model == shown.model:
            damage = lambda level: changed_regions(model, shown, world, level)  # noqa: E731
        self.show(world, damage)
        self.history_changed.emit(self)

    # -- view and selection ----------------------------------------------------------------------------

    def set_view(self, view: View) -> None:
        view = self.fit_view(view)
        if view != self.view:
            self.view = view
            self.view_changed.emit(view)

    def centre_on(self, x: int, y: int, zoom: int | None = None) -> None:
        """Centre the view on world pixel (x, y), at ``zoom`` or the current one."""
        v = self.view
        self.set_view(View.centred(x, y, v.zoom if zoom is None else zoom, v.width, v.height))

    def select(self, index: int | None) -> None:
        """The selected style centre (index into the world's layout), or None."""
        if index != self.selection:
            self.selection = index
            self.selection_changed.emit(index)
