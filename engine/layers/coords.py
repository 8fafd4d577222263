"""Positional encodings computed from integer world positions, exact at any distance.

A float32 position of 10^12 has a spacing of about 10^5, so ``sin(x / period)`` computed in floats
is noise far from the origin. Here the phase is reduced in integers first (``pos mod period``),
and only the remainder, always smaller than the period, becomes a float.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def periodic_phase(start: int, count: int, period: int, *, device: torch.device | str = "cpu") -> torch.Tensor:
    """Phases ``2*pi*((start + i) mod period) / period`` for ``i < count`` (float32, exact reduction)."""
    if period <= 0:
        raise ValueError("period must be positive")
    base = start % period  # Python int: exact for any start
    steps = (torch.arange(count, dtype=torch.int64) + base) % period
    return (steps.to(torch.float64) * (2.0 * math.pi / period)).to(torch.float32).to(device)


def periodic_features(
    start: int, count: int, periods: Sequence[int], *, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """``[cos, sin]`` of each period's phase: shape ``(2 * len(periods), count)``."""
    rows = []
    for period in periods:
        phase = periodic_phase(start, count, period)
        rows += [torch.cos(phase), torch.sin(phase)]
    return torch.stack(rows).to(device)
