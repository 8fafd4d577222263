"""``--cpu-bf16``: the CPU's bf16 autocast is opt-in, reaches the main passes only, and stays with a run."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch.overrides import TorchFunctionMode

from engine.checkpoints import read_header
from engine.cli import main
from engine.models.registry import build_random, get_family
from engine.train.options import family_options
from engine.train.protocol import RealBatch, TrainConfig


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "map.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (160, 400, 3), dtype=np.uint8)).save(path)
    return path


class _RecordConvOutputs(TorchFunctionMode):
    """Records the dtype every convolution call returns (after autocast has chosen it)."""

    CONVS = (F.conv2d, F.conv_transpose2d, torch.conv2d, torch.conv_transpose2d)

    def __init__(self, seen: list[torch.dtype]) -> None:
        super().__init__()
        self.seen = seen

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func in self.CONVS:
            self.seen.append(out.dtype)
        return out


def _conv_dtypes_of_one_step(family: str, step: int = 1, **extra) -> tuple[set[torch.dtype], dict[str, float]]:
    """Output dtypes of every convolution over ``step`` (1: no lazy regulariser runs then)."""
    module = get_family(family)
    model = build_random(family, "tiny")
    crop = module.crop_size(model.config)
    if family == "infgan":
        extra = {"loss": "logistic", **extra}  # the recipe's; WGAN-GP's penalty runs (in fp32) every step
    trainer = module.make_trainer(model, TrainConfig(batch=2, crop=crop, options=family_options(family, extra)), "cpu")
    per_step = 2 * getattr(trainer, "real_batches_per_step", 1)
    torch.manual_seed(0)
    reals = RealBatch(torch.rand(per_step, 3, crop, crop) * 2 - 1, torch.zeros(per_step, 2))
    seen: list[torch.dtype] = []
    with _RecordConvOutputs(seen):
        logs = trainer.step(reals, step)
    networks = [value for value in vars(trainer).values() if isinstance(value, torch.nn.Module)]
    assert all(p.dtype == torch.float32 for network in networks for p in network.parameters())  # weights stay fp32
    return set(seen), logs


@pytest.mark.parametrize("family", ["alis", "infgan", "infinitygan"])
def test_every_trainer_runs_its_convs_in_bf16_only_when_asked_and_its_losses_stay_finite(family):
    plain, _ = _conv_dtypes_of_one_step(family)
    fast, logs = _conv_dtypes_of_one_step(family, cpu_bf16=True)
    assert plain == {torch.float32}  # the default: fp32 on the CPU
    assert fast == {torch.bfloat16}
    assert logs and all(np.isfinite(value) for value in logs.values())
    regularised, logs = _conv_dtypes_of_one_step(family, step=16, cpu_bf16=True)  # R1 (and path length) run
    assert regularised == {torch.bfloat16, torch.float32} and any(key.startswith("r1") for key in logs)


def test_the_flag_is_recorded_and_kept_on_resume(image, tmp_path):
    def train(out, *extra):
        argv = ["train", "reference", "--data", str(image), "--out", str(out), "--batch", "2", "--sample-every", "0"]
        return main([*argv, "--best-metric", "none", "--device", "cpu", *extra])

    def recorded(run):
        return (read_header(run / "last.safetensors").get("train_extra") or {}).get("cpu_bf16")

    assert train(tmp_path / "bf16", "--steps", "2", "--cpu-bf16") == 0
    assert recorded(tmp_path / "bf16") is True
    assert train(tmp_path / "bf16", "--steps", "3", "--resume") == 0  # not given again: kept
    assert recorded(tmp_path / "bf16") is True
    assert train(tmp_path / "fp32", "--steps", "1") == 0
    assert recorded(tmp_path / "fp32") is None
