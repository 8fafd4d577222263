"""Application start-up, and the headless ``--screenshot`` capture used by docs, bug reports and tests."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from app.display import choose_platform
from app.icon import application_icon
from app.jobs import install_loop
from app.main_window import MainWindow
from app.qimage import array_to_qimage  # noqa: F401 - re-exported for older callers
from app.settings import Settings
from engine.atomic import atomic_path
from engine.errors import EverscapeError, InvalidInput


def parse_view(text: str) -> tuple[int, int, int]:
    """``"X,Y,ZOOM"`` -> ints (zoom is a power-of-two exponent: -1 = half size, 2 = 4x)."""
    try:
        x, y, zoom = (int(v) for v in text.split(","))
    except ValueError:
        raise InvalidInput(f"--view must be X,Y,ZOOM (three integers), got {text!r}") from None
    return x, y, zoom


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InvalidInput(f"--size must be WxH, e.g. 1280x800, got {text!r}") from None
    if not (64 <= w <= 8192 and 64 <= h <= 8192):
        raise InvalidInput(f"--size {w}x{h} is outside 64..8192 pixels per side")
    return w, h


def wait_until_complete(window: MainWindow, timeout: float) -> None:
    """Spin the event loop until every visible tile is painted; errors and timeouts raise."""
    deadline = time.monotonic() + timeout
    loop = QEventLoop()
    while not (window.world is not None and window.canvas.is_complete()):
        if window.last_error is not None and window.world is None:
            raise EverscapeError(window.last_error)
        if time.monotonic() > deadline:
            raise EverscapeError(f"the view was not rendered within {timeout:g} s")
        QTimer.singleShot(20, loop.quit)
        loop.exec()
    if window.canvas.failed.intersection(window.canvas.visible_keys()):
        raise EverscapeError(f"some tiles of the view could not be rendered: {window.last_error}")
    QApplication.processEvents()


def take_screenshot(
    path: str | Path,
    model: str | None = None,
    seed: int = 0,
    view: tuple[int, int, int] | None = None,
    size: tuple[int, int] = (1280, 800),
    timeout: float = 300.0,
    project: str | Path | None = None,
) -> Path:
    """Open a window on the given world (or ``project``) and view, wait for its tiles, save a PNG.

    With a project and no explicit ``view`` the project's own saved view is kept."""
    from engine.default_model import default_model_ref

    explicit_view, view = view is not None, view or (0, 0, 0)
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise InvalidInput(f"--screenshot writes a PNG; {path.name} should end in .png")
    window = MainWindow(Settings(), model or default_model_ref(), seed, view, persist=False)
    try:
        window.resize(*size)
        window.show()
        if project is not None:
            open_project_or_raise(window, project)
        if project is None or explicit_view:
            window.canvas.centre_on(*view)  # again, now that the canvas has its final size
        wait_until_complete(window, timeout)
        image = window.grab().toImage()
        with atomic_path(path) as temp:
            if not image.save(str(temp), "PNG"):
                raise EverscapeError(f"could not write {path}")
    finally:
        window.close()
    return path


def open_project_or_raise(window: MainWindow, path: str | Path) -> None:
    """Open a project given on the command line; a bad one is the usual one-line error."""
    if not Path(path).is_file():
        raise InvalidInput(f"project {path} does not exist")
    if not window.project.open_project(path):
        raise InvalidInput(window.last_error or f"could not open project {path}")


def run_app(args: argparse.Namespace) -> int:
    """The GUI: Qt's event loop, run as asyncio's (qasync), so jobs are coroutines on it."""
    choose_platform(headless=bool(getattr(args, "screenshot", None)))
    app = QApplication.instance() or QApplication(sys.argv[:1])
    # Reference cycles are collected on this thread only, from a timer: the cycle collector runs in
    # whichever thread allocates, and a Qt object it frees on the tile worker's thread deadlocks
    # against the GUI thread (seen: ~QObject waiting for the GIL while the GUI held Qt's lock).
    collector = GarbageCollector(interval=0.5)  # noqa: F841 - kept alive until the app returns
    app.setApplicationName("Everscape")
    app.setWindowIcon(application_icon())
    loop = install_loop(app)
    view = parse_view(args.view) if getattr(args, "view", None) else None
    if getattr(args, "screenshot", None):
        size = parse_size(args.size) if args.size else (1280, 800)
        take_screenshot(args.screenshot, args.model, args.seed or 0, view, size, project=getattr(args, "project", None))
        return 0
    window = MainWindow(Settings(), args.model, args.seed, view)
    if getattr(args, "size", None):
        window.resize(*parse_size(args.size))
    window.show()
    if getattr(args, "project", None):
        try:
            open_project_or_raise(window, args.project)
        except InvalidInput:
            window.close()
            raise
    with loop:  # closed on the way out
        return loop.run_forever()
