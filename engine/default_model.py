"""The model the app opens, chosen among checkpoints that render at all.

Does a checkpoint render? One block, before it may become the app's default.

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
from engine.cards import card_path, read_card, relative_heldout_swd
from engine.checkpoints import file_sha256, find_checkpoint, list_checkpoints
from engine.errors import EverscapeError
from engine.models.registry import DEFAULT_CHECKPOINTS, FALLBACK_MODEL, load_model
from engine.render import Renderer
from engine.world import World

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
    try:
        loaded = load_model(str(path))
        renderer = Renderer(loaded.model, "cpu")
        block = renderer.render_blocks(World(loaded.ref, model_hash=loaded.sha256), [(0, 0)])[(0, 0)]
    except (EverscapeError, RuntimeError, ValueError):  # cannot render: not a default candidate
        return False
    return bool(np.asarray(block, dtype=np.float32).std() >= MIN_BLOCK_STD)


def default_model_ref() -> str:
    """The model the app opens: the best installed checkpoint with a model card.

    "Best" is the lowest held-out SWD on its card (``everscape models ship`` measures it on real
    crops the model never saw in training) relative to the card's real-vs-real SWD, which makes
    families measured on different frame sizes comparable (:func:`relative_heldout_swd`).
    Without cards: the first installed of :data:`DEFAULT_CHECKPOINTS`, else :data:`FALLBACK_MODEL`.
    Only models that pass a one-block smoke render (:func:`renders`, cached by hash)
    are candidates: a card's claim never makes a model that cannot render the default; malformed
    cards count as none (:func:`engine.cards.read_card`).
    """
    scored = []
    for name in list_checkpoints():
        path = find_checkpoint(name)
        card = read_card(card_path(path)) if path is not None else None
        score = relative_heldout_swd(card) if card is not None else None
        if score is not None:
            scored.append((score, name))
    for _, name in sorted(scored):
        if renders(find_checkpoint(name)):
            return name
    for name in DEFAULT_CHECKPOINTS:
        path = find_checkpoint(name)
        if path is not None and renders(path):
            return name
    return FALLBACK_MODEL
