"""∞-GAN model plumbing: configs, level hierarchy, noise fields shared across levels, NAPN."""

import pytest
import torch

from engine.errors import InvalidInput
from engine.families.infgan import model as infgan
from engine.fields import LatentSource
from engine.layers.napn import NoisyAdaPixNorm
from engine.models.registry import build_random
from engine.styles import StyleLayout


def test_config_round_trips_through_json_lists():
    model = build_random("infgan", "small")
    doc = {k: list(v) if isinstance(v, tuple) else v for k, v in model.config_dict().items()}
    assert infgan.config_from_dict(doc) == model.config


@pytest.mark.parametrize(
    "change",
    [
        {"up_channels": (16,)},  # levels - 1 entries needed
        {"g1_upsample": (9,)},
        {"kernel": 4},
        {"block": 36},  # not a multiple of 2^(ups)
        {"train_patch": 30},
        {"unknown": 1},
    ],
)
def test_bad_configs_are_one_line_errors(change):
    doc = {**infgan.CONFIGS["tiny"].__dict__, **change}
    with pytest.raises(InvalidInput):
        infgan.config_from_dict(doc)


def test_levels_share_noise_fields_on_a_common_world_grid():
    """Level k reads the same noise fields as level 0 (by stage), with strides 2^-k of level 0's:
    each stage's lattice is fixed in world pixels, whatever level renders it."""
    model = build_random("infgan", "tiny")
    assert model.num_levels() == 3
    base = {spec.name: spec.lattice.stride for spec in model.field_specs(0)}
    for level in (1, 2):
        specs = model.field_specs(level)
        assert {s.name for s in specs} <= set(base)
        for spec in specs:
            assert spec.lattice.stride * 2**level == base[spec.name]
    with pytest.raises(ValueError):
        model.block_size(3)


def test_levels_differ_and_blocks_are_pure():
    model = build_random("infgan", "tiny")
    source = LatentSource(4)
    blocks = [model.render_blocks([(64, -32)], source, StyleLayout(), level) for level in range(3)]
    assert not torch.equal(blocks[0], blocks[1]) and not torch.equal(blocks[1], blocks[2])
    again = model.render_blocks([(64, -32)], LatentSource(4), StyleLayout(), 1)
    assert torch.equal(again, blocks[1])
    # In a batch, CPU convolution kernels may change low bits (the Renderer runs one block per
    # forward on CPU for that reason), never the values.
    batched = model.render_blocks([(0, 0), (64, -32)], LatentSource(4), StyleLayout(), 1)[1:]
    assert torch.allclose(batched, blocks[1], atol=1e-5)


def test_napn_normalises_per_pixel_and_checks_noise_shape():
    layer = NoisyAdaPixNorm(4, noise_init=0.0)
    x = torch.randn(2, 4, 5, 5) * 7
    out = layer(x, torch.randn(2, 1, 5, 5))
    assert torch.allclose(out.pow(2).mean(dim=1), torch.ones(2, 5, 5), atol=1e-5)
    with pytest.raises(ValueError):
        layer(x, torch.randn(2, 2, 5, 5))
