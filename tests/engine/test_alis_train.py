"""ALIS training on the tiny config: offsets cover the whole span, losses finite, exact resume."""

import dataclasses
import math

import numpy as np
import torch

from engine.families.alis import config as alis_config
from engine.families.alis import model as alis
from engine.geometry import Rect
from engine.models.registry import build_random, load_model, make_trainer
from engine.render import Renderer
from engine.train.datasets import CropDataset
from engine.train.protocol import TrainConfig
from engine.world import World
from tests.engine.train.runs import run_steps

CONFIG = TrainConfig(batch=4, r1_every=2, path_every=2, seed=3)


def _trainer(init_seed=0, panorama=False):
    config = dataclasses.replace(alis_config.CONFIGS["tiny"], panorama=panorama)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)  # G and D initial weights
        return make_trainer(alis.build(config), CONFIG, "cpu")


def test_offsets_cover_the_whole_span_including_the_last_position():
    trainer = _trainer()
    d, frame = trainer.generator.config.spacing, trainer.frame
    offsets = set()
    torch.manual_seed(1)
    for _ in range(150):
        offsets.update(trainer._offsets(16, True))
    assert offsets == set(range(2 * d - frame + 1))  # every integer offset, 0 and the last one too
    assert trainer.positions(1)[0] != trainer.positions(1)[0]  # random anchors


def test_panorama_frames_sit_on_the_strip():
    trainer = _trainer(panorama=True)
    torch.manual_seed(0)
    assert all(y == 0 for _, y in trainer.positions(16))
    fakes = trainer.generate(trainer.generator, 2, False)
    assert fakes.images.shape == (2, 3, 32, 32)


def _run(out, steps, resume=False):
    trainer = _trainer()
    image = np.random.default_rng(0).integers(0, 256, (64, 160, 3), dtype=np.uint8)
    result, logs = run_steps(trainer, CropDataset([image], 32, seed=0), out, steps, batch=4, resume=resume)
    return trainer, result, logs


def test_tiny_training_is_finite_and_resumes_exactly_through_the_loop(tmp_path):
    straight, _, logs = _run(tmp_path / "a", 4)
    assert all(math.isfinite(v) for log in logs for v in log.values())
    assert "r1" in logs[0] and "path" in logs[0]
    _, first, logs1 = _run(tmp_path / "b", 2)
    resumed, second, logs2 = _run(tmp_path / "b", 4, resume=True)
    assert (first.step, second.step) == (2, 4)
    assert logs == logs1 + logs2
    for a, b in zip(straight.ema.state_dict().values(), resumed.ema.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # The tracked mean w (truncation centre) moved and travels with the EMA checkpoint.
    assert not torch.equal(straight.ema.w_avg, build_random("alis", "tiny").w_avg)
    loaded = load_model(str(tmp_path / "b" / "last.safetensors")).model
    assert torch.equal(loaded.w_avg, resumed.ema.w_avg)
    (image,) = Renderer(loaded, "cpu").render(World("x", seed=1), [Rect(10**9, 5, 40, 40)])
    assert image.shape == (40, 40, 3)
    assert straight.sample(2).shape == (2, 3, 32, 32)


def test_style_mixing_switches_each_anchor_from_a_cutoff_layer_on():
    trainer = _trainer()
    model = trainer.generator
    torch.manual_seed(0)
    ws = torch.randn(2, 3, 3, model.config.w_dim)
    mixed = trainer.mix(model, ws)
    assert mixed.shape == (2, 3, 3, model.styled_layers, model.config.w_dim)
    assert torch.equal(mixed[:, :, :, 0], ws)  # the first layer always keeps the anchor's own latent
    switched = ~(mixed == ws[:, :, :, None]).all(-1)  # (N, J, I, L)
    assert switched.any() and not switched.all()
    assert torch.equal(switched, switched.cummax(-1).values)  # once switched, switched for good
    # Per-layer latents that are all the same render exactly like one latent per anchor.
    cells = [(0, 0)]

    def fields(name, channels, rects):  # the same input and noise for both renders
        return torch.ones(len(rects), channels, rects[0].h, rects[0].w)

    with torch.no_grad():
        grid = torch.randn(1, 6, 6, model.config.w_dim)
        plain = model.synthesize(grid, cells, [(130, 70)], 32, fields)
        layered = model.synthesize(
            grid[:, :, :, None].expand(-1, -1, -1, model.styled_layers, -1), cells, [(130, 70)], 32, fields
        )
    assert torch.equal(plain, layered)
