"""The application icon, from the PNG sizes shipped in ``resources/icons`` (no QtSvg needed at run time)."""

from __future__ import annotations

from PySide6.QtGui import QIcon

from engine.shipped_data import data_path


def application_icon() -> QIcon:
    """Every shipped size, so the window manager, task bar and dialogs each get a sharp one."""
    icon = QIcon()
    for png in sorted(data_path("resources", "icons").glob("everscape-*.png")):
        icon.addFile(str(png))
    return icon
