"""``--cpu-bf16``: the CPU's bf16 autocast is opt-in, reaches the main passes only, and stays with a run."""

import numpy as np
import pytest
import torch
from PIL import Image

from engine.checkpoints import read_header
from engine.cli import main
from engine.models import alis
from engine.models.registry import build_random
from engine.train.protocol import RealBatch, TrainConfig


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "map.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (160, 400, 3), dtype=np.uint8)).save(path)
    return path


def _trainer(**extra):
    model = build_random("alis", "tiny")
    crop = alis.real_crop_size(model.config)
    return alis.make_trainer(model, TrainConfig(batch=2, crop=crop, extra=extra), "cpu"), crop


def test_the_critic_runs_in_bf16_only_when_asked_and_a_step_stays_finite():
    plain, crop = _trainer()
    fast, _ = _trainer(cpu_bf16=True)
    x = torch.rand(2, 3, crop, crop) * 2 - 1

    def conv_dtypes(trainer):
        seen = []
        hooks = [
            m.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
            for m in trainer.discriminator.modules()
            if isinstance(m, torch.nn.Conv2d) or "Conv" in type(m).__name__
        ]
        with trainer.autocast():
            trainer.discriminate(x)
        for hook in hooks:
            hook.remove()
        return set(seen)

    assert conv_dtypes(plain) == {torch.float32}  # the default: fp32 on the CPU
    assert conv_dtypes(fast) == {torch.bfloat16}
    torch.manual_seed(0)
    reals = RealBatch(x, torch.zeros(2, 2))
    logs = [fast.step(reals, step) for step in range(1, 5)]
    assert all(np.isfinite(v) for entry in logs for v in entry.values())
    assert all(p.dtype == torch.float32 for p in fast.generator.parameters())  # weights stay fp32


def test_the_flag_is_recorded_kept_on_resume_and_refused_where_a_trainer_has_no_bf16_passes(image, tmp_path, capsys):
    def train(family, out, *extra):
        argv = ["train", family, "--data", str(image), "--out", str(out), "--batch", "2", "--sample-every", "0"]
        return main([*argv, "--best-metric", "none", "--device", "cpu", *extra])

    def recorded(run):
        return (read_header(run / "last.safetensors").get("train_extra") or {}).get("cpu_bf16")

    assert train("reference", tmp_path / "bf16", "--steps", "2", "--cpu-bf16") == 0
    assert recorded(tmp_path / "bf16") is True
    assert train("reference", tmp_path / "bf16", "--steps", "3", "--resume") == 0  # not given again: kept
    assert recorded(tmp_path / "bf16") is True
    assert train("reference", tmp_path / "fp32", "--steps", "1") == 0
    assert recorded(tmp_path / "fp32") is None
    capsys.readouterr()
    assert train("infgan", tmp_path / "infgan", "--steps", "1", "--cpu-bf16") == 2
    assert "--cpu-bf16: the infgan trainer has no mixed-precision passes" in capsys.readouterr().err
