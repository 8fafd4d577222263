"""What a release measures: held-out SWD of the trained and the untrained model on the data it
was trained on, the goals on the model card, and the guard against replacing a better model.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from engine.cards import heldout_swd
from engine.checkpoints import load_checkpoint
from engine.errors import InvalidInput
from engine.metrics.evaluate import QUICK, EvalOptions, HeldOutSWD, evaluate
from engine.metrics.realdata import RealImages
from engine.models.registry import model_from_checkpoint
from engine.train.recipes import RECIPES

STRIP_PX = 100_000  # ∞-SWD strip width in full mode
INF_SWD_LIMIT = 1.1  # goal: ∞-SWD <= 1.1 x SWD of independent frames
SCALEINV_LIMIT = 2.0  # goal: ScaleInv-SWD at 8x <= 2 x at 1x


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
