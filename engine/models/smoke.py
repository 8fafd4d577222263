"""Does a checkpoint render at all? One block, before it may become the app's default.

A model card is a claim; the default model is what every new user sees first, so a card that
claims a better score than its model has (or a damaged checkpoint behind a good card) must not
make a broken model the default. The smoke test loads the checkpoint through the normal loader
(which refuses NaN weights and a config that does not fit them) and renders one block at the
origin; a model passes when that block is not a single flat colour (an all-zero or saturated
generator renders one). Results are cached by the checkpoint file's SHA-256, in memory and in
the user's cache folder, so the app pays for each checkpoint's test once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from engine.atomic import write_bytes_atomic
from engine.checkpoints import file_sha256
from engine.errors import EverscapeError

#: Smallest standard deviation (in 8-bit levels) of a block that shows anything.
MIN_BLOCK_STD = 0.5
_MEMORY: dict[str, bool] = {}


def cache_file() -> Path:
    """Where verdicts persist: ``$EVERSCAPE_CACHE`` or the platform cache folder."""
    env = os.environ.get("EVERSCAPE_CACHE")
    if env:
        return Path(env) / "smoke.json"
    import platformdirs

    return Path(platformdirs.user_cache_dir("everscape")) / "smoke.json"


def _load_cache() -> dict[str, bool]:
    try:
        stored = json.loads(cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(stored, dict):
        return {}
    return {str(k): v for k, v in stored.items() if isinstance(v, bool)}


def _store(sha: str, verdict: bool) -> None:
    stored = {**_load_cache(), sha: verdict}
    try:
        cache_file().parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(cache_file(), json.dumps(stored).encode("utf-8"))
    except (OSError, EverscapeError):
        pass  # a read-only cache folder only costs the test again next time


def renders(path: str | Path) -> bool:
    """True when the checkpoint at ``path`` loads and renders a block that is not one flat colour."""
    path = Path(path)
    try:
        sha = file_sha256(path)
    except OSError:
        return False
    if sha in _MEMORY:
        return _MEMORY[sha]
    stored = _load_cache()
    if sha in stored:
        _MEMORY[sha] = stored[sha]
        return stored[sha]
    verdict = _render_one_block(path)
    _MEMORY[sha] = verdict
    _store(sha, verdict)
    return verdict


def _render_one_block(path: Path) -> bool:
    from engine.models.registry import load_model
    from engine.render import Renderer
    from engine.world import World

    try:
        loaded = load_model(str(path))
        renderer = Renderer(loaded.model, "cpu")
        block = renderer.render_blocks(World(loaded.ref, model_hash=loaded.sha256), [(0, 0)])[(0, 0)]
    except (EverscapeError, RuntimeError, ValueError):  # cannot render: not a default candidate
        return False
    return bool(np.asarray(block, dtype=np.float32).std() >= MIN_BLOCK_STD)
