"""Persistent preferences and the last session (window geometry, last world, view).

Everything lives in one folder: ``$EVERSCAPE_CONFIG_DIR`` if set (tests point it at a temporary
folder), else the platform config dir (``platformdirs.user_config_dir("everscape")``). Preferences
(and the recent projects) are an INI file read through ``QSettings``; the autosave is a project file
(:mod:`engine.project`) beside it; the last world is an ordinary world document written
with :meth:`engine.world.World.save` (atomic), so a crash can never leave half a file behind.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from engine.errors import EverscapeError
from engine.folders import config_dir
from engine.world import World

WORLD_FILE = "last-world.json"
AUTOSAVE_FILE = "autosave.everscape"  # the current world and view, a few seconds behind every edit
MAX_RECENT = 8




@dataclass
class Preferences:
    """User-tunable settings with their defaults (the INI keys are the field names)."""

    cache_mib: int = 512  # display tile cache budget
    prefetch: int = 1  # ring of tiles beyond the view to render ahead
    synth_levels: int = 2  # zoom-out levels made by downsampling beyond the model's own
    batch_tiles: int = 4  # tiles per worker step
    kinetic: bool = True  # keep gliding after a flick
    developer: bool = False  # offer random FAMILY:CONFIG models in the picker
    device: str = "auto"  # auto, cpu, cuda, cuda:N, mps


class Settings:
    """Typed access to the app's QSettings plus the last-world file."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else config_dir()
        self.qsettings = QSettings(str(self.folder / "everscape.ini"), QSettings.Format.IniFormat)

    def preferences(self) -> Preferences:
        prefs = Preferences()
        for f in fields(Preferences):
            raw = self.qsettings.value(f"prefs/{f.name}")
            if raw is None:
                continue
            default = getattr(prefs, f.name)
            try:
                if isinstance(default, bool):
                    value = raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes")
                else:
                    value = type(default)(raw)
            except (TypeError, ValueError):
                continue  # a hand-edited bad value falls back to the default
            setattr(prefs, f.name, value)
        return prefs

    def save_preferences(self, prefs: Preferences) -> None:
        for f in fields(Preferences):
            self.qsettings.setValue(f"prefs/{f.name}", getattr(prefs, f.name))
        self.qsettings.sync()

    def geometry(self) -> QByteArray | None:
        value = self.qsettings.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def save_geometry(self, geometry: QByteArray) -> None:
        self.qsettings.setValue("window/geometry", geometry)
        self.qsettings.sync()

    def view(self) -> tuple[int, int, int] | None:
        """Last view as world ``(x, y, zoom)``."""
        value = self.qsettings.value("session/view")
        try:
            x, y, zoom = (int(v) for v in str(value).split(","))
        except ValueError:
            return None
        return x, y, zoom

    def save_view(self, x: int, y: int, zoom: int) -> None:
        self.qsettings.setValue("session/view", f"{x},{y},{zoom}")
        self.qsettings.sync()

    def last_world(self) -> World | None:
        path = self.folder / WORLD_FILE
        if not path.exists():
            return None
        try:
            return World.load(path)
        except EverscapeError:
            return None  # a damaged file only costs the user their last position

    def save_world(self, world: World) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        world.save(self.folder / WORLD_FILE)

    # -- projects -----------------------------------------------------------------------------------

    def recent_projects(self) -> list[str]:
        """Recently opened or saved project files, newest first."""
        value = self.qsettings.value("projects/recent")
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in value] if isinstance(value, list) else []

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
        return Path(str(value)) if value else None

    def save_session_project(self, path: str | Path | None) -> None:
        self.qsettings.setValue("projects/session", str(path) if path is not None else "")
        self.qsettings.sync()

    def autosave_path(self) -> Path:
        return self.folder / AUTOSAVE_FILE
