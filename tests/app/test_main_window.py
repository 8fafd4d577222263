"""The main window: world controls, status read-outs, navigation, persistence, headless screenshots."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QDockWidget

from app.main import take_screenshot
from app.main_window import parse_position
from app.qimage import array_to_qimage, qimage_to_array
from app.settings import Settings
from engine.errors import InvalidInput
from tests.app.fakes import FakeConfig, FakeModel

ROOT = Path(__file__).resolve().parents[2]


def test_window_opens_a_world_and_reports_status(qtbot, open_window):
    window = open_window(seed=4)
    assert window.world.seed == 4 and window.world.model == "fake:test"
    qtbot.waitUntil(window.canvas.is_complete, timeout=10000)
    qtbot.waitUntil(lambda: window.pending_label.text() == "0 pending", timeout=10000)  # the prefetch ring too
    assert window.zoom_label.text() == "zoom 1×"
    assert "CPU" in window.device_label.text() and "MiB" in window.device_label.text()
    centre = window.canvas.rect().center()
    qtbot.mouseMove(window.canvas, centre)
    x, y = window.canvas.view.screen_to_world(centre.x(), centre.y())
    assert window.cursor_label.text() == f"x {x}, y {y}"
    assert window.model_picker.currentText() == "fake:test"


def test_seed_field_and_new_world_change_the_world(qtbot, open_window):
    window = open_window(seed=1)
    window.seed_field.setText("77")
    window.on_seed_entered()
    assert window.world.seed == 77 and window.world.version == 1
    window.new_world()
    assert window.world.seed == int(window.seed_field.text()) and window.world.version == 2


def test_keyboard_and_go_to_move_the_view(qtbot, open_window):
    window = open_window()
    canvas = window.canvas
    window.go_to("1000, -2000")
    assert canvas.view.centre == (1000, -2000)
    qtbot.keyClick(canvas, Qt.Key.Key_Right)
    assert canvas.view.centre == (1000 + canvas.width() // 4, -2000)
    qtbot.keyClick(canvas, Qt.Key.Key_Minus)
    assert canvas.view.zoom == -1
    qtbot.keyClick(canvas, Qt.Key.Key_Plus)
    qtbot.keyClick(canvas, Qt.Key.Key_Plus)
    assert canvas.view.zoom == 1
    qtbot.keyClick(canvas, Qt.Key.Key_Home)
    assert canvas.view.centre == (0, 0) and canvas.view.zoom == 0
    window.go_to("nowhere")
    assert "two integers" in window.last_error


def test_mouse_drag_pans_and_wheel_zooms(qtbot, open_window):
    window = open_window()
    canvas = window.canvas
    canvas.kinetic = False
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=canvas.rect().center())
    qtbot.mouseMove(canvas, canvas.rect().center() + canvas.rect().topLeft() + type(canvas.rect().center())(40, 10))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=canvas.rect().center())
    assert canvas.view.centre == (-40, -10)


def test_navigator_click_centres_the_canvas(qtbot, open_window):
    window = open_window()
    nav = window.navigator
    qtbot.waitUntil(window.canvas.is_complete, timeout=10000)
    qtbot.mouseClick(nav, Qt.MouseButton.LeftButton, pos=nav.rect().center() + type(nav.rect().center())(10, 0))
    assert window.canvas.view.centre[0] == pytest.approx(80, abs=8)  # 10 px at 1/8 scale
    image = qimage_to_array(nav.grab().toImage())
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 20  # it shows known tiles, not a blank


def test_last_world_view_and_geometry_are_restored(qtbot, open_window, private_config):
    window = open_window(seed=12)
    window.go_to("300, 400")
    window.canvas.zoom_by(-1)
    window.close()
    assert (private_config / "last-world.json").exists()
    assert Settings().geometry() is not None
    again = open_window(model_ref=None)
    assert again.world.model == "fake:test" and again.world.seed == 12
    assert again.canvas.view.centre == (300, 400) and again.canvas.view.zoom == -1


def test_developer_option_offers_random_models(qtbot, open_window):
    window = open_window()
    names = [window.model_picker.itemText(i) for i in range(window.model_picker.count())]
    assert "reference:tiny" not in names
    window.developer_action.setChecked(True)
    names = [window.model_picker.itemText(i) for i in range(window.model_picker.count())]
    assert "reference:tiny" in names and "reference:wide" in names


def test_a_model_that_fails_to_open_is_reported_and_the_old_one_stays(qtbot, open_window):
    window = open_window(FakeModel(FakeConfig(block=256), delay=0.1))  # tiles pending when the open fails
    window.loader = None  # the real registry
    window.open_world("nosuchfamily:x", 0)
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=10000)
    assert "nosuchfamily" in window.last_error
    assert window.world.model == "fake:test"
    qtbot.waitUntil(window.canvas.is_complete, timeout=10000)  # the old model still renders
    window.canvas.pan_by(-300, 0)
    qtbot.waitUntil(window.canvas.is_complete, timeout=10000)


def test_parse_position():
    assert parse_position(" -5, 10 ") == (-5, 10)
    with pytest.raises(InvalidInput):
        parse_position("1,2,3")
    assert parse_position("1000000000000, -7") == (10**12, -7)
    with pytest.raises(InvalidInput, match="beyond"):
        parse_position(f"{2**62}, 0")


def test_screenshot_in_process_is_a_non_uniform_png(qtbot, tmp_path):
    out = take_screenshot(tmp_path / "shot.png", "reference:tiny", 3, (100, -50, 0), (320, 240))
    image = QImage(str(out))
    assert (image.width(), image.height()) == (320, 240)
    pixels = qimage_to_array(image)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 100


def test_gui_screenshot_command_exits_zero(tmp_path):
    out = tmp_path / "cli.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "engine.cli",
            "gui",
            "--screenshot",
            str(out),
            "--model",
            "reference:tiny",
            "--seed",
            "2",
            "--view",
            "-1000,500,-1",
            "--size",
            "320x240",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    pixels = qimage_to_array(QImage(str(out)))
    assert pixels.shape == (240, 320, 3) and pixels.std() > 5


def test_array_to_qimage_owns_its_pixels():
    array = np.zeros((4, 5, 3), dtype=np.uint8)
    array[1, 2] = (10, 20, 30)
    image = array_to_qimage(array)
    del array
    assert (image.pixelColor(2, 1).red(), image.pixelColor(2, 1).green(), image.pixelColor(2, 1).blue()) == (10, 20, 30)


def test_screenshot_of_a_model_that_cannot_open_is_a_one_line_error(qtbot, tmp_path):
    from engine.errors import EverscapeError

    with pytest.raises(EverscapeError, match="nosuchfamily"):
        take_screenshot(tmp_path / "never.png", "nosuchfamily:x", 0, (0, 0, 0), (200, 150), timeout=30)
    assert not (tmp_path / "never.png").exists()


def test_preferences_apply_live_and_persist(qtbot, open_window):
    from app.preferences_dialog import PreferencesDialog

    window = open_window()
    dialog = PreferencesDialog(window.prefs, window)
    qtbot.addWidget(dialog)
    dialog.memory.setValue(256)
    dialog.synth.setValue(0)
    dialog.prefetch.setValue(0)
    window.apply_preferences(dialog.preferences())
    assert window.canvas.cache.budget == 128 * 2**20 and window.canvas.prefetch == 0  # half the budget
    window.canvas.zoom_by(-3)
    assert window.canvas.view.zoom == 0  # no synthesised levels for a one-level model: no zoom-out
    assert Settings().preferences().memory_mib == 256


def test_file_export_writes_the_visible_view(qtbot, open_window, tmp_path):
    """File ▸ Export opens on the current view and writes exactly what a direct render gives."""
    import tifffile

    from engine.render import Renderer

    window = open_window(seed=6)
    window.go_to("-300, 200")
    dialog = window.open_export_dialog()
    qtbot.addWidget(dialog)
    view = window.canvas.view.world_rect()
    assert dialog.chosen_rect() == view
    dialog.path_edit.setText(str(tmp_path / "view.tif"))
    with qtbot.waitSignal(dialog.export_finished, timeout=60000):
        dialog.start_export()
    expected = Renderer(window.loader(window.world.model).model, "cpu").render(window.world, [view])[0]
    assert np.array_equal(tifffile.imread(tmp_path / "view.tif"), expected)


def test_view_training_shows_the_panel_and_opens_a_checkpoint(qtbot, open_window, tmp_path, monkeypatch):
    window = open_window(seed=3)
    action = next(a for a in window.menuBar().actions() if a.text() == "&View")
    training = next(a for a in action.menu().actions() if a.text() == "Training")
    dock = window.findChild(QDockWidget, "training")
    assert not dock.isVisible()
    training.trigger()
    assert dock.isVisible() and dock.widget() is window.training
    opened = []
    monkeypatch.setattr(window, "open_world", lambda ref, seed, world=None: opened.append((ref, seed)))
    window.training.open_model("run/last.safetensors")
    assert opened == [("run/last.safetensors", 3)]


def test_a_project_named_on_the_command_line_opens_with_its_world(open_window, tmp_path):
    from app.main import open_project_or_raise
    from engine.project import Project, ProjectView, save_project
    from engine.world import World

    path = tmp_path / "island.everscape"
    save_project(path, Project(World("fake:test", 41), ProjectView(96, -32, 1)))
    window = open_window()
    open_project_or_raise(window, path)
    assert (window.world.model, window.world.seed) == ("fake:test", 41)
    assert window.project.path == path
    with pytest.raises(InvalidInput, match="does not exist"):
        open_project_or_raise(window, tmp_path / "missing.everscape")
    (tmp_path / "junk.everscape").write_bytes(b"not a project")
    with pytest.raises(InvalidInput) as error:
        open_project_or_raise(window, tmp_path / "junk.everscape")
    assert "\n" not in str(error.value) and window.world.seed == 41  # the open world stays
