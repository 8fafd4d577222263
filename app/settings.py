"""Persistent preferences and the last session (window geometry, last world, view).

Everything lives in one folder: ``$EVERSCAPE_CONFIG_DIR`` if set (tests point it at a temporary
folder), else the platform config dir (``platformdirs.user_config_dir("everscape")``). Preferences
(and the recent projects) are an INI file read through ``QSettings``; the autosave is a project file
(:mod:`engine.project`) beside it; the last world is an ordinary world document written
with :meth:`engine.world.World.save` (atomic), so a crash can never leave half a file behind.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from app.startup_safety import set_aside
from engine.errors import EverscapeError
from engine.folders import config_dir
from engine.world import World

WORLD_FILE = "last-world.json"
AUTOSAVE_FILE = "autosave.everscape"  # the current world and view, a few seconds behind every edit
MAX_RECENT = 8




@dataclass
class Preferences:
    """User-tunable settings with their defaults (the INI keys are the field names)."""

    memory_mib: int = 1024  # one budget: tile cache, latent chunks, headroom (app.memory)
    prefetch: int = 1  # ring of tiles beyond the view to render ahead
    synth_levels: int = 4  # zoom-out levels made by downsampling beyond the model's own
    batch_tiles: int = 4  # tiles per worker step
    kinetic: bool = True  # keep gliding after a flick
    developer: bool = False  # offer random FAMILY:CONFIG models in the picker
    device: str = "auto"  # auto, cpu, cuda, cuda:N, mps
    theme: str = "system"  # system (follow the desktop), dark, light: app.theme


#: What each preference may hold; anything else in the INI file is set aside for the default.
PREFERENCE_RANGES: dict[str, tuple[int, int]] = {
    "memory_mib": (128, 256 * 1024),
    "prefetch": (0, 4),
    "synth_levels": (0, 6),
    "batch_tiles": (1, 64),
}
#: What each text preference may hold, as a whole-string pattern.
PREFERENCE_PATTERNS: dict[str, re.Pattern[str]] = {
    "device": re.compile(r"^(auto|cpu|mps|cuda(:\d{1,2})?)$"),
    "theme": re.compile(r"^(system|dark|light)$"),
}
INI_FILE = "everscape.ini"


def _preference(raw: Any, default: Any, name: str) -> Any:
    """``raw`` (a string, or a bool/int QSettings kept typed) as ``default``'s type within its range."""
    if isinstance(default, bool):
        text = str(raw).lower()
        if isinstance(raw, bool) or text in ("true", "false", "1", "0", "yes", "no"):
            return raw if isinstance(raw, bool) else text in ("1", "true", "yes")
        raise ValueError(raw)
    if isinstance(default, int):
        value = int(str(raw).strip())
        low, high = PREFERENCE_RANGES[name]
        if not low <= value <= high:
            raise ValueError(raw)
        return value
    if not isinstance(raw, str) or not PREFERENCE_PATTERNS[name].match(raw):
        raise ValueError(raw)
    return raw


class Settings:
    """Typed access to the app's QSettings plus the last-world file.

    Values that are unusable (a hand-edited INI, another version's keys, a damaged file) never stop
    the app: the INI is copied aside once with a timestamp, the bad key goes back to its default,
    and :attr:`notices` says which (the window shows them once it is up).
    """

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else config_dir()
        self.notices: list[str] = []
        self._backed_up = False
        ini = self.folder / INI_FILE
        self.qsettings = QSettings(str(ini), QSettings.Format.IniFormat)
        if self.qsettings.status() != QSettings.Status.NoError:
            kept = set_aside(ini)
            self.notices.append(f"the settings file could not be read and was set aside as {kept}; defaults are used")
            self.qsettings = QSettings(str(ini), QSettings.Format.IniFormat)

    def _bad_value(self, key: str, what: str) -> None:
        """Back the INI up (once, never deleting it), drop ``key``, and note it for the user."""
        if not self._backed_up:
            ini = self.folder / INI_FILE
            stamp = time.strftime("%Y%m%d-%H%M%S")
            # Nothing to copy (or a read-only folder): the default is used all the same.
            with contextlib.suppress(OSError):
                shutil.copy2(ini, ini.with_name(f"{INI_FILE}.damaged-{stamp}"))
            self._backed_up = True
        self.qsettings.remove(key)
        self.qsettings.sync()
        self.notices.append(f"setting {key} ({what}) was unusable and is back to its default")

    def take_notices(self) -> list[str]:
        notices, self.notices = self.notices, []
        return notices

    def preferences(self) -> Preferences:
        prefs = Preferences()
        for f in fields(Preferences):
            key = f"prefs/{f.name}"
            raw = self.qsettings.value(key)
            if raw is None:
                continue
            try:
                setattr(prefs, f.name, _preference(raw, getattr(prefs, f.name), f.name))
            except (TypeError, ValueError):
                self._bad_value(key, repr(raw)[:40])
        return prefs

    def save_preferences(self, prefs: Preferences) -> None:
        for f in fields(Preferences):
            self.qsettings.setValue(f"prefs/{f.name}", getattr(prefs, f.name))
        self.qsettings.sync()

    def geometry(self) -> QByteArray | None:
        value = self.qsettings.value("window/geometry")
        if value is None or (isinstance(value, QByteArray) and 0 < value.size() <= 4096):
            return value
        self._bad_value("window/geometry", f"a {type(value).__name__}, not a saved geometry")
        return None

    def save_geometry(self, geometry: QByteArray) -> None:
        self.qsettings.setValue("window/geometry", geometry)
        self.qsettings.sync()

    def view(self) -> tuple[int, int, int] | None:
        """Last view as world ``(x, y, zoom)``."""
        value = self.qsettings.value("session/view")
        if value is None:
            return None
        try:
            x, y, zoom = (int(v) for v in str(value)[:200].split(","))
        except ValueError:
            self._bad_value("session/view", repr(value)[:40])
            return None
        return x, y, zoom  # far positions and zooms are clamped by the canvas

    def save_view(self, x: int, y: int, zoom: int) -> None:
        self.qsettings.setValue("session/view", f"{x},{y},{zoom}")
        self.qsettings.sync()

    def last_world(self) -> World | None:
        path = self.folder / WORLD_FILE
        if not path.exists():
            return None
        try:
            return World.load(path)
        except EverscapeError as error:
            # A damaged file only costs the user their last position, once: it is set aside.
            kept = set_aside(path)
            set_aside(path.with_name(path.name + ".safetensors"))
            self.notices.append(f"the last world could not be read and was set aside as {kept}: {error}")
            return None

    def save_world(self, world: World) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        world.save(self.folder / WORLD_FILE)

    # -- projects -----------------------------------------------------------------------------------

    def recent_projects(self) -> list[str]:
        """Recently opened or saved project files, newest first."""
        value = self.qsettings.value("projects/recent")
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            return []
        return [v for v in value if isinstance(v, str) and 0 < len(v) <= 4096][:MAX_RECENT]

    def add_recent_project(self, path: str | Path) -> None:
        entry = str(Path(path).resolve())
        recent = [entry] + [p for p in self.recent_projects() if p != entry]
        self.qsettings.setValue("projects/recent", recent[:MAX_RECENT])
        self.qsettings.sync()

    def remove_recent_project(self, path: str | Path) -> None:
        entry = str(path)
        self.qsettings.setValue("projects/recent", [p for p in self.recent_projects() if p != entry])
        self.qsettings.sync()

    def session_project(self) -> Path | None:
        """The project that was open when the app last closed, if any."""
        value = self.qsettings.value("projects/session")
        return Path(value) if isinstance(value, str) and 0 < len(value) <= 4096 and "\0" not in value else None

    def save_session_project(self, path: str | Path | None) -> None:
        self.qsettings.setValue("projects/session", str(path) if path is not None else "")
        self.qsettings.sync()

    def autosave_path(self) -> Path:
        return self.folder / AUTOSAVE_FILE
