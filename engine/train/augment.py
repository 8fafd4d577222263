"""Differentiable augmentation of every critic input (the DiffAugment idea: Zhao et al. 2020).

Why: a critic trained on few distinct images learns them by heart, wins, and stops teaching the
generator. ∞-GAN's coarse critics are in that regime on one world map: at level 3 of ``small4``
the whole of Blue Marble is 337×140 px, so its 64 px patches overlap almost entirely, and in
``runs/infgan4`` that critic's logistic loss fell from 1.13 to 0.76 in 1000 steps while level 0's
stayed at chance (1.37). Augmenting *both* reals and fakes, with operations the gradient passes
through, makes the critic judge the augmented distributions: what leaks into the generator is
only what survives the augmentation, and since the fakes are augmented in the generator step too,
the generator is never asked to draw augmented images (unlike augmenting the reals alone).

Operations (policy names; each draws its own numbers per image from the caller's generator, so a
resumed run repeats the uninterrupted one):

- ``color``: brightness + U(-0.5, 0.5), saturation × U(0, 2) about the pixel's channel mean,
  contrast × U(0.5, 1.5) about the image mean (pixels in [-1, 1]);
- ``translation``: a shift of up to 1/8 of the side in x and y, zeros shifted in;
- ``cutout``: one square of half the side, at a random place, set to zero.

The fractions are DiffAugment's published defaults. Critics may pad and shift freely: they never
render tiles, so nothing here touches the consistency of a world.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.errors import InvalidInput

POLICIES = ("color", "translation", "cutout")
TRANSLATION = 1 / 8  # largest shift, as a fraction of the side
CUTOUT = 1 / 2  # side of the cut square, as a fraction of the side


def parse_policy(text: str | None) -> tuple[str, ...]:
    """``"color,translation"`` -> ``("color", "translation")``; empty or ``"none"``: no augmentation."""
    if not text or text.strip().lower() == "none":
        return ()
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in POLICIES]
    if unknown:
        raise InvalidInput(f"unknown augmentation {unknown[0]!r} (known: {', '.join(POLICIES)}, or none)")
    return names


class CriticAugment:
    """``augment(images)`` with the policy's operations, in order; the identity for an empty policy."""

    def __init__(self, policy: tuple[str, ...], generator: torch.Generator | None = None) -> None:
        """``generator``: the stream to draw from; None draws from torch's global RNG (whose state
        the training loop saves per rank, as the families on ``AdversarialTrainer`` rely on)."""
        self.policy, self.generator = policy, generator

    def __bool__(self) -> bool:
        return bool(self.policy)

    def _uniform(self, x: torch.Tensor, *shape: int) -> torch.Tensor:
        device = self.generator.device if self.generator is not None else x.device
        return torch.rand(*shape, generator=self.generator, device=device).to(x.device, x.dtype)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.policy:
            x = getattr(self, f"_{name}")(x)
        return x

    def _color(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        x = x + (self._uniform(x, n, 1, 1, 1) - 0.5)
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (self._uniform(x, n, 1, 1, 1) * 2) + mean
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        return (x - mean) * (self._uniform(x, n, 1, 1, 1) + 0.5) + mean

    def _translation(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        sy, sx = int(h * TRANSLATION + 0.5), int(w * TRANSLATION + 0.5)
        shifts = self._uniform(x, n, 2)
        dy = (shifts[:, 0] * (2 * sy + 1)).long().clamp(max=2 * sy)  # window start in the padded image
        dx = (shifts[:, 1] * (2 * sx + 1)).long().clamp(max=2 * sx)
        padded = F.pad(x, (sx, sx, sy, sy))
        starts = zip(dy.tolist(), dx.tolist(), strict=True)
        return torch.stack([padded[i, :, top : top + h, left : left + w] for i, (top, left) in enumerate(starts)])

    def _cutout(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        ch, cw = int(h * CUTOUT + 0.5), int(w * CUTOUT + 0.5)
        corner = self._uniform(x, n, 2)
        top = (corner[:, 0] * (h - ch + 1)).long().clamp(max=h - ch).view(n, 1, 1)
        left = (corner[:, 1] * (w - cw + 1)).long().clamp(max=w - cw).view(n, 1, 1)
        rows = torch.arange(h, device=x.device).view(1, h, 1)
        cols = torch.arange(w, device=x.device).view(1, 1, w)
        inside = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
        return x * (~inside).unsqueeze(1).to(x.dtype)
