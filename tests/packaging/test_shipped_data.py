"""The shipped models are found through importlib.resources when installed, and in the checkout otherwise."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import shipped_data

ROOT = Path(__file__).resolve().parents[2]


def _fake_installed_package(site: Path) -> Path:
    """A minimal installed ``everscape_data`` as a wheel lays it out, in a folder that is not a checkout."""
    package = site / shipped_data.DATA_PACKAGE
    (package / "checkpoints" / "critics").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "checkpoints" / "fake-model.safetensors").write_bytes(b"")
    return package


def test_the_checkout_is_used_when_engine_runs_from_one():
    assert shipped_data.checkout_root() == ROOT
    assert shipped_data.data_path("checkpoints") == ROOT / "checkpoints"
    assert shipped_data.data_origin() == "source checkout"


def test_installed_data_is_found_through_importlib_resources(tmp_path, monkeypatch):
    package = _fake_installed_package(tmp_path / "site")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr(shipped_data, "SOURCE_ROOT", tmp_path / "not-a-checkout")
    importlib.invalidate_caches()
    try:
        assert shipped_data.checkout_root() is None
        assert shipped_data.data_path("checkpoints") == package / "checkpoints"
        assert shipped_data.data_origin() == "installed package everscape_data"
    finally:
        sys.modules.pop(shipped_data.DATA_PACKAGE, None)


def test_checkpoint_registry_lists_models_of_an_installed_package(tmp_path):
    """A fresh interpreter whose engine is not in a checkout lists the installed package's models."""
    _fake_installed_package(tmp_path / "site")
    code = (
        "import engine.shipped_data as s, pathlib; s.SOURCE_ROOT = pathlib.Path('/nonexistent');"
        "import engine.checkpoints as c; print(c.SHIPPED_DIR); print(c.list_checkpoints())"
    )
    env = {"PYTHONPATH": f"{tmp_path / 'site'}:{ROOT}", "EVERSCAPE_CHECKPOINTS": str(tmp_path / "user"), "PATH": ""}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    folder, names = done.stdout.splitlines()
    assert Path(folder) == tmp_path / "site" / "everscape_data" / "checkpoints"
    assert names == "['fake-model']"


def test_a_missing_data_package_falls_back_without_error(tmp_path, monkeypatch):
    monkeypatch.setattr(shipped_data, "SOURCE_ROOT", tmp_path)
    monkeypatch.setattr(shipped_data, "DATA_PACKAGE", "everscape_data_absent_for_this_test")
    assert shipped_data.installed_root() is None
    assert shipped_data.data_root() == tmp_path
    assert "nowhere" in shipped_data.data_origin()


def _setuptools_can_build_this() -> bool:
    from importlib.metadata import version

    return int(version("setuptools").split(".")[0]) >= 77  # pyproject's build-system requirement


@pytest.mark.skipif(not _setuptools_can_build_this(), reason="needs setuptools>=77 in this venv (no build isolation)")
def test_an_editable_install_finds_the_checkouts_models(tmp_path):
    """``pip install -e .`` into a fresh venv (dependencies borrowed), used from outside the tree."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = subprocess.run([python, "-c", purelib], capture_output=True, text=True, check=True).stdout.strip()
    borrowed = subprocess.run([sys.executable, "-c", purelib], capture_output=True, text=True, check=True)
    Path(site, "zz-borrowed.pth").write_text(borrowed.stdout)
    install = [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-build-isolation"]
    done = subprocess.run([*install, "--no-index", "-e", str(ROOT)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    code = "import engine.checkpoints as c, engine.shipped_data as s; print(c.SHIPPED_DIR); print(s.data_origin())"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [str(ROOT / "checkpoints"), "source checkout"]
