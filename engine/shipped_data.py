"""Where the files shipped with Everscape are: the source checkout, else the installed ``everscape_data``.

A wheel carries ``checkpoints/`` and ``resources/`` inside the ``everscape_data`` package, so they are
found with :mod:`importlib.resources` wherever pip put them (a venv, a frozen build), never relative
to the current directory. Code running from a source checkout (``PYTHONPATH=.`` or an editable
install, whose ``everscape_data`` holds no data) uses the folders at the repository root instead,
where training and ``models ship`` write them; the checkout wins so that a wheel installed in the
same environment cannot hide freshly shipped models.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

DATA_PACKAGE = "everscape_data"
SOURCE_ROOT = Path(__file__).resolve().parent.parent


def checkout_root() -> Path | None:
    """The repository root if this engine runs from a source checkout (its data package folder is there)."""
    if (SOURCE_ROOT / "packaging" / DATA_PACKAGE / "__init__.py").is_file():
        return SOURCE_ROOT
    return None


def installed_root() -> Path | None:
    """The installed data package's folder, if one with shipped checkpoints is importable."""
    try:
        root = files(DATA_PACKAGE)
    except ModuleNotFoundError:
        return None
    # A regular package on disk (pip, PyInstaller) is a real folder; anything else (a zip) is not used.
    if isinstance(root, Path) and (root / "checkpoints").is_dir():
        return root
    return None


def data_root() -> Path:
    """The folder holding ``checkpoints/`` and ``resources/`` (the checkout's root when nothing has them)."""
    return checkout_root() or installed_root() or SOURCE_ROOT


def data_path(*parts: str) -> Path:
    """A shipped file or folder, e.g. ``data_path("resources", "icons", "everscape.svg")``."""
    return data_root().joinpath(*parts)


def data_origin() -> str:
    """How the shipped files were found, for ``everscape doctor``."""
    if checkout_root() is not None:
        return "source checkout"
    if installed_root() is not None:
        return f"installed package {DATA_PACKAGE}"
    return "nowhere (no checkout, no everscape_data package)"
