"""Export requests (class 2): refused up front, with the numbers, when the format, the disk or the
memory budget cannot take them; nothing is written."""

from __future__ import annotations

import pytest

from engine.errors import EverscapeError, InvalidInput, OutputError
from engine.export import ExportOptions, export, plan_export
from engine.geometry import Rect
from engine.models.registry import build_random
from engine.render import Renderer
from engine.world import World
from tests.faults.measure import assert_refused, run_cli


@pytest.fixture(scope="module")
def renderer():
    return Renderer(build_random("reference", "tiny"), "cpu")


CASES = [
    ("png too wide", Rect(0, 0, 2**31, 64), "x.png", ExportOptions(), InvalidInput, "2^31-1"),
    ("tiff too wide", Rect(0, 0, 2**32, 64), "x.tif", ExportOptions(), InvalidInput, "4,294,967,295"),
    ("classic tiff too big", Rect(0, 0, 40_000, 40_000), "x.tif", ExportOptions(bigtiff=False), InvalidInput,
     "classic TIFF"),
    ("no room on disk", Rect(0, 0, 10**7, 10**7), "x.tif", ExportOptions(), OutputError, "of disk"),
    ("no room uncompressed", Rect(0, 0, 10**6, 10**6), "x.tif", ExportOptions(compression="none"), OutputError,
     "of disk"),
    ("png strip over budget", Rect(0, 0, 2 * 10**8, 64), "x.png", ExportOptions(compression="none"), EverscapeError,
     "needs"),
    ("wide tiff over budget", Rect(0, 0, 10**8, 64), "x.tif", ExportOptions(), InvalidInput, "memory"),
]  # fmt: skip


@pytest.mark.parametrize("case,rect,name,options,kind,needle", CASES, ids=[c[0] for c in CASES])
def test_export_requests_are_refused_before_rendering(tmp_path, monkeypatch, renderer, case, rect, name, options,
                                                      kind, needle):  # fmt: skip
    monkeypatch.setenv("EVERSCAPE_MEMORY_BUDGET", "512M")
    monkeypatch.setattr("engine.budget.free_disk", lambda path: 100 * 2**30)  # a 100 GiB disk, on any machine
    path = tmp_path / name
    with pytest.raises(kind) as error:
        export(renderer, World("reference:tiny"), rect, path, options)
    assert needle in str(error.value) and "\n" not in str(error.value)
    assert list(tmp_path.iterdir()) == []
    assert renderer.blocks_rendered == 0


def test_ordinary_exports_pass_the_checks(tmp_path, renderer):
    for name in ("a.png", "a.tif"):
        plan, _ = plan_export(renderer, Rect(-50, 7, 3000, 2000), tmp_path / name, ExportOptions(pyramid=-1 if
                              name.endswith("tif") else 0))  # fmt: skip
        assert plan.out.w == 3000


def test_the_issue_export_is_refused_at_once_within_the_memory_bound(tmp_path):
    """The issue's case: a 10^7 x 10^7 TIFF allocated 8 GB in 18 s before failing."""
    run = run_cli("render", "--model", "reference:tiny", "--rect", "0,0,10000000,10000000",
                  "--out", str(tmp_path / "huge.tif"))  # fmt: skip
    assert_refused(run, "10000000x10000000", "disk")
    assert list(tmp_path.iterdir()) == []
