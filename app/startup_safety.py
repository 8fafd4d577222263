"""What start-up does with a file it cannot use: set it aside, say so once, carry on with defaults.

Start-up reads files the user never opened on purpose (the autosave, the last world, the settings
INI); one damaged file among them must never stop the app from opening, on every start, forever.
So a bad file is renamed with a timestamp suffix (``autosave.everscape.damaged-20260101-120000``:
never deleted, the user or a bug report can still look at it), the user is told in one line, and
the app opens on the shipped default instead.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QByteArray, QPoint, QRect, QSize, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox, QWidget

from engine.document_checks import loads_strict
from engine.errors import EverscapeError, first_line
from engine.project import Project, load_project

HEADLESS_PLATFORMS = ("offscreen", "minimal")


def set_aside(path: Path) -> Path | None:
    """Rename ``path`` to ``NAME.damaged-YYYYmmdd-HHMMSS`` beside it; returns the new path (None if gone)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    count = 1
    while target.exists():
        count += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{count}")
    try:
        path.replace(target)
    except FileNotFoundError:
        return None
    except OSError:
        return None  # a read-only folder: the file stays, the app still opens on defaults
    return target


def tell_user(parent: QWidget | None, message: str) -> None:
    """A non-blocking message box; without a display, one warning line on stderr."""
    app = QGuiApplication.instance()
    if app is None or QGuiApplication.platformName() in HEADLESS_PLATFORMS:
        print(f"everscape: warning: {message}", file=sys.stderr, flush=True)
        return
    box = QMessageBox(QMessageBox.Icon.Warning, "Everscape", message, QMessageBox.StandardButton.Ok, parent)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()  # window-modal but asynchronous: start-up carries on behind it


#: A restored window larger than this many times the screen, or smaller than MIN_WINDOW, is refused.
MAX_SCREENS = 2
MIN_WINDOW = (200, 150)
DEFAULT_WINDOW = (1280, 800)


def restore_window_geometry(window: QWidget, geometry: QByteArray, notices: list[str]) -> None:
    """``window.restoreGeometry`` that never leaves the window unusable (off-size or unreadable)."""
    ok = window.restoreGeometry(geometry)
    screen = window.screen() or QGuiApplication.primaryScreen()
    area = screen.availableGeometry() if screen is not None else None
    size = window.size()
    too_big = area is not None and (
        size.width() > MAX_SCREENS * max(area.width(), 640) or size.height() > MAX_SCREENS * max(area.height(), 480)
    )
    if ok and not too_big and size.width() >= MIN_WINDOW[0] and size.height() >= MIN_WINDOW[1]:
        return
    window.setGeometry(QRect(QPoint(0, 0), QSize(*DEFAULT_WINDOW)) if area is None else _centred(area))
    notices.append(f"the saved window geometry ({size.width()}x{size.height()}) was unusable; the default is used")


def _centred(area: QRect) -> QRect:
    width, height = min(DEFAULT_WINDOW[0], area.width()), min(DEFAULT_WINDOW[1], area.height())
    return QRect(area.x() + (area.width() - width) // 2, area.y() + (area.height() - height) // 2, width, height)


def startup_default_model(notices: list[str]) -> str:
    """The shipped default model; if choosing it fails (damaged cards), the fixed fallback list's first."""
    from engine.default_model import default_model_ref
    from engine.models.registry import DEFAULT_CHECKPOINTS, FALLBACK_MODEL, find_checkpoint

    try:
        return default_model_ref()
    except Exception as error:  # noqa: BLE001 - start-up must survive any card or checkpoint content
        notices.append(f"the default model could not be chosen ({first_line(error)}); using the shipped one")
    for name in DEFAULT_CHECKPOINTS:
        try:
            if find_checkpoint(name) is not None:
                return name
        except EverscapeError:
            continue
    return FALLBACK_MODEL


def read_autosave(autosave: Path, note_path: Path) -> tuple[Project | None, Path | None, str | None]:
    """``(project, the project file it belongs to, problem)``: a damaged autosave (and its note) is set
    aside and ``problem`` says so; a damaged note only loses which file the autosave belonged to."""
    try:
        project = load_project(autosave)
    except Exception as error:  # noqa: BLE001 - start-up must survive any content (EverscapeError expected)
        kept = set_aside(autosave)
        set_aside(note_path)
        return None, None, f"the autosave could not be read and was set aside as {kept}: {first_line(error)}"
    source = None
    try:
        if note_path.stat().st_size <= 64 * 1024:
            note = loads_strict(note_path.read_bytes(), str(note_path))
            value = note.get("project") if isinstance(note, dict) else None
            source = Path(value) if isinstance(value, str) and value and "\0" not in value else None
    except (OSError, EverscapeError):
        source = None  # the note is lost: the autosave still holds the work
    return project, source, None
