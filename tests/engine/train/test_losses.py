"""Losses and the discriminator: properties that would break if the maths were wrong."""

import math

import pytest
import torch

from engine.train.discriminator import Discriminator, block_sizes, minibatch_stddev
from engine.train.losses import (
    PathLengthRegularizer,
    d_logistic,
    g_nonsaturating,
    gradient_penalty,
    r1_penalty,
    wgan_d_loss,
    wgan_g_loss,
)


def test_logistic_losses_at_zero_logits():
    zeros = torch.zeros(5)
    assert d_logistic(zeros, zeros).item() == pytest.approx(2 * math.log(2))
    assert g_nonsaturating(zeros).item() == pytest.approx(math.log(2))
    # A confident, correct D has a small loss; fooled G has a small loss.
    assert d_logistic(torch.full((3,), 10.0), torch.full((3,), -10.0)).item() < 1e-3
    assert g_nonsaturating(torch.full((3,), 10.0)).item() < 1e-3


def test_r1_zero_for_constant_discriminator_and_exact_for_linear():
    reals = torch.randn(4, 3, 8, 8, requires_grad=True)
    constant = reals.sum(dim=(1, 2, 3)) * 0 + 1.5
    assert r1_penalty(reals, constant).item() == 0.0
    w = torch.randn(3, 8, 8)
    linear = (reals * w).sum(dim=(1, 2, 3))
    assert r1_penalty(reals, linear).item() == pytest.approx(w.pow(2).sum().item(), rel=1e-5)


def test_wgan_losses_and_gradient_penalty_on_linear_critic():
    assert wgan_d_loss(torch.tensor([2.0, 4.0]), torch.tensor([1.0])).item() == -2.0
    assert wgan_g_loss(torch.tensor([1.0, 3.0])).item() == -2.0
    w = torch.randn(3, 4, 4)

    def critic(x):
        return (x * w).sum(dim=(1, 2, 3))

    gp = gradient_penalty(critic, torch.randn(6, 3, 4, 4), torch.randn(6, 3, 4, 4))
    assert gp.item() == pytest.approx((w.norm().item() - 1) ** 2, rel=1e-5)
    # Also works with a (logits, aux) discriminator and is differentiable w.r.t. its weights.
    w2 = w.clone().requires_grad_(True)
    gp2 = gradient_penalty(
        lambda x: ((x * w2).sum(dim=(1, 2, 3)), None), torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    )
    gp2.backward()
    assert w2.grad is not None and w2.grad.abs().sum() > 0


def test_path_length_state_updates_and_penalty():
    reg = PathLengthRegularizer(decay=0.5)
    latents = torch.randn(4, 6, requires_grad=True)
    weight = torch.randn(3 * 5 * 5, 6)
    images = torch.tanh(latents @ weight.T).reshape(4, 3, 5, 5)
    torch.manual_seed(0)
    penalty = reg(images, latents)
    assert reg.mean.item() > 0
    assert reg.last_lengths.shape == (4,)
    first = reg.mean.item()
    # Running mean moves half-way (decay 0.5) from 0 to the batch mean.
    assert first == pytest.approx(0.5 * reg.last_lengths.mean().item(), rel=1e-5)
    penalty.backward()
    assert latents.grad is not None
    images = torch.tanh(latents @ weight.T).reshape(4, 3, 5, 5)
    reg(images, [latents])
    assert reg.mean.item() != first
    assert "mean" in reg.state_dict()


@pytest.mark.parametrize("size", [16, 33, 64, 101])
def test_discriminator_odd_sizes_and_aux_head(size):
    torch.manual_seed(0)
    d = Discriminator(size, channel_base=256, max_channels=16, aux_outputs=3)
    logits, aux = d(torch.randn(5, 3, size, size))
    assert logits.shape == (5,) and aux.shape == (5, 3)
    assert torch.isfinite(logits).all()
    plain = Discriminator(size, channel_base=256, max_channels=16)
    logits, aux = plain(torch.randn(2, 3, size, size))
    assert logits.shape == (2,) and aux is None


def test_block_sizes_follow_floor_half():
    assert block_sizes(101) == [101, 50, 25, 12, 6, 3]
    assert block_sizes(64) == [64, 32, 16, 8, 4]
    assert block_sizes(197)[-1] == 3
    with pytest.raises(ValueError):
        block_sizes(8)


def test_minibatch_stddev_groups():
    x = torch.randn(6, 2, 3, 3)
    out = minibatch_stddev(x, 4)  # largest divisor of 6 <= 4 is 3
    assert out.shape == (6, 3, 3, 3)
    same = torch.ones(4, 2, 3, 3)
    assert minibatch_stddev(same, 4)[:, 2].max().item() < 1e-3
