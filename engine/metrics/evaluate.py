"""One model against one real data set: SWD, ∞-SWD, ScaleInv-SWD and the real-vs-real reference.

Used by ``everscape eval`` and the quality benchmark; returns plain JSON-ready data. All numbers
are SWD x 1e3 (see :mod:`engine.metrics.swd`); lower is better; real-vs-real is the floor that
sampling noise alone gives with the same number of images.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from engine.errors import InvalidInput
from engine.metrics.infinite import SCALES, infinite_swd, real_scaleinv_swd, render_frames, scaleinv_swd
from engine.metrics.realdata import RealImages
from engine.metrics.swd import SWDConfig, describe, swd_descriptors
from engine.models.base import Generator
from engine.render import Renderer, choose_device


@dataclass(frozen=True)
class EvalOptions:
    frame: int = 128  # frame side S in px (the training crop size)
    frames: int = 256  # independent generated frames, and real crops per real set
    strip_frames: int = 200  # frames in the ∞-SWD strip (strip width = strip_frames * frame)
    scale_frames: int = 64  # frames per ScaleInv zoom factor
    scales: tuple[int, ...] = SCALES
    seed: int = 0
    swd: SWDConfig = field(default_factory=SWDConfig)
    #: Where real crops fall and, for a row-dependent model, at which rows its frames are rendered
    #: (``engine.metrics.realdata``): ``centre``, as training places crops, or ``offset``. Recorded
    #: in every report's options, so a card measured the other way is not compared as a like.
    crop_sampling: str = "centre"

    def check(self) -> None:
        if self.frame < self.swd.patch or min(self.frames, self.strip_frames, self.scale_frames) < 1:
            raise InvalidInput(f"--frame must be >= {self.swd.patch} and every frame count >= 1")
        if self.strip_frames < 3:
            raise InvalidInput("--strip-frames must be >= 3 (the strip is split in thirds)")
        if any(s < 1 for s in self.scales):
            raise InvalidInput("zoom factors must be >= 1")
        if self.crop_sampling not in ("centre", "offset"):
            raise InvalidInput(f"metric crop sampling must be centre or offset, not {self.crop_sampling!r}")


QUICK = EvalOptions(
    frame=64, frames=48, strip_frames=24, scale_frames=12, swd=SWDConfig(patches_per_image=64, projections=128)
)


def evaluate(
    model: Generator,
    model_ref: str,
    data: RealImages,
    options: EvalOptions = EvalOptions(),
    device: str | torch.device | None = None,
    progress: Callable[[str], None] | None = None,
    whole: RealImages | None = None,
) -> dict:
    """Every metric of ``model`` (named ``model_ref`` in worlds) against ``data``; see module doc.

    ``whole``: the data a held-out band ``data`` was cut from. The band is too narrow for the
    real ``N*S`` crops of the ScaleInv reference beyond a zoom or two, so the same procedure is
    also run with zoomed crops of the whole data (against the band's ``S`` crops, as the model's
    are): how far from scale invariant the data itself is at every zoom the whole image allows.
    Its 1× entry is the band-vs-whole difference, the part of every entry that is not zoom.
    """
    options.check()
    renderer = Renderer(model, device)
    timer = _Timer(progress or (lambda _message: None))
    real, other, frame_swd, strip_row_swd = _frame_swds(renderer, model_ref, data, options, timer)
    dev, cfg = renderer.device, options.swd
    inf = timer(
        "strip",
        lambda: infinite_swd(renderer, model_ref, real, options.strip_frames, options.frame, cfg, options.seed, dev),
    )
    inf["ratio_to_frames"] = inf["swd"]["mean"] / strip_row_swd.mean if strip_row_swd.mean > 0 else None
    scaled, real_scaled, real_whole = _scaleinv_swds(renderer, model_ref, data, whole, real, options, timer)
    return {
        "model": model_ref,
        "data": data.name,
        "device": str(dev),
        "units": "SWD x 1e3 on Laplacian-pyramid 7x7 patches (lower is better); levels keyed by resolution",
        "options": asdict(options),
        "real_vs_real": swd_descriptors(real, other, cfg).to_json(),
        "swd": frame_swd.to_json(),
        **({"frames_at_rows": True, "swd_at_strip_row": strip_row_swd.to_json()} if model.row_dependent else {}),
        "inf_swd": inf,
        "scaleinv": {str(k): v.to_json() for k, v in scaled.items()},
        "real_scaleinv": {str(k): (v.to_json() if v else None) for k, v in real_scaled.items()},
        "real_whole_scaleinv": {str(k): (v.to_json() if v else None) for k, v in real_whole.items()},
        "seconds": timer.seconds,
    }


class _Timer:
    """Runs each metric under its name: says it started, keeps its seconds for the report."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str, function: Callable[[], Any]) -> Any:
        self.say(f"{name}...")
        start = time.perf_counter()
        value = function()
        self.seconds[name] = round(time.perf_counter() - start, 2)
        return value


def _frame_swds(renderer: Renderer, model_ref: str, data: RealImages, options: EvalOptions, timer: _Timer) -> tuple:
    """Real descriptors, a second real set's, the frames' SWD and the SWD of frames on the strip's row.

    The strip runs along the origin's row: a row-dependent model's ratio divides it by frames
    from that row (where every other model's frames are), not from all its rows."""
    dev, cfg, size, sampling = renderer.device, options.swd, options.frame, options.crop_sampling

    def real_crops(seed: int) -> torch.Tensor:
        return data.crops(options.frames, size, seed, sampling=sampling)

    def frames(**placement: Any) -> Any:
        return describe(
            render_frames(renderer, model_ref, options.frames, size, options.seed, **placement), cfg, dev, stream=1
        )

    real = timer("real", lambda: describe(real_crops(options.seed), cfg, dev, stream=0))
    other = timer("real_b", lambda: describe(real_crops(options.seed + 1), cfg, dev, stream=4))
    generated = timer("frames", lambda: frames(sampling=sampling))
    frame_swd = swd_descriptors(real, generated, cfg)
    strip_row_swd = frame_swd
    if renderer.model.row_dependent:
        at_origin = timer("frames_at_strip_row", lambda: frames(at_rows=False))
        strip_row_swd = swd_descriptors(real, at_origin, cfg)
    return real, other, frame_swd, strip_row_swd


def _scaleinv_swds(
    renderer: Renderer,
    model_ref: str,
    data: RealImages,
    whole: RealImages | None,
    real: Any,
    options: EvalOptions,
    timer: _Timer,
) -> tuple[dict, dict, dict]:
    """ScaleInv-SWD of the model, and the same procedure on real crops of ``data`` and ``whole``."""
    dev, cfg, size, sampling = renderer.device, options.swd, options.frame, options.crop_sampling
    zooms = (options.scale_frames, size, cfg, options.scales, options.seed, dev, sampling)
    scaled = timer("scaleinv", lambda: scaleinv_swd(renderer, model_ref, real, *zooms))
    real_scaled = timer("real_scaleinv", lambda: real_scaleinv_swd(data, real, *zooms))
    real_whole = (
        timer("real_whole_scaleinv", lambda: real_scaleinv_swd(whole, real, *zooms)) if whole is not None else {}
    )
    return scaled, real_scaled, real_whole


def summary(report: dict) -> str:
    """A short markdown table of the means in ``report``."""
    rows = [
        ("real vs real (best possible)", report["real_vs_real"]["mean"]),
        (
            "SWD, independent frames" + (" over the data's rows" if report.get("frames_at_rows") else ""),
            report["swd"]["mean"],
        ),
        *(
            [("SWD, frames at the strip's row", report["swd_at_strip_row"]["mean"])]
            if "swd_at_strip_row" in report
            else []
        ),
        (f"∞-SWD, {report['inf_swd']['strip_px']} px strip", report["inf_swd"]["swd"]["mean"]),
        ("∞-SWD first third", report["inf_swd"]["first_third"]["mean"]),
        ("∞-SWD last third", report["inf_swd"]["last_third"]["mean"]),
        ("strip first vs last third", report["inf_swd"]["first_vs_last_third"]["mean"]),
    ]
    for zoom, value in report["scaleinv"].items():
        real = [
            f"{label}: {entry['mean']:.1f}"
            for label, entry in (
                ("real data", report["real_scaleinv"].get(zoom)),
                ("whole real data", report.get("real_whole_scaleinv", {}).get(zoom)),
            )
            if entry
        ]
        rows.append((f"ScaleInv-SWD {zoom}x" + (f" ({', '.join(real)})" if real else ""), value["mean"]))
    lines = [
        f"{report['model']} vs {report['data']} on {report['device']} (SWD x 1e3, lower is better)",
        "",
        "| metric | SWD x1e3 |",
        "|---|---|",
    ]
    lines += [f"| {name} | {value:.2f} |" for name, value in rows]
    return "\n".join(lines)


class HeldOutSWD:
    """SWD of a model's frames against fixed real crops: the training loop's ``metric_fn``.

    The real crops and their descriptors are drawn once, so successive snapshots of one run are
    scored against the very same set and differ only by the model (and the frames' fixed seed):
    ``best.safetensors`` then means "lowest held-out SWD so far", as StyleGAN picks its best FID.
    """

    def __init__(self, data: RealImages, options: EvalOptions = QUICK, device: str | torch.device | None = None):
        self.options, self.device = options, choose_device(None if device is None else str(device))
        crops = data.crops(options.frames, options.frame, options.seed, sampling=options.crop_sampling)
        self.real = describe(crops, options.swd, self.device)

    def __call__(self, model: Generator) -> float:
        renderer = Renderer(model, self.device)
        opts = self.options
        frames = render_frames(
            renderer, "training-snapshot", opts.frames, opts.frame, opts.seed, sampling=opts.crop_sampling
        )
        generated = describe(frames, opts.swd, renderer.device, stream=1)
        return float(swd_descriptors(self.real, generated, opts.swd).mean)
