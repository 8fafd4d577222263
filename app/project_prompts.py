"""What a project session asks the user, and what it needs of the window that shows it.

Kept apart from :mod:`app.project_controller` so the controller's file logic reads on its own;
tests replace :func:`default_prompts` (as named in the controller) so no dialog blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Protocol

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from engine.project import SUFFIX
from engine.world import World

if TYPE_CHECKING:
    from app.session import Session
    from app.settings import Settings
    from app.tools.select_rect import SelectRectTool
    from app.worker import TileWorker


class ProjectWindow(Protocol):
    """What the controller needs of the window that shows its project (the main window, or a test's
    stand-in): the controller depends on this, not on :mod:`app.main_window`, which imports it. The
    document itself (world, view, path, saved state) is the shared ``session``; the window's own
    widgets are none of the controller's business."""

    session: Session
    settings: Settings
    worker: TileWorker
    select_tool: SelectRectTool  # its selection is saved with the view

    @property
    def opening_world(self) -> bool: ...

    def open_world(self, model_ref: str, seed: int, world: World | None = None) -> None: ...

    def show_error(self, message: str) -> None: ...

    def clear_error(self) -> None: ...

FILE_FILTER = f"Everscape projects (*{SUFFIX});;All files (*)"


class SaveChoice(Enum):
    SAVE = "save"
    DISCARD = "discard"
    CANCEL = "cancel"


@dataclass
class ProjectPrompts:
    """The questions a project session asks; each takes the parent widget first."""

    unsaved: Callable[[QWidget, str], SaveChoice]  # "save changes to NAME?"
    restore: Callable[[QWidget, str], bool]  # "restore the autosave?"
    open_path: Callable[[QWidget, str], str | None]  # a project to open (start folder)
    save_path: Callable[[QWidget, str], str | None]  # where to save (suggested path)


def _ask_unsaved(parent: QWidget, name: str) -> SaveChoice:
    buttons = QMessageBox.StandardButton
    answer = QMessageBox.question(
        parent,
        "Unsaved changes",
        f"Save the changes to {name}?",
        buttons.Save | buttons.Discard | buttons.Cancel,
        buttons.Save,
    )
    return {buttons.Save: SaveChoice.SAVE, buttons.Discard: SaveChoice.DISCARD}.get(answer, SaveChoice.CANCEL)


def _ask_restore(parent: QWidget, text: str) -> bool:
    buttons = QMessageBox.StandardButton
    answer = QMessageBox.question(parent, "Restore unsaved work", text, buttons.Yes | buttons.No, buttons.Yes)
    return answer == buttons.Yes


def _ask_open_path(parent: QWidget, folder: str) -> str | None:
    name, _ = QFileDialog.getOpenFileName(parent, "Open project", folder, FILE_FILTER)
    return name or None


def _ask_save_path(parent: QWidget, suggested: str) -> str | None:
    name, _ = QFileDialog.getSaveFileName(parent, "Save project as", suggested, FILE_FILTER)
    return name or None


def default_prompts() -> ProjectPrompts:
    """Modal Qt dialogs (tests replace this function so nothing blocks)."""
    return ProjectPrompts(_ask_unsaved, _ask_restore, _ask_open_path, _ask_save_path)


