"""``--g-trainable``: training only named parts of a generator, the rest frozen to the bit."""

import numpy as np
import pytest
import torch

from engine.models import infgan
from engine.models.registry import build_random, make_trainer
from engine.train.datasets import CropDataset
from engine.train.protocol import RealBatch, TrainableSubset, TrainConfig


def _named(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def _changed(before: dict[str, torch.Tensor], module: torch.nn.Module) -> set[str]:
    return {name for name, p in module.named_parameters() if not torch.equal(before[name], p)}


def test_a_subset_is_every_parameter_under_its_prefixes_and_an_unknown_name_is_refused():
    model = build_random("reference", "tiny")
    every = TrainableSubset(model, TrainConfig())
    assert len(every.parameters) == len(list(model.parameters()))
    subset = TrainableSubset(model, TrainConfig(extra={"g_trainable": ["conv1", "to_rgb"]}))
    assert {id(p) for p in subset.parameters} == {
        id(p) for name, p in model.named_parameters() if name.split(".")[0] in ("conv1", "to_rgb")
    }
    with pytest.raises(ValueError, match="no parameters under conv"):  # a prefix is whole names, not letters
        TrainableSubset(model, TrainConfig(extra={"g_trainable": ["conv"]}))
    subset.train(model, True)
    assert [name for name, p in model.named_parameters() if p.requires_grad] == [
        "conv1.weight",
        "conv1.bias",
        "to_rgb.weight",
        "to_rgb.bias",
    ]
    subset.train(model, False)
    assert not any(p.requires_grad for p in model.parameters())


def test_infinitygan_trains_only_its_subset_and_skips_the_path_regulariser_its_latents_cannot_feel():
    config = TrainConfig(batch=4, r1_every=2, path_every=1, extra={"g_trainable": ["structure"]})
    trainer = make_trainer(build_random("infinitygan", "tiny"), config, "cpu")
    data = CropDataset([np.random.default_rng(0).integers(0, 256, (160, 64, 3), dtype=np.uint8)], 37, seed=0)
    generator, ema = _named(trainer.generator), _named(trainer.ema)
    logs = [trainer.step(data.sample(4), step) for step in range(3)]
    assert all("g_loss" in log and "path" not in log for log in logs)  # the mapping is frozen: W has no grad
    trained = _changed(generator, trainer.generator)
    assert trained and all(name.startswith("structure.") for name in trained)
    assert _changed(ema, trainer.ema) <= trained and _changed(ema, trainer.ema)
    assert len(trainer.g_opt.param_groups[0]["params"]) == len(list(trainer.generator.structure.parameters()))
    # Unrestricted, the same schedule runs the regulariser and moves the mapping too.
    free = make_trainer(build_random("infinitygan", "tiny"), TrainConfig(batch=4, path_every=1), "cpu")
    mapping = _named(free.generator)
    assert "path" in free.step(data.sample(4), 0)
    assert any(name.startswith("mapping.") for name in _changed(mapping, free.generator))


def test_infgan_trains_only_its_subset():
    config = TrainConfig(batch=1, seed=3, extra={"d_max_channels": 16, "loss": "logistic", "g_trainable": ["blocks.0"]})
    model = build_random("infgan", "tiny")
    trainer = make_trainer(model, config, "cpu")
    crop = infgan.real_crop_size(model.config)
    generator = _named(trainer.generator)
    torch.manual_seed(0)
    for step in range(2):
        trainer.step(RealBatch(torch.rand(1, 3, crop, crop) * 2 - 1, torch.zeros(1, 2)), step)
    trained = _changed(generator, trainer.generator)
    assert trained and all(name.startswith("blocks.0.") for name in trained)
