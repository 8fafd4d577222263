"""setup.py maps every shipped file into the wheel: nothing under checkpoints/ or resources/ is left behind.

Building a wheel takes too long for a unit test (the CI runs packaging/smoke_wheel.sh for that);
this runs setup.py with ``setup()`` captured and matches the repository's files against its globs.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import setuptools

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def setup_kwargs(monkeypatch) -> dict:
    captured: dict = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kwargs: captured.update(kwargs))
    monkeypatch.chdir(ROOT)
    runpy.run_path(str(ROOT / "setup.py"))
    return captured


def _packaged(kwargs: dict, package: str) -> set[Path]:
    folder = ROOT / kwargs["package_dir"][package]
    return {path for pattern in kwargs["package_data"][package] for path in folder.glob(pattern) if path.is_file()}


def test_every_shipped_checkpoint_card_and_critic_is_package_data(setup_kwargs):
    shipped = {p for p in (ROOT / "checkpoints").rglob("*") if p.suffix in (".safetensors", ".json")}
    assert any(p.parent.name == "critics" for p in shipped)
    assert shipped == _packaged(setup_kwargs, "everscape_data.checkpoints")


def test_every_resource_but_its_readme_is_package_data(setup_kwargs):
    resources = {p for p in (ROOT / "resources").rglob("*") if p.is_file() and p.name != "README.md"}
    assert (ROOT / "resources" / "icons" / "everscape.svg") in resources
    assert resources == _packaged(setup_kwargs, "everscape_data.resources")


def test_every_code_package_is_in_the_wheel(setup_kwargs):
    code = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for top in ("engine", "app")
        for p in (ROOT / top).rglob("__init__.py")
    }
    assert code <= set(setup_kwargs["packages"])
    assert setup_kwargs["package_dir"]["everscape_data"] == "packaging/everscape_data"
