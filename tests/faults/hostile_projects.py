"""Hostile project files, generated on demand (nothing large is kept in git).

Each case starts from a valid project (a world with styles, strokes and an override tensor, a view,
one real image) and breaks one thing: a member's declared size, the compression ratio, member
names and counts, a key's type, shape or finiteness, the format version. ``CASES`` maps a case name
to ``(members or raw bytes, words the refusal must contain)``; :func:`write_case` writes one.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image

from engine.fields import FieldPatch
from engine.geometry import Rect
from engine.project import Project, ProjectView, save_project
from engine.styles import StrokeRaster, StyleCentre, StyleLayout
from engine.world import World

Members = dict[str, bytes]


def tiny_png(side: int = 4) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), (200, 120, 40)).save(out, format="PNG")
    return out.getvalue()


def huge_png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares ``width`` x ``height``: a few dozen bytes claiming gigapixels."""
    out = io.BytesIO()
    Image.new("L", (1, 1)).save(out, format="PNG")
    data = bytearray(out.getvalue())
    data[16:24] = struct.pack(">II", width, height)  # IHDR width and height (the CRC is not checked on open)
    return bytes(data)


def valid_project() -> Project:
    styles = StyleLayout.of(
        [StyleCentre(10**9, -5, 7), StyleCentre(-300, 40, 9, width=250.0, latent=(0.5, -1.25))],
        StrokeRaster().painted_disc(0, 0, 40, 1),
    )
    patch = FieldPatch("local", Rect(-3, 4, 5, 2), torch.ones(2, 2, 5))
    world = World("reference:tiny", seed=7).with_styles(styles).with_override(patch)
    return Project(world, ProjectView(10, -20, -1)).with_image("photo.png", tiny_png())


def valid_members(tmp: Path) -> Members:
    path = tmp / "valid.everscape"
    save_project(path, valid_project())
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_zip(path: Path, members: Members, stored: bool = False) -> Path:
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def forge_declared_size(data: bytes, member: str, size: int) -> bytes:
    """Rewrite ``member``'s uncompressed size in the local and central headers (a lying zip)."""
    out = bytearray(data)
    name = member.encode()
    for signature, size_at, name_len_at, name_at in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        start = 0
        while (start := out.find(signature, start)) >= 0:
            length = struct.unpack_from("<H", out, start + name_len_at)[0]
            if bytes(out[start + name_at : start + name_at + length]) == name:
                struct.pack_into("<I", out, start + size_at, size)
            start += 4
    return bytes(out)


def _world(members: Members, change: Callable[[dict], None]) -> Members:
    doc = json.loads(members["world.json"])
    change(doc)
    return {**members, "world.json": json.dumps(doc).encode()}


def _meta(members: Members, change: Callable[[dict], None]) -> Members:
    doc = json.loads(members["project.json"])
    change(doc)
    return {**members, "project.json": json.dumps(doc).encode()}


def _set(path: str, value) -> Callable[[dict], None]:
    """A change setting the dotted/indexed ``path`` (``styles.centres.1.width``) to ``value``."""

    def change(doc: dict) -> None:
        keys = [int(k) if k.isdigit() else k for k in path.split(".")]
        target = doc
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


def _raw_json(members: Members, member: str, old: str, new: str) -> Members:
    """Replace text in a JSON member (for what json.dumps cannot write, like ``NaN`` or ``1e400``)."""
    text = members[member].decode()
    assert old in text, (old, member)
    return {**members, member: text.replace(old, new, 1).encode()}


def _override_tensor(values: torch.Tensor) -> Callable[[Members], Members]:
    from safetensors.torch import save

    return lambda m: {**m, "tensors.safetensors": save({"override.0": values})}


WORLD_CASES: dict[str, tuple[Callable[[Members], Members], tuple[str, ...]]] = {
    "version x": (lambda m: _world(m, _set("version", "x")), ("world.json", "version")),
    "version negative": (lambda m: _world(m, _set("version", -1)), ("world.json", "version")),
    "unknown world format": (lambda m: _world(m, _set("format", "everscape.world/9")), ("world.json", "format")),
    "seed string": (lambda m: _world(m, _set("seed", "7")), ("world.json", "seed")),
    "seed float": (lambda m: _world(m, _set("seed", 7.5)), ("world.json", "seed")),
    "seed huge": (lambda m: _world(m, _set("seed", 10**30)), ("world.json", "seed")),
    "model not a string": (lambda m: _world(m, _set("model", ["x"])), ("world.json", "model")),
    "model hash number": (lambda m: _world(m, _set("model_hash", 5)), ("world.json", "model_hash")),
    "styles a list": (lambda m: _world(m, _set("styles", [])), ("world.json", "styles")),
    "centre x float": (lambda m: _world(m, _set("styles.centres.0.x", 1.5)), ("centres[0].x",)),
    "centre x 1e400": (lambda m: _raw_json(m, "world.json", '"x": 1000000000', '"x": 1e400'), ("world.json",)),
    "centre x 10^30": (lambda m: _world(m, _set("styles.centres.0.x", 10**30)), ("centres[0].x",)),
    "centre width NaN": (lambda m: _raw_json(m, "world.json", '"width": 250.0', '"width": NaN'), ("NaN",)),
    "centre width inf": (lambda m: _raw_json(m, "world.json", '"width": 250.0', '"width": Infinity'), ("world.json",)),
    "centre width 1e400": (lambda m: _raw_json(m, "world.json", '"width": 250.0', '"width": 1e400'), ("world.json",)),
    "centre width zero": (lambda m: _world(m, _set("styles.centres.1.width", 0)), ("centres[1].width",)),
    "centre width string": (lambda m: _world(m, _set("styles.centres.1.width", "wide")), ("centres[1].width",)),
    "latent NaN": (lambda m: _raw_json(m, "world.json", "-1.25", "NaN"), ("NaN",)),
    "latent -Infinity": (lambda m: _raw_json(m, "world.json", "-1.25", "-Infinity"), ("world.json",)),
    "latent huge": (lambda m: _world(m, _set("styles.centres.1.latent", [1e300])), ("latent[0]",)),
    "latent not a list": (lambda m: _world(m, _set("styles.centres.1.latent", 3)), ("latent",)),
    "too many centres": (
        lambda m: _world(m, _set("styles.centres", [{"x": 0, "y": 0, "seed": 1}] * 5000)),
        ("styles.centres",),
    ),
    "stroke cell zero": (lambda m: _world(m, _set("styles.strokes.cell", 0)), ("strokes.cell",)),
    "stroke id out of range": (
        lambda m: _world(m, _set("styles.strokes.chunks", {"0,0": [[7] * 16] * 16})),
        ("strokes.chunks",),
    ),
    "stroke chunk ragged": (lambda m: _world(m, _set("styles.strokes.chunks", {"0,0": [[1]]})), ("strokes",)),
    "stroke chunk key": (lambda m: _world(m, _set("styles.strokes.chunks", {"a,b": []})), ("strokes.chunks",)),
    "override cells short": (lambda m: _world(m, _set("overrides.0.cells", [0, 0, 5])), ("overrides[0].cells",)),
    "override cells float": (
        lambda m: _world(m, _set("overrides.0.cells", [0.5, 4, 5, 2])),
        ("overrides[0].cells",),
    ),
    "override cells far": (
        lambda m: _world(m, _set("overrides.0.cells", [10**30, 4, 5, 2])),
        ("overrides[0].cells",),
    ),
    "override shape mismatch": (lambda m: _world(m, _set("overrides.0.cells", [-3, 4, 6, 2])), ("override.0",)),
    "override tensor missing": (lambda m: _world(m, _set("overrides.0.tensor", "nope")), ("overrides[0].tensor",)),
    "overrides not a list": (lambda m: _world(m, _set("overrides", {"a": 1})), ("overrides",)),
    "override tensor NaN": (_override_tensor(torch.full((2, 2, 5), float("nan"))), ("override.0", "non-finite")),
    "override tensor inf": (_override_tensor(torch.full((2, 2, 5), float("inf"))), ("override.0", "non-finite")),
    "override tensor ints": (_override_tensor(torch.ones(2, 2, 5, dtype=torch.int32)), ("override.0", "floats")),
    "override tensor 2-D": (_override_tensor(torch.ones(2, 5)), ("override.0", "shape")),
    "world nested too deep": (lambda m: {**m, "world.json": b"[" * 100_000 + b"]" * 100_000}, ("world.json",)),
    "world not UTF-8": (lambda m: {**m, "world.json": b"\xff\xfe{}"}, ("world.json", "UTF-8")),
    "world a list": (lambda m: {**m, "world.json": b"[]"}, ("world.json",)),
    "world integer of 5000 digits": (
        lambda m: _raw_json(m, "world.json", '"seed": 7', '"seed": ' + "9" * 5000),
        ("world.json",),
    ),
}

META_CASES: dict[str, tuple[Callable[[Members], Members], tuple[str, ...]]] = {
    "project format unknown": (lambda m: _meta(m, _set("format", "everscape.project/2")), ("project/2",)),
    "project format missing": (lambda m: _meta(m, lambda d: d.pop("format")), ("project.json", "format")),
    "view x string": (lambda m: _meta(m, _set("view.x", "far")), ("project.json", "view.x")),
    "view zoom float": (lambda m: _meta(m, _set("view.zoom", 1e30)), ("view.zoom",)),
    "view NaN": (lambda m: _raw_json(m, "project.json", '"x": 10', '"x": NaN'), ("project.json", "NaN")),
    "view a list": (lambda m: _meta(m, _set("view", [1, 2, 3])), ("view",)),
    "times strings": (lambda m: _meta(m, _set("created", "yesterday")), ("project.json", "created")),
    "times 1e300": (lambda m: _meta(m, _set("modified", 1e300)), ("project.json", "modified")),
}


def _many_images(count: int) -> Callable[[Members], Members]:
    png = tiny_png(1)
    return lambda m: {**m, **{f"images/i{n}.png": png for n in range(count)}}


ARCHIVE_CASES: dict[str, tuple[Callable[[Members], Members], tuple[str, ...]]] = {
    "nested image path": (lambda m: {**m, "images/a/b.png": tiny_png()}, ("images/a/b.png",)),
    "parent path": (lambda m: {**m, "images/../../evil.png": b"x"}, ("image name",)),
    "absolute path": (lambda m: {**m, "/etc/passwd": b"x"}, ("/etc/passwd",)),
    "unknown member": (lambda m: {**m, "run.sh": b"rm -rf /"}, ("run.sh",)),
    "too many members": (_many_images(1100), ("members",)),
    "image not an image": (lambda m: {**m, "images/photo.png": b"\x89PNG not really"}, ("images/photo.png",)),
    "image gigapixel header": (
        lambda m: {**m, "images/photo.png": huge_png_header(200_000, 200_000)},
        ("images/photo.png", "pixel"),
    ),
    "image 2^31 x 2^31 header": (
        lambda m: {**m, "images/photo.png": huge_png_header(2**31 - 1, 2**31 - 1)},
        ("images/photo.png",),
    ),
    "tensors truncated": (lambda m: {**m, "tensors.safetensors": m["tensors.safetensors"][:30]}, ("tensors",)),
    "tensors header lies": (
        lambda m: {**m, "tensors.safetensors": struct.pack("<Q", 2**62) + b"{}"},
        ("tensors.safetensors",),
    ),
    "project.json missing": (lambda m: {k: v for k, v in m.items() if k != "project.json"}, ("project.json",)),
}

CASES = {**WORLD_CASES, **META_CASES, **ARCHIVE_CASES}


def write_case(tmp: Path, name: str) -> tuple[Path, tuple[str, ...]]:
    make, needles = CASES[name]
    path = tmp / (name.replace(" ", "_").replace("^", "") + ".everscape")
    return write_zip(path, make(valid_members(tmp))), needles


def size_bombs(tmp: Path) -> dict[str, tuple[bytes, tuple[str, ...]]]:
    """Archives whose directory declares sizes far beyond their bytes (each a few KiB to 1 MiB on disk)."""
    members = valid_members(tmp)
    plain = write_zip(tmp / "plain.zip", members).read_bytes()
    image_heavy = {**members, **{f"images/p{n}.png": tiny_png() for n in range(14)}}
    many = write_zip(tmp / "many.zip", image_heavy).read_bytes()
    for n in range(14):
        many = forge_declared_size(many, f"images/p{n}.png", 512 * 2**20)
    zeros = io.BytesIO()
    with zipfile.ZipFile(zeros, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        archive.writestr("images/zeros.png", b"\0" * (96 * 2**20))  # deflates ~1000:1
    return {
        "14 images declaring 512 MiB": (many, ("images/p0.png", "limit")),
        "world.json declaring 3 GiB": (forge_declared_size(plain, "world.json", 3 * 2**30), ("world.json", "limit")),
        "project.json declaring 1 GiB": (forge_declared_size(plain, "project.json", 2**30), ("project.json",)),
        "tensors stored, size lies": (
            forge_declared_size(plain, "tensors.safetensors", 2**31 - 1),
            ("tensors.safetensors",),
        ),
        "96 MiB of zeros (ratio bomb)": (zeros.getvalue(), ("images/zeros.png", "ratio")),
    }
