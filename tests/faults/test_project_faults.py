"""Classes 2 and 3 for project files: declared sizes checked before inflating, non-finite and
mistyped values refused at load, each with one line naming the member and key."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from engine.errors import ProjectError
from engine.project import MAX_VIEW_COORD, MAX_VIEW_ZOOM, load_project
from tests.faults.hostile_projects import CASES, _meta, _set, size_bombs, valid_members, write_case, write_zip
from tests.faults.measure import assert_refused, run_cli

#: What refusing a hostile project may allocate in-process (the valid one is a few KiB).
REFUSAL_PEAK_BYTES = 32 * 2**20


def refusal(path) -> str:
    with pytest.raises(ProjectError) as info:
        load_project(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message, message
    return message


def test_the_valid_project_the_cases_start_from_loads(tmp_path):
    path = write_zip(tmp_path / "ok.everscape", valid_members(tmp_path))
    project = load_project(path)
    assert project.world.seed == 7 and len(project.world.overrides) == 1 and project.image_names() == ["photo.png"]


def measured_refusal(path) -> tuple[str, int]:
    """The one-line refusal of ``path`` and the peak bytes Python allocated while refusing it."""
    tracemalloc.start()
    try:
        return refusal(path), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_project_is_refused_in_one_line_naming_member_and_key(tmp_path, case):
    path, needles = write_case(tmp_path, case)
    message, peak = measured_refusal(path)
    for needle in needles:
        assert needle.lower() in message.lower(), (needle, message)
    assert peak < REFUSAL_PEAK_BYTES, f"{case}: refusing allocated {peak / 2**20:.0f} MiB"


def test_declared_sizes_are_refused_before_anything_is_inflated(tmp_path):
    for name, (data, needles) in size_bombs(tmp_path).items():
        path = tmp_path / (name.split()[0] + ".everscape")
        path.write_bytes(data)
        message, peak = measured_refusal(path)
        assert all(n.lower() in message.lower() for n in needles), (name, message)
        assert peak < REFUSAL_PEAK_BYTES, f"{name}: refusing allocated {peak / 2**20:.0f} MiB"


def test_the_members_together_must_fit_the_memory_budget(tmp_path, monkeypatch):
    import io
    import os

    from PIL import Image

    noise = io.BytesIO()  # a real image of noise: about 1.2 MiB that does not compress
    Image.frombytes("RGB", (640, 640), os.urandom(640 * 640 * 3)).save(noise, format="PNG")
    path = write_zip(tmp_path / "heavy.everscape", {**valid_members(tmp_path), "images/noise.png": noise.getvalue()})
    assert load_project(path).image_names() == ["photo.png", "noise.png"]
    monkeypatch.setenv("EVERSCAPE_MEMORY_BUDGET", "2M")  # a project may declare half of it
    assert "memory budget" in refusal(path)
    monkeypatch.setenv("EVERSCAPE_MEMORY_BUDGET", "many")
    assert "EVERSCAPE_MEMORY_BUDGET" in refusal(path)


def test_far_views_are_clamped_not_refused(tmp_path):
    members = valid_members(tmp_path)
    far = _meta(members, lambda d: d.update(view={"x": 10**30, "y": -(10**30), "zoom": 10**30}))
    view = load_project(write_zip(tmp_path / "far.everscape", far)).view
    assert (view.x, view.y, view.zoom) == (MAX_VIEW_COORD, -MAX_VIEW_COORD, MAX_VIEW_ZOOM)
    deep = _meta(members, _set("view.zoom", -(10**30)))
    assert load_project(write_zip(tmp_path / "deep.everscape", deep)).view.zoom == -MAX_VIEW_ZOOM


def test_a_project_of_another_version_names_the_version(tmp_path):
    members = valid_members(tmp_path)
    newer = _meta(members, lambda d: d.update(format="everscape.project/7", app_version="9.0"))
    message = refusal(write_zip(tmp_path / "newer.everscape", newer))
    assert "everscape.project/7" in message and "9.0" in message and json.loads(members["project.json"])


@pytest.mark.parametrize("case", ["version x", "centre width NaN", "override tensor NaN", "image gigapixel header"])
def test_the_command_line_refuses_hostile_projects_cheaply(tmp_path, case):
    path, needles = write_case(tmp_path, case)
    out = tmp_path / "out.png"
    run = run_cli("render", "--project", str(path), "--rect", "0,0,64,64", "--out", str(out))
    assert_refused(run, *needles)
    assert not out.exists()


def test_the_command_line_refuses_a_size_bomb_under_the_memory_bound(tmp_path):
    data, needles = size_bombs(tmp_path)["14 images declaring 512 MiB"]
    (tmp_path / "bomb.everscape").write_bytes(data)
    run = run_cli(
        "render",
        "--project",
        str(tmp_path / "bomb.everscape"),
        "--rect",
        "0,0,64,64",
        "--out",
        str(tmp_path / "out.png"),
    )
    assert_refused(run, *needles)
