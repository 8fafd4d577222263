"""The rectangle-select tool: drawn by dragging, adjusted by its handles, exported as "Selected rectangle"."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication

from app.tools.select_rect import adjusted, handle_points, screen_rect
from engine.geometry import Rect
from tests.app.test_tools import drag


def select(window, start: QPoint, end: QPoint) -> Rect:
    window.tools.select_action.trigger()
    assert window.canvas.tool is window.select_tool
    drag(window.canvas, start, end)
    view = window.canvas.view
    (x0, y0), (x1, y1) = view.screen_to_world(start.x(), start.y()), view.screen_to_world(end.x(), end.y())
    return Rect(x0, y0, x1 - x0 + 1, y1 - y0 + 1)


def test_adjusting_an_edge_never_turns_the_rectangle_inside_out():
    rect = Rect(10, 20, 30, 40)
    assert adjusted(rect, "right", 5, 99) == Rect(10, 20, 35, 40)
    assert adjusted(rect, "top-left", -3, 4) == Rect(7, 24, 33, 36)
    assert adjusted(rect, "left", 500, 0) == Rect(39, 20, 1, 40)
    assert adjusted(rect, "bottom", 0, -500) == Rect(10, 20, 30, 1)


def test_dragged_selection_is_exported_exactly(qtbot, window, tmp_path):
    import tifffile

    from engine.render import Renderer

    win = window()
    assert win.open_export_dialog().selection_radio.isEnabled() is False  # nothing selected yet
    expected = select(win, QPoint(200, 150), QPoint(247, 181))
    assert win.select_tool.selection == expected and (expected.w, expected.h) == (48, 32)
    dialog = win.open_export_dialog()
    qtbot.addWidget(dialog)
    assert dialog.selection_radio.isEnabled() and dialog.selection_radio.isChecked()
    assert "48 × 32" in dialog.selection_radio.text() and dialog.chosen_rect() == expected
    dialog.path_edit.setText(str(tmp_path / "selection.tif"))
    with qtbot.waitSignal(dialog.export_finished, timeout=60000):
        dialog.start_export()
    direct = Renderer(win.loader(win.world.model).model, "cpu").render(win.world, [expected])[0]
    written = tifffile.imread(tmp_path / "selection.tif")
    assert written.shape[:2] == (32, 48) and np.array_equal(written, direct)


def test_handles_adjust_the_inside_moves_and_delete_clears(qtbot, window):
    win = window()
    first = select(win, QPoint(200, 150), QPoint(259, 189))
    area = screen_rect(first, win.canvas.view)
    corner = handle_points(area)["bottom-right"].toPoint()
    drag(win.canvas, corner, corner + QPoint(20, 10))  # at zoom 1:1 one screen px is one world px
    grown = win.select_tool.selection
    assert (grown.x, grown.y) == (first.x, first.y) and (grown.w, grown.h) == (first.w + 20, first.h + 10)
    inside = area.center().toPoint()
    drag(win.canvas, inside, inside + QPoint(-30, 7))
    moved = win.select_tool.selection
    assert (moved.x, moved.y, moved.w, moved.h) == (grown.x - 30, grown.y + 7, grown.w, grown.h)
    win.tools.pan_action.trigger()  # another tool: the selection stays (drawn as an overlay)
    assert win.select_tool.selection == moved and win.select_tool.shown_rect() == moved
    win.tools.select_action.trigger()
    delete = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Delete, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(win.canvas, delete)
    assert win.select_tool.selection is None
    assert not win.open_export_dialog().selection_radio.isEnabled()


def test_selection_outline_and_size_are_painted(qtbot, window):
    from app.qimage import qimage_to_array

    win = window()
    before = qimage_to_array(win.canvas.grab().toImage())
    select(win, QPoint(100, 80), QPoint(300, 200))
    after = qimage_to_array(win.canvas.grab().toImage())
    changed = np.argwhere((before != after).any(axis=-1))
    assert changed.size  # the outline, handles and the "201 × 121 px" label were drawn
    assert changed[:, 1].min() >= 100 - 8 and changed[:, 0].max() <= 200 + 8  # around the selection only


def test_the_selection_is_saved_with_the_project(qtbot, open_window, scripted_prompts, tmp_path):
    window = open_window()
    chosen = select(window, QPoint(120, 100), QPoint(183, 147))
    scripted_prompts.save_answer = str(tmp_path / "framed.everscape")
    assert window.project.save_as()
    window.select_tool.set_selection(None)
    assert window.project.open_project(tmp_path / "framed.everscape")
    assert window.select_tool.selection == chosen
    assert window.project.new_project() and window.select_tool.selection is None  # a new project: none


def test_a_damaged_selection_in_a_project_is_one_line(tmp_path):
    import pytest

    from engine.errors import InvalidInput
    from engine.project import ProjectView

    assert ProjectView.from_json({"x": 1, "selection": [5, -6, 7, 8]}).selection == Rect(5, -6, 7, 8)
    for bad in ([1, 2, 0, 4], [1, 2, 3], "0,0,4,4", [1.5, 2, 3, 4], [1, 2, 3, True]):
        with pytest.raises(InvalidInput, match="selection"):
            ProjectView.from_json({"selection": bad})
