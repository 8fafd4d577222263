"""∞-GAN training: multi-scale WGAN-GP on infgan:tiny, patch alignment, exact resume, Blue Marble prep."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.checkpoints import load_checkpoint
from engine.families.infgan import model as infgan
from engine.families.infgan.trainer import InfGANOptions
from engine.fields import LatentSource
from engine.models.registry import build_random, load_model, make_trainer
from engine.styles import StyleLayout
from engine.train.datasets import CropDataset, load_image
from engine.train.options import TrainOptions
from engine.train.protocol import TrainConfig
from tests.engine.train.runs import run_steps

CONFIG = TrainConfig(batch=1, seed=3, options=TrainOptions(d_max_channels=16))


def _image():
    return np.random.default_rng(0).integers(0, 256, (160, 200, 3), dtype=np.uint8)


def _run(out, steps, resume=False, config=CONFIG):
    model = build_random("infgan", "tiny")
    trainer = make_trainer(model, config, "cpu")
    dataset = CropDataset([_image()], infgan.real_crop_size(model.config), seed=1)
    result, logs = run_steps(trainer, dataset, out, steps, batch=1, resume=resume)
    return trainer, result, logs


def test_multiscale_training_resumes_exactly_with_finite_losses(tmp_path):
    straight, _, logs = _run(tmp_path / "a", 2)
    _, first, logs1 = _run(tmp_path / "b", 1)
    resumed, second, logs2 = _run(tmp_path / "b", 2, resume=True)
    assert (first.step, second.step) == (1, 2)
    assert logs == logs1 + logs2
    assert all(math.isfinite(v) for log in logs for v in log.values())
    levels = straight.levels
    assert {f"d_loss_l{k}" for k in range(levels)} | {"g_loss", "cons", "cross"} <= set(logs[-1])
    for a, b in zip(straight.discriminators.parameters(), resumed.discriminators.parameters(), strict=True):
        assert torch.equal(a, b)
    a, b = load_checkpoint(tmp_path / "a" / "last.safetensors"), load_checkpoint(tmp_path / "b" / "last.safetensors")
    assert all(torch.equal(a.weights[k], b.weights[k]) for k in a.weights)
    # The shipped EMA renders every level through the ordinary model loader.
    model = load_model(str(tmp_path / "a" / "last.safetensors")).model
    source = LatentSource(0)
    for level in range(levels):
        block = model.render_blocks([(0, 0)], source, StyleLayout(), level)
        assert torch.isfinite(block).all()


LOGISTIC = TrainConfig(batch=1, seed=3, r1_every=2, options=InfGANOptions(d_max_channels=16, loss="logistic"))


def test_the_logistic_option_takes_one_critic_step_with_lazy_r1_and_resumes_exactly(tmp_path):
    straight, _, logs = _run(tmp_path / "a", 3, config=LOGISTIC)
    _, _, logs1 = _run(tmp_path / "b", 2, config=LOGISTIC)
    resumed, _, logs2 = _run(tmp_path / "b", 3, resume=True, config=LOGISTIC)
    assert logs == logs1 + logs2 and all(math.isfinite(v) for log in logs for v in log.values())
    assert straight.real_batches_per_step == 1 and straight.betas == (0.0, 0.99)
    assert straight.g_opt.param_groups[0]["lr"] == 2e-3
    # Lazy R1 on steps 0 and 2 only, in its own update: D's Adam carries StyleGAN2's correction.
    r1_keys = {f"r1_l{k}" for k in range(straight.levels)}
    assert [r1_keys <= set(log) for log in logs] == [True, False, True] and "gp_l0" not in logs[-1]
    assert all(v > 0 for k, v in logs[-1].items() if k.startswith("r1_l"))
    assert straight.d_opt.param_groups[0]["lr"] == pytest.approx(2e-3 * 2 / 3)
    assert straight.d_opt.param_groups[0]["betas"][1] == pytest.approx(0.99 ** (2 / 3))
    for a, b in zip(straight.generator.parameters(), resumed.generator.parameters(), strict=True):
        assert torch.equal(a, b)
    wgan = make_trainer(build_random("infgan", "tiny"), CONFIG, "cpu")
    assert wgan.real_batches_per_step == 5 and wgan.loss == "wgan"  # the paper's WGAN-GP, by default
    with pytest.raises(ValueError, match="loss must be one of wgan-gp, logistic, not 'hinge'"):
        InfGANOptions(loss="hinge")


@pytest.mark.parametrize("config", ["tiny", "tiny4"])
def test_training_patches_align_across_levels(config):
    """Each level's patch is exactly the pooled region of the coarser one it is compared with:
    with the consistency loss's geometry right, a model whose levels agree scores zero. Here we
    check the geometry itself: the same noise, a finer patch's pooled window lies inside the
    coarser patch and on whole coarse pixels (with 4 levels too: the cross term pools by 8)."""
    model = build_random("infgan", config)
    trainer = make_trainer(model, CONFIG, "cpu")
    m, top = model.config.train_patch, model.config.levels - 1
    for _ in range(5):
        fakes = trainer._fakes(model, 2)
        assert all(image.shape == (2, 3, m, m) for image, _ in fakes.values())
        for fine in range(top):
            for coarse in range(fine + 1, top + 1) if fine == 0 else (fine + 1,):
                (sx, sy), (tx, ty) = fakes[fine][1], fakes[coarse][1]
                factor = 2 ** (coarse - fine)
                assert sx % factor == 0 and sy % factor == 0
                assert tx <= sx // factor and sx // factor + m // factor <= tx + m
                assert ty <= sy // factor and sy // factor + m // factor <= ty + m


def test_consistency_loss_is_zero_for_agreeing_levels_and_positive_otherwise():
    trainer = make_trainer(build_random("infgan", "tiny"), CONFIG, "cpu")
    coarse = torch.rand(1, 3, 32, 32)
    fine = F.interpolate(coarse, scale_factor=2, mode="nearest")  # pools back to coarse exactly
    finest = F.interpolate(coarse, scale_factor=4, mode="nearest")
    fakes = {2: (coarse, (0, 0)), 1: (fine[..., 16:48, 8:40], (8, 16)), 0: (finest[..., 40:72, 32:64], (32, 40))}
    adjacent, cross = trainer._consistency(fakes)
    assert adjacent.item() < 1e-12 and cross.item() < 1e-12
    fakes[0] = (fakes[0][0].flip(-1), (32, 40))
    assert trainer._consistency(fakes)[0].item() > 0.0


def test_wrong_crop_is_refused():
    with pytest.raises(ValueError, match="128-px real crops"):
        make_trainer(build_random("infgan", "tiny"), TrainConfig(batch=2, crop=64), "cpu")


def test_bluemarble_preparation_drops_antarctica_and_halves(tmp_path):
    from PIL import Image

    image = np.zeros((120, 240, 3), dtype=np.uint8)
    image[100:] = 255  # the bottom sixth: "Antarctica"
    path = tmp_path / "map.png"
    Image.fromarray(image).save(path)
    prepared = load_image(path, **infgan.BLUEMARBLE_OPTIONS)
    assert prepared.shape == (50, 120, 3)
    assert prepared.max() < 128  # no Antarctica rows survive (Lanczos may ring a little)


QUANTILES = TrainConfig(
    batch=1, seed=3, r1_every=2, options=InfGANOptions(d_max_channels=16, loss="logistic", colour_quantiles=1.0)
)


def test_colour_quantiles_compare_the_coarsest_level_with_its_reals_and_resume_exactly(tmp_path):
    """``colour_quantiles``: the coarsest level's fakes against the coarsest level's real patches
    (the level that lays the world out), logged, and part of the saved state, so a resumed run's
    losses equal the uninterrupted run's."""
    straight, _, logs = _run(tmp_path / "a", 5, config=QUANTILES)
    _, _, logs1 = _run(tmp_path / "b", 2, config=QUANTILES)
    resumed, _, logs2 = _run(tmp_path / "b", 5, resume=True, config=QUANTILES)
    assert logs == logs1 + logs2
    quantiles = straight.quantiles
    assert quantiles.bands == 1 and quantiles.reals.filled.tolist() == [5 * quantiles.cells**2]  # a patch a step
    # Nothing is asked until the pool holds MIN_REAL cells (four patches), then the loss pushes.
    assert [log["g_quantiles"] > 0 for log in logs] == [False, False, False, True, True]
    for name in ("values", "filled", "head"):
        assert torch.equal(getattr(quantiles.fakes, name), getattr(resumed.quantiles.fakes, name))
    assert "g_quantiles" not in _run(tmp_path / "c", 1, config=LOGISTIC)[2][0]
    with pytest.raises(ValueError, match="colour_quantiles must be in"):
        InfGANOptions(colour_quantiles=-1.0)
