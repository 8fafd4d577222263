"""Themes: the preference applies at once to chrome and canvas, persists, and "system" follows the desktop."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication

import app.painting
import app.theme
from app.painting import paint_view
from app.preferences_dialog import PreferencesDialog
from app.settings import Settings
from app.tiles import LevelPlan, TileCache, View


@pytest.fixture(autouse=True)
def restore_look(qapp):
    """The palette is process-wide: later tests get the look they started with."""
    palette, background = QApplication.palette(), app.painting.BACKGROUND
    yield
    QApplication.setPalette(palette)
    app.painting.BACKGROUND = background


def empty_canvas_colour() -> int:
    """The lightness of the canvas where no tile is drawn (painted exactly as the canvas paints)."""
    image = QImage(32, 32, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    paint_view(painter, View(width=32, height=32), LevelPlan(), None, TileCache(2**20))
    painter.end()
    return image.pixelColor(16, 16).lightness()


def chrome_colour(window) -> int:
    QApplication.processEvents()  # widgets take the application palette from a posted event
    return window.palette().window().color().lightness()


def choose(qtbot, window, label: str) -> None:
    dialog = PreferencesDialog(window.prefs, window)
    qtbot.addWidget(dialog)
    dialog.theme.setCurrentText(label)
    window.apply_preferences(dialog.preferences())


def test_dark_and_light_apply_to_chrome_and_canvas_and_persist(qtbot, open_window):
    window = open_window()
    choose(qtbot, window, "Dark")
    assert chrome_colour(window) < 100 and empty_canvas_colour() < 100
    assert Settings().preferences().theme == "dark"
    choose(qtbot, window, "Light")
    assert chrome_colour(window) > 160 and empty_canvas_colour() > 160
    assert Settings().preferences().theme == "light"


def test_system_follows_the_desktop_at_start_and_when_it_changes(qtbot, open_window, monkeypatch):
    monkeypatch.setattr(app.theme, "system_scheme", lambda: "dark")
    window = open_window()
    assert window.prefs.theme == "system"  # the default
    assert chrome_colour(window) < 100 and empty_canvas_colour() < 100
    monkeypatch.setattr(app.theme, "system_scheme", lambda: "light")
    app.theme._followers[0]()  # what the desktop's colorSchemeChanged signal calls
    assert chrome_colour(window) > 160 and empty_canvas_colour() > 160
    choose(qtbot, window, "Dark")  # an explicit choice is not overridden by the desktop
    app.theme._followers[0]()
    assert chrome_colour(window) < 100


def test_a_saved_theme_is_applied_when_the_app_starts(qtbot, open_window, monkeypatch):
    monkeypatch.setattr(app.theme, "system_scheme", lambda: "light")
    settings = Settings()
    prefs = settings.preferences()
    prefs.theme = "dark"
    settings.save_preferences(prefs)
    window = open_window()
    assert chrome_colour(window) < 100 and empty_canvas_colour() < 100


def test_an_unknown_theme_in_the_settings_file_falls_back_to_system(private_config):
    settings = Settings()
    settings.qsettings.setValue("prefs/theme", "purple")
    settings.qsettings.sync()
    fresh = Settings()
    assert fresh.preferences().theme == "system"
    assert any("prefs/theme" in notice for notice in fresh.take_notices())
