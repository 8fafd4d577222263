"""ALIS training on the tiny config: offsets cover the whole span, losses finite, exact resume."""

import copy
import dataclasses
import math

import torch

from engine.models import alis
from engine.models.registry import build_random
from engine.train.protocol import RealBatch, TrainConfig

CONFIG = TrainConfig(batch=4, r1_every=2, path_every=2, seed=3)


def _reals(step, n=4, size=32):
    g = torch.Generator().manual_seed(100 + step)
    return RealBatch(torch.rand(n, 3, size, size, generator=g) * 2 - 1, torch.rand(n, 2, generator=g) * 2 - 1)


def _trainer(init_seed=0, panorama=False):
    config = dataclasses.replace(alis.CONFIGS["tiny"], panorama=panorama)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        model = alis.build(config)
    return alis.make_trainer(model, CONFIG, "cpu")


def test_offsets_cover_the_whole_span_including_the_last_position():
    trainer = _trainer()
    d, frame = trainer.generator.config.spacing, trainer.frame
    offsets = set()
    torch.manual_seed(1)
    for _ in range(400):
        offsets.update(trainer._offsets(8, True))
    assert offsets == set(range(2 * d - frame + 1))  # every integer offset, 0 and the last one too
    assert trainer.positions(1)[0] != trainer.positions(1)[0]  # random anchors


def test_panorama_frames_sit_on_the_strip():
    trainer = _trainer(panorama=True)
    torch.manual_seed(0)
    assert all(y == 0 for _, y in trainer.positions(16))
    fakes = trainer.generate(trainer.generator, 2, False)
    assert fakes.images.shape == (2, 3, 32, 32)


def test_tiny_training_is_finite_and_resumes_exactly():
    trainer = _trainer()
    torch.manual_seed(7)
    logs = [trainer.step(_reals(s), s) for s in range(2)]
    assert all(math.isfinite(v) for log in logs for v in log.values())
    assert "r1" in logs[0] and "path" in logs[0]
    state = copy.deepcopy(trainer.state_dict())
    rng = torch.random.get_rng_state()
    after = [trainer.step(_reals(s), s) for s in (2, 3)]

    resumed = _trainer(init_seed=1)
    resumed.load_state_dict(state)
    torch.random.set_rng_state(rng)
    again = [resumed.step(_reals(s), s) for s in (2, 3)]
    assert after == again
    for a, b in zip(trainer.ema.state_dict().values(), resumed.ema.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # The tracked mean w (truncation centre) moved and travels with the EMA.
    assert not torch.equal(trainer.ema.w_avg, build_random("alis", "tiny").w_avg)
    assert trainer.sample(2).shape == (2, 3, 32, 32)
