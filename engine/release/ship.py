"""``everscape models ship``: pick, measure, write the checkpoint, gallery and card; re-measure
and re-diagnose shipped models (see :mod:`engine.release`).
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.atomic import write_bytes_atomic
from engine.cards import FORMAT, card_path, read_card
from engine.checkpoints import Checkpoint, file_sha256, load_checkpoint, save_checkpoint
from engine.errors import InvalidInput
from engine.metrics import landcover
from engine.metrics.diagnostics import QUICK_DIAGNOSTICS, DiagnosticOptions, diagnose
from engine.metrics.diagnostics import verdicts as diagnostic_verdicts
from engine.metrics.inversion import QUICK_INVERSION, InversionOptions, inversion_psnr
from engine.metrics.realdata import RealImages
from engine.models.base import Generator
from engine.models.registry import build_initial, get_family, model_from_checkpoint
from engine.release.critics import ship_critic
from engine.release.gallery import GALLERY, QUICK_GALLERY, gallery_landcover, gallery_rows, render_gallery
from engine.release.measure import (
    add_floor,
    eval_options,
    goals,
    measure_trained,
    preparation,
    refuse_if_worse,
    shipped_measured_alike,
    untrained_ref,
    whole_data,
)
from engine.render import choose_device
from engine.world import World

MAX_BYTES = 40 * 1000**2  # 40 MB: the limit for a shipped checkpoint
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class ShipOptions:
    name: str
    dest: Path = Path("checkpoints")
    gallery_dir: Path = Path("resources/gallery")
    quick: bool = False
    device: str | None = None  # None/"auto": the Renderer's choice
    seed: int = 0  # seed of the evaluation worlds/crops and of the gallery world
    replace_worse: bool = False  # ship even when the model already shipped as ``name`` measured better


def pick_checkpoint(run: str | Path) -> Path:
    """``RUN/best.safetensors`` if present, else ``RUN/last.safetensors`` (or ``run`` itself if a file)."""
    run = Path(run)
    if run.is_file():
        return run
    for candidate in ("best.safetensors", "last.safetensors"):
        if (run / candidate).is_file():
            return run / candidate
    raise InvalidInput(f"{run} holds no best.safetensors or last.safetensors (is it an `everscape train` --out?)")


def check_size(path: Path) -> int:
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise InvalidInput(
            f"{path} is {size / 1e6:.1f} MB, over the {MAX_BYTES / 1e6:.0f} MB limit for shipped checkpoints"
        )
    return size


def ship(run: str | Path, options: ShipOptions, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Measure, copy and describe the run's checkpoint (see the module docstring); returns the card."""
    say = progress or (lambda _message: None)
    name = options.name
    if not _NAME.fullmatch(name) or name.endswith(".safetensors"):
        raise InvalidInput(f"--name {name!r} must be a plain file stem (letters, digits, . _ -)")
    source = pick_checkpoint(run)
    check_size(source)
    device = str(choose_device(options.device))
    ckpt = load_checkpoint(source)
    model = model_from_checkpoint(ckpt, source)
    untrained = build_initial(ckpt.family, ckpt.config)
    meta = ckpt.meta
    prep = preparation(meta, name)
    whole = whole_data(prep)
    data = whole.within(tuple(prep["holdout"]))
    crop = int(meta.get("crop") or get_family(ckpt.family).crop_size(model.config))
    frame = data.fitting_side(crop)
    if frame != crop:
        say(f"frames of {frame} px: the held-out band holds no {crop} px training crop")
    eval_opts = eval_options(frame, options.quick, options.seed)
    config_name = meta.get("config_name")
    floor_ref = untrained_ref(ckpt.family, config_name)

    started = time.perf_counter()
    metrics = measure_trained(model, name, data, eval_opts, options.device, say, whole)
    metrics["mode"] = "quick" if options.quick else "full"
    target = options.dest / f"{name}.safetensors"
    if not options.replace_worse:
        shipped = shipped_measured_alike(
            target, read_card(card_path(target)), metrics, data, eval_opts, options.device, say
        )
        refuse_if_worse(shipped, metrics, source, name)
    add_floor(metrics, untrained, floor_ref, data, eval_opts, options.device, say)
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    verdicts = goals(metrics["trained"], metrics["untrained"], metrics["real_vs_real"])
    say("diagnostics: colour drift, repetition at the coordinate period, seams")
    base = QUICK_DIAGNOSTICS if options.quick else DiagnosticOptions()
    diagnostics = diagnose(model, name, dataclasses.replace(base, seed=options.seed), options.device)
    verdicts.update(diagnostic_verdicts(diagnostics))
    say("inversion of held-out crops (outpainting's fit), trained then untrained")
    inversion = _inversion(model, untrained, (name, floor_ref), data, options)
    verdicts["inversion_beats_untrained"] = {
        "value": inversion["trained"]["psnr_db"],
        "limit": inversion["untrained"]["psnr_db"],
        "pass": inversion["trained"]["psnr_db"] > inversion["untrained"]["psnr_db"],
    }

    options.dest.mkdir(parents=True, exist_ok=True)
    summary = _summary(metrics)
    say(f"writing {target}")
    save_checkpoint(target, ckpt.family, ckpt.config, ckpt.weights, {**meta, "name": name, "metrics": summary})
    sha = file_sha256(target)
    critic = ship_critic(source, target, sha, say)

    gallery_path = options.gallery_dir / f"{name}.jpg"
    say(f"rendering the gallery {gallery_path}")
    world = World(model=name, seed=options.seed, model_hash=sha)
    gallery = render_gallery(model, world, gallery_path, QUICK_GALLERY if options.quick else GALLERY, options.device)
    say("land cover of the gallery against the data")
    cover = gallery_landcover(gallery_path, whole, gallery_rows(model, gallery["size"]))
    verdicts.update(landcover.verdicts(cover))

    results = {"critic": critic, "metrics": metrics, "diagnostics": diagnostics, "inversion": inversion}
    results.update(goals=verdicts, gallery=gallery, landcover=cover, evaluated_on=device)
    card = _card(name, ckpt, (source, target, sha), prep, results)
    write_bytes_atomic(card_path(target), json.dumps(card, indent=1).encode())
    return card


def _card(
    name: str, ckpt: Checkpoint, files: tuple[Path, Path, str], prep: dict[str, Any], results: dict[str, Any]
) -> dict[str, Any]:
    """The model card: what was shipped (``files``: the run's checkpoint, the shipped one and its
    sha256), from what training, and the release's ``results`` (metrics, goals, gallery, ...)."""
    source, target, sha = files
    meta = ckpt.meta
    return {
        "format": FORMAT,
        "name": name,
        "family": ckpt.family,
        "config_name": meta.get("config_name"),
        "config": ckpt.config,
        "recipe": meta.get("recipe"),
        "data": {**prep, "crop": meta.get("crop"), "crop_sampling": meta.get("crop_sampling", "offset")},
        "training": {
            "steps": meta.get("steps"),
            "kimg": meta.get("kimg"),
            "wall_time_s": meta.get("wall_time_s"),
            "device": meta.get("device"),
            "batch": meta.get("batch"),
            "world_size": meta.get("world_size"),
            "init": meta.get("init"),  # the checkpoint a warm-started run began from (its totals)
            "source": str(source),
            "source_sha256": ckpt.sha256,
        },
        "checkpoint": {"file": target.name, "bytes": target.stat().st_size, "sha256": sha},
        **results,
    }


def _inversion(
    model: Generator, untrained: Generator, names: tuple[str, str], data: RealImages, options: ShipOptions
) -> dict[str, Any]:
    """Inversion PSNR of held-out crops by the trained and the untrained model (outpainting's fit)."""
    inversion_options = dataclasses.replace(QUICK_INVERSION if options.quick else InversionOptions(), seed=options.seed)
    return {
        "trained": inversion_psnr(model, names[0], data, inversion_options, options.device),
        "untrained": inversion_psnr(untrained, names[1], data, inversion_options, options.device),
    }


def _summary(metrics: dict[str, Any]) -> dict[str, Any]:
    """The measurements a shipped checkpoint's header carries."""
    return {
        "mode": metrics["mode"],
        "data": metrics["data"],
        "heldout_swd": metrics["trained"]["swd"],
        "untrained_swd": metrics["untrained"]["swd"],
        "real_vs_real_swd": metrics["real_vs_real"]["swd"],
        "inf_swd": metrics["trained"]["inf_swd"],
        "scaleinv": metrics["trained"]["scaleinv"],
    }


def rediagnose(checkpoint: str | Path, device: str = "auto") -> dict[str, Any]:
    """Re-run the diagnostics of a shipped checkpoint and rewrite its card's diagnostics and goals,
    and its gallery's land cover (read from the shipped gallery, not rendered again).

    For when the diagnostics themselves change (the drift test became a permutation test; land
    cover kept to a row-dependent model's data rows): a re-ship would re-measure everything and
    re-render the gallery for numbers that do not move.
    Same world seed and mode as the card; the card is rewritten atomically, weights untouched.
    """
    path = Path(checkpoint)
    card, ckpt = _carded(path)
    base = QUICK_DIAGNOSTICS if card.get("metrics", {}).get("mode") == "quick" else DiagnosticOptions()
    seed = int(card.get("diagnostics", {}).get("options", {}).get("seed", 0))
    model = model_from_checkpoint(ckpt, path)
    report = diagnose(model, card["name"], dataclasses.replace(base, seed=seed), str(choose_device(device)))
    fresh = diagnostic_verdicts(report)
    gallery = Path(card.get("gallery", {}).get("path", ""))
    if card.get("landcover") and gallery.is_file():  # the cover of the rows the data stands for
        prep = card["data"]
        whole = whole_data(prep)
        card["landcover"] = gallery_landcover(gallery, whole, gallery_rows(model, card["gallery"]["size"]))
        fresh.update(landcover.verdicts(card["landcover"]))
    old = card.get("goals", {})
    card["goals"] = {k: fresh.get(k, v) for k, v in old.items()} | {k: v for k, v in fresh.items() if k not in old}
    card["diagnostics"] = report
    write_bytes_atomic(card_path(path), json.dumps(card, indent=1).encode())
    return card


def remeasure(
    checkpoint: str | Path, device: str = "auto", progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Measure a shipped checkpoint again the current way (:class:`EvalOptions` defaults, the card's
    frame, mode and seed) and rewrite its card's metrics and the goals read from them.

    For when the measurement itself changes (real crops placed as training places them): the
    README table compares the cards with one another, so all of them must be measured alike, and a
    re-ship would render the gallery and run the diagnostics and inversion again for numbers that
    do not move. Weights, training record, diagnostics and land cover are untouched; the card is
    rewritten atomically.
    """
    say = progress or (lambda _message: None)
    path = Path(checkpoint)
    card, ckpt = _carded(path)
    old = card.get("metrics") or {}
    prep = card["data"]
    whole = whole_data(prep)
    data = whole.within(tuple(prep["holdout"]))
    mode, measured = old.get("mode", "full"), old.get("options") or {}
    frame = int(measured.get("frame") or data.fitting_side(int(prep["crop"])))
    options = eval_options(frame, mode == "quick", int(measured.get("seed", 0)))
    model = model_from_checkpoint(ckpt, path)
    started = time.perf_counter()
    metrics = measure_trained(model, card["name"], data, options, device, say, whole)
    metrics["mode"] = mode
    floor_ref = untrained_ref(ckpt.family, card.get("config_name"))
    add_floor(metrics, build_initial(ckpt.family, ckpt.config), floor_ref, data, options, device, say)
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    card["metrics"] = metrics
    fresh = goals(metrics["trained"], metrics["untrained"], metrics["real_vs_real"])
    card["goals"] = {**card.get("goals", {}), **fresh}
    write_bytes_atomic(card_path(path), json.dumps(card, indent=1).encode())
    return card


def _carded(path: Path) -> tuple[dict[str, Any], Any]:
    """``(card, checkpoint)`` of a shipped checkpoint whose card describes it; a one-line error if
    it has no readable card or the card is another file's (its sha256 differs)."""
    card = read_card(card_path(path))
    if card is None:
        raise InvalidInput(f"{path} has no readable model card; ship it with `models ship` first")
    ckpt = load_checkpoint(path)
    if ckpt.sha256 != card.get("checkpoint", {}).get("sha256"):
        raise InvalidInput(f"{path} is not the checkpoint its card describes (sha256 differs): re-ship it")
    return card, ckpt


def card_summary(card: dict[str, Any]) -> str:
    """A few lines for the terminal: what shipped, against floor and best possible, goals."""
    m = card["metrics"]
    t, u = m["trained"], m["untrained"]
    lines = [
        f"shipped {card['name']} ({card['family']}, {card['training']['steps']} steps) -> {card['checkpoint']['file']}",
        f"held-out SWD x1e3 on {m['data']} ({m['mode']}): {t['swd']:.2f}  untrained {u['swd']:.2f}  "
        f"real-vs-real {m['real_vs_real']['swd']:.2f}",
        f"∞-SWD {t['inf_swd']:.2f} ({m['reports']['trained']['inf_swd']['strip_px']} px strip); "
        + "ScaleInv "
        + ", ".join(f"{k}x {v:.2f}" for k, v in t["scaleinv"].items()),
    ]
    inv = card["inversion"]
    lines.append(
        f"inversion of {inv['trained']['crops']} held-out crops: {inv['trained']['psnr_db']:.2f} dB, "
        f"untrained {inv['untrained']['psnr_db']:.2f} dB"
    )
    for goal, verdict in card["goals"].items():
        value = "n/a" if verdict["value"] is None else f"{verdict['value']:.3g}"
        lines.append(f"goal {goal}: {value} vs {verdict['limit']:.3g}: {'pass' if verdict['pass'] else 'FAIL'}")
    lines.append(f"gallery {card['gallery']['path']}")
    return "\n".join(lines)
