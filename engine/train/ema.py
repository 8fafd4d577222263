"""Exponential moving average of generator weights: what checkpoints ship.

StyleGAN2 states the EMA as a *half-life* in thousands of images rather than a per-step decay,
so the smoothing does not change when the batch size does: after ``half_life_kimg * 1000``
images the old weights' share has halved, hence ``decay = 0.5 ** (batch / (half_life * 1000))``.
Every family also ramps the half-life up with training progress (``rampup``: at most
:data:`RAMPUP` of the images seen so far, as ALIS and StyleGAN2-ADA do). Without it a short run
ships mostly its random initial weights: after 8 kimg, a 10 kimg half-life leaves 57 % of them in
the average (the saturated colour noise of the first CPU runs' samples).
"""

from __future__ import annotations

import torch
from torch import nn

#: The EMA half-life never exceeds this fraction of the images seen so far.
RAMPUP = 0.05


def ema_decay(batch: int, half_life_kimg: float, images_seen: int | None = None, rampup: float | None = None) -> float:
    """Per-step decay for a global batch of ``batch`` images (0 = copy the weights)."""
    half_life = half_life_kimg * 1000.0
    if rampup is not None and images_seen is not None:
        half_life = min(half_life, images_seen * rampup)
    if half_life <= 0:
        return 0.0
    return 0.5 ** (batch / half_life)


def step_decay(
    batch: int, half_life_kimg: float, step: int, images_seen: int | None, rampup: float | None = RAMPUP
) -> float:
    """The decay for training step ``step`` (0-based) of a global batch of ``batch`` images.

    The ramp counts the images seen *including* this step's. ``images_seen`` is the count before
    the step, which only the training loop knows: a run resumed with another batch or process
    count has not seen ``step * batch`` images. ``None`` (callers outside the loop: benchmarks,
    unit tests) assumes every earlier step had this batch.
    """
    before = step * batch if images_seen is None else images_seen
    return ema_decay(batch, half_life_kimg, before + batch, rampup)


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """``ema = decay * ema + (1 - decay) * model`` for parameters; buffers are copied."""
    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
        p_ema.lerp_(p.detach().to(p_ema.dtype), 1.0 - decay)
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)
