"""Adam with StyleGAN2's lazy-regularisation correction, shared by every family's trainer.

A regulariser applied every ``k`` steps in its own update adds one optimiser step per ``k``
main steps, so the optimiser runs ``k + 1`` times where the unregularised schedule ran ``k``.
StyleGAN2 (Karras et al. 2020, appendix B) keeps the effective step size and momentum horizon
unchanged by scaling ``lr`` by ``c = k / (k + 1)`` and raising both betas to the power ``c``.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


def lazy_adam(
    parameters: Iterable[torch.nn.Parameter], lr: float, betas: tuple[float, float], interval: int
) -> torch.optim.Adam:
    """Adam for a module regularised in a separate update every ``interval`` steps (0: never)."""
    ratio = interval / (interval + 1) if interval > 0 else 1.0
    beta1, beta2 = betas
    return torch.optim.Adam(parameters, lr=lr * ratio, betas=(beta1**ratio, beta2**ratio), eps=1e-8)
