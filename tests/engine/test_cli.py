"""The command line: real invocations through ``engine.cli.main`` and one through the console script."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from engine.cli import main


def run_cli(*args):
    return main(list(args))


def test_render_issue_example_tiles_identical(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    rect = "-500,1000000000,640,360"
    assert run_cli("render", "--model", "reference:tiny", "--seed", "1", "--rect", rect, "--out", str(a)) == 0
    assert (
        run_cli(
            "render",
            "--model",
            "reference:tiny",
            "--seed",
            "1",
            "--rect",
            rect,
            "--out",
            str(b),
            "--tile",
            "64",
            "--batch",
            "5",
        )
        == 0
    )
    img_a, img_b = np.asarray(Image.open(a)), np.asarray(Image.open(b))
    assert img_a.shape == (360, 640, 3)
    assert np.array_equal(img_a, img_b)
    assert img_a.std() > 1


def test_render_tiff_matches_png(tmp_path):
    import tifffile

    args = ("render", "--model", "reference:tiny", "--seed", "3", "--rect", "5,-7,90,70")
    assert run_cli(*args, "--out", str(tmp_path / "x.png")) == 0
    assert run_cli(*args, "--out", str(tmp_path / "x.tif")) == 0
    assert np.array_equal(tifffile.imread(tmp_path / "x.tif"), np.asarray(Image.open(tmp_path / "x.png")))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--model", "nosuch:thing"), "unknown model"),
        (("--model", "reference:huge"), "no config"),
        (("--rect", "1,2,3"), "X,Y,W,H"),
        (("--rect", "0,0,-4,4"), "positive size"),
        (("--out", "/nonexistent-dir/a.png"), "does not exist"),
        (("--out", "OUT.jpg"), "use one of"),
    ],
)
def test_bad_input_is_one_line(tmp_path, capsys, args, message):
    base = {"--model": "reference:tiny", "--rect": "0,0,32,32", "--out": str(tmp_path / "o.png")}
    for key, value in zip(args[::2], args[1::2], strict=True):
        base[key] = value.replace("OUT", str(tmp_path / "o"))
    argv = ["render"] + [x for kv in base.items() for x in kv]
    assert run_cli(*argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not list(tmp_path.iterdir()), "nothing may be written on error"


def test_corrupt_and_pickle_checkpoints(tmp_path, capsys):
    corrupt = tmp_path / "c.safetensors"
    corrupt.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage")
    out = tmp_path / "o.png"
    assert run_cli("render", "--model", str(corrupt), "--rect", "0,0,8,8", "--out", str(out)) == 2
    assert "damaged or truncated" in capsys.readouterr().err
    pt = tmp_path / "m.pt"
    pt.write_bytes(b"\x80\x04cos\nsystem\n(S'echo hi'\ntR.")
    assert run_cli("render", "--model", str(pt), "--rect", "0,0,8,8", "--out", str(out)) == 2
    assert "pickle" in capsys.readouterr().err
    assert not out.exists()


def test_read_only_output_folder(tmp_path, capsys):
    """Root ignores permission bits, so as root the folder is made immutable (chattr +i) instead."""
    folder = tmp_path / "ro"
    folder.mkdir()
    as_root = os.geteuid() == 0
    if as_root:
        if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
            pytest.skip("cannot make a folder read-only for root on this file system")
    else:
        folder.chmod(0o500)
    try:
        assert run_cli("render", "--model", "reference:tiny", "--rect", "0,0,8,8", "--out", str(folder / "a.png")) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "cannot write" in err, err
    finally:
        if as_root:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        else:
            folder.chmod(0o700)
    assert not list(folder.iterdir())


def test_models_json(capsys):
    assert run_cli("models", "--json") == 0
    info = json.loads(capsys.readouterr().out)
    assert "tiny" in info["families"]["reference"]


def test_styles_file_is_used(tmp_path):
    layout = tmp_path / "styles.json"
    layout.write_text(json.dumps({"centres": [{"x": 0, "y": 0, "seed": 7, "width": 256}]}))
    base = ("render", "--model", "reference:tiny", "--rect", "0,0,32,32")
    assert run_cli(*base, "--styles", str(layout), "--out", str(tmp_path / "s.png")) == 0
    assert run_cli(*base, "--out", str(tmp_path / "d.png")) == 0
    assert not np.array_equal(np.asarray(Image.open(tmp_path / "s.png")), np.asarray(Image.open(tmp_path / "d.png")))
    layout.write_text("{broken")
    assert run_cli(*base, "--styles", str(layout), "--out", str(tmp_path / "x.png")) == 2


def test_console_script_no_traceback(tmp_path):
    exe = shutil.which("everscape") or str(__import__("pathlib").Path(sys.executable).parent / "everscape")
    result = subprocess.run(
        [exe, "render", "--model", "reference:tiny", "--rect", "bad", "--out", str(tmp_path / "a.png")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
