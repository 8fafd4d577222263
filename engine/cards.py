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

from engine.card_schema import problem
from engine.errors import InvalidInput, first_line

FORMAT = "everscape.model_card/1"


def training_totals(meta: dict[str, Any]) -> dict[str, Any]:
    """Steps, kimg and wall time of a run plus those of the chain it was warm-started from
    (``meta["init"]``, itself already a total): all the training behind a model."""
    init = meta.get("init") or {}
    return {
        "steps": int(meta.get("steps") or 0) + int(init.get("steps") or 0),
        "kimg": float(meta.get("kimg") or 0.0) + float(init.get("kimg") or 0.0),
        "wall_time_s": float(meta.get("wall_time_s") or 0.0) + float(init.get("wall_time_s") or 0.0),
    }


def card_path(checkpoint: str | Path) -> Path:
    """The card of a checkpoint: same folder, same name, ``.json``."""
    return Path(checkpoint).with_suffix(".json")


#: Cards are a few kB; a larger file is not one (and is not read into memory).
MAX_CARD_BYTES = 4 * 2**20


def check_card(path: str | Path) -> dict[str, Any]:
    """The card at ``path``, validated against :data:`engine.card_schema.CARD_SCHEMA`; anything
    else (missing, too large, not JSON, not a card, the wrong shape) is a one-line :class:`InvalidInput`."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_CARD_BYTES:
            raise InvalidInput(f"model card {path} is over {MAX_CARD_BYTES // 2**20} MiB, not a card")
        card = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"model card {path} does not exist") from None
    except (OSError, ValueError, RecursionError) as error:
        raise InvalidInput(f"model card {path} is not readable JSON ({first_line(error)[:120]})") from None
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise InvalidInput(f"{path} is not a model card (no format {FORMAT!r})")
    found = problem(card)
    if found:
        raise InvalidInput(f"model card {path} is malformed: {found}")
    return card


def read_card(path: str | Path) -> dict[str, Any] | None:
    """The card at ``path``, or None if it is missing, unreadable, not ours or malformed (never raises)."""
    try:
        return check_card(path)
    except InvalidInput:
        return None


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


def _measured(metrics: dict[str, Any]) -> str:
    """How a card was measured: mode, data, where the real crops fell (cards from before the
    option measured against corner offsets) and where a row-dependent model's frames were."""
    crops = (metrics.get("options") or {}).get("crop_sampling", "offset")
    rows = ", frames over the data's rows" if metrics.get("frames_at_rows") else ""
    return f"{metrics.get('mode', '?')} on {metrics.get('data', '?')}, {crops} crops{rows}"


def _number(value: Any, digits: int = 1) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "–"
    return f"{value:.{digits}f}" if math.isfinite(value) else "–"


def _cover(landcover: dict[str, Any] | None) -> str:
    """``ocean 76/72, ice 0.3/3.3, ...``: a card's land cover, render share against data share in %."""
    if not landcover:
        return "–"
    shares = ", ".join(
        f"{key} {_number(100 * row['render'], 1)}/{_number(100 * row['data'], 1)}"
        for key, row in landcover["measures"].items()
    )
    rows = landcover.get("gallery_rows")  # a row-dependent model: the rows standing for the data's height
    if not rows or len(rows) != 2:  # none, or not a (first, last) pair: the shares alone
        return shares
    bands = landcover.get("by_latitude") or []

    def by_fifth(key: str) -> str:
        pairs = (f"{_number(100 * b['render'][key], 1)}/{_number(100 * b['data'][key], 1)}" for b in bands)
        return f"; {key} by fifth of the rows, north to south: {', '.join(pairs)}"

    by_band = by_fifth("ice") + by_fifth("ocean") if bands else ""
    return f"{shares} (gallery rows {rows[0]}–{rows[1]}, the map's{by_band})"


def quality_table(cards: list[dict[str, Any]]) -> str:
    """The quality report, as Markdown, from model cards (numbers are never typed by hand).

    One row per model and number: trained, untrained (the floor) and real-vs-real (the best
    possible) side by side, then the goals and diagnostics with their verdicts.
    """
    if not cards:
        return "(no model cards)"
    names = [card.get("name", "?") for card in cards]
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, values: list[str]) -> None:
        rows.append((label, values))

    def training(card: dict[str, Any]) -> str:
        t = card.get("training", {})
        total = training_totals(t)
        hours = _number(total["wall_time_s"] / 3600, 2)
        text = f"{total['steps']} steps, {_number(total['kimg'])} kimg, {hours} h on {t.get('device', '?')}"
        return text + (f" (last {t.get('steps')} steps warm-started)" if t.get("init") else "")

    row("training", [training(c) for c in cards])
    row("measured", [_measured(c["metrics"]) for c in cards])
    for label, key in (("SWD ×10³, frames", "swd"), ("∞-SWD ×10³, strip", "inf_swd")):
        row(
            f"{label}: trained / untrained / real",
            [
                f"{_number(m['trained'][key])} / {_number(m['untrained'][key])} / "
                + (_number(m["real_vs_real"]["swd"]) if key == "swd" else "–")
                for m in (c["metrics"] for c in cards)
            ],
        )
    zooms = sorted({z for c in cards for z in c["metrics"]["trained"]["scaleinv"]}, key=int)
    for zoom in zooms:
        row(
            f"ScaleInv-SWD {zoom}×: trained / untrained / real band / real whole map",
            [
                f"{_number(m['trained']['scaleinv'].get(zoom))} / {_number(m['untrained']['scaleinv'].get(zoom))}"
                f" / {_number(m['real_vs_real'].get('scaleinv', {}).get(zoom))}"
                f" / {_number((m['real_vs_real'].get('whole_scaleinv') or {}).get(zoom))}"
                for m in (c["metrics"] for c in cards)
            ],
        )
    if all("inversion" in c for c in cards):
        row(
            "held-out inversion PSNR dB: trained / untrained",
            [
                f"{_number(inv['trained']['psnr_db'], 2)} / {_number(inv['untrained']['psnr_db'], 2)}"
                for inv in (c["inversion"] for c in cards)
            ],
        )
    if any("landcover" in c for c in cards):
        row(
            "land cover, % of the gallery / of the data (engine.metrics.landcover)",
            [_cover(c.get("landcover")) for c in cards],
        )
    goals = list(dict.fromkeys(g for c in cards for g in c.get("goals", {})))
    for goal in goals:
        cells = []
        for card in cards:
            verdict = card.get("goals", {}).get(goal)
            if verdict is None:
                cells.append("–")
                continue
            mark = "pass" if verdict.get("pass") else "**fail**"
            cell = f"{_number(verdict.get('value'), 3)} vs {_number(verdict.get('limit'), 3)}: {mark}"
            if "data" in verdict:
                cell += f" (the map's own {verdict['data']['zoom']}×/1×: {_number(verdict['data']['ratio'], 2)})"
            cells.append(cell)
        row(f"goal: {goal}", cells)
    lines = ["| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    lines += [f"| {label} | " + " | ".join(values) + " |" for label, values in rows]
    return "\n".join(lines)


#: Markers around the generated quality report on the models page (``models report --markdown``).
REPORT_BEGIN = "<!-- quality-report:begin (generated by `everscape models report --markdown docs/models/README.md`) -->"
REPORT_END = "<!-- quality-report:end -->"


def readme_section(cards: list[dict[str, Any]], gallery_dir: str = "resources/gallery") -> str:
    """The models page's report: the table and each model's gallery render, between the markers.

    Generated, never typed, so the documentation cannot disagree with the shipped cards (a test
    compares them). Gallery links are ``GALLERY_DIR/FILE``, relative to the page that holds them.
    """
    lines = [REPORT_BEGIN, "", quality_table(cards), ""]
    for card in cards:
        gallery = card.get("gallery") or {}
        if gallery.get("path"):
            size = "×".join(str(v) for v in gallery.get("size", []))
            lines.append(f"![{card['name']}, {size} render]({gallery_dir}/{Path(gallery['path']).name})")
            lines.append("")
    lines.append(REPORT_END)
    return "\n".join(lines)


def model_page(card: dict[str, Any], gallery_dir: str = "resources/gallery") -> str:
    """One shipped model's page: its name, its card's table and gallery render (generated, never typed)."""
    intro = f"Generated from `checkpoints/{card['name']}.json` by `everscape models report --markdown docs/models/`."
    return f"# {card['name']}\n\n{intro}\n\n{readme_section([card], gallery_dir)}\n"


def replace_readme_section(text: str, section: str) -> str:
    """``text`` with the part between the report markers (markers included) replaced by ``section``."""
    start, end = text.find(REPORT_BEGIN.split(" (")[0]), text.find(REPORT_END)
    if start < 0 or end < start:
        raise ValueError("it has no quality-report markers to replace")
    return text[:start] + section + text[end + len(REPORT_END) :]
