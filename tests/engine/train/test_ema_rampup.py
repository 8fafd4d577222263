"""Every family's shipped EMA follows the trained weights early on, not the random initial ones.

Why: CPU sessions train a few thousand images per run; with a fixed 10 kimg half-life the EMA
(what checkpoints ship) would still be mostly the initial weights. The half-life ramps up with the
images seen (``engine.train.ema.RAMPUP``), so after a few steps it sits near the trained weights.
"""

import numpy as np
import pytest
import torch

from engine.models.registry import build_random, family_module
from engine.train.datasets import CropDataset
from engine.train.protocol import TrainConfig
from tests.engine.train.runs import run_steps


def _distance(a: torch.nn.Module, b: torch.nn.Module) -> float:
    return sum(float((p - q).pow(2).sum()) for p, q in zip(a.parameters(), b.parameters(), strict=True)) ** 0.5


@pytest.mark.parametrize("family", ["reference", "infinitygan", "alis", "infgan"])
def test_ema_is_nearer_the_trained_weights_than_the_initial_ones(family, tmp_path):
    module = family_module(family)
    model = build_random(family, "tiny")
    initial = build_random(family, "tiny")
    extra = {"d_max_channels": 16} if family == "infgan" else {}
    trainer = module.make_trainer(model, TrainConfig(batch=2, seed=1, extra=extra), "cpu")
    crop = module.real_crop_size(model.config) if hasattr(module, "real_crop_size") else 32
    image = np.random.default_rng(0).integers(0, 256, (crop * 3, crop * 4, 3), dtype=np.uint8)
    run_steps(trainer, CropDataset([image], crop, seed=1), tmp_path, 3, batch=2)
    moved = _distance(trainer.generator, initial)
    assert moved > 0
    assert _distance(trainer.ema, trainer.generator) < 0.25 * moved
