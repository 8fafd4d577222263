"""GAN losses and regularisers shared by every family, each a few lines with the maths in plain view.

Conventions: discriminator outputs are raw logits of shape ``(N,)``; every function returns a
scalar mean over the batch, *unweighted* — the trainer applies the weights (γ/2, λ) and the
lazy-regularisation interval, so one can read the whole objective in one place (the trainer).

- StyleGAN2 (InfinityGAN, ALIS): :func:`d_logistic`, :func:`g_nonsaturating`, :func:`r1_penalty`,
  :class:`PathLengthRegularizer`.
- ∞-GAN: :func:`wgan_d_loss`, :func:`wgan_g_loss`, :func:`gradient_penalty` (WGAN-GP).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn


def d_logistic(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator's logistic loss: ``softplus(-D(x)) + softplus(D(G(z)))`` (StyleGAN2)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator's non-saturating loss ``softplus(-D(G(z)))``: strong gradients early in training."""
    return F.softplus(-fake_logits).mean()


def r1_penalty(reals: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
    """R1: mean over the batch of ``|∇_x D(x)|²`` on reals (``reals`` must require grad).

    ``create_graph`` so the penalty's own gradient reaches D's weights. Multiply by γ/2 (and by
    the lazy interval) in the trainer.
    """
    (grad,) = torch.autograd.grad(real_logits.float().sum(), reals, create_graph=True)
    return grad.float().pow(2).flatten(1).sum(1).mean()


def wgan_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Wasserstein critic loss: push real scores up and fake scores down."""
    return fake_scores.mean() - real_scores.mean()


def wgan_g_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    return -fake_scores.mean()


def _logits_of(output: torch.Tensor | tuple) -> torch.Tensor:
    """Our discriminators return ``(logits, aux)``; plain critics return logits."""
    return output[0] if isinstance(output, tuple) else output


def gradient_penalty(
    discriminator: Callable[[torch.Tensor], torch.Tensor | tuple],
    reals: torch.Tensor,
    fakes: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP: mean of ``(|∇ D(x̂)| - 1)²`` at random points x̂ between reals and fakes.

    One mixing weight per sample (uniform in [0, 1]), drawn from ``generator`` or the global RNG
    (whose state the loop saves, so resumes stay exact). Multiply by λ (10) in the trainer.
    """
    alpha = torch.rand(reals.shape[0], *([1] * (reals.ndim - 1)), device=reals.device, generator=generator)
    mixed = (reals.detach() + alpha * (fakes.detach() - reals.detach())).requires_grad_(True)
    scores = _logits_of(discriminator(mixed))
    (grad,) = torch.autograd.grad(scores.float().sum(), mixed, create_graph=True)
    norms = grad.float().flatten(1).norm(dim=1)
    return (norms - 1.0).pow(2).mean()


class PathLengthRegularizer(nn.Module):
    """StyleGAN2 path-length regulariser: keep ``|J_w^T y|`` constant for random image-space ``y``.

    Call with the generated images and the latent tensor(s) they were computed from (they must be
    part of the graph; a list is allowed, e.g. every latent field a block read). The per-sample
    length is ``sqrt(sum of squared gradients)``; with ``mean_over`` = k the squared gradients are
    averaged over the last k dims instead (W+ latents ``(N, layers, dim)`` with ``mean_over=2``
    give InfinityGAN's scale). The running mean of lengths is a buffer (saved in ``state_dict``)
    updated with ``decay``; ``reduce`` (e.g. an all-reduce mean) makes it agree across processes.
    Returns the penalty ``mean((length - running_mean)²)``; multiply by λ and the lazy interval.
    """

    def __init__(self, decay: float = 0.01, mean_over: int = 0) -> None:
        super().__init__()
        self.decay = decay
        self.mean_over = mean_over
        self.register_buffer("mean", torch.zeros(()))
        self.last_lengths: torch.Tensor | None = None  # for logging

    def forward(
        self,
        images: torch.Tensor,
        latents: torch.Tensor | Sequence[torch.Tensor],
        reduce: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> torch.Tensor:
        inputs = [latents] if isinstance(latents, torch.Tensor) else list(latents)
        # Random image-space direction, scaled so the length does not depend on the resolution.
        noise = torch.randn_like(images) / math.sqrt(images.shape[2] * images.shape[3])
        grads = torch.autograd.grad((images * noise).sum(), inputs, create_graph=True)
        squares = []
        for grad in grads:
            sq = grad.float().pow(2)
            if self.mean_over:
                sq = sq.mean(dim=tuple(range(sq.ndim - self.mean_over, sq.ndim)))
            squares.append(sq.flatten(1).sum(1))
        lengths = torch.stack(squares).sum(0).sqrt()  # (N,)
        batch_mean = lengths.detach().mean()
        if reduce is not None:
            batch_mean = reduce(batch_mean)
        new_mean = self.mean + self.decay * (batch_mean - self.mean)
        self.mean.copy_(new_mean)
        self.last_lengths = lengths.detach()
        return (lengths - new_mean).pow(2).mean()
