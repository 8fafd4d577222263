"""Shared layers: pixel norm's exact forward and closed-form gradient."""

import torch

from engine.layers.basic import pixel_norm


def _vectorised(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + eps)


def test_pixel_norm_gradient_and_its_gradient_match_autograd_of_the_formula():
    """The closed-form backward (and the double backward the path-length penalty needs) against
    numerical differences, and against autograd of the plain formula, for maps and rows."""
    for shape in ((3, 5, 4, 2), (4, 7)):
        x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(pixel_norm, (x,))
        assert torch.autograd.gradgradcheck(pixel_norm, (x,))
        g = torch.randn(shape, dtype=torch.float64)
        (ours,) = torch.autograd.grad(pixel_norm(x), x, g)
        (plain,) = torch.autograd.grad(_vectorised(x), x, g)
        assert torch.allclose(ours, plain, atol=1e-12)


def test_pixel_norm_of_a_crop_is_the_crop_of_the_pixel_norm_bit_for_bit():
    x = torch.randn(2, 24, 37, 41)
    whole = pixel_norm(x)
    crop = pixel_norm(x[:, :, 5:30, 3:20].contiguous())
    assert torch.equal(crop, whole[:, :, 5:30, 3:20])
    assert torch.allclose(whole, _vectorised(x), atol=1e-6)
