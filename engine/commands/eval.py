"""``everscape eval``: a model's SWD, ∞-SWD and ScaleInv-SWD against real crops, as a table and JSON."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from engine.atomic import write_bytes_atomic
from engine.errors import InvalidInput
from engine.metrics.diagnostics import QUICK_DIAGNOSTICS, DiagnosticOptions, diagnose
from engine.metrics.diagnostics import summary as diagnostics_summary
from engine.metrics.evaluate import QUICK, EvalOptions, evaluate, summary
from engine.metrics.latitudes import LatitudeOptions, latitude_cover
from engine.metrics.latitudes import summary as latitudes_summary
from engine.metrics.realdata import BASEMAPS, RealImages
from engine.models.registry import get_family, load_model

HELP = "measure a model's quality (SWD, ∞-SWD, ScaleInv-SWD) against real images, and its diagnostics"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="checkpoint name or path, or FAMILY:CONFIG")
    parser.add_argument(
        "--data",
        help=f"real images: {', '.join(BASEMAPS)}, an image file or a folder (default: a trained checkpoint's "
        "own training data, prepared as in training; else bluemarble)",
    )
    parser.add_argument(
        "--band",
        help="measure only real crops inside this band of the width, e.g. 0.45,0.55 (default: a trained "
        "checkpoint's held-out band when --data is not given; 'none': the whole width)",
    )
    parser.add_argument("--frame", type=int, help="frame side in px (default: the model's training crop, else 128)")
    parser.add_argument("--frames", type=int, help="generated frames and real crops per set (default 256)")
    parser.add_argument("--strip-frames", type=int, help="frames in the ∞-SWD strip (default 200)")
    parser.add_argument("--scale-frames", type=int, help="frames per ScaleInv zoom factor (default 64)")
    parser.add_argument("--scales", help="ScaleInv zoom factors, comma separated (default 1,2,4,8)")
    parser.add_argument("--projections", type=int, help="random SWD directions (default 512)")
    parser.add_argument("--seed", type=int, default=0, help="seed of worlds, crops and SWD draws")
    parser.add_argument("--json", metavar="PATH", help="also write the full report as JSON")
    parser.add_argument("--quick", action="store_true", help="small sets and frames: a rough number in seconds")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    extra_measure(
        parser,
        "--diagnostics",
        "also measure colour drift far out, repetition at the coordinate period and seams (no real data needed)",
    )
    extra_measure(
        parser,
        "--latitudes",
        "row-dependent models (InfinityGAN): also compare land cover (ocean, ice, desert, forest) per tenth of "
        "the rows on eight pole-to-pole strips with the training data's (seconds: a run's check that it draws "
        "each latitude, e.g. the poles' ice)",
    )


def extra_measure(parser: argparse.ArgumentParser, flag: str, help: str) -> None:
    """A measure beside the SWD metrics: ``FLAG`` adds it, ``FLAG only`` measures it alone."""
    parser.add_argument(
        flag, choices=("add", "only"), nargs="?", const="add", help=f"{help}; 'only' skips the SWD metrics"
    )


def options_from_args(args: argparse.Namespace, model_frame: int | None) -> EvalOptions:
    base = QUICK if args.quick else EvalOptions(frame=model_frame or EvalOptions.frame)
    changes: dict = {"seed": args.seed}
    for name in ("frame", "frames", "strip_frames", "scale_frames"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    if args.scales:
        try:
            changes["scales"] = tuple(int(s) for s in args.scales.split(","))
        except ValueError:
            raise InvalidInput(f"--scales must be integers separated by commas, got {args.scales!r}") from None
    swd = dataclasses.replace(base.swd, seed=args.seed)
    if args.projections is not None:
        if args.projections < 1:
            raise InvalidInput("--projections must be >= 1")
        swd = dataclasses.replace(swd, projections=args.projections)
    options = dataclasses.replace(base, swd=swd, **changes)
    options.check()
    return options


def parse_band(text: str | None) -> tuple[float, float] | None:
    if not text or text.lower() == "none":
        return None
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise InvalidInput(f"--band must be START,END fractions of the width, not {text!r}") from None
    return lo, hi


def training_frame(model) -> int | None:
    """The family's real crop size for this config, when the family says (the size it was trained at)."""
    crop = get_family(model.family).crop_size
    return int(crop(model.config)) if crop else None


def real_data(args: argparse.Namespace, header: dict) -> tuple[RealImages, tuple[float, float] | None]:
    """The whole real image set and the band to measure in (``header``: the checkpoint's training facts).

    Why the training data by default: a model trained on Blue Marble halved and without its
    Antarctic rows, measured against the map at full size with Antarctica, scores the difference
    of the two preparations, not the model; ``models ship`` measures on the data as prepared for
    training, so ``eval`` of a trained checkpoint does too, in its held-out band, and its
    numbers read against the card's.
    """
    band = parse_band(args.band)  # a bad --band fails before any decoding
    if args.data or not header.get("data"):
        return RealImages.load(args.data or "bluemarble"), band
    scale, drop = float(header.get("scale") or 1.0), float(header.get("drop_bottom") or 0.0)
    if not args.band and header.get("holdout"):
        band = (float(header["holdout"][0]), float(header["holdout"][1]))
    where = f"band {band[0]:g}-{band[1]:g}" if band else "whole width"
    print(
        f"everscape: real images: {header['data']} as prepared for training (scale {scale:g}, "
        f"bottom {drop:.3g} dropped), {where}",
        file=sys.stderr,
    )
    return RealImages.load(header["data"], None, scale, drop), band


def run(args: argparse.Namespace) -> int:
    loaded = load_model(args.model)
    report: dict = {"model": loaded.ref}
    if args.latitudes and not loaded.model.row_dependent:
        raise InvalidInput(f"--latitudes is for row-dependent models; {loaded.ref} draws every row alike")
    if args.diagnostics == "only" and args.latitudes == "only":
        raise InvalidInput("--diagnostics only and --latitudes only exclude each other: give one")
    prepared = None  # the real images, whole, as prepared for training: decoded once
    if "only" not in (args.diagnostics, args.latitudes):
        prepared, band = real_data(args, loaded.meta)
        data, whole = (prepared, None) if band is None else (prepared.within(band), prepared)
        frame = training_frame(loaded.model)
        options = options_from_args(args, frame and data.fitting_side(frame))
        report = evaluate(
            loaded.model,
            loaded.ref,
            data,
            options,
            args.device,
            progress=lambda m: print(m, file=sys.stderr),
            whole=whole,
        )
        print(summary(report))
    if args.diagnostics:
        base = QUICK_DIAGNOSTICS if args.quick else DiagnosticOptions()
        print("diagnostics...", file=sys.stderr)
        options = dataclasses.replace(base, seed=args.seed)
        report["diagnostics"] = diagnose(loaded.model, loaded.ref, options, args.device)
        print(diagnostics_summary(report["diagnostics"]))
    if args.latitudes:
        print("land cover by latitude...", file=sys.stderr)
        if prepared is None:
            prepared, _ = real_data(args, {**loaded.meta, "holdout": None})  # every latitude: no band
        options = LatitudeOptions(seed=args.seed)
        report["latitudes"] = latitude_cover(loaded.model, loaded.ref, prepared, options, args.device)
        print(latitudes_summary(report["latitudes"]))
    report["model_sha256"] = loaded.sha256
    if args.json:
        write_bytes_atomic(args.json, json.dumps(report, indent=1).encode())
    return 0
