"""Pick Qt's platform before the QApplication exists: offscreen when headless work has no display.

On Linux, Qt aborts the whole process (no Python exception) when it cannot reach an X11 or
Wayland display. Headless paths (``gui --screenshot``) therefore choose the ``offscreen`` platform
by themselves on a machine without ``$DISPLAY``/``$WAYLAND_DISPLAY`` (a server, CI, ssh); the
interactive app refuses with a one-line error instead of crashing. An explicit
``$QT_QPA_PLATFORM`` is always respected.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping

from engine.errors import InvalidInput


def has_display(env: MutableMapping[str, str] | None = None, platform: str = sys.platform) -> bool:
    """Whether a window can be shown: always off Linux/BSD, else when an X11 or Wayland display is named."""
    env = os.environ if env is None else env
    if not platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def choose_platform(headless: bool, env: MutableMapping[str, str] | None = None, platform: str = sys.platform) -> None:
    """Set ``QT_QPA_PLATFORM=offscreen`` for headless work without a display; refuse a window without one."""
    env = os.environ if env is None else env
    if env.get("QT_QPA_PLATFORM") or has_display(env, platform):
        return
    if headless:
        env["QT_QPA_PLATFORM"] = "offscreen"
        return
    raise InvalidInput(
        "no display to open a window on ($DISPLAY and $WAYLAND_DISPLAY are unset); "
        "use `everscape gui --screenshot FILE.png` for a headless capture"
    )
