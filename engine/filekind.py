"""What a file is, told by its structure rather than its name or first byte.

A safetensors file starts with its header's length as an 8-byte little-endian integer, which can
begin with any byte (a 0x80-byte header starts with 0x80, the pickle PROTO opcode), followed by
that many bytes of JSON. So each format is recognised by what it must hold as a whole:

- safetensors: a plausible length (fits the file) and a JSON object right after it;
- ``torch.save`` (since 1.6): a zip holding ``*/data.pkl``; a project: a zip holding ``world.json``;
- a raw pickle: the PROTO opcode with a known protocol (2..5) and the STOP opcode at the end;
- JSON: the whole file parses to an object (model cards, world documents);
- an image: Pillow identifies its header.

Only headers are read (a safetensors header is at most :data:`MAX_SAFETENSORS_HEADER` bytes, as
the safetensors library itself allows), so sniffing a hostile file costs nothing.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

#: The safetensors library refuses headers larger than this; so do we, before reading them.
MAX_SAFETENSORS_HEADER = 100 * 2**20
#: JSON files larger than this are not cards or documents we would read.
MAX_JSON_BYTES = 16 * 2**20

SAFETENSORS = "safetensors"
TORCH_ZIP = "torch.save zip"
PICKLE = "pickle"
PROJECT = "project"
ZIP = "zip"
JSON = "json"
IMAGE = "image"
EMPTY = "empty"
UNKNOWN = "unknown"


def safetensors_header(path: str | Path) -> dict | None:
    """The JSON header of a safetensors file, or None if the file is not one (never raises OSError)."""
    try:
        with open(path, "rb") as handle:
            size = Path(path).stat().st_size
            prefix = handle.read(8)
            if len(prefix) < 8:
                return None
            length = int.from_bytes(prefix, "little")
            if not 2 <= length <= min(size - 8, MAX_SAFETENSORS_HEADER):
                return None
            if handle.read(1) != b"{":
                return None
            handle.seek(8)
            header = json.loads(handle.read(length).decode("utf-8"))
    except (OSError, ValueError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None
    return header if isinstance(header, dict) else None


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return UNKNOWN
    if "world.json" in names:
        return PROJECT
    if any(name.endswith("/data.pkl") or name == "data.pkl" for name in names):
        return TORCH_ZIP
    return ZIP


def _is_pickle(path: Path, head: bytes) -> bool:
    if len(head) < 3 or head[0] != 0x80 or not 2 <= head[1] <= 5:
        return False
    with open(path, "rb") as handle:
        handle.seek(-1, 2)
        return handle.read(1) == b"."


def _is_json(path: Path, size: int, head: bytes) -> bool:
    if size > MAX_JSON_BYTES or head.lstrip()[:1] != b"{":
        return False
    try:
        return isinstance(json.loads(path.read_text(encoding="utf-8")), dict)
    except (OSError, ValueError):
        return False


#: Image signatures: a file that starts like an image but that Pillow cannot open is a damaged image.
_IMAGE_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+", b"GIF8")


def _is_image(path: Path, head: bytes = b"") -> bool:
    if head.startswith(_IMAGE_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return True
    from engine.errors import InvalidInput
    from engine.imageio import probe_image

    try:
        probe_image(path)
    except InvalidInput as error:
        return "not an image" not in str(error)  # an image Pillow knows, but damaged
    return True


def sniff(path: str | Path) -> str:
    """One of the kinds above; :data:`UNKNOWN` for anything else (and for unreadable files)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:
        return UNKNOWN
    if size == 0:
        return EMPTY
    length = int.from_bytes(head[:8], "little") if len(head) >= 9 else 0
    if head[8:9] == b"{" and 2 <= length <= MAX_SAFETENSORS_HEADER:
        return SAFETENSORS  # whole or truncated: the loader says which
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _zip_kind(path)
    try:
        if _is_pickle(path, head):
            return PICKLE
    except OSError:
        return UNKNOWN
    if _is_json(path, size, head):
        return JSON
    return IMAGE if _is_image(path, head) else UNKNOWN
