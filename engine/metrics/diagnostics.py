"""Diagnostics for the regressions a trained model exposes: colour drift, repetition, envelopes, seams.

None of them needs real data; each runs on any model (trained or random) through the Renderer,
deterministically given a seed, and ends in a verdict against a stated threshold.

- **Colour drift far from the origin.** Frames at x ≈ ±10^6, ±10^9, ±10^12 against frames near
  x = 0 of the same world (each set's frames at random x over :data:`SET_SPREAD` px): per-channel
  mean and std, and SWD (``engine.metrics.swd``). Sets of a few frames differ by sampling noise
  alone, and a trained world's noise is bursty: 12 frames of a world of ocean and islands may
  hold no land at all. So each far set's SWD to the origin set is judged against its own null: the
  SWDs of random re-splits of the same pooled frames into two sets (a permutation test; if
  nothing drifts, the frames are exchangeable). Its p-value is the share of re-splits at least as
  far apart. Verdict: the smallest p-value times the number of far sets (Bonferroni) is at least
  :data:`DRIFT_P_LIMIT`, i.e. with 199 re-splits a set fails only by being further from the
  origin than every re-split of its own frames; and no channel mean moves more than
  :data:`DRIFT_Z_LIMIT` standard errors (shifts under :data:`DRIFT_MEAN_FLOOR` u8 levels never
  count). Two control sets near the origin (x ≈ ±2·10^5, where nothing can go wrong numerically)
  are measured the same way and reported, not judged: their p-values show the test's null. A
  model that loses float precision far out (positions turned into floats before their period was
  taken) shifts colour or texture there.
- **Repetition with the coordinate period.** For each period ``P`` of
  :meth:`Generator.coordinate_periods`, pairs of frames ``shift = P * ceil(S / P)`` apart (one
  period, or the first multiple that does not overlap) against pairs ``shift + r`` apart,
  ``r`` in ``[P/4, 3P/4]`` (out of phase); periods whose shift a longer one already has (those
  dividing the frame side) are measured once, under the longest. Score =
  ``(ncc_period - ncc_offset) / (1 - ncc_offset)`` clipped to [0, 1], NCC being the normalised
  cross-correlation of mean-free pixels: 1 = frames a period apart are copies, 0 = no more alike
  than frames at an arbitrary offset. Verdict: every score at most :data:`REPETITION_LIMIT`.
- **An envelope with the coordinate period** (:func:`lattice_lock`). Brightness or contrast that
  follows the phase of a period while the content under it changes: what repetition cannot see.
  ALIS's 2-D models do this: brightness follows the anchor lattice (locked std 0.086 of the
  image's for the 1000-step model at 256 px spacing, 0.11-0.16 after more training; 0.149 after
  1537 steps at 128 px spacing, where every training frame spans a whole period; 0.03 at random
  init). A critic that sees single frames at random phases cannot tell a phase-locked envelope
  from the data's own variation, so nothing teaches the generator out of it. The cause was in the
  generator: the linear anchor blend gives pixels between anchors a smaller spread of styles than
  pixels on them; ALIS's variance-preserving blend (``engine.families.alis.config``) removes that. Verdict:
  at most :data:`LATTICE_LIMIT`, twice the random-init level.
- **Seams.** Max |difference| between a rect rendered at once and stitched from odd tiles; the
  consistency contract makes it 0, so the limit is 0 (the ``seams`` benchmark uses the same function).

Thresholds and why: the drift SWD test was first a ratio to the controls' mean SWD, calibrated
on random-init models (worst of six far sets under ~1.7x); trained worlds broke it: 24 sets near
the origin of the shipped InfinityGAN gave SWDs from 115 to 428 against the same origin set
(3.0x the two controls' mean) with nothing drifting, because whether a set caught islands
dominates its SWD. A permutation null is conditioned on the very frames compared, so it needs no
calibration per model; 5% family-wise is the usual level. Six sets x three channels give 18 mean
shifts, and 5 standard errors is rarely reached by chance (a few per cent of runs over 18 tests
would reach 4); a repetition score of 0.25 means a quarter of a frame's variance, beyond chance,
recurs one period later: a visible echo. Seams must be exactly 0 (the consistency contract).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from engine.geometry import Rect
from engine.metrics.swd import SWDConfig, describe, split_swd
from engine.models.base import Generator
from engine.render import Renderer
from engine.world import World

DRIFT_P_LIMIT = 0.05  # smallest far-set permutation p-value x far sets (Bonferroni), at least
DRIFT_Z_LIMIT = 5.0  # worst channel-mean shift / its standard error (from frame-to-frame spread) ...
DRIFT_MEAN_FLOOR = 2.0  # ... counted only beyond this many u8 levels (near-deterministic models)
REPETITION_LIMIT = 0.25
SEAM_LIMIT = 0
LATTICE_LIMIT = 0.06  # lattice-locked std / image std
LATTICE_CELLS = 8  # phase cells per period side
LATTICE_MAX_PERIOD = 512  # px: longer periods would make each frame cost more than the whole check
LATTICE_FRAMES_PER_SET = 4  # lattice frames = this x DiagnosticOptions.frames
CONTROL_X = 200_000  # ± this: near the origin, numerically harmless: the sampling-noise controls
SET_SPREAD = 65_536  # px a drift set's frames spread over (>> any coordinate period we ship)


@dataclass(frozen=True)
class DiagnosticOptions:
    frame: int = 64  # frame side S in px (>= 32: two SWD pyramid levels)
    frames: int = 12  # frames per drift set, and frame pairs per repetition period
    distances: tuple[int, ...] = (10**6, 10**9, 10**12)  # each also measured at -d
    seam_rect: tuple[int, int] = (300, 200)
    seam_tiles: tuple[int, int] = (71, 53)
    seed: int = 0
    permutations: int = 199  # re-splits per drift set (enough that a set can fail: see colour_drift)
    # the drift sets' SWD: 32 directions keep 8 sets x 200 splits to seconds (its cost is linear in them);
    # every split sees the same directions, so fewer of them blur the statistic, not the test's validity
    swd: SWDConfig = field(default_factory=lambda: SWDConfig(patches_per_image=64, projections=32))


QUICK_DIAGNOSTICS = DiagnosticOptions(frame=32, frames=10, seam_rect=(150, 100), permutations=149)


def frame_set(renderer: Renderer, world: World, x: int, options: DiagnosticOptions) -> list[np.ndarray]:
    """``options.frames`` frames at random x in ``[x, x + SET_SPREAD)`` (drawn from the seed and
    ``x``), from row 0 down (InfinityGAN's horizon row; one block high when the frame fits a block).

    Random, spread positions matter: evenly strided frames sample only a few phases of a
    coordinate period (a stride of 4099 px advances a 124 px period by 7 px per frame), and an
    untrained model whose colour follows the phase would then "drift" between sets by aliasing.
    """
    size = options.frame
    rng = np.random.default_rng([options.seed, x % 2**64])
    offsets = rng.integers(0, SET_SPREAD, options.frames)
    return renderer.render(world, [Rect(x + int(o), 0, size, size) for o in offsets])


def _frame_means(frames: Sequence[np.ndarray]) -> np.ndarray:
    """``(n, 3)`` per-frame channel means."""
    return np.stack([f.reshape(-1, 3).astype(np.float64).mean(axis=0) for f in frames])


def _channel_std(frames: Sequence[np.ndarray]) -> np.ndarray:
    return np.stack(frames).reshape(-1, 3).astype(np.float64).std(axis=0)


def permutation_swd(
    reference: Sequence[np.ndarray], other: Sequence[np.ndarray], options: DiagnosticOptions, rng: np.random.Generator
) -> dict:
    """SWD of ``other`` to ``reference`` and its permutation p-value (see the module doc).

    The pooled frames are re-split at random into two sets of the original sizes; p is the share
    of re-splits (the observed split counted once) whose SWD is at least the observed one. SWD is
    :func:`engine.metrics.swd.split_swd`'s (pooled normalisation), the same for every split.
    """
    n, total = len(reference), len(reference) + len(other)
    splits = np.zeros((options.permutations + 1, total), dtype=bool)
    splits[0, :n] = True
    for row in splits[1:]:
        row[rng.permutation(total)[:n]] = True
    values = split_swd(describe(list(reference) + list(other), options.swd), splits, options.swd)
    observed, null = values[0], values[1:]
    return {
        "swd": float(observed),
        "swd_null_median": float(np.median(null)),
        "p": float((1 + np.count_nonzero(null >= observed * (1 - 1e-9))) / (options.permutations + 1)),
    }


def colour_drift(renderer: Renderer, world: World, options: DiagnosticOptions) -> dict:
    """Far sets vs the origin set (and the controls), see the module doc."""
    far_x = [sign * d for d in options.distances for sign in (1, -1)]
    if len(far_x) / (options.permutations + 1) >= DRIFT_P_LIMIT:
        raise ValueError(
            f"{options.permutations} permutations cannot fail {len(far_x)} far sets at p {DRIFT_P_LIMIT}: use more"
        )
    n = options.frames
    origin = frame_set(renderer, world, 0, options)
    means0, std0 = _frame_means(origin), _channel_std(origin)

    def compare(x: int) -> dict:
        frames = frame_set(renderer, world, x, options)
        means, std = _frame_means(frames), _channel_std(frames)
        shift = np.abs(means.mean(axis=0) - means0.mean(axis=0))
        error = np.sqrt((means0.var(axis=0, ddof=1) + means.var(axis=0, ddof=1)) / n)  # s.e. of the difference
        z = np.where(shift <= DRIFT_MEAN_FLOOR, 0.0, shift / np.maximum(error, 1e-9))
        ratio = np.maximum(std, 1e-6) / np.maximum(std0, 1e-6)
        rng = np.random.default_rng([options.seed, x % 2**64, 1])
        return {
            "x": x,
            "mean": means.mean(axis=0).round(2).tolist(),
            "std": std.round(2).tolist(),
            "mean_shift_u8": float(shift.max()),
            "mean_shift_z": float(z.max()),
            "std_ratio": float(np.maximum(ratio, 1 / ratio).max()),
            **permutation_swd(origin, frames, options, rng),
        }

    controls = [compare(CONTROL_X), compare(-CONTROL_X)]
    far = [compare(x) for x in far_x]
    worst_p = min(r["p"] for r in far)
    adjusted = min(1.0, worst_p * len(far))
    worst_z = max(r["mean_shift_z"] for r in far)
    return {
        "origin": {"mean": means0.mean(axis=0).round(2).tolist(), "std": std0.round(2).tolist()},
        "controls": controls,
        "far": far,
        "worst_swd": max(r["swd"] for r in far),
        "worst_p": worst_p,
        "worst_p_adjusted": adjusted,
        "worst_mean_shift_u8": max(r["mean_shift_u8"] for r in far),
        "worst_mean_shift_z": worst_z,
        "worst_std_ratio": max(r["std_ratio"] for r in far),
        "pass": adjusted >= DRIFT_P_LIMIT and worst_z <= DRIFT_Z_LIMIT,
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
    rows: list[dict] = []
    for period in sorted(set(periods), reverse=True):
        shift = period * math.ceil(size / period)
        if period < 2 or any(r["shift"] == shift for r in rows):
            continue  # 1 px: no offset is out of phase; same shift as a longer period: measured already
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


def _cell_stats(lum: np.ndarray, cells: int) -> np.ndarray:
    """Mean and std of each of ``cells x cells`` equal cells of a square luminance frame: (2, cells, cells)."""
    side = lum.shape[0] // cells
    blocks = lum[: side * cells, : side * cells].reshape(cells, side, cells, side)
    return np.stack([blocks.mean(axis=(1, 3)), blocks.std(axis=(1, 3))])


def lattice_lock(renderer: Renderer, world: World, periods: Sequence[int], options: DiagnosticOptions) -> dict:
    """Per period ``P``: how much brightness and contrast follow the phase of the ``P`` lattice.

    Frames of ``P x P`` px start on lattice points (multiples of ``P`` in x and y) far apart, so
    their cells are at the same phase; per cell, the mean over frames is the folded image. Its
    variance over the cells, less the part the frames' own spread explains (each cell's variance
    over frames / frames; each frame's mean over its cells removed first, as a frame's overall
    level is content), is the lattice-locked variance; score = its square root over the
    luminance std of all frames (0: nothing follows the lattice). Computed for the cells' mean
    luminance (an envelope of brightness) and their std (of contrast), the score is the larger.
    The repetition check cannot see an envelope: content under it differs from period to period.
    Periods under ``LATTICE_CELLS`` px or over ``LATTICE_MAX_PERIOD`` px are left out.
    """
    rows: list[dict] = []
    for period in sorted({p for p in periods if LATTICE_CELLS <= p <= LATTICE_MAX_PERIOD}, reverse=True):
        rng = np.random.default_rng([options.seed, period, 1])
        frames = LATTICE_FRAMES_PER_SET * options.frames
        rects = [
            Rect(int(rng.integers(-(2**30), 2**30)) * period, int(rng.integers(-2, 2)) * period, period, period)
            for _ in range(frames)
        ]
        lums = [image.astype(np.float64).mean(axis=2) for image in renderer.render(world, rects)]
        stats = np.stack([_cell_stats(lum, LATTICE_CELLS) for lum in lums]).reshape(frames, 2, -1)
        stats -= stats.mean(axis=2, keepdims=True)  # each frame's own level is content, not phase
        scale = float(np.std(lums))
        folded = stats.mean(axis=0)
        explained = stats.var(axis=0, ddof=1).mean(axis=1) / frames
        locked = np.maximum(folded.var(axis=1, ddof=1) - explained, 0.0)
        brightness, contrast = (math.sqrt(v) / scale if scale > 0 else 0.0 for v in locked)
        rows.append(
            {"period": period, "brightness": brightness, "contrast": contrast, "score": max(brightness, contrast)}
        )
    worst = max((r["score"] for r in rows), default=0.0)
    return {"periods": rows, "worst_score": worst, "limit": LATTICE_LIMIT, "pass": worst <= LATTICE_LIMIT}


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
        "lattice": lattice_lock(renderer, world, model.coordinate_periods(), options),
        "seams": seams,
    }


def verdicts(report: dict) -> dict:
    """The model-card goals of a :func:`diagnose` report: value, limit, pass (``engine.release``)."""
    drift, rep, lattice, seams = report["drift"], report["repetition"], report["lattice"], report["seams"]
    return {
        "no_colour_drift_swd": {  # a p-value: passes at or *above* its limit
            "value": drift["worst_p_adjusted"],
            "limit": DRIFT_P_LIMIT,
            "pass": drift["worst_p_adjusted"] >= DRIFT_P_LIMIT,
        },
        "no_colour_drift_mean_z": {
            "value": drift["worst_mean_shift_z"],
            "limit": DRIFT_Z_LIMIT,
            "pass": drift["worst_mean_shift_z"] <= DRIFT_Z_LIMIT,
        },
        "no_repetition_at_coordinate_period": {"value": rep["worst_score"], "limit": rep["limit"], "pass": rep["pass"]},
        "no_envelope_at_coordinate_period": {
            "value": lattice["worst_score"],
            "limit": lattice["limit"],
            "pass": lattice["pass"],
        },
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
    for row in report["lattice"]["periods"]:
        lines.append(
            f"| envelope at {row['period']} px | brightness {row['brightness']:.3f}, "
            f"contrast {row['contrast']:.3f} | score {row['score']:.3f} | |"
        )
    return "\n".join(lines)
