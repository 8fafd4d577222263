"""The session model: its own behaviour (Qt-free), and its events driving a canvas with no main window."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from app.qimage import qimage_to_array
from app.session import Event, Session, WorldChange
from app.tiles import View
from engine.world import World
from tests.app.fakes import FakeModel
from tests.app.test_canvas import fake_pixels


def test_event_calls_each_listener_once_in_order_and_listeners_may_leave():
    event: Event[int] = Event()
    seen: list[tuple[str, int]] = []

    def first(value: int) -> None:
        seen.append(("first", value))
        event.disconnect(first)  # leaving while being called does not skip the next listener

    event.connect(first)
    event.connect(first)
    event.connect(lambda value: seen.append(("second", value)))
    event.emit(1)
    event.emit(2)
    assert seen == [("first", 1), ("second", 1), ("second", 2)] and len(event) == 1


def test_edits_undo_and_a_foreign_world_move_history_and_the_modified_flag():
    session = Session()
    changes: list[WorldChange] = []
    titles: list[str] = []
    session.world_changed.connect(changes.append)
    session.document_changed.connect(lambda s: titles.append(s.title))
    start = World("fake:test", seed=1)
    session.show(start)
    session.mark_saved(start)
    assert not session.modified and titles[-1] == "Untitled — fake:test — Everscape"

    edited = start.with_seed(2)
    session.apply(edited, label="Change seed")
    assert session.world is edited and session.modified and titles[-1].startswith("Untitled*")
    assert changes[-1].previous is start and session.history.undo_label() == "Change seed"
    session.undo()
    assert session.world is start and not session.modified  # back to the saved world object
    session.redo()
    assert session.world is edited

    session.set_path(Path("/tmp/hills.everscape"))
    assert titles[-1] == "hills* — fake:test — Everscape"
    other = World("fake:other", seed=5)
    session.show(other)  # not the history's: a new document lineage, nothing to undo
    assert not session.history.can_undo() and session.history.current is other


def test_views_are_fitted_before_listeners_hear_of_them_and_selection_is_evented():
    session = Session()
    session.fit_view = lambda view: view.resized(300, 200)
    views: list[View] = []
    selected: list[int | None] = []
    session.view_changed.connect(views.append)
    session.selection_changed.connect(selected.append)
    session.centre_on(40, -7, zoom=2)
    assert views == [session.view] and session.view.centre == (40, -7) and session.view.width == 300
    session.set_view(session.view)  # no change, no event
    session.select(3)
    session.select(3)
    session.select(None)
    assert len(views) == 1 and selected == [3, None]


def test_session_events_drive_a_canvas_without_a_main_window(qtbot, make_canvas):
    model = FakeModel()
    session = Session()
    canvas = make_canvas(model, size=(400, 300), session=session)
    start = session.world
    assert canvas.world is start

    def centre_pixel_is(seed: int) -> bool:
        image = qimage_to_array(canvas.grab().toImage())
        wx, wy = canvas.view.screen_to_world(200.5, 150.5)
        return tuple(image[150, 200]) == fake_pixels(model, seed, wx, wy)

    # The view: set on the session, the canvas follows, asks for its tiles and paints them.
    session.centre_on(5000, -3000)
    assert canvas.view.centre == (5000, -3000) and canvas.view.width == 400  # fitted to the widget
    qtbot.waitUntil(canvas.is_complete, timeout=20000)
    assert centre_pixel_is(1)

    # An edit recorded on the session shows on the canvas; undo brings the old pixels back.
    session.apply(start.with_seed(9), label="Change seed")
    assert canvas.world is session.world and canvas.world.seed == 9
    qtbot.waitUntil(canvas.is_complete, timeout=20000)
    assert centre_pixel_is(9)
    session.undo()
    assert canvas.world is start
    qtbot.waitUntil(canvas.is_complete, timeout=20000)
    assert centre_pixel_is(1)

    # A view the canvas cannot show is fitted before any listener hears of it.
    views: list[View] = []
    session.view_changed.connect(views.append)
    session.set_view(View(0, 0, -40, 400, 300))
    assert canvas.view.zoom == -canvas.plan.max_level and views == [canvas.view] == [session.view]

    # The user pans the canvas: the session holds the new view and tells its listeners.
    before = session.view.centre
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Left)
    assert session.view.centre != before and views[-1] is session.view is canvas.view


def test_the_navigator_moves_the_session_view_and_the_canvas_follows(qtbot, make_canvas):
    from PySide6.QtCore import QPoint

    from app.navigator import Navigator

    session = Session()
    canvas = make_canvas(size=(400, 300), session=session)
    navigator = Navigator(canvas)
    qtbot.addWidget(navigator)
    navigator.resize(240, 160)
    navigator.show()
    target = navigator.mini_view().screen_to_world(20.0, 30.0)
    canvas.submitted.clear()
    qtbot.mouseClick(navigator, Qt.MouseButton.LeftButton, pos=QPoint(20, 30))
    assert session.view.centre == target and canvas.view is session.view
    qtbot.waitUntil(lambda: bool(canvas.submitted), timeout=5000)  # the canvas asked for the new view's tiles
    assert set(canvas.visible_keys()) <= set(canvas.submitted[-1]) | set(canvas.cache.key_list())
