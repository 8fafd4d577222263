"""The Help menu: user guide, keyboard shortcuts and About.

The shortcuts dialog is generated from the window's own QActions when it opens, so it lists what
the keys really do now (menus and tools added later included) and can never drift from a typed
table. The user guide is the checkout's README (the user document, linking docs/), opened in the
system's viewer; an install without a checkout says where the guide would be instead of failing.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMainWindow,
    QMenu,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.about_dialog import show_about
from app.startup_safety import tell_user

#: Where a source checkout keeps the guide, relative to the repository root (first found wins).
GUIDE_CANDIDATES = ("docs/README.md", "README.md")


def checkout_root() -> Path:
    """The repository root when running from a checkout (the folder holding the ``app`` package)."""
    return Path(__file__).resolve().parent.parent


def user_guide_path(root: Path | None = None) -> Path | None:
    root = checkout_root() if root is None else root
    return next((root / name for name in GUIDE_CANDIDATES if (root / name).is_file()), None)


def open_user_guide(parent: QWidget, root: Path | None = None) -> Path | None:
    """Open the guide in the system's viewer; without one, tell the user where to find it."""
    path = user_guide_path(root)
    if path is None or not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
        where = path or (checkout_root() if root is None else root) / GUIDE_CANDIDATES[-1]
        tell_user(parent, f"The user guide is README.md and docs/ of Everscape's source; expected at {where}")
    return path


def shortcut_rows(window: QMainWindow) -> list[tuple[str, str]]:
    """(where ▸ what, keys) for every action of ``window`` that has a shortcut: menus first, in order."""
    rows: list[tuple[str, str]] = []
    seen: set[QAction] = set()

    def add(action: QAction, name: str) -> None:
        seen.add(action)
        keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts())
        if keys:
            rows.append((name, keys))

    def walk(menu: QMenu, path: str) -> None:
        for action in menu.actions():
            name = f"{path} ▸ {_plain(action.text())}"
            if action.menu() is not None:
                walk(action.menu(), name)
            elif not action.isSeparator():
                add(action, name)

    for top in window.menuBar().actions():
        if top.menu() is not None:
            walk(top.menu(), _plain(top.text()))
    for action in window.findChildren(QAction):  # toolbar and tool actions outside the menus
        if action not in seen and not action.isSeparator() and action.text():
            add(action, _plain(action.text()))
    return rows


def _plain(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


class ShortcutsDialog(QDialog):
    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts")
        rows = shortcut_rows(window)
        self.table = QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(["Action", "Shortcut"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for row, (name, keys) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(name))
            self.table.setItem(row, 1, QTableWidgetItem(keys))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(520, 480)

    def rows(self) -> list[tuple[str, str]]:
        return [(self.table.item(r, 0).text(), self.table.item(r, 1).text()) for r in range(self.table.rowCount())]


def show_shortcuts(window: QMainWindow) -> ShortcutsDialog:
    dialog = ShortcutsDialog(window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


def build_help_menu(window: QMainWindow) -> QAction:
    """Append Help ▸ User guide, Keyboard shortcuts, About; returns About (macOS moves it)."""
    menu = window.menuBar().addMenu("&Help")
    window.user_guide_action = menu.addAction(
        "&User guide", QKeySequence.StandardKey.HelpContents, lambda: open_user_guide(window)
    )
    window.shortcuts_action = menu.addAction("&Keyboard shortcuts", lambda: show_shortcuts(window))
    menu.addSeparator()
    about = menu.addAction("&About Everscape", lambda: show_about(window))
    about.setMenuRole(QAction.MenuRole.AboutRole)
    return about
