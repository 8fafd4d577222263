"""Diagnostics for the regressions a trained model exposes: colour drift, repetition, seams.

None of them needs real data; each runs on any model (trained or random) through the Renderer,
deterministically given a seed, and ends in a verdict against a stated threshold.

- **Colour drift far from the origin.** Frames at x ≈ ±10^6, ±10^9, ±10^12 against frames near
  x = 0 of the same world: per-channel mean and std, and SWD (``engine.metrics.swd``). Sets of a
  few frames differ by sampling noise alone, so a *control* set near the origin (x ≈ 10^4, where
  nothing can go wrong numerically) gives the noise level. Verdict: the worst far SWD is at most
  :data:`DRIFT_SWD_LIMIT` x the control's, and the worst channel-mean shift at most
  :data:`DRIFT_MEAN_LIMIT` x the control's (+ :data:`DRIFT_MEAN_FLOOR` u8 levels). A model that
  loses float precision far out (positions turned into floats before their period was taken)
  shifts colour or texture there and fails both.
- **Repetition with the coordinate period.** For each period ``P`` of
  :meth:`Generator.coordinate_periods`, pairs of frames ``shift = P * ceil(S / P)`` apart (one
  period, or the first multiple that does not overlap) against pairs ``shift + r`` apart,
  ``r`` in ``[P/4, 3P/4]`` (as far out of phase as possible). Score =
  ``(ncc_period - ncc_offset) / (1 - ncc_offset)`` clipped to [0, 1], NCC being the normalised
  cross-correlation of mean-free pixels: 1 = frames a period apart are copies, 0 = no more alike
  than frames at an arbitrary offset. Verdict: every score at most :data:`REPETITION_LIMIT`.
- **Seams.** Max |difference| between a rect rendered at once and stitched from odd tiles; the
  consistency contract makes it 0, so the limit is 0 (the ``seams`` benchmark uses the same function).

Thresholds and why: SWD and mean shifts of small sets fluctuate by up to ~2x between two draws of
the same distribution (measured on random-init models of every family, see the diagnostics
benchmark), so drift must exceed twice the control's to count; a repetition score of 0.25 means
a quarter of the frame's variance (beyond chance) recurs one period later: a visible echo.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from engine.geometry import Rect
from engine.metrics.swd import SWDConfig, swd
from engine.models.base import Generator
from engine.render import Renderer
from engine.world import World

DRIFT_SWD_LIMIT = 2.0  # worst far-set SWD / control SWD
DRIFT_MEAN_LIMIT = 2.0  # worst far-set channel-mean shift / control's ...
DRIFT_MEAN_FLOOR = 4.0  # ... plus this many u8 levels (a control can be ~0 by chance)
REPETITION_LIMIT = 0.25
SEAM_LIMIT = 0
CONTROL_X = 10_000  # near the origin, numerically harmless: the sampling-noise control


@dataclass(frozen=True)
class DiagnosticOptions:
    frame: int = 64  # frame side S in px (>= 32: two SWD pyramid levels)
    frames: int = 12  # frames per drift set, and frame pairs per repetition period
    distances: tuple[int, ...] = (10**6, 10**9, 10**12)  # each also measured at -d
    seam_rect: tuple[int, int] = (300, 200)
    seam_tiles: tuple[int, int] = (71, 53)
    seed: int = 0
    swd: SWDConfig = field(default_factory=lambda: SWDConfig(patches_per_image=64, projections=128))


QUICK_DIAGNOSTICS = DiagnosticOptions(frame=32, frames=6, seam_rect=(150, 100))


def frame_row(renderer: Renderer, world: World, x: int, count: int, size: int) -> list[np.ndarray]:
    """``count`` frames of ``size`` px starting at world x, a frame apart, straddling row 0 (the
    horizon of InfinityGAN's vertical coordinate)."""
    rects = [Rect(x + 2 * i * size, -size // 2, size, size) for i in range(count)]
    return renderer.render(world, rects)


def _channel_stats(frames: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    pixels = np.stack(frames).reshape(-1, 3).astype(np.float64)
    return pixels.mean(axis=0), pixels.std(axis=0)


def colour_drift(renderer: Renderer, world: World, options: DiagnosticOptions) -> dict:
    """Far sets vs the origin set (and the control), see the module doc."""
    n, size = options.frames, options.frame
    origin = frame_row(renderer, world, 0, n, size)
    mean0, std0 = _channel_stats(origin)

    def compare(x: int) -> dict:
        frames = frame_row(renderer, world, x, n, size)
        mean, std = _channel_stats(frames)
        ratio = np.maximum(std, 1e-6) / np.maximum(std0, 1e-6)
        return {
            "x": x,
            "mean": mean.round(2).tolist(),
            "std": std.round(2).tolist(),
            "mean_shift_u8": float(np.abs(mean - mean0).max()),
            "std_ratio": float(np.maximum(ratio, 1 / ratio).max()),
            "swd": swd(origin, frames, options.swd).mean,
        }

    control = compare(CONTROL_X)
    far = [compare(sign * d) for d in options.distances for sign in (1, -1)]
    worst_swd = max(r["swd"] for r in far)
    worst_shift = max(r["mean_shift_u8"] for r in far)
    swd_ratio = worst_swd / control["swd"] if control["swd"] > 0 else math.inf
    mean_limit = DRIFT_MEAN_LIMIT * control["mean_shift_u8"] + DRIFT_MEAN_FLOOR
    return {
        "origin": {"mean": mean0.round(2).tolist(), "std": std0.round(2).tolist()},
        "control": control,
        "far": far,
        "worst_swd": worst_swd,
        "worst_swd_over_control": swd_ratio,
        "worst_mean_shift_u8": worst_shift,
        "mean_shift_limit_u8": mean_limit,
        "worst_std_ratio": max(r["std_ratio"] for r in far),
        "pass": swd_ratio <= DRIFT_SWD_LIMIT and worst_shift <= mean_limit,
    }


def ncc(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation of two ``(h, w, 3)`` images, each channel's mean removed; 0 if flat."""
    a = a.reshape(-1, 3).astype(np.float64)
    b = b.reshape(-1, 3).astype(np.float64)
    a, b = a - a.mean(axis=0), b - b.mean(axis=0)
    norm = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
    return float((a * b).sum()) / norm if norm > 0 else 0.0


def repetition(renderer: Renderer, world: World, periods: Sequence[int], options: DiagnosticOptions) -> dict:
    """Per period: NCC of frames a period apart vs out of phase, and the score (see the module doc)."""
    size = options.frame
    rows = []
    for period in periods:
        if period < 2:
            continue  # every offset is a multiple of 1 px: nothing to compare with
        shift = period * math.ceil(size / period)
        rng = np.random.default_rng([options.seed, period])
        lo, hi = max(1, math.ceil(period / 4)), min(period - 1, (3 * period) // 4)
        same, other = [], []
        for _ in range(options.frames):
            x = int(rng.integers(-(2**40), 2**40))
            y = int(rng.integers(-2 * size, size))
            r = int(rng.integers(lo, hi + 1))
            a, b, c = renderer.render(
                world, [Rect(x, y, size, size), Rect(x + shift, y, size, size), Rect(x + shift + r, y, size, size)]
            )
            same.append(ncc(a, b))
            other.append(ncc(a, c))
        at_period, offset = float(np.mean(same)), float(np.mean(other))
        score = (at_period - offset) / (1 - offset) if offset < 1 else 0.0
        rows.append(
            {
                "period": period,
                "shift": shift,
                "ncc_period": at_period,
                "ncc_offset": offset,
                "score": min(1.0, max(0.0, score)),
            }
        )
    worst = max((r["score"] for r in rows), default=0.0)
    return {"periods": rows, "worst_score": worst, "limit": REPETITION_LIMIT, "pass": worst <= REPETITION_LIMIT}


def seam_error(renderer: Renderer, world: World, rect: Rect, tiles: tuple[int, int] = (71, 53)) -> dict:
    """Max and mean |difference| (u8) between ``rect`` rendered at once and stitched from odd tiles.

    The stitched tiles are rendered with ``max_batch`` 3 (restored afterwards), so a model whose
    blocks depend on their batch-mates shows it too.
    """
    (whole,) = renderer.render(world, [rect])
    stitched = np.empty_like(whole)
    batch, renderer.max_batch = renderer.max_batch, 3
    try:
        for tile in rect.tiles(*tiles):
            (pixels,) = renderer.render(world, [tile])
            stitched[tile.y - rect.y : tile.bottom - rect.y, tile.x - rect.x : tile.right - rect.x] = pixels
    finally:
        renderer.max_batch = batch
    diff = np.abs(whole.astype(np.int16) - stitched.astype(np.int16))
    return {
        "rect": f"{rect.w}x{rect.h}",
        "seam_max_abs_u8": int(diff.max()),
        "seam_mean_abs_u8": float(diff.mean()),
    }


def diagnose(
    model: Generator,
    model_ref: str,
    options: DiagnosticOptions = DiagnosticOptions(),
    device: str | None = None,
) -> dict:
    """All three diagnostics of ``model`` on world ``(model_ref, options.seed)``, JSON-ready."""
    renderer = Renderer(model, device)
    world = World(model=model_ref, seed=options.seed)
    w, h = options.seam_rect
    seams = seam_error(renderer, world, Rect(10**9 + 7, -333, w, h), options.seam_tiles)
    seams.update(limit=SEAM_LIMIT, **{"pass": seams["seam_max_abs_u8"] <= SEAM_LIMIT})
    return {
        "model": model_ref,
        "options": asdict(options),
        "coordinate_periods": list(model.coordinate_periods()),
        "drift": colour_drift(renderer, world, options),
        "repetition": repetition(renderer, world, model.coordinate_periods(), options),
        "seams": seams,
    }


def verdicts(report: dict) -> dict:
    """The model-card goals of a :func:`diagnose` report: value, limit, pass (``engine.shipping``)."""
    drift, rep, seams = report["drift"], report["repetition"], report["seams"]
    return {
        "no_colour_drift_swd": {
            "value": drift["worst_swd_over_control"],
            "limit": DRIFT_SWD_LIMIT,
            "pass": drift["worst_swd_over_control"] <= DRIFT_SWD_LIMIT,
        },
        "no_colour_drift_mean": {
            "value": drift["worst_mean_shift_u8"],
            "limit": drift["mean_shift_limit_u8"],
            "pass": drift["worst_mean_shift_u8"] <= drift["mean_shift_limit_u8"],
        },
        "no_repetition_at_coordinate_period": {"value": rep["worst_score"], "limit": rep["limit"], "pass": rep["pass"]},
        "no_seams": {"value": seams["seam_max_abs_u8"], "limit": SEAM_LIMIT, "pass": seams["pass"]},
    }


def summary(report: dict) -> str:
    """A few markdown lines of a :func:`diagnose` report."""
    lines = [f"diagnostics of {report['model']} (coordinate periods {report['coordinate_periods'] or 'none'})", ""]
    lines += ["| check | value | limit | verdict |", "|---|---|---|---|"]
    for name, v in verdicts(report).items():
        lines.append(f"| {name} | {v['value']:.3g} | {v['limit']:.3g} | {'pass' if v['pass'] else 'FAIL'} |")
    for row in report["repetition"]["periods"]:
        lines.append(
            f"| repetition at {row['period']} px (shift {row['shift']}) | ncc {row['ncc_period']:.3f} "
            f"vs {row['ncc_offset']:.3f} | score {row['score']:.3f} | |"
        )
    return "\n".join(lines)
