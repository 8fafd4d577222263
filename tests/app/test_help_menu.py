"""Menus a user meets: Help ▸ User guide and Keyboard shortcuts, developer items under View ▸ Diagnostics."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QDesktopServices, QKeySequence

import app.help_menu as help_menu
from app.help_menu import ShortcutsDialog


def top_menus(win) -> dict[str, object]:
    return {a.text(): a.menu() for a in win.menuBar().actions() if a.menu() is not None}


def test_developer_items_live_under_view_diagnostics(window):
    win = window()
    menus = top_menus(win)
    assert "&Developer" not in menus
    assert list(menus)[-1] == "&Help"
    diagnostics = next(a.menu() for a in menus["&View"].actions() if a.text() == "&Diagnostics")
    assert win.developer_action in diagnostics.actions()
    assert win.developer_action.isCheckable()


def test_keyboard_shortcuts_are_listed_from_the_actions(qtbot, window):
    win = window()
    win.new_world_action.setShortcut(QKeySequence("Ctrl+Alt+N"))  # not in any menu: found all the same
    assert win.shortcuts_action in top_menus(win)["&Help"].actions()
    win.shortcuts_action.trigger()
    dialog = win.findChild(ShortcutsDialog)
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    rows = dict(dialog.rows())
    native = QKeySequence.SequenceFormat.NativeText
    assert rows["Edit ▸ Undo"] == QKeySequence("Ctrl+Z").toString(native)
    assert rows["File ▸ Export…"] == QKeySequence("Ctrl+E").toString(native)
    assert rows["View ▸ Go to x, y…"] == QKeySequence("Ctrl+G").toString(native)
    assert rows["New world"] == QKeySequence("Ctrl+Alt+N").toString(native)
    assert all(keys for keys in rows.values())  # actions without a shortcut are not listed
    dialog.close()


def test_user_guide_opens_the_checkout_readme(window, monkeypatch):
    win = window()
    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    win.user_guide_action.trigger()
    assert len(opened) == 1 and Path(opened[0]).is_file() and Path(opened[0]).name == "README.md"
    assert Path(opened[0]).parent in (help_menu.checkout_root(), help_menu.checkout_root() / "docs")


def test_without_a_checkout_the_user_guide_says_where_it_would_be(window, monkeypatch, tmp_path):
    win = window()
    told: list[str] = []
    opened: list[object] = []
    monkeypatch.setattr(help_menu, "tell_user", lambda parent, message: told.append(message))
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    assert help_menu.open_user_guide(win, root=tmp_path) is None
    assert not opened and len(told) == 1 and str(tmp_path / "README.md") in told[0]
