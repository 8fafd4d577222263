"""The user's folders (platformdirs), each overridable by an environment variable for tests and portable setups.

One place so the CLI, the app and ``everscape doctor`` name the same folders.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "everscape"


def _dir(env: str, kind: str) -> Path:
    override = os.environ.get(env)
    if override:
        return Path(override)
    import platformdirs

    return Path(getattr(platformdirs, f"user_{kind}_dir")(APP_NAME))


def config_dir() -> Path:
    """Settings, the last world and the autosave (``$EVERSCAPE_CONFIG_DIR``)."""
    return _dir("EVERSCAPE_CONFIG_DIR", "config")


def data_dir() -> Path:
    """The user's own data, e.g. trained checkpoints (``$EVERSCAPE_DATA_DIR``)."""
    return _dir("EVERSCAPE_DATA_DIR", "data")


def cache_dir() -> Path:
    """Files that can be recomputed and deleted at any time (``$EVERSCAPE_CACHE_DIR``)."""
    return _dir("EVERSCAPE_CACHE_DIR", "cache")
