"""Model cards: the JSON file shipped beside a checkpoint (``checkpoints/NAME.json``).

A card says what a shipped model is and how good it is, in numbers anyone can re-measure: the
data and its preparation, training steps, time and device, the metrics of the model next to an
untrained model of the same config (the floor to beat) and real-vs-real (the best possible), the
goals passed or failed, and the gallery render. ``everscape models ship`` writes it, last, after
the checkpoint and the gallery; the app reads it to open on the best shipped model.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

FORMAT = "everscape.model_card/1"


def card_path(checkpoint: str | Path) -> Path:
    """The card of a checkpoint: same folder, same name, ``.json``."""
    return Path(checkpoint).with_suffix(".json")


def read_card(path: str | Path) -> dict[str, Any] | None:
    """The card at ``path``, or None if it is missing, unreadable or not ours (never raises)."""
    try:
        card = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return card if isinstance(card, dict) and card.get("format") == FORMAT else None


def heldout_swd(card: dict[str, Any]) -> float | None:
    """The trained model's SWD against held-out real crops (lower is better), if the card has one."""
    try:
        value = float(card["metrics"]["trained"]["swd"])
    except (KeyError, TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def relative_heldout_swd(card: dict[str, Any]) -> float | None:
    """Held-out SWD in units of the card's real-vs-real SWD (1 = as good as real data can be).

    Why this and not the raw SWD to rank models: SWD's scale depends on the frame size and the
    data preparation, and the three families are measured on different frames (InfinityGAN 133 px,
    ALIS 128 px, ∞-GAN 64 px) and data (∞-GAN's map drops Antarctica). Real-vs-real, measured with
    the same frames, data and counts, carries the same dependence, so the ratio compares across them.
    """
    try:
        real = float(card["metrics"]["real_vs_real"]["swd"])
    except (KeyError, TypeError, ValueError):
        return None
    trained = heldout_swd(card)
    if trained is None or not math.isfinite(real) or real <= 0:
        return None
    return trained / real
