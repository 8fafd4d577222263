"""Project files: round trips, images, and one-line errors for every kind of damaged file."""

from __future__ import annotations

import errno
import json
import tempfile
import zipfile

import pytest
import torch

from engine import project as project_module
from engine.errors import InvalidInput, OutputError
from engine.fields import FieldPatch
from engine.geometry import Rect
from engine.project import (
    FORMAT,
    Project,
    ProjectView,
    load_project,
    project_path,
    save_project,
)
from engine.project_archive import read_member
from engine.styles import StrokeRaster, StyleCentre, StyleLayout
from engine.world import World


def edited_world() -> World:
    styles = StyleLayout.of(
        [StyleCentre(10**12, -5, 7), StyleCentre(-300, 40, 9, width=250.0, latent=(0.5, -1.25, 3.0))],
        StrokeRaster().painted_disc(0, 0, 70, 1),
    )
    patches = (
        FieldPatch("local", Rect(-3, 4, 5, 2), torch.randn(4, 2, 5, generator=torch.Generator().manual_seed(1))),
        FieldPatch("noise", Rect(2**40, 0, 1, 3), torch.randn(1, 3, 1, generator=torch.Generator().manual_seed(2))),
    )
    return World("reference:tiny", seed=123456789, model_hash="ab" * 32).with_styles(styles).with_overrides(patches)


def tiny_image(colour: int, fmt: str = "PNG") -> bytes:
    """A real 2x2 image file: project images are checked by their header when loaded and added."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (2, 2), (colour, 0, 0)).save(out, format=fmt)
    return out.getvalue()


def assert_same_world(a: World, b: World) -> None:
    assert (a.model, a.seed, a.model_hash, a.version, a.styles) == (b.model, b.seed, b.model_hash, b.version, b.styles)
    assert len(a.overrides) == len(b.overrides)
    for p, q in zip(a.overrides, b.overrides, strict=True):
        assert (p.field, p.cells) == (q.field, q.cells)
        assert torch.equal(p.values, q.values)


def test_round_trip_keeps_world_edits_view_images_and_times(tmp_path):
    world = edited_world()
    original = Project(world, ProjectView(-(2**50), 77, -3), created=1000.0).with_image("cliff.png", tiny_image(9))
    path = tmp_path / "trip.everscape"
    saved = save_project(path, original)
    assert saved.modified > saved.created == 1000.0
    loaded = load_project(path)
    assert_same_world(loaded.world, world)
    assert loaded.view == ProjectView(-(2**50), 77, -3)
    assert loaded.image_names() == ["cliff.png"] and loaded.image("cliff.png") == tiny_image(9)
    assert (loaded.created, loaded.modified) == (1000.0, saved.modified)
    with zipfile.ZipFile(path) as archive:  # an ordinary zip a user can inspect
        assert set(archive.namelist()) == {"project.json", "world.json", "tensors.safetensors", "images/cliff.png"}
        assert json.loads(archive.read("project.json"))["format"] == FORMAT


def test_plain_world_and_image_api(tmp_path):
    project = Project(World("fake:test", seed=3))
    one, two, three = tiny_image(1), tiny_image(2, "JPEG"), tiny_image(3)
    project = project.with_image("a.png", one).with_image("b.jpg", two).with_image("a.png", three)
    assert project.image_names() == ["b.jpg", "a.png"] and project.image("a.png") == three
    assert project.without_image("b.jpg").image_names() == ["a.png"]
    for bad in ("../x.png", "dir/x.png", "", ".hidden"):
        with pytest.raises(InvalidInput):
            project.with_image(bad, b"")
    with pytest.raises(InvalidInput, match="no image"):
        project.image("missing.png")
    save_project(tmp_path / "p.everscape", project)
    assert_same_world(load_project(tmp_path / "p.everscape").world, project.world)
    assert project_path(tmp_path / "x") == tmp_path / "x.everscape"
    assert project_path(tmp_path / "x.everscape") == tmp_path / "x.everscape"


def one_line_error(path) -> str:
    with pytest.raises(InvalidInput) as info:
        load_project(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def write_zip(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def good_members(tmp_path) -> dict[str, bytes]:
    save_project(tmp_path / "good.everscape", Project(edited_world()))
    with zipfile.ZipFile(tmp_path / "good.everscape") as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_not_a_zip_truncated_and_missing(tmp_path):
    assert "does not exist" in one_line_error(tmp_path / "none.everscape")
    text = tmp_path / "text.everscape"
    text.write_text("hello")
    assert "not a readable Everscape project" in one_line_error(text)
    save_project(tmp_path / "good.everscape", Project(edited_world()))
    data = (tmp_path / "good.everscape").read_bytes()
    for cut in (len(data) // 3, len(data) - 10):
        truncated = tmp_path / f"cut{cut}.everscape"
        truncated.write_bytes(data[:cut])
        one_line_error(truncated)
    members = good_members(tmp_path)
    for missing in ("project.json", "world.json", "tensors.safetensors"):
        path = tmp_path / f"no-{missing}.everscape"
        write_zip(path, {k: v for k, v in members.items() if k != missing})
        assert f"{missing} is missing" in one_line_error(path)


def test_flipped_bytes_inside_a_member_are_caught(tmp_path):
    save_project(tmp_path / "good.everscape", Project(edited_world()))
    data = bytearray((tmp_path / "good.everscape").read_bytes())
    offset = data.index(b"override.0") + 2  # inside the stored safetensors header: the CRC catches it
    data[offset] ^= 0xFF
    (tmp_path / "flip.everscape").write_bytes(bytes(data))
    one_line_error(tmp_path / "flip.everscape")


def test_wrong_format_bad_json_and_corrupt_tensors(tmp_path):
    members = good_members(tmp_path)
    meta = json.loads(members["project.json"])
    newer = tmp_path / "newer.everscape"
    write_zip(newer, {**members, "project.json": json.dumps({**meta, "format": "everscape.project/9"}).encode()})
    assert "everscape.project/9" in one_line_error(newer)
    bad_json = tmp_path / "json.everscape"
    write_zip(bad_json, {**members, "world.json": b"{not json"})
    assert "world.json is not valid JSON" in one_line_error(bad_json)
    bad_world = tmp_path / "world.everscape"
    write_zip(bad_world, {**members, "world.json": b'{"format": "something else"}'})
    assert "world document" in one_line_error(bad_world)
    corrupt = tmp_path / "tensors.everscape"
    write_zip(corrupt, {**members, "tensors.safetensors": members["tensors.safetensors"][:40]})
    assert "tensors.safetensors is damaged" in one_line_error(corrupt)
    empty = tmp_path / "empty-tensors.everscape"
    write_zip(empty, {**members, "tensors.safetensors": b"{}"})
    one_line_error(empty)  # the world names tensors the file lacks
    bad_view = tmp_path / "view.everscape"
    write_zip(bad_view, {**members, "project.json": json.dumps({**meta, "view": {"x": "far"}}).encode()})
    assert "view" in one_line_error(bad_view)
    bad_image = tmp_path / "image.everscape"
    write_zip(bad_image, {**members, "images/../../evil.png": b"x"})
    assert "image name" in one_line_error(bad_image)


def test_zip_bomb_members_are_refused_before_inflating(tmp_path, monkeypatch):
    members = good_members(tmp_path)
    bomb = tmp_path / "bomb.everscape"
    padding = b" " * (2 * 2**20)  # 2 MiB of spaces deflate to ~2 KiB
    write_zip(bomb, {**members, "project.json": members["project.json"][:-1] + padding + b"}"})
    assert bomb.stat().st_size < 100_000
    assert "over the 1048576 byte limit" in one_line_error(bomb)
    # The declared size can lie: the reader stops inflating at the limit whatever the header says.
    monkeypatch.setitem(project_module.MEMBER_LIMITS, "world.json", 1000)
    big_world = tmp_path / "big-world.everscape"
    write_zip(big_world, {**members, "world.json": members["world.json"] + b" " * 5000})
    assert "limit" in one_line_error(big_world)
    with zipfile.ZipFile(big_world) as archive:
        info = archive.getinfo("world.json")
        info.file_size = 10  # forged header: zipfile stops at the declared size, and the CRC then fails
        with pytest.raises((InvalidInput, zipfile.BadZipFile)):
            read_member(archive, {"world.json": info}, "world.json")


def test_save_is_atomic_and_failures_are_one_line(tmp_path, monkeypatch):
    path = tmp_path / "keep.everscape"
    save_project(path, Project(World("fake:test", seed=1)))
    before = path.read_bytes()

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(OutputError, match="read-only file system"):
        save_project(path, Project(World("fake:test", seed=2)))
    monkeypatch.undo()
    assert path.read_bytes() == before and load_project(path).world.seed == 1
    with pytest.raises(OutputError, match="does not exist"):
        save_project(tmp_path / "missing" / "x.everscape", Project(World("fake:test")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.everscape"]  # no temporary left behind


def test_render_command_renders_a_projects_world(tmp_path):
    from engine.cli import main
    from engine.models.registry import load_model

    loaded = load_model("reference:tiny")
    channels = next(spec.channels for spec in loaded.model.field_specs(0) if spec.name == "z")
    plain = World("reference:tiny", seed=5, model_hash=loaded.sha256)
    edited = plain.with_override(FieldPatch("z", Rect(-2, -2, 4, 4), torch.full((channels, 4, 4), 3.0)))
    save_project(tmp_path / "plain.everscape", Project(plain))
    save_project(tmp_path / "edited.everscape", Project(edited))
    rect = ("--rect", "-20,-20,40,40")
    outs = {name: tmp_path / f"{name}.png" for name in ("seed", "plain", "edited")}
    assert main(["render", "--model", "reference:tiny", "--seed", "5", *rect, "--out", str(outs["seed"])]) == 0
    for name in ("plain", "edited"):
        project = str(tmp_path / f"{name}.everscape")
        assert main(["render", "--project", project, *rect, "--out", str(outs[name]), "--quiet"]) == 0
    assert outs["plain"].read_bytes() == outs["seed"].read_bytes()
    assert outs["edited"].read_bytes() != outs["seed"].read_bytes()  # the override is rendered
    project = str(tmp_path / "plain.everscape")
    for extra in (["--seed", "3"], ["--model", "reference:tiny"]):
        assert main(["render", "--project", project, *extra, *rect, "--out", str(tmp_path / "x.png")]) == 2
    assert main(["render", *rect, "--out", str(tmp_path / "x.png")]) == 2  # neither --model nor --project
    (tmp_path / "bad.everscape").write_bytes(b"PK\x03\x04 truncated")
    bad = ["render", "--project", str(tmp_path / "bad.everscape"), *rect, "--out", str(tmp_path / "x.png")]
    assert main(bad) == 2 and not (tmp_path / "x.png").exists()


def test_render_command_refuses_a_project_of_another_checkpoint(tmp_path, monkeypatch):
    import dataclasses

    from engine.cli import main
    from engine.commands import render
    from engine.models.registry import load_model

    def hashed(ref):  # as if reference:tiny were a shipped checkpoint with a hash
        return dataclasses.replace(load_model(ref), sha256="1" * 64)

    monkeypatch.setattr(render, "load_model", hashed)
    save_project(tmp_path / "other.everscape", Project(World("reference:tiny", seed=5, model_hash="0" * 64)))
    args = ["render", "--project", str(tmp_path / "other.everscape"), "--rect", "0,0,8,8", "--out"]
    assert main([*args, str(tmp_path / "y.png")]) == 2 and not (tmp_path / "y.png").exists()
    save_project(tmp_path / "same.everscape", Project(World("reference:tiny", seed=5, model_hash="1" * 64)))
    args[2] = str(tmp_path / "same.everscape")
    assert main([*args, str(tmp_path / "z.png"), "--quiet"]) == 0
