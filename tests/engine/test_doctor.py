"""``everscape doctor``: the first-run report says what runs where and why, without importing Qt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine import diagnostics
from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_doctor_json_reports_every_section(capsys, tmp_path, monkeypatch):
    for name in ("CONFIG", "DATA", "CACHE"):
        monkeypatch.setenv(f"EVERSCAPE_{name}_DIR", str(tmp_path / name.lower()))
    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["system"]
    assert report["versions"]["torch"] == torch.__version__
    assert report["versions"]["python"].startswith(sys.version.split()[0])
    assert report["device"]["device"] == str(diagnostics.choose_device())
    assert 0 < report["memory"]["ram_free_gib"] <= report["memory"]["ram_total_gib"]
    assert report["folders"]["config"] == str(tmp_path / "config")
    assert report["folders"]["data"] == str(tmp_path / "data")
    assert report["folders"]["cache"] == str(tmp_path / "cache")
    assert report["models"]["found_in"] == "source checkout"
    assert Path(report["models"]["shipped"]) == ROOT / "checkpoints"
    shipped = sorted(p.stem for p in (ROOT / "checkpoints").glob("*.safetensors"))
    assert set(shipped) <= set(report["models"]["installed"])


def test_doctor_text_has_one_line_per_item(capsys):
    assert main(["doctor"]) == 0
    lines = capsys.readouterr().out.splitlines()
    labels = [line.split(":", 1)[0] for line in lines]
    for label in ("Everscape", "Python", "torch", "PySide6", "Device", "Memory", "Shipped models", "GPU support"):
        assert label in labels
    assert any(label.startswith("Folder (config") for label in labels)


def test_doctor_describes_named_files_and_fails_on_a_bad_one(capsys, tmp_path):
    good = ROOT / "checkpoints" / "infinitygan-bluemarble.safetensors"
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    assert main(["doctor", str(good)]) == 0
    out = capsys.readouterr().out
    assert f"{good}: " in out and "loads" in out.split("Files:")[1]
    assert main(["doctor", "--json", str(good), str(bad)]) == 2
    rows = json.loads(capsys.readouterr().out)["files"]
    assert [row["ok"] for row in rows] == [True, False]
    assert rows[1]["path"] == str(bad) and rows[1]["detail"]


@pytest.mark.parametrize(
    ("cuda", "hip", "libcuda", "mps_built", "expected_build", "expected_reason"),
    [
        (None, None, None, False, "CPU only", "CPU-only build"),
        ("12.8", None, None, False, "CUDA 12.8", "no NVIDIA driver was found"),
        ("12.8", None, "libcuda.so.1", False, "CUDA 12.8", "driver is installed, but it reports no usable GPU"),
        (None, "6.4", None, False, "ROCm 6.4", "no AMD ROCm runtime was found"),
        (None, None, None, True, "CPU only (with MPS)", "MPS but it is unavailable"),
    ],
)
def test_the_device_reason_names_what_is_missing(
    monkeypatch, cuda, hip, libcuda, mps_built, expected_build, expected_reason
):
    monkeypatch.setattr(torch.version, "cuda", cuda)
    monkeypatch.setattr(torch.version, "hip", hip)
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: mps_built)
    monkeypatch.setattr(diagnostics, "choose_device", lambda: torch.device("cpu"))
    monkeypatch.setattr(diagnostics.ctypes.util, "find_library", lambda name: libcuda)
    assert diagnostics.torch_build() == expected_build
    choice = diagnostics.device_choice()
    assert choice["device"] == "cpu" and expected_reason in choice["reason"]
    advice = diagnostics.gpu_help("cpu")
    if cuda or hip:  # the torch is right; the driver is what is missing
        assert "driver" in advice and "--index-url" not in advice
    else:
        assert "build of torch" in advice or "macOS torch" in advice


def test_a_gpu_in_use_is_named(monkeypatch):
    monkeypatch.setattr(diagnostics, "choose_device", lambda: torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Test GPU 9000")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    choice = diagnostics.device_choice()
    assert choice["device"] == "cuda" and "Test GPU 9000 (2 visible)" in choice["reason"]
    assert diagnostics.gpu_help("cuda").startswith("a GPU is in use")


def test_doctor_does_not_import_qt():
    code = "import sys; from engine.cli import main; main(['doctor']); assert 'PySide6' not in sys.modules, 'Qt'"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "PySide6:" in done.stdout
