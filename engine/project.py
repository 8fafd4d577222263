"""Project files (``.everscape``): a world, the user's edits, imported images and the view, in one zip.

Users of other infinite-canvas tools lost hours of work to sessions that could not be saved (see
``research/app.md`` §1), so a project is the unit of "my work": everything needed to see the same
pixels again. The file is an ordinary zip, readable with any zip tool:

- ``project.json`` — format version, app version, view centre and zoom, created/modified times;
- ``world.json`` — :meth:`engine.world.World.to_document` (model, seed, styles, override index);
- ``tensors.safetensors`` — the override tensors the world document names (safetensors: no pickle);
- ``images/<name>`` — images the user dropped in (for outpainting), byte for byte as imported.

Writes are atomic (:mod:`engine.atomic`): a crash or a full disk leaves the previous file intact.
Reading trusts nothing: every failure (not a zip, truncated, missing or malformed member, a newer
format, damaged tensors, a member bigger than :data:`MEMBER_LIMITS` allows, i.e. a zip bomb) is one
:class:`~engine.errors.InvalidInput` line that names the file and the problem.
"""

from __future__ import annotations

import dataclasses
import json
import re
import struct
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from engine import __version__
from engine.atomic import atomic_path
from engine.document_checks import loads_strict, need_int
from engine.errors import EverscapeError, InvalidInput, ProjectError, first_line
from engine.geometry import MAX_COORD, Rect
from engine.project_archive import (
    IMAGES_FOLDER,
    MAX_IMAGES,
    MEMBER_LIMITS,
    PROJECT_MEMBER,
    TENSORS_MEMBER,
    WORLD_MEMBER,
    check_image,
    checked_members,
    read_member,
)
from engine.world import World

__all__ = ["IMAGES_FOLDER", "MAX_IMAGES", "MEMBER_LIMITS", "PROJECT_MEMBER", "TENSORS_MEMBER", "WORLD_MEMBER"]

FORMAT = "everscape.project/1"
SUFFIX = ".everscape"
#: Views are clamped to positions the canvas can show and to zoom exponents it can compute with.
MAX_VIEW_COORD = MAX_COORD // 2
MAX_VIEW_ZOOM = 62

_IMAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,127}$")


@dataclass(frozen=True)
class ProjectView:
    """Where the canvas looked: world pixel at its centre and zoom exponent (2^zoom screen px per px),
    and the rectangle selected for export, if any (view state: it decides no pixel)."""

    x: int = 0
    y: int = 0
    zoom: int = 0
    selection: Rect | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"x": self.x, "y": self.y, "zoom": self.zoom}
        if self.selection is not None:
            s = self.selection
            doc["selection"] = [s.x, s.y, s.w, s.h]
        return doc

    @classmethod
    def from_json(cls, doc: Any) -> ProjectView:
        """Integers only (a float or NaN is a damaged file); far positions and zooms are clamped, not refused,
        so a project saved at the edge of the world still opens."""
        if not isinstance(doc, dict):
            raise InvalidInput(f"key view must be an object, got {doc!r:.40}")
        x, y, zoom = (need_int(doc.get(k, 0), f"view.{k}", -(2**4096), 2**4096) for k in ("x", "y", "zoom"))
        view = cls(*(_clamp(v, MAX_VIEW_COORD) for v in (x, y)), _clamp(zoom, MAX_VIEW_ZOOM))
        return dataclasses.replace(view, selection=_selection(doc.get("selection")))


def _selection(doc: Any) -> Rect | None:
    """``[x, y, w, h]`` within the world the canvas shows, or None when the key is absent."""
    if doc is None:
        return None
    if not isinstance(doc, list) or len(doc) != 4:
        raise InvalidInput(f"key view.selection must be [x, y, w, h], got {doc!r:.60}")
    names = ("x", "y", "w", "h")
    x, y = (need_int(v, f"view.selection.{k}", -MAX_VIEW_COORD, MAX_VIEW_COORD) for k, v in zip(names, doc[:2]))
    w, h = (need_int(v, f"view.selection.{k}", 1, MAX_VIEW_COORD) for k, v in zip(names[2:], doc[2:]))
    return Rect(x, y, w, h)


def _clamp(value: int, bound: int) -> int:
    return max(-bound, min(bound, value))


@dataclass(frozen=True)
class Project:
    """An open project as data: never mutated (``with_*`` return copies), like :class:`World`."""

    world: World
    view: ProjectView = field(default_factory=ProjectView)
    images: tuple[tuple[str, bytes], ...] = ()  # (name, file bytes), in insertion order
    created: float = field(default_factory=time.time)  # seconds since the epoch
    modified: float = field(default_factory=time.time)
    app_version: str = __version__

    def with_world(self, world: World) -> Project:
        return dataclasses.replace(self, world=world)

    def with_view(self, view: ProjectView) -> Project:
        return dataclasses.replace(self, view=view)

    def image_names(self) -> list[str]:
        return [name for name, _ in self.images]

    def image(self, name: str) -> bytes:
        for key, data in self.images:
            if key == name:
                return data
        raise InvalidInput(f"the project has no image {name!r}")

    def with_image(self, name: str, data: bytes) -> Project:
        """Add (or replace) an imported image; ``name`` is a plain file name, kept as the member name."""
        check_image_name(name)
        if len(data) > MEMBER_LIMITS[IMAGES_FOLDER]:
            raise InvalidInput(f"image {name!r} is {len(data)} bytes, over the {MEMBER_LIMITS[IMAGES_FOLDER]} limit")
        check_image(name, data)  # what loading would refuse is refused when added, not after saving
        rest = tuple((k, v) for k, v in self.images if k != name)
        if len(rest) >= MAX_IMAGES:
            raise InvalidInput(f"a project holds at most {MAX_IMAGES} images")
        return dataclasses.replace(self, images=(*rest, (name, bytes(data))))

    def without_image(self, name: str) -> Project:
        self.image(name)  # raises when absent
        return dataclasses.replace(self, images=tuple((k, v) for k, v in self.images if k != name))


def check_image_name(name: str) -> None:
    """Image names become zip member names: no folders, no '..', nothing a zip tool could misplace."""
    if not isinstance(name, str) or not _IMAGE_NAME.match(name) or ".." in name:
        raise InvalidInput(f"{name!r} is not a usable image name (letters, digits, '._- ', no folders)")


def project_path(path: str | Path) -> Path:
    """``path`` with the ``.everscape`` suffix added when it has none (what Save As does)."""
    path = Path(path)
    return path if path.suffix.lower() == SUFFIX else path.with_name(path.name + SUFFIX)


# -- writing ---------------------------------------------------------------------------------------


def save_project(path: str | Path, project: Project) -> Project:
    """Write ``project`` to ``path`` atomically; returns it with ``modified`` set to now."""
    path = Path(path)
    project = dataclasses.replace(project, modified=time.time(), app_version=__version__)
    doc, tensors = project.world.to_document()
    meta = {
        "format": FORMAT,
        "app_version": project.app_version,
        "view": project.view.to_json(),
        "created": project.created,
        "modified": project.modified,
        "images": project.image_names(),
    }
    with atomic_path(path) as temp, zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(PROJECT_MEMBER, json.dumps(meta, indent=1))
        archive.writestr(WORLD_MEMBER, json.dumps(doc, indent=1))
        # Float tensors barely compress; storing them keeps saving and loading fast.
        archive.writestr(TENSORS_MEMBER, save_tensors(tensors), compress_type=zipfile.ZIP_STORED)
        for name, data in project.images:
            archive.writestr(IMAGES_FOLDER + name, data, compress_type=zipfile.ZIP_STORED)
    return project


# -- reading ---------------------------------------------------------------------------------------


def load_project(path: str | Path) -> Project:
    """Read a project file; any problem is one :class:`ProjectError` line naming ``path`` and the member."""
    path = Path(path)
    if not path.exists():
        raise ProjectError(f"project {path} does not exist")
    if path.is_dir():
        raise ProjectError(f"project {path} is a folder, not a project file")
    try:
        with zipfile.ZipFile(path) as archive:
            return _read(archive)
    except EverscapeError as error:
        raise ProjectError(f"project {path}: {first_line(error)}") from None
    except zipfile.BadZipFile as error:
        raise ProjectError(f"project {path} is not a readable Everscape project (damaged zip: {error})") from None
    except (EOFError, zlib.error) as error:
        raise ProjectError(f"project {path} is truncated or damaged ({error})") from None
    except NotImplementedError as error:  # an unsupported zip compression method
        raise ProjectError(f"project {path} uses an unsupported zip feature: {error}") from None
    except OSError as error:
        raise ProjectError(f"project {path} cannot be read: {error.strerror or error}") from None
    except (ValueError, RuntimeError, OverflowError, struct.error) as error:  # zipfile on a forged directory
        raise ProjectError(f"project {path} is a damaged zip ({type(error).__name__}: {first_line(error)})") from None


def _read(archive: zipfile.ZipFile) -> Project:
    """Directory checks first (sizes, names, counts), then each member parsed and validated in turn."""
    members = checked_members(archive, check_image_name)
    meta = _json(archive, members, PROJECT_MEMBER)
    if not isinstance(meta, dict) or not isinstance(meta.get("format"), str):
        raise InvalidInput(f"{PROJECT_MEMBER} does not name a project format (key format)")
    if meta["format"] != FORMAT:
        raise InvalidInput(
            f"{PROJECT_MEMBER}: format {meta['format'][:80]!r} is not one this version reads ({FORMAT!r}); "
            f"it was written by Everscape {str(meta.get('app_version', '?'))[:40]}"
        )
    try:
        view = ProjectView.from_json(meta.get("view", {}))
        times = [meta.get(k, 0.0) for k in ("created", "modified")]
        if not all(isinstance(t, int | float) and not isinstance(t, bool) and abs(t) < 1e12 for t in times):
            raise InvalidInput(f"keys created/modified must be times in seconds, got {times!r:.60}")
    except InvalidInput as error:
        raise InvalidInput(f"{PROJECT_MEMBER}: {error}") from None
    doc = _json(archive, members, WORLD_MEMBER)
    raw = read_member(archive, members, TENSORS_MEMBER)
    try:
        tensors = load_tensors(raw)
    except (SafetensorError, ValueError, RuntimeError, OverflowError, TypeError) as error:
        raise InvalidInput(f"{TENSORS_MEMBER} is damaged: {first_line(error)}") from None
    try:
        world = World.from_document(doc, tensors)
    except InvalidInput as error:
        raise InvalidInput(f"{WORLD_MEMBER}: {error}") from None
    images = []
    for member in (n for n in members if n.startswith(IMAGES_FOLDER)):
        name = member[len(IMAGES_FOLDER) :]
        data = read_member(archive, members, member)
        check_image(name, data)
        images.append((name, data))
    return Project(
        world=world,
        view=view,
        images=tuple(images),
        created=float(times[0]),
        modified=float(times[1]),
        app_version=str(meta.get("app_version", "?"))[:80],
    )


def _json(archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], name: str) -> Any:
    return loads_strict(read_member(archive, members, name), f"the member {name}")
