"""Canvas tools and undo in the main window: gestures become world edits, undo restores worlds exactly."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QKeySequence, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from app.main_window import MainWindow
from app.qimage import qimage_to_array
from app.tiles import TileKey
from engine.geometry import Lattice, Rect
from engine.models.base import FieldSpec
from engine.styles import StyleCentre
from tests.app.fakes import FakeModel

B = Qt.MouseButton


class FieldFake(FakeModel):
    """The fake generator, claiming one latent field (cells 16 px apart, one cell of margin)."""

    def field_specs(self, level: int = 0):
        return (FieldSpec("z", 2, Lattice(16, 1)),)


def mouse(widget, kind: QEvent.Type, pos: QPoint, button=B.LeftButton, modifiers=Qt.KeyboardModifier.NoModifier):
    buttons = B.NoButton if kind == QEvent.Type.MouseButtonRelease else button
    if kind == QEvent.Type.MouseMove:
        button = B.NoButton
    event = QMouseEvent(kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)), button, buttons, modifiers)
    QApplication.sendEvent(widget, event)


def click(widget, pos: QPoint, button=B.LeftButton) -> None:
    mouse(widget, QEvent.Type.MouseButtonPress, pos, button)
    mouse(widget, QEvent.Type.MouseButtonRelease, pos, button)


def drag(widget, start: QPoint, end: QPoint) -> None:
    mouse(widget, QEvent.Type.MouseButtonPress, start)
    mouse(widget, QEvent.Type.MouseMove, (start + end) / 2)
    mouse(widget, QEvent.Type.MouseMove, end)
    mouse(widget, QEvent.Type.MouseButtonRelease, end)


def wheel(widget, pos: QPoint, notches: int, modifiers=Qt.KeyboardModifier.ControlModifier) -> None:
    event = QWheelEvent(
        QPointF(pos),
        QPointF(widget.mapToGlobal(pos)),
        QPoint(),
        QPoint(0, 120 * notches),
        B.NoButton,
        modifiers,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def world_at(win: MainWindow, pos: QPoint) -> tuple[int, int]:
    return win.canvas.view.screen_to_world(pos.x(), pos.y())


def test_edit_menu_and_shortcuts(window):
    win = window()
    titles = [a.text() for a in win.menuBar().actions()]
    assert titles[:2] == ["&File", "&Edit"]
    assert win.tools.undo_action.shortcut() == QKeySequence("Ctrl+Z")
    assert win.tools.redo_action.shortcut() == QKeySequence("Ctrl+Shift+Z")
    assert not win.tools.undo_action.isEnabled()
    assert [a.text() for a in win.tool_group.actions()] == [
        "Pan",
        "Style centres",
        "Resample region",
        "Brush",
        "Eraser",
        "Fill",
        "Select rectangle",
    ]


def test_seed_changes_go_through_history(qtbot, window):
    win = window()
    start = win.world
    win.seed_field.setText("77")
    win.on_seed_entered()
    assert win.world.seed == 77 and win.tools.undo_action.isEnabled()
    win.tools.undo_action.trigger()
    assert win.world is start and win.seed_field.text() == "3"
    win.tools.redo_action.trigger()
    assert win.world.seed == 77 and win.seed_field.text() == "77"


def test_a_world_shown_by_others_starts_a_new_history(window):
    win = window()
    win.seed_field.setText("8")
    win.on_seed_entered()
    assert win.tools.undo_action.isEnabled()
    opened = win.world.with_seed(12)  # e.g. a project of the same model, shown directly
    win.canvas.set_world(opened)
    assert win.tools.history.current is opened and not win.tools.undo_action.isEnabled()
    win.canvas.pan_by(5, 0)  # a mere pan is not a new world
    assert win.tools.history.current is opened


class LatticeFake(FakeModel):
    """A fake whose background style is a lattice (like InfinityGAN ``small``): no implicit centre."""

    @property
    def implicit_style_centre(self) -> bool:
        return False


def test_with_a_style_lattice_the_first_centre_stays_alone(qtbot, window):
    win = window(LatticeFake())
    canvas, tool = win.canvas, win.tools.style_tool
    tool.seed_source = iter([101]).__next__
    win.tools.style_action.trigger()
    p1 = QPoint(200, 150)
    click(canvas, p1)
    assert win.world.styles.centres == (StyleCentre(*world_at(win, p1), 101),)  # no world-seed centre at 0, 0


def test_style_centres_drop_move_delete_and_undo(qtbot, window):
    win = window()
    canvas, tool = win.canvas, win.tools.style_tool
    tool.seed_source = iter([101, 102, 103]).__next__
    win.tools.style_action.trigger()
    assert canvas.tool is tool
    worlds = [win.world]

    p1, p2, p3 = QPoint(200, 150), QPoint(260, 190), QPoint(120, 300)
    click(canvas, p1)
    worlds.append(win.world)
    assert win.world.styles.centres == (StyleCentre(0, 0, 3), StyleCentre(*world_at(win, p1), 101))

    drag(canvas, p1, p2)  # moves the centre: one edit, made on release
    worlds.append(win.world)
    assert win.world.styles.centres[1] == StyleCentre(*world_at(win, p2), 101)
    assert win.world.version == worlds[1].version + 1

    click(canvas, p3)
    worlds.append(win.world)
    assert len(win.world.styles.centres) == 3 and win.world.styles.centres[2].seed == 102
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)  # the selected (just placed) centre
    worlds.append(win.world)
    assert [c.seed for c in win.world.styles.centres] == [3, 101]

    click(canvas, p2, B.RightButton)  # right-click removes the centre under the cursor
    worlds.append(win.world)
    assert [c.seed for c in win.world.styles.centres] == [3]
    click(canvas, QPoint(400, 50), B.RightButton)  # nothing there: no edit
    assert win.world is worlds[-1]

    for expected in reversed(worlds[:-1]):
        win.tools.undo_action.trigger()
        assert win.world is expected  # exactly the earlier world, not a copy
    assert not win.tools.undo_action.isEnabled()
    for expected in worlds[1:]:
        win.tools.redo_action.trigger()
        assert win.world is expected


def test_width_by_ctrl_wheel_and_spin_box_is_one_undo_step_per_gesture(window):
    win = window()
    canvas, tool = win.canvas, win.tools.style_tool
    win.tools.style_action.trigger()
    p = QPoint(250, 200)
    click(canvas, p)
    placed = win.world
    zoom = canvas.view.zoom
    wheel(canvas, p, 1)
    wheel(canvas, p, 1)
    assert win.world.styles.centres[1].width == pytest.approx(128 * 1.25**2)
    assert canvas.view.zoom == zoom  # Ctrl+wheel over the tool is not a zoom
    win.tools.undo_action.trigger()
    assert win.world is placed
    wheel(canvas, p, 1, Qt.KeyboardModifier.NoModifier)
    assert canvas.view.zoom == zoom + 1 and win.world is placed  # a plain wheel still zooms
    win.tools.width_box.setValue(300)
    assert win.world.styles.centres[1].width == 300.0
    assert tool.new_width == 300.0
    win.tools.width_box.setValue(0)  # "default"
    assert win.world.styles.centres[1].width is None
    wheel(canvas, p, -1)
    click(canvas, QPoint(450, 300))  # a new centre gets the tool's width...
    assert win.world.styles.centres[2].width is None
    click(canvas, p)  # ...and picking a centre shows its width, without an edit
    assert win.tools.width_box.value() == round(128 / 1.25) and len(win.world.styles.centres) == 3
    win.tools.undo_action.trigger()  # the new centre
    win.tools.undo_action.trigger()  # the whole width gesture: spin box and wheel on centre 1
    assert win.world is placed


def test_centres_are_drawn_clearly_in_the_styles_tool_and_faintly_in_others(qtbot, window):
    win = window()
    canvas = win.canvas
    win.tools.style_action.trigger()
    before = qimage_to_array(canvas.grab().toImage())
    p = QPoint(200, 150)
    click(canvas, p)
    qtbot.waitUntil(canvas.is_complete, timeout=10000)  # the fake ignores styles: same tiles again
    after = qimage_to_array(canvas.grab().toImage())
    scale = before.shape[0] / canvas.height()
    y, x = round(p.y() * scale), round(p.x() * scale)
    near = (slice(y - 4, y + 5), slice(x - 4, x + 5))
    assert (before[near] != after[near]).any(), "no marker where the centre is"
    assert np.array_equal(before[: y - 40], after[: y - 40]), "pixels away from the centre changed"
    win.tools.pan_action.trigger()  # other tools draw the centres faintly
    assert canvas.tool is None
    canvas.repaint()
    faint = qimage_to_array(canvas.grab().toImage())
    assert (faint[near] != before[near]).any(), "the centre is hidden under the pan tool"
    clear_contrast = np.abs(after[near].astype(int) - before[near]).sum()
    faint_contrast = np.abs(faint[near].astype(int) - before[near]).sum()
    assert 0 < faint_contrast < 0.6 * clear_contrast, "the marker is not fainter than in the Styles tool"
    assert np.array_equal(before[: y - 40], faint[: y - 40])


def test_resample_tool_keeps_tiles_outside_the_support_and_undo_removes_the_override(qtbot, window):
    model = FieldFake()
    win = window(model)
    canvas = win.canvas
    qtbot.waitUntil(lambda: win.pending_label.text() == "0 pending", timeout=10000)
    start = win.world
    cached = {(k.level, k.tx, k.ty) for k in canvas.cache.key_list()}
    assert (0, 0, 0) in cached and len(cached) > 4
    win.tools.resample_tool.seed_source = lambda: 5
    win.tools.resample_action.trigger()
    a, b = canvas.view.world_to_screen(10, 12), canvas.view.world_to_screen(60, 50)
    calls = len(model.calls)
    drag(canvas, QPoint(round(a[0]), round(a[1])), QPoint(round(b[0]), round(b[1])))
    preview = canvas.preview
    assert win.world is start and preview is not None  # staged first (app.staging_session)
    (patch,) = preview.overrides
    assert patch.field == "z" and patch.cells == Rect(1, 1, 2, 2)  # the whole 16-px cells inside
    # Support: cells 0..4 (one cell of margin) = pixels [0, 64)^2, all in tile (0, 0).
    kept = {(k.level, k.tx, k.ty) for k in canvas.cache.key_list() if k.state == canvas.state}
    assert kept == cached - {(0, 0, 0)}
    qtbot.waitUntil(canvas.is_complete, timeout=10000)
    edit = win.staging.edit
    qtbot.waitUntil(lambda: len(edit.thumbnails) == len(edit.variants), timeout=10000)  # idle calls
    rendered = [o for _, origins in model.calls[calls:] for o in origins]
    assert (0, 0) in rendered and (256, 0) not in rendered  # the preview's tile (0, 0), thumbnails near it

    calls = len(model.calls)
    win.staging.accept()
    edited = win.world
    assert edited.overrides == (patch,) and win.tools.undo_action.text() == "&Undo Resample region"
    assert {(k.level, k.tx, k.ty) for k in canvas.cache.key_list() if k.state == canvas.state} >= cached
    qtbot.waitUntil(canvas.is_complete, timeout=10000)
    assert model.calls[calls:] == []  # accepting renders nothing again: the preview's tiles carry over

    calls = len(model.calls)
    win.tools.undo_action.trigger()
    assert win.world is start and win.world.overrides == ()
    assert TileKey(canvas.state, 0, 1, 0) in canvas.cache  # undo also keeps the untouched tiles
    qtbot.waitUntil(canvas.is_complete, timeout=10000)
    rendered = [o for _, origins in model.calls[calls:] for o in origins]
    assert all(0 <= x < 256 and 0 <= y < 256 for x, y in rendered)


def test_resample_tool_reports_regions_too_small(window):
    win = window(FieldFake())
    win.tools.resample_action.trigger()
    start = win.world
    drag(win.canvas, QPoint(100, 100), QPoint(103, 102))
    assert win.world is start and "no whole latent cell" in win.last_error
    mouse(win.canvas, QEvent.Type.MouseButtonPress, QPoint(100, 100))
    win.canvas.setFocus()
    from PySide6.QtTest import QTest

    QTest.keyClick(win.canvas, Qt.Key.Key_Escape)  # cancels the drag
    mouse(win.canvas, QEvent.Type.MouseButtonRelease, QPoint(300, 300))
    assert win.world is start and win.tools.resample_tool._start is None


def test_canvas_keeps_synthesised_tiles_whose_source_pixels_the_edit_cannot_reach(qtbot, make_canvas):
    canvas = make_canvas(size=(600, 600))
    canvas.zoom_by(-1)  # level 1: each tile is rendered from 512 level-0 pixels and halved
    qtbot.waitUntil(canvas.is_complete, timeout=10000)
    old, old_state = canvas.world, canvas.state
    before = {(k.level, k.tx, k.ty): canvas.cache.get(k) for k in canvas.cache.key_list()}
    edited = old.with_seed(old.seed + 1)  # another state (its damage is made up below)
    canvas.set_world(edited, damage=lambda level: [Rect(480, 0, 32, 20)] if level == 0 else [])
    keys = canvas.cache.key_list()
    kept = {(k.level, k.tx, k.ty): canvas.cache.get(k) for k in keys if k.state == canvas.state}
    # Level-1 tile (0, 0) covers level-0 x in [0, 512): the only one of its level the damage reaches;
    # of the level-0 tiles that came with the level-1 renders, only (1, 0) (x in [256, 512)).
    assert (0, 1, 0) in before
    assert set(kept) == set(before) - {(1, 0, 0), (0, 1, 0)}
    assert all(kept[k] is before[k] for k in kept)  # shared, not copied
    assert {(k.level, k.tx, k.ty) for k in keys if k.state == old_state} == set(before)  # kept for undo
    canvas.set_world(edited.with_seed(9), damage=lambda level: None)  # "anywhere": nothing is shared
    assert not [k for k in canvas.cache.key_list() if k.state == canvas.state]


def test_undo_and_redo_say_what_they_undo(qtbot, window):
    win = window()
    canvas, undo, redo = win.canvas, win.tools.undo_action, win.tools.redo_action
    assert (undo.text(), redo.text()) == ("&Undo", "&Redo")
    win.tools.style_action.trigger()
    p1, p2 = QPoint(200, 150), QPoint(260, 190)
    click(canvas, p1)
    assert undo.text() == "&Undo Add style centre"
    drag(canvas, p1, p2)
    assert undo.text() == "&Undo Move style centre"
    wheel(canvas, p2, 1)
    wheel(canvas, p2, 1)  # one gesture, one named step
    assert undo.text() == "&Undo Change style width"
    undo.trigger()
    assert (undo.text(), redo.text()) == ("&Undo Move style centre", "&Redo Change style width")
    win.seed_field.setText("9")
    win.on_seed_entered()
    assert (undo.text(), redo.text()) == ("&Undo Change seed", "&Redo")  # a new edit forgets the redo


def test_after_typing_a_width_ctrl_z_undoes_the_world_not_the_box(qtbot, window):
    win = window()
    canvas, box = win.canvas, win.tools.width_box
    win.activateWindow()
    win.tools.style_action.trigger()
    click(canvas, QPoint(250, 200))
    placed = win.world
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, "300")
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert win.world.styles.centres[1].width == 300.0
    assert QApplication.focusWidget() is canvas  # Enter handed the keys back
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert win.world is placed  # the whole typed width, one world step
    assert box.value() == 300  # the box itself was not the one undone

    win.seed_field.setFocus()
    win.seed_field.selectAll()
    qtbot.keyClicks(win.seed_field, "41")
    qtbot.keyClick(win.seed_field, Qt.Key.Key_Return)
    assert win.world.seed == 41 and QApplication.focusWidget() is canvas
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert win.world is placed
