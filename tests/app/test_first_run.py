"""First run: the icon, Help ▸ About with the doctor report, headless platform choice, opening a project by name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from app.about_dialog import AboutDialog
from app.display import choose_platform, has_display
from engine import cli
from engine.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[2]


def test_the_window_has_the_application_icon(open_window):
    window = open_window()
    sizes = {size.width() for size in window.windowIcon().availableSizes()}
    assert {16, 32, 48, 256, 512} <= sizes


def test_help_about_shows_the_doctor_report_and_copies_it(qtbot, open_window):
    window = open_window()
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    assert window.about_action in help_menu.actions()
    window.about_action.trigger()
    dialog = window.findChild(AboutDialog)
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    text = dialog.report.toPlainText()
    for label in ("Everscape:", "torch:", "Device:", "Memory:", "Folder (config):", "Shipped models:"):
        assert label in text
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == text
    dialog.reject()


@pytest.mark.parametrize(
    ("env", "platform", "display"),
    [
        ({}, "linux", False),
        ({"DISPLAY": ":0"}, "linux", True),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
        ({}, "win32", True),
        ({}, "darwin", True),
    ],
)
def test_has_display(env, platform, display):
    assert has_display(env, platform) is display


def test_headless_work_without_a_display_picks_offscreen_and_a_window_is_refused():
    env: dict[str, str] = {}
    choose_platform(headless=True, env=env, platform="linux")
    assert env == {"QT_QPA_PLATFORM": "offscreen"}
    with pytest.raises(InvalidInput, match="no display"):
        choose_platform(headless=False, env={}, platform="linux")
    explicit = {"QT_QPA_PLATFORM": "xcb"}
    choose_platform(headless=False, env=explicit, platform="linux")  # the user's choice stands
    assert explicit == {"QT_QPA_PLATFORM": "xcb"}
    with_display = {"DISPLAY": ":1"}
    choose_platform(headless=True, env=with_display, platform="linux")
    assert "QT_QPA_PLATFORM" not in with_display


def _without_display_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    return {**env, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "EVERSCAPE_CONFIG_DIR": str(tmp_path / "cfg")}


def test_screenshot_without_a_display_goes_offscreen_by_itself(tmp_path):
    out = tmp_path / "shot.png"
    command = [sys.executable, "-m", "engine.cli", "gui", "--screenshot", str(out), "--model", "reference:tiny"]
    env = _without_display_env(tmp_path)
    done = subprocess.run([*command, "--size", "200x150"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 0


def test_the_window_without_a_display_is_a_one_line_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "gui"], env=_without_display_env(tmp_path), capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.startswith("everscape: error: no display") and len(done.stderr.splitlines()) == 1


def test_a_project_file_as_the_only_argument_opens_it_in_the_gui(monkeypatch):
    opened = []
    monkeypatch.setattr("app.main.run_app", lambda args: opened.append(args) or 0)
    assert cli.main(["--debug", "My World.EVERSCAPE"]) == 0
    assert opened[0].command == "gui" and opened[0].project == "My World.EVERSCAPE"
    commands = cli.discover_commands()
    assert cli.open_project_shortcut(["models"], commands) == ["models"]
    assert cli.open_project_shortcut(["notes.txt"], commands) == ["notes.txt"]  # still "invalid choice"


def test_a_missing_project_given_alone_is_a_one_line_error(tmp_path):
    env = {**_without_display_env(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    command = [sys.executable, "-m", "engine.cli", str(tmp_path / "gone.everscape")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    last = done.stderr.splitlines()[-1]  # (Qt's offscreen plugin may print a notice before it)
    assert last.startswith("everscape: error: project") and last.endswith("gone.everscape does not exist")
    assert "Traceback" not in done.stderr
