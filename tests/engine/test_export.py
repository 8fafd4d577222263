"""Streamed export: pixels equal direct renders, pyramids are exact reductions, failures leave no file."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from engine.errors import InvalidInput, OutputError
from engine.export import ExportOptions, export
from engine.export.png import PngStreamWriter
from engine.export.reduce import box_reduce, reduce2
from engine.export.tiff import needs_bigtiff
from engine.families.reference.model import ReferenceGenerator
from engine.geometry import Rect, aligned_cover
from engine.models.registry import load_model
from engine.render import Cancelled, Renderer
from engine.world import World
from tests.torchrun import run_torchrun

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def renderer():
    return Renderer(load_model("reference:tiny").model, "cpu")


@pytest.fixture(scope="module")
def world():
    return World(model="reference:tiny", seed=5)


def direct(renderer, world, rect, level=0):
    (pixels,) = renderer.render(world, [rect], level)
    return pixels


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(
    ("rect", "tile", "compression"),
    [
        (Rect(-77, 33, 301, 205), 64, "zlib"),  # odd size, negative, tiles smaller than a block
        (Rect(10**9 + 3, -(10**9) - 5, 97, 33), 0, "zstd"),  # far away, smaller than one tile
        (Rect(-128, 0, 256, 128), 48, "none"),  # aligned, tiles not dividing blocks
    ],
)
def test_tiff_equals_direct_render_and_pyramid_is_exact(tmp_path, renderer, world, rect, tile, compression):
    path = tmp_path / "out.tif"
    result = export(renderer, world, rect, path, ExportOptions(tile=tile, compression=compression, pyramid=-1))
    expected = direct(renderer, world, rect)
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        assert page.is_tiled
        assert np.array_equal(page.asarray(), expected)
        level = expected
        assert len(page.pages or ()) == result.levels == (0 if rect.w < 512 and tile == 0 else result.levels)
        assert result.levels >= (1 if tile else 0)
        for sub in page.pages or ():
            level = reduce2(level)
            assert np.array_equal(sub.asarray(), level)
        assert max(level.shape[:2]) <= page.tilewidth
        info = json.loads(page.description)
    assert info["rect"] == str(rect)
    assert World.from_document(info["world"], {}) == world
    assert leftovers(tmp_path) == ["out.tif"]


def test_every_block_rendered_once(tmp_path, renderer, world):
    rect = Rect(-77, 33, 301, 205)
    before = renderer.blocks_rendered
    result = export(renderer, world, rect, tmp_path / "a.tif", ExportOptions(tile=48))
    cover = aligned_cover(rect, renderer.block_size())
    assert result.blocks_rendered == renderer.blocks_rendered - before == (cover.w * cover.h) // 64**2
    assert result.discarded_fraction == pytest.approx(1 - rect.w * rect.h / (cover.w * cover.h))


@pytest.mark.parametrize("strip", [0, 50, 7])
def test_png_equals_direct_render(tmp_path, renderer, world, strip):
    rect = Rect(-61, -7, 259, 131)
    path = tmp_path / "out.png"
    export(renderer, world, rect, path, ExportOptions(tile=strip))
    image = Image.open(path)
    assert np.array_equal(np.asarray(image), direct(renderer, world, rect))
    assert json.loads(image.text["everscape"])["out_rect"] == str(rect)


@pytest.mark.parametrize("method", ["none", "sub", "up", "paeth"])
def test_png_writer_filters_round_trip(tmp_path, method):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (45, 31, 3), dtype=np.uint8)
    image[:, :10] = 200  # flat areas exercise the predictors' tie rules
    with open(tmp_path / "f.png", "wb") as handle:
        writer = PngStreamWriter(handle, 31, 45, filter=method, chunk_bytes=100)
        for start in range(0, 45, 13):
            writer.write_rows(image[start : start + 13])
        writer.close()
    assert np.array_equal(np.asarray(Image.open(tmp_path / "f.png")), image)


@pytest.mark.parametrize("method", ["up", "paeth"])
def test_png_bytes_do_not_depend_on_strip_height(tmp_path, method):
    """Same pixels, written in strips of 1, 7 or 45 rows: the very same file."""
    image = np.random.default_rng(2).integers(0, 256, (45, 64, 3), dtype=np.uint8)
    files = []
    for strip in (1, 7, 45):
        path = tmp_path / f"s{strip}.png"
        with open(path, "wb") as handle:
            writer = PngStreamWriter(handle, 64, 45, filter=method, chunk_bytes=500)
            for start in range(0, 45, strip):
                writer.write_rows(image[start : start + strip])
            writer.close()
        files.append(path.read_bytes())
    assert files[0] == files[1] == files[2]
    assert np.array_equal(np.asarray(Image.open(tmp_path / "s7.png")), image)


def test_png_writer_refuses_missing_rows(tmp_path):
    with open(tmp_path / "f.png", "wb") as handle:
        writer = PngStreamWriter(handle, 4, 4)
        writer.write_rows(np.zeros((3, 4, 3), np.uint8))
        with pytest.raises(ValueError, match="3 of 4 rows"):
            writer.close()


def test_scale_level_box_reduces_when_the_model_has_one_level(tmp_path, renderer, world):
    rect = Rect(-101, 37, 250, 130)
    path = tmp_path / "half.png"
    export(renderer, world, rect, path, ExportOptions(scale_level=2))
    out = np.asarray(Image.open(path))
    x0, y0 = -101 // 4, 37 // 4
    assert out.shape == (-(-167 // 4) - y0, -(-149 // 4) - x0, 3)
    full = direct(renderer, world, Rect(x0 * 4, y0 * 4, out.shape[1] * 4, out.shape[0] * 4))
    assert np.array_equal(out, box_reduce(full, 4))


class TwoLevelReference(ReferenceGenerator):
    """The reference model with a (fake) native level 1: a shifted seed field makes it distinct."""

    def num_levels(self) -> int:
        return 2

    def render_blocks(self, origins, source, styles, level=0):
        if level == 1:
            return -super().render_blocks(origins, source, styles, 0)
        return super().render_blocks(origins, source, styles, level)


def test_scale_level_uses_the_models_native_level(tmp_path):
    model = TwoLevelReference(load_model("reference:tiny").model.config)
    model.load_state_dict(load_model("reference:tiny").model.state_dict())
    renderer, world = Renderer(model, "cpu"), World(model="x", seed=2)
    path = tmp_path / "n.tif"
    export(renderer, world, Rect(-64, 10, 200, 90), path, ExportOptions(scale_level=1))
    native = direct(renderer, world, Rect(-32, 5, 100, 45), level=1)
    assert np.array_equal(tifffile.imread(path), native)


def test_jpeg_and_bigtiff(tmp_path, renderer, world):
    rect = Rect(0, 0, 130, 70)
    path = tmp_path / "j.tif"
    export(renderer, world, rect, path, ExportOptions(compression="jpeg", quality=95, bigtiff=True))
    with tifffile.TiffFile(path) as tif:
        assert tif.is_bigtiff
        error = np.abs(tif.asarray().astype(int) - direct(renderer, world, rect).astype(int)).mean()
    assert error < 8
    assert needs_bigtiff(40000, 40000, 0) and not needs_bigtiff(30000, 30000, 1)


def test_progress_reaches_one_with_eta(tmp_path, renderer, world):
    reports = []
    export(renderer, world, Rect(0, 0, 300, 200), tmp_path / "p.tif", ExportOptions(tile=64, pyramid=-1),
           progress=reports.append)  # fmt: skip
    fractions = [r.fraction for r in reports]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert reports[-1].eta == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("name", ["c.tif", "c.png"])
def test_cancel_leaves_no_file(tmp_path, renderer, world, name):
    calls = []

    def cancelled():
        calls.append(1)
        return len(calls) > 5

    with pytest.raises(Cancelled):
        export(renderer, world, Rect(0, 0, 640, 640), tmp_path / name, ExportOptions(tile=64, pyramid=0),
               cancelled=cancelled)  # fmt: skip
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(("code", "message"), [(errno.ENOSPC, "disk is full"), (errno.EROFS, "read-only")])
@pytest.mark.parametrize("name", ["f.tif", "f.png"])
def test_disk_errors_are_one_line(tmp_path, renderer, world, monkeypatch, code, message, name):
    import engine.export.png
    import engine.export.tiff

    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(engine.export.tiff._Slots, "put", fail)
    monkeypatch.setattr(engine.export.png.PngStreamWriter, "write_rows", fail)
    with pytest.raises(OutputError, match=message) as info:
        export(renderer, world, Rect(0, 0, 200, 100), tmp_path / name, ExportOptions(pyramid=1 if "tif" in name else 0))
    assert "\n" not in str(info.value)
    assert leftovers(tmp_path) == []


def test_unwritable_target_and_bad_options(tmp_path, renderer, world):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="does not exist"):
        export(renderer, world, Rect(0, 0, 8, 8), tmp_path / "file" / "a.tif")
    with pytest.raises(InvalidInput, match="TIFF feature"):
        export(renderer, world, Rect(0, 0, 8, 8), tmp_path / "a.png", ExportOptions(pyramid=2))
    with pytest.raises(InvalidInput, match="compression"):
        export(renderer, world, Rect(0, 0, 8, 8), tmp_path / "a.png", ExportOptions(compression="jpeg"))
    assert leftovers(tmp_path) == ["file"]


KILL_SCRIPT = """
import sys
from pathlib import Path
from engine.export import ExportOptions, export
from engine.geometry import Rect
from engine.models.registry import load_model
from engine.render import Renderer
from engine.world import World

def progress(report):
    Path(sys.argv[2]).touch()

renderer = Renderer(load_model("reference:tiny").model, "cpu")
export(renderer, World(model="reference:tiny"), Rect(0, 0, 8192, 8192), sys.argv[1],
       ExportOptions(tile=64), progress=progress)
"""


def test_killed_export_leaves_no_final_file(tmp_path):
    target, started = tmp_path / "k.tif", tmp_path / "started"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(target), str(started)], env=env)
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.exists(), "the export never started"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert not target.exists()
    parts = [p for p in tmp_path.iterdir() if p.name not in ("started",)]
    assert parts and all(p.name.startswith(f".k.{process.pid}.") and ".part" in p.name for p in parts)
    # The next export of the same file reclaims the dead writer's partial (it can be gigabytes).
    renderer = Renderer(load_model("reference:tiny").model, "cpu")
    export(renderer, World(model="reference:tiny"), Rect(0, 0, 64, 64), target, ExportOptions(tile=64))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.tif", "started"]


def test_two_rank_torchrun_equals_single_process(tmp_path):
    args = ["--model", "reference:tiny", "--seed", "4", "--rect=-100,37,700,300", "--tile", "128", "--pyramid"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    single = subprocess.run(
        [sys.executable, "-m", "engine.cli", "render", *args, "--out", str(tmp_path / "s.tif")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert single.returncode == 0, single.stderr
    command = ["--nproc-per-node", "2", "--standalone", "-m", "engine.cli", "render",
               "--distributed", *args, "--out", str(tmp_path / "d.tif")]  # fmt: skip
    multi = run_torchrun(command, env=env, cwd=ROOT)
    assert multi.returncode == 0, multi.stderr[-2000:]
    assert (tmp_path / "s.tif").read_bytes() == (tmp_path / "d.tif").read_bytes()


def test_cli_pyramid_scale_level_and_compression(tmp_path, capsys):
    from engine.cli import main

    base = ["render", "--model", "reference:tiny", "--seed", "2", "--rect", "-33,5,200,120"]
    assert main([*base, "--out", str(tmp_path / "p.tif"), "--pyramid", "--tile", "64", "--compression", "zstd"]) == 0
    with tifffile.TiffFile(tmp_path / "p.tif") as tif:
        assert len(tif.pages[0].pages) == 2
        assert tif.pages[0].compression == tifffile.COMPRESSION.ZSTD
    assert main([*base, "--out", str(tmp_path / "h.png"), "--scale-level", "1"]) == 0
    assert np.asarray(Image.open(tmp_path / "h.png")).shape == (61, 101, 3)  # x -17..84, y 2..63
    assert main([*base, "--out", str(tmp_path / "j.png"), "--compression", "jpeg"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "PNG compression must be one of" in err
    assert not (tmp_path / "j.png").exists()


def test_progress_bar_draws_rate_and_eta():
    import io

    from engine.commands.render import ProgressBar
    from engine.export import ExportProgress

    stream = io.StringIO()
    bar = ProgressBar(stream, width=10)
    bar(ExportProgress(done=2.5e6, total=1e7, elapsed=5.0, stage="render"))
    bar.close()
    text = stream.getvalue()
    assert text.startswith("\r[##........]  25.0%") and "0.50 Mpx/s" in text and "ETA 00:15" in text
    assert text.endswith("\n")


@pytest.mark.parametrize(("name", "scale_level", "side"), [("c.png", 0, 100), ("c.tif", 1, 64), ("c.png", 2, 72)])
def test_cells_bound_memory_and_render_each_block_once(tmp_path, renderer, world, monkeypatch, name, scale_level, side):
    import engine.export.plan

    monkeypatch.setattr(engine.export.plan, "SOURCE_SIDE", side)  # many cells per tile and strip
    rect = Rect(-93, 41, 333, 150)
    before = renderer.blocks_rendered
    result = export(renderer, world, rect, tmp_path / name, ExportOptions(tile=48, scale_level=scale_level))
    rendered = renderer.blocks_rendered - before
    k = 1 << scale_level
    out = Rect(rect.x // k, rect.y // k, -(-rect.right // k) - rect.x // k, -(-rect.bottom // k) - rect.y // k)
    source = Rect(out.x * k, out.y * k, out.w * k, out.h * k)
    expected = box_reduce(direct(renderer, world, source), k)
    written = tifffile.imread(tmp_path / name) if name.endswith(".tif") else np.asarray(Image.open(tmp_path / name))
    assert np.array_equal(written, expected)
    cover = aligned_cover(source, 64)
    assert result.blocks_rendered == rendered == cover.w * cover.h // 64**2
