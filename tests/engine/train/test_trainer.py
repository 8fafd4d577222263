"""The adversarial base trainer on reference:tiny, EMA and the single-process DDP helpers."""

import copy
import math

import pytest
import torch

from engine.models.registry import build_random, make_trainer
from engine.train import distributed
from engine.train.adversarial import AdversarialTrainer, Fakes
from engine.train.discriminator import Discriminator
from engine.train.ema import ema_decay, update_ema
from engine.train.protocol import RealBatch, TrainConfig


def _reals(n=4, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return RealBatch(torch.rand(n, 3, size, size, generator=g) * 2 - 1, torch.rand(n, 2, generator=g) * 2 - 1)


def test_reference_trainer_steps_are_finite_and_regularisers_run_lazily():
    trainer = make_trainer(
        build_random("reference", "tiny"), TrainConfig(batch=4, crop=32, r1_every=2, path_every=3), "cpu"
    )
    before = [p.clone() for p in trainer.generator.parameters()]
    logs = [trainer.step(_reals(), step) for step in range(4)]
    assert all(math.isfinite(v) for log in logs for v in log.values())
    assert ["r1" in log for log in logs] == [True, False, True, False]
    assert ["path" in log for log in logs] == [True, False, False, True]
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.generator.parameters()))
    # EMA lags the trained weights.
    assert any(not torch.equal(a, b) for a, b in zip(trainer.ema.parameters(), trainer.generator.parameters()))
    assert trainer.sample(2).shape == (2, 3, 64, 64)
    assert torch.equal(trainer.sample(2), trainer.sample(2))


def test_lazy_regularisation_corrects_adam():
    trainer = make_trainer(build_random("reference", "tiny"), TrainConfig(batch=2, crop=32), "cpu")
    group = trainer.d_opt.param_groups[0]
    assert group["lr"] == pytest.approx(0.002 * 16 / 17)
    assert group["betas"][1] == pytest.approx(0.99 ** (16 / 17))
    assert group["betas"][0] == 0.0


class _WganToy(AdversarialTrainer):
    """A simple non-consistent generator: the hook set must fit plain generators too."""

    loss = "wgan"
    d_steps = 2

    def generate(self, model, batch, need_latent_grad):
        z = torch.randn(batch, 8, requires_grad=need_latent_grad)
        return Fakes(model(z), z, {"y": torch.zeros(batch)})

    def extra_d_losses(self, reals, real_aux, fakes, fake_aux):
        return {"aux": (real_aux[:, 0] - reals.positions[:, 1]).abs().mean()}

    def extra_g_losses(self, fakes, fake_aux):
        return {"aux": (fake_aux[:, 0] - fakes.extras["y"]).abs().mean()}


class _Plain(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(8, 3 * 16 * 16)

    def forward(self, z):
        return torch.tanh(self.lin(z)).reshape(-1, 3, 16, 16)


def test_wgan_mode_with_extra_losses_and_state_round_trip():
    torch.manual_seed(0)
    d = Discriminator(16, channel_base=128, max_channels=8, aux_outputs=1)
    trainer = _WganToy(_Plain(), d, TrainConfig(batch=3, path_every=1), "cpu")
    assert trainer.real_batches_per_step == 2
    log = trainer.step(_reals(6, 16), 0)
    assert {"d_loss", "d_gp", "d_aux", "g_loss", "g_aux", "path"} <= set(log)
    assert "r1" not in log  # no R1 with WGAN-GP
    state = copy.deepcopy(trainer.state_dict())  # optimiser state dicts alias live tensors
    torch.manual_seed(1)
    other = _WganToy(
        _Plain(),
        Discriminator(16, channel_base=128, max_channels=8, aux_outputs=1),
        TrainConfig(batch=3, path_every=1),
        "cpu",
    )
    other.load_state_dict(state)
    torch.manual_seed(5)
    a = trainer.step(_reals(6, 16, 1), 1)
    torch.manual_seed(5)
    b = other.step(_reals(6, 16, 1), 1)
    assert a == b


def test_ema_half_life_and_update():
    assert ema_decay(32, 10.0) == pytest.approx(0.5 ** (32 / 10000))
    assert ema_decay(10, 10.0, images_seen=100, rampup=0.05) == pytest.approx(0.5 ** (10 / 5))
    ema, model = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    target = model.weight.detach() * 0.25 + ema.weight.detach() * 0.75
    update_ema(ema, model, 0.75)
    assert torch.allclose(ema.weight, target)


def test_distributed_helpers_are_noops_in_one_process(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    info = distributed.initialise(torch.device("cpu"))
    assert info.world_size == 1 and info.is_main
    lin = torch.nn.Linear(2, 2)
    lin(torch.ones(1, 2)).sum().backward()
    grad = lin.weight.grad.clone()
    distributed.average_gradients(lin)
    assert torch.equal(grad, lin.weight.grad)
    assert distributed.mean_over_processes(torch.tensor(3.0)).item() == 3.0
