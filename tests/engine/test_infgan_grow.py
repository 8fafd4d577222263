"""Growing a trained ∞-GAN by one coarser level (``engine.families.infgan.grow``, ``--init`` across configs)."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from engine.checkpoints import save_checkpoint
from engine.errors import InvalidInput
from engine.families.infgan import model as infgan
from engine.families.infgan.grow import can_grow, grow_weights
from engine.fields import LatentSource
from engine.models.registry import build_initial, build_random
from engine.styles import StyleLayout
from engine.train.warm_start import warm_start


def _grown_config(config: infgan.InfGANConfig) -> infgan.InfGANConfig:
    widths = (config.g1_channels[-1], *config.up_channels)
    return dataclasses.replace(config, levels=config.levels + 1, up_channels=widths)


@pytest.fixture
def trained():
    torch.manual_seed(0)
    model = build_random("infgan", "tiny")
    with torch.no_grad():  # break the symmetry of fresh weights: every parameter distinct
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.3)
    return model


def _grown(trained):
    config = _grown_config(trained.config)
    model = build_initial("infgan", config)
    model.load_state_dict(grow_weights(trained.config, trained.state_dict(), config), strict=True)
    return model


def test_the_grown_top_level_is_the_old_top_level(trained):
    """G1 and its RGB layer are kept and read the same noise cells: the new top level renders what
    the old top level rendered, bit for bit, on the same level grid (each pixel now spans twice
    the world)."""
    grown = _grown(trained)
    old_top, new_top = trained.num_levels() - 1, grown.num_levels() - 1
    origins = [(64, -32), (-96, 160)]
    for origin in origins:
        before = trained.render_blocks([origin], LatentSource(7), StyleLayout(), old_top)
        after = grown.render_blocks([origin], LatentSource(7), StyleLayout(), new_top)
        assert torch.equal(before, after)


def test_old_up_scaling_networks_keep_their_weights_and_levels(trained):
    grown = _grown(trained)
    first_up, shift = len(trained.config.g1_channels), trained.config.up_convs
    old, new = trained.state_dict(), grown.state_dict()
    for index in range(first_up, len(trained.blocks)):
        for name in ("conv.weight", "conv.bias", "napn.gain", "napn.bias", "napn.noise_strength"):
            assert torch.equal(new[f"blocks.{index + shift}.{name}"], old[f"blocks.{index}.{name}"])
    for level in range(trained.num_levels() - 1):
        assert torch.equal(new[f"to_rgb.{level}.weight"], old[f"to_rgb.{level}.weight"])
    inserted = grown.num_levels() - 2
    assert torch.equal(new[f"to_rgb.{inserted}.weight"], old[f"to_rgb.{trained.num_levels() - 1}.weight"])


def test_the_inserted_convolutions_start_as_the_identity(trained):
    grown = _grown(trained)
    x = torch.randn(2, trained.config.g1_channels[-1], 9, 9)
    k = trained.config.kernel
    for j in range(trained.config.up_convs):
        conv = grown.blocks[len(trained.config.g1_channels) + j].conv
        assert torch.allclose(conv(x), x[..., k // 2 : -(k // 2), k // 2 : -(k // 2)], atol=1e-6)
    # ... so the fine levels start from the trained model's output, not from noise.
    level0 = grown.render_blocks([(0, 0)], LatentSource(3), StyleLayout(), 0)
    random = build_initial("infgan", grown.config).render_blocks([(0, 0)], LatentSource(3), StyleLayout(), 0)
    trained_level0 = trained.render_blocks([(0, 0)], LatentSource(3), StyleLayout(), 0)
    assert F.mse_loss(level0, trained_level0) < F.mse_loss(random, trained_level0)


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"levels": 5}, "exactly one level"),
        ({"up_channels": (16, 16, 8)}, "must continue as"),
        ({"up_channels": (8, 16, 16)}, "G1's output width"),
        ({"kernel": 5}, "only levels, up_channels and block"),
    ],
)
def test_configs_that_do_not_grow_are_one_line_errors(trained, change, reason):
    config = _grown_config(trained.config)
    if change.get("levels") == 5:
        config = dataclasses.replace(config, levels=5, up_channels=(16, 16, 16, 16))
    else:
        config = dataclasses.replace(config, **change)
    with pytest.raises(InvalidInput, match=reason) as error:
        grow_weights(trained.config, trained.state_dict(), config)
    assert len(str(error.value).splitlines()) == 1


def test_tiny4_is_tiny_grown():
    """The 4-level config the consistency kit checks is the shape growing ``tiny`` produces."""
    assert can_grow(infgan.CONFIGS["tiny"], infgan.CONFIGS["tiny4"]) is None
    assert can_grow(infgan.CONFIGS["small"], infgan.CONFIGS["small4"]) is None


def test_init_grows_a_checkpoint_and_records_where_from(trained, tmp_path):
    path = tmp_path / "three.safetensors"
    save_checkpoint(path, "infgan", trained.config_dict(), trained.state_dict(), {"steps": 40, "kimg": 0.2})
    grown = build_initial("infgan", _grown_config(trained.config))
    init = warm_start(grown, str(path))
    assert init["steps"] == 40 and init["grown_from"]["levels"] == trained.config.levels
    assert all(torch.equal(v, _grown(trained).state_dict()[k]) for k, v in grown.state_dict().items())
    same = build_initial("infgan", trained.config)
    assert "grown_from" not in warm_start(same, str(path))
    wider = build_initial("infgan", dataclasses.replace(trained.config, const_channels=8))
    with pytest.raises(InvalidInput, match="cannot grow"):
        warm_start(wider, str(path))
