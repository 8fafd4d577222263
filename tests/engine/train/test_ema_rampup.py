"""Every family's shipped EMA follows the trained weights early on, not the random initial ones.

Why: CPU sessions train a few thousand images per run; with a fixed 10 kimg half-life the EMA
(what checkpoints ship) would still be mostly the initial weights. The half-life ramps up with the
images seen (``engine.train.ema.RAMPUP``), so after a few steps it sits near the trained weights.
"""

import numpy as np
import pytest
import torch

from engine.models.registry import build_random, get_family
from engine.train import ema
from engine.train.datasets import CropDataset
from engine.train.options import family_options
from engine.train.protocol import TrainConfig
from tests.engine.train.runs import run_steps


def _distance(a: torch.nn.Module, b: torch.nn.Module) -> float:
    return sum(float((p - q).pow(2).sum()) for p, q in zip(a.parameters(), b.parameters(), strict=True)) ** 0.5


@pytest.mark.parametrize("family", ["reference", "infinitygan", "alis", "infgan"])
def test_ema_is_nearer_the_trained_weights_than_the_initial_ones(family, tmp_path):
    module = get_family(family)
    model = build_random(family, "tiny")
    initial = build_random(family, "tiny")
    extra = {"d_max_channels": 16} if family == "infgan" else {}
    trainer = module.make_trainer(model, TrainConfig(batch=2, seed=1, options=family_options(family, extra)), "cpu")
    crop = module.crop_size(model.config)
    image = np.random.default_rng(0).integers(0, 256, (crop * 3, crop * 4, 3), dtype=np.uint8)
    run_steps(trainer, CropDataset([image], crop, seed=1), tmp_path, 3, batch=2)
    moved = _distance(trainer.generator, initial)
    assert moved > 0
    assert _distance(trainer.ema, trainer.generator) < 0.25 * moved


@pytest.mark.parametrize("family", ["reference", "infgan"])
def test_the_ramp_counts_the_images_seen_across_a_resume_with_another_batch(family, tmp_path, monkeypatch):
    """After 2 steps of 2 images, a resumed step of 1 image has seen 5 images, not (step+1) x 1 = 3:
    the loop's count reaches the EMA, so a resume under torchrun or a new ``--batch`` keeps the ramp."""
    module = get_family(family)
    extra = {"d_max_channels": 16} if family == "infgan" else {}
    crop = module.crop_size(build_random(family, "tiny").config) if family == "infgan" else 32
    image = np.random.default_rng(0).integers(0, 256, (crop * 3, crop * 4, 3), dtype=np.uint8)

    def run(steps: int, batch: int, resume: bool) -> None:
        config = TrainConfig(batch=batch, crop=crop, seed=1, options=family_options(family, extra))
        trainer = module.make_trainer(build_random(family, "tiny"), config, "cpu")
        run_steps(trainer, CropDataset([image], crop, seed=1), tmp_path, steps, batch=batch, resume=resume)

    run(2, 2, False)
    seen: list[int | None] = []
    original = ema.ema_decay

    def spy(batch: int, half_life: float, images: int | None = None, rampup: float | None = None) -> float:
        seen.append(images)
        return original(batch, half_life, images, rampup)

    monkeypatch.setattr(ema, "ema_decay", spy)
    run(3, 1, True)
    assert seen == [5]


def test_step_decay_without_a_count_assumes_a_constant_batch():
    assert ema.step_decay(4, 10.0, 9, None) == ema.ema_decay(4, 10.0, 40, ema.RAMPUP)
    assert ema.step_decay(4, 10.0, 9, 12) == ema.ema_decay(4, 10.0, 16, ema.RAMPUP)
