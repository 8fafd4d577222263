"""The render path under faster numerics (bf16 autocast, channels-last), and the share of a GPU's
dense bf16 peak it reaches: measured only where the numerics keep seams within 1 LSB.

Each mode renders the same blocks at the same batch and the same rect twice (at once and
stitched from odd tiles, :func:`engine.metrics.diagnostics.seam_error`); its pixels are also
compared with the fp32 render. A mode whose seams differ by more than 1 LSB is reported but not
eligible: the best eligible mode gives ``best_peak_fraction``. Peaks are the datasheet's dense bf16
figures (:mod:`engine.bench.peaks`; H100 SXM 989.4 TFLOP/s) and every row names its device.

Everything here runs on any device; ``bench render`` calls it on CUDA only (a CPU has no bf16
tensor-core peak to compare with), and the tests run it on the CPU.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from engine.bench import Row, timed
from engine.bench.peaks import peak_fraction
from engine.geometry import Rect
from engine.metrics.diagnostics import seam_error
from engine.render import Renderer
from engine.world import World

SEAM_LIMIT_U8 = 1


@dataclass(frozen=True)
class Mode:
    """Numerics of one render: autocast to ``dtype`` (None: fp32) and channels-last weights."""

    name: str
    dtype: torch.dtype | None
    channels_last: bool


MODES = (
    Mode("fp32", None, False),
    Mode("fp32_channels_last", None, True),
    Mode("bf16", torch.bfloat16, False),
    Mode("bf16_channels_last", torch.bfloat16, True),
)


@contextlib.contextmanager
def applied(renderer: Renderer, mode: Mode) -> Iterator[None]:
    """Run renders under ``mode``; the model's memory format is restored afterwards."""
    model = renderer.model
    if mode.channels_last:
        model.to(memory_format=torch.channels_last)
    try:
        with torch.autocast(renderer.device.type, dtype=mode.dtype or torch.float32, enabled=mode.dtype is not None):
            yield
    finally:
        if mode.channels_last:
            model.to(memory_format=torch.contiguous_format)


def mode_row(
    renderer: Renderer,
    world: World,
    origins: Sequence[tuple[int, int]],
    rect: Rect,
    mode: Mode,
    reference: np.ndarray,
    repeat: int,
) -> Row:
    """One mode's throughput (blocks at ``origins``), seam error on ``rect`` and drift from fp32."""
    with applied(renderer, mode):
        seconds = timed(functools.partial(renderer.render_blocks, world, origins), repeat=repeat)
        exact = Renderer(renderer.model, renderer.device, max_batch=renderer.max_batch, store=renderer.store)
        seams = seam_error(exact, world, rect)
        (pixels,) = exact.render(world, [rect])
    return {
        "mode": mode.name,
        "px_per_s": len(origins) * renderer.block_size() ** 2 / seconds,
        "seam_max_u8": seams["seam_max_abs_u8"],
        "fp32_drift_max_u8": int(np.abs(pixels.astype(np.int16) - reference.astype(np.int16)).max()),
        "eligible": seams["seam_max_abs_u8"] <= SEAM_LIMIT_U8,
    }


def precision_rows(
    renderer: Renderer,
    world: World,
    origins: Sequence[tuple[int, int]],
    rect: Rect,
    flops_per_px: float,
    peak_tflops: float | None,
    repeat: int = 1,
    modes: Sequence[Mode] = MODES,
) -> tuple[list[Row], Row]:
    """Per mode: throughput, seams, drift and peak fraction; and a summary with the best eligible
    mode's peak fraction (None where no peak is known)."""
    (reference,) = Renderer(renderer.model, renderer.device, store=renderer.store).render(world, [rect])
    rows = [mode_row(renderer, world, origins, rect, mode, reference, repeat) for mode in modes]
    for row in rows:
        row["peak_fraction"] = peak_fraction(flops_per_px, row["px_per_s"], peak_tflops)
    eligible = [row for row in rows if row["eligible"]]
    best = max(eligible, key=lambda row: row["px_per_s"]) if eligible else None
    summary: Row = {
        "bf16_peak_tflops": peak_tflops,
        "best_mode": best["mode"] if best else None,
        "best_peak_fraction": best["peak_fraction"] if best else None,
        "fp32_peak_fraction": rows[0]["peak_fraction"] if modes[0].name == "fp32" else None,
    }
    return rows, summary
