"""Dark and light themes, following the desktop by default, for the window chrome and the canvas alike.

A light window around the dark canvas looked like two programs; so the theme decides both: the
application palette (menus, docks, dialogs) and the colour the canvas shows where no tile is drawn
yet. Qt's Fusion style is used for both themes because it is the one style that honours a palette
on every platform (native styles on Windows and macOS ignore a dark palette).

"system" resolves through :func:`system_scheme`: the desktop's colour scheme when Qt knows it,
else the lightness of the style's own palette; a desktop that switches (e.g. at sunset) is followed
while the preference stays "system".
"""

from __future__ import annotations

import weakref

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

import app.painting

THEMES = ("system", "dark", "light")
#: The canvas background of each scheme: close to the window colour, so empty canvas reads as "not
#: drawn yet" rather than as a hole in the window.
CANVAS_BACKGROUND = {"dark": QColor(38, 40, 44), "light": QColor(214, 216, 220)}
_followers: list = []  # the connection that follows the desktop, made once per process
_windows: weakref.WeakSet = weakref.WeakSet()  # windows whose preference it consults


def system_scheme() -> str:
    """``"dark"`` or ``"light"``: what the desktop asks for (a seam tests replace)."""
    scheme = QGuiApplication.styleHints().colorScheme()
    if scheme == Qt.ColorScheme.Dark:
        return "dark"
    if scheme == Qt.ColorScheme.Light:
        return "light"
    style = QApplication.style()
    return "dark" if style is not None and style.standardPalette().window().color().lightness() < 128 else "light"


def resolve(theme: str) -> str:
    """The scheme a preference means now: ``"dark"`` or ``"light"``."""
    return system_scheme() if theme == "system" else ("dark" if theme == "dark" else "light")


def dark_palette() -> QPalette:
    """A dark palette whose window matches the canvas background."""
    palette = QPalette()
    window, base, text = QColor(45, 47, 51), QColor(30, 32, 35), QColor(225, 227, 230)
    highlight = QColor(70, 130, 200)
    for role, colour in (
        (QPalette.ColorRole.Window, window),
        (QPalette.ColorRole.WindowText, text),
        (QPalette.ColorRole.Base, base),
        (QPalette.ColorRole.AlternateBase, window),
        (QPalette.ColorRole.ToolTipBase, base),
        (QPalette.ColorRole.ToolTipText, text),
        (QPalette.ColorRole.PlaceholderText, QColor(140, 142, 146)),
        (QPalette.ColorRole.Text, text),
        (QPalette.ColorRole.Button, window),
        (QPalette.ColorRole.ButtonText, text),
        (QPalette.ColorRole.BrightText, QColor(255, 90, 90)),
        (QPalette.ColorRole.Link, QColor(110, 170, 240)),
        (QPalette.ColorRole.Highlight, highlight),
        (QPalette.ColorRole.HighlightedText, QColor(255, 255, 255)),
        (QPalette.ColorRole.Light, QColor(70, 72, 76)),
        (QPalette.ColorRole.Midlight, QColor(58, 60, 64)),
        (QPalette.ColorRole.Mid, QColor(40, 42, 45)),
        (QPalette.ColorRole.Dark, QColor(25, 26, 28)),
        (QPalette.ColorRole.Shadow, QColor(10, 10, 10)),
    ):
        palette.setColor(role, colour)
    disabled = QColor(120, 122, 126)
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return palette


def apply_theme(theme: str) -> str:
    """Make ``theme`` (one of :data:`THEMES`) the look of the whole application; returns the scheme
    it resolved to."""
    application = QApplication.instance()
    scheme = resolve(theme)
    if application is None:
        return scheme
    if application.style().name().lower() != "fusion":  # an unknown name leaves the style as it was
        application.setStyle("Fusion")
    application.setPalette(dark_palette() if scheme == "dark" else application.style().standardPalette())
    # The canvas and navigator paint their empty background from this colour (process-wide, like
    # the application palette itself).
    app.painting.BACKGROUND = CANVAS_BACKGROUND[scheme]
    return scheme  # every widget repaints on the palette change event


def install_theme(window) -> None:
    """Apply the window's preferred theme now, and follow the desktop's changes while it is "system"."""
    apply_theme(window.prefs.theme)
    _windows.add(window)
    window.destroyed.connect(lambda *_: _windows.discard(window))
    if not _followers:
        hints = QGuiApplication.styleHints()

        def follow(_scheme=None) -> None:
            # Python attributes only: a closed window's Qt object may be gone while its wrapper lives.
            if any(shown.prefs.theme == "system" for shown in list(_windows)):
                apply_theme("system")

        hints.colorSchemeChanged.connect(follow)
        _followers.append(follow)
