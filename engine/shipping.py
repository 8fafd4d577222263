"""Ship a trained run: measured checkpoint, model card and gallery render under one name.

``everscape models ship RUN_DIR --name NAME`` takes the run's ``best.safetensors`` (else
``last.safetensors``) and, in this order:

1. refuses checkpoints over :data:`MAX_BYTES` (shipped files live in the repository);
2. measures it with :func:`engine.metrics.evaluate.evaluate` against real crops from the
   *held-out band* of the data it was trained on, prepared as in training (both read from the
   checkpoint header, which ``everscape train`` fills; else from the recipe called ``NAME``),
   and measures the untrained model of the same config (the very weights the run started from:
   the floor to beat) the same way; the report carries real-vs-real (the best possible);
   then runs :mod:`engine.metrics.diagnostics` (colour drift far from the origin, repetition at
   the coordinate period, seams), whose verdicts join the card's goals;
3. writes ``DEST/NAME.safetensors`` (the weights, header updated with the name and a metrics
   summary), then the gallery ``GALLERY/NAME.jpg`` through :func:`engine.export.export`
   (streamed, bounded memory), whose land cover (:mod:`engine.metrics.landcover`: ocean, ice,
   desert, forest and coastline shares against the prepared data's) adds the "draws_*" goals,
   then the card ``DEST/NAME.json`` (:mod:`engine.cards`) last, so a card always describes
   files that exist. Every write is atomic.

Full mode measures as the issue asks (frames at the training crop size, a 100 000 px ∞-SWD
strip, ScaleInv at 1/2/4/8x) and renders 4096x2048; ``quick`` uses ``everscape eval --quick``'s
sets, a short strip and a 512x256 render, for tests and a first look on a CPU.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from engine.atomic import atomic_path, write_bytes_atomic
from engine.cards import FORMAT, card_path, heldout_swd, read_card
from engine.checkpoints import file_sha256, load_checkpoint, save_checkpoint
from engine.errors import InvalidInput
from engine.export import export
from engine.geometry import Rect
from engine.metrics import landcover
from engine.metrics.diagnostics import QUICK_DIAGNOSTICS, DiagnosticOptions, diagnose
from engine.metrics.diagnostics import verdicts as diagnostic_verdicts
from engine.metrics.evaluate import QUICK, EvalOptions, HeldOutSWD, evaluate
from engine.metrics.inversion import QUICK_INVERSION, InversionOptions, inversion_psnr
from engine.metrics.realdata import RealImages
from engine.models.base import Generator
from engine.models.registry import build_initial, get_family, model_from_checkpoint
from engine.render import Renderer, choose_device
from engine.train import critic_weights
from engine.train.recipes import RECIPES
from engine.train.state import FILENAME, load_state
from engine.world import World

MAX_BYTES = 40 * 1000**2  # 40 MB: the limit for a shipped checkpoint
STRIP_PX = 100_000  # ∞-SWD strip width in full mode
GALLERY = (4096, 2048)
QUICK_GALLERY = (512, 256)
GALLERY_JPEG_QUALITY = 90
INF_SWD_LIMIT = 1.1  # goal: ∞-SWD <= 1.1 x SWD of independent frames
SCALEINV_LIMIT = 2.0  # goal: ScaleInv-SWD at 8x <= 2 x at 1x
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


def preparation(meta: dict[str, Any], name: str) -> dict[str, Any]:
    """The training data and its preparation: from the checkpoint header, else the recipe ``NAME``."""
    recipe = RECIPES.get(meta.get("recipe") or name)
    base = recipe.preprocessing() if recipe is not None else {}
    prep = {key: meta.get(key, base.get(key)) for key in ("data", "scale", "drop_bottom", "holdout", "hflip")}
    if not prep["data"]:
        raise InvalidInput(
            f"cannot tell what data {name} was trained on: no data in its header, no recipe of that name"
        )
    if not prep["holdout"]:
        raise InvalidInput(f"{name} was trained without a held-out band (--holdout): nothing unseen to measure on")
    prep["scale"] = float(prep["scale"] if prep["scale"] is not None else 1.0)
    prep["drop_bottom"] = float(prep["drop_bottom"] or 0.0)
    prep["holdout"] = [float(v) for v in prep["holdout"]]
    return prep


def whole_data(prep: dict[str, Any]) -> RealImages:
    """The whole training data of :func:`preparation`'s ``prep``, prepared as the model saw it
    (the held-out band is ``.within(prep["holdout"])``)."""
    return RealImages.load(prep["data"], None, prep["scale"], prep["drop_bottom"])


def untrained_ref(family: str, config_name: str | None) -> str:
    """The model reference the untrained floor's worlds are named by."""
    return f"{family}:{config_name or 'untrained'}"


def eval_options(frame: int, quick: bool, seed: int) -> EvalOptions:
    """Full: the training frame, a :data:`STRIP_PX` strip. Quick: ``eval --quick``'s sets."""
    if quick:
        options = dataclasses.replace(QUICK, frame=min(frame, QUICK.frame), seed=seed)
    else:
        options = EvalOptions(frame=frame, strip_frames=max(3, math.ceil(STRIP_PX / frame)), seed=seed)
    return dataclasses.replace(options, swd=dataclasses.replace(options.swd, seed=seed))


def _means(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "swd": report["swd"]["mean"],
        "inf_swd": report["inf_swd"]["swd"]["mean"],
        "inf_swd_ratio": report["inf_swd"]["ratio_to_frames"],
        "inf_first_vs_last_third": report["inf_swd"]["first_vs_last_third"]["mean"],
        "scaleinv": {zoom: value["mean"] for zoom, value in report["scaleinv"].items()},
    }


def data_zoom_ratio(real: dict[str, Any] | None, limit_zoom: int = 8) -> dict[str, Any] | None:
    """The data's own ScaleInv ratio: whole-data zoomed crops vs the band, N× over 1×, at the
    largest zoom ``N <= limit_zoom`` the whole image allows (``None`` without the reference).

    A model of the data that were perfect would score this, not 1: it is what the goal's ratio
    is to be read against (a map zoomed out shows more coast per pixel than a map at 1:1).
    """
    whole = (real or {}).get("whole_scaleinv") or {}
    base = whole.get("1")
    zooms = [int(z) for z, v in whole.items() if v is not None and 1 < int(z) <= limit_zoom]
    if not base or not zooms:
        return None
    zoom = max(zooms)
    return {"zoom": zoom, "ratio": whole[str(zoom)] / base}


def goals(trained: dict[str, Any], untrained: dict[str, Any], real: dict[str, Any] | None = None) -> dict[str, Any]:
    """The issue's goals (and beating the floor), each with its value, limit and verdict.

    ``real`` (the card's ``real_vs_real``) adds the data's own zoom ratio beside the ScaleInv goal.
    """
    ratio = trained["inf_swd_ratio"]
    scaleinv = trained["scaleinv"]
    zoom_ratio = scaleinv["8"] / scaleinv["1"] if "8" in scaleinv and scaleinv.get("1") else None
    scale_goal = {
        "value": zoom_ratio,
        "limit": SCALEINV_LIMIT,
        "pass": zoom_ratio is not None and zoom_ratio <= SCALEINV_LIMIT,
    }
    own = data_zoom_ratio(real)
    if own is not None:
        scale_goal["data"] = own
    return {
        "inf_swd_over_frame_swd": {
            "value": ratio,
            "limit": INF_SWD_LIMIT,
            "pass": ratio is not None and ratio <= INF_SWD_LIMIT,
        },
        "scaleinv_8x_over_1x": scale_goal,
        "beats_untrained_swd": {
            "value": trained["swd"],
            "limit": untrained["swd"],
            "pass": trained["swd"] < untrained["swd"],
        },
    }


def measure_trained(
    model: torch.nn.Module,
    ref: str,
    data: RealImages,
    options: EvalOptions,
    device: str | None,
    say: Callable[[str], None],
    whole: RealImages | None = None,
) -> dict[str, Any]:
    """The trained model through :func:`evaluate`: the card's metrics, all but the floor.

    ``whole``: the data the band ``data`` was cut from, for the data's own ScaleInv at every zoom.
    Split from :func:`add_floor` so a ship that :func:`refuse_if_worse` stops has paid for one
    measurement, not two.
    """
    say("measuring the trained model")
    report = evaluate(model, ref, data, options, device, progress=lambda m: say(f"  trained: {m}"), whole=whole)
    return {
        "data": report["data"],
        "device": report["device"],
        "units": report["units"],
        "options": report["options"],
        **({"frames_at_rows": True} if report.get("frames_at_rows") else {}),
        "trained": _means(report),
        "real_vs_real": {
            "swd": report["real_vs_real"]["mean"],
            "scaleinv": {k: (v["mean"] if v else None) for k, v in report["real_scaleinv"].items()},
            "whole_scaleinv": {k: (v["mean"] if v else None) for k, v in report.get("real_whole_scaleinv", {}).items()},
        },
        "reports": {"trained": report},
    }


def add_floor(
    metrics: dict[str, Any],
    untrained: torch.nn.Module,
    ref: str,
    data: RealImages,
    options: EvalOptions,
    device: str | None,
    say: Callable[[str], None],
) -> None:
    """Measure the untrained model on the same sets as :func:`measure_trained` and add it to ``metrics``."""
    say("measuring the untrained model (the floor)")
    floor = evaluate(untrained, ref, data, options, device, progress=lambda m: say(f"  untrained: {m}"))
    metrics["untrained"] = _means(floor)
    metrics["reports"]["untrained"] = floor


#: What two measurements must share for their SWDs to be two draws of one measurement.
COMPARED = ("mode", "data", "options", "frames_at_rows")


def _measured_as(metrics: dict[str, Any]) -> dict[str, Any]:
    """The :data:`COMPARED` entries of ``metrics`` as a card holds them (JSON: tuples are lists)."""
    return json.loads(json.dumps({k: metrics.get(k) for k in COMPARED}))


def comparable(card: dict[str, Any], metrics: dict[str, Any]) -> bool:
    """Whether ``card``'s metrics were measured like ``metrics``: same mode, data and options (seeds,
    set sizes, frame), so their SWDs are two draws of one measurement, not of two."""
    old = card.get("metrics") or {}
    return all(old.get(key) == value for key, value in _measured_as(metrics).items())


def shipped_measured_alike(
    target: Path,
    card: dict[str, Any] | None,
    metrics: dict[str, Any],
    data: RealImages,
    options: EvalOptions,
    device: str | None,
    say: Callable[[str], None],
) -> dict[str, Any] | None:
    """The card of the model shipped at ``target`` with its held-out SWD measured as ``metrics`` were.

    ``card`` itself when it was (:func:`comparable`); else the shipped weights' frames are measured
    now, the way ``metrics`` were (a frame set, not the whole measurement), so a change in how
    models are measured never waves a worse model through the guard. None when nothing ships there.
    """
    if card is None or comparable(card, metrics) or not target.is_file():
        return card
    say(f"the shipped {target.name} was measured another way: measuring its frames as this model's")
    shipped = model_from_checkpoint(load_checkpoint(target), target)
    swd = HeldOutSWD(data, options, device)(shipped)
    say(f"  shipped: held-out SWD {swd:.1f}, this model: {metrics['trained']['swd']:.1f}")
    return {"metrics": {**_measured_as(metrics), "trained": {"swd": swd}}}


def refuse_if_worse(card: dict[str, Any] | None, metrics: dict[str, Any], source: Path, name: str) -> None:
    """Stop a ship that would replace a better model: raise when the card already shipped as
    ``name`` was measured the same way and has the lower held-out SWD.

    Why: a warm-started run's own best snapshot is picked on a quick score, and the shipped model
    was picked the same way, so "best of this run" says nothing about "better than what ships";
    the full measurement on the same sets does. The measurement is the expensive part and is
    done by then (the trained half of it: the floor, diagnostics, inversion and gallery are not
    started); the message carries both numbers, and nothing is written.
    """
    if card is None or not comparable(card, metrics):
        return
    old, new = heldout_swd(card), metrics["trained"]["swd"]
    if old is not None and new > old:
        raise InvalidInput(
            f"not shipped: {source} measures held-out SWD {new:.1f}, worse than the {old:.1f} of the "
            f"{name} already shipped (same sets); pass --replace-worse to ship it anyway"
        )


def render_gallery(
    model: torch.nn.Module, world: World, path: Path, size: tuple[int, int], device: str | None
) -> dict[str, Any]:
    """A ``w x h`` render centred on the world origin, saved as a JPEG at ``path``.

    Rendered by the exporter (streamed, bounded memory) to a temporary PNG, then re-encoded:
    a 4096x2048 render of terrain is about 11 MB as PNG and about a tenth of that as a quality-90
    JPEG, and gallery images live in the repository, where every re-ship adds to its history.
    The decoded image (25 MB for 4096x2048) is the only full-size buffer.
    """
    w, h = size
    rect = Rect(-w // 2, -h // 2, w, h)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.stem}.{os.getpid()}.", suffix=".part.png", dir=path.parent)
    os.close(handle)
    png = Path(name)
    try:
        result = export(Renderer(model, device), world, rect, png)
        assert result is not None  # one process: this process writes
        with Image.open(png) as image, atomic_path(path) as jpeg:
            image.convert("RGB").save(jpeg, format="JPEG", quality=GALLERY_JPEG_QUALITY, optimize=True)
    finally:
        png.unlink(missing_ok=True)
    return {
        "path": str(path),
        "size": [w, h],
        "rect": str(rect),
        "seed": world.seed,
        "seconds": round(result.seconds, 1),
    }


LANDCOVER_DATA_IMAGES = 32  # images of a folder pooled for its land cover (a basemap is one image)


def gallery_rows(model: Generator, size: Sequence[int]) -> tuple[int, int] | None:
    """Rows of a ``w x h`` gallery (:func:`render_gallery`, centred on the origin) that show a
    row-dependent model's data rows (:meth:`Generator.data_rows`), clipped to it; None: all rows."""
    rows = model.data_rows()
    if rows is None:
        return None
    h = int(size[1])
    return max(rows[0] + h // 2, 0), min(rows[1] + h // 2, h)


def gallery_landcover(gallery: Path, data: RealImages, rows: tuple[int, int] | None = None) -> dict[str, Any]:
    """Land cover of the gallery render against the prepared data's (whole images).

    ``rows`` (:func:`gallery_rows`) keeps a row-dependent model's gallery to the rows that stand
    for the data's height: the data runs pole to pole once, and rows beyond the poles are the
    model's extrapolation, not a part of the map. Measured on InfinityGAN's shipped gallery: ice
    3.2 % beyond its poles, 1.0 % between them, 1.8 % over the whole render.
    """
    with Image.open(gallery) as image:
        pixels = np.asarray(image.convert("RGB"))
    if rows is not None:
        pixels = pixels[rows[0] : rows[1]]
    images = data.images(LANDCOVER_DATA_IMAGES)
    reference = landcover.pooled([(landcover.cover(im), im.shape[0] * im.shape[1]) for im in images])
    result = landcover.compare(landcover.cover(pixels), reference)
    if rows is not None:
        result["gallery_rows"] = list(rows)
        result["by_latitude"] = landcover.band_comparison(pixels, images)
    return result


def ship_critic(source: Path, target: Path, sha: str, say: Callable[[str], None]) -> dict[str, Any] | None:
    """Ship the critic of ``source``'s run beside ``target`` (paired with its ``sha``); its card entry.

    The critic is the run's latest (``train_state.safetensors``), trained against the generator
    up to the end of the run: the best partner a later warm start can have. A run without one (a
    bare checkpoint file) ships none, and a critic shipped earlier under the name is removed: it
    was trained against other weights.
    """
    companion = critic_weights.companion_path(target)
    state = source.parent / FILENAME
    if not state.is_file():
        companion.unlink(missing_ok=True)
        return None
    critic = critic_weights.from_run(state)
    say(f"writing the critic {companion} (step {critic.step})")
    size = critic_weights.save(companion, critic, sha)
    return {"file": f"{companion.parent.name}/{companion.name}", "bytes": size, "step": critic.step}


def pair_critic(run: str | Path, checkpoint: Path, say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Ship the critic of ``run`` beside the already shipped ``checkpoint``; returns its card entry.

    For a run that trained only its critic against a shipped generator (``everscape train --init
    NAME --critic-warmup N`` with N beyond the run): the generator never moved, so shipping the
    run again would re-measure the same weights for half an hour. The pairing is honest or
    refused: the run's generator and its EMA must equal the shipped weights exactly. The card, when
    there is one, gets the critic's entry (rewritten atomically; weights and gallery untouched).
    """
    say = say or (lambda _message: None)
    state_path = Path(run) / FILENAME
    if not state_path.is_file():
        raise InvalidInput(f"{run} holds no {FILENAME} (is it an `everscape train` --out?)")
    state = load_state(state_path)
    ckpt = load_checkpoint(checkpoint)
    for part in ("generator", "ema"):
        weights = (state.get("trainer") or {}).get(part) or {}
        same = weights.keys() == ckpt.weights.keys() and all(
            torch.equal(weights[k].to(v.dtype), v) for k, v in ckpt.weights.items()
        )
        if not same:
            raise InvalidInput(
                f"the {part} of {run} is not the generator of {checkpoint}: its critic was trained against "
                "other weights (ship the run itself with `models ship`)"
            )
    critic = critic_weights.from_state(state, state_path)
    companion = critic_weights.companion_path(checkpoint)
    say(f"writing the critic {companion} (step {critic.step})")
    size = critic_weights.save(companion, critic, ckpt.sha256 or file_sha256(checkpoint))
    entry = {"file": f"{companion.parent.name}/{companion.name}", "bytes": size, "step": critic.step}
    card = read_card(card_path(checkpoint))
    if card is not None:
        card["critic"] = entry
        write_bytes_atomic(card_path(checkpoint), json.dumps(card, indent=1).encode())
    return entry


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
    inversion_options = dataclasses.replace(QUICK_INVERSION if options.quick else InversionOptions(), seed=options.seed)
    inversion = {
        "trained": inversion_psnr(model, name, data, inversion_options, options.device),
        "untrained": inversion_psnr(untrained, floor_ref, data, inversion_options, options.device),
    }
    verdicts["inversion_beats_untrained"] = {
        "value": inversion["trained"]["psnr_db"],
        "limit": inversion["untrained"]["psnr_db"],
        "pass": inversion["trained"]["psnr_db"] > inversion["untrained"]["psnr_db"],
    }

    options.dest.mkdir(parents=True, exist_ok=True)
    summary = {
        "mode": metrics["mode"],
        "data": metrics["data"],
        "heldout_swd": metrics["trained"]["swd"],
        "untrained_swd": metrics["untrained"]["swd"],
        "real_vs_real_swd": metrics["real_vs_real"]["swd"],
        "inf_swd": metrics["trained"]["inf_swd"],
        "scaleinv": metrics["trained"]["scaleinv"],
    }
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

    card = {
        "format": FORMAT,
        "name": name,
        "family": ckpt.family,
        "config_name": config_name,
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
        "critic": critic,
        "metrics": metrics,
        "diagnostics": diagnostics,
        "inversion": inversion,
        "goals": verdicts,
        "gallery": gallery,
        "landcover": cover,
        "evaluated_on": device,
    }
    write_bytes_atomic(card_path(target), json.dumps(card, indent=1).encode())
    return card


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
