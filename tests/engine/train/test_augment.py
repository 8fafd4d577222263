"""Critic-input augmentation (``engine.train.augment``) and its use by the ∞-GAN trainer."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from engine.checkpoints import load_checkpoint, read_header
from engine.cli import main
from engine.errors import InvalidInput
from engine.families.infgan import model as infgan
from engine.families.infgan.trainer import InfGANOptions
from engine.models.registry import build_random, make_trainer
from engine.train.augment import CriticAugment, parse_policy
from engine.train.datasets import CropDataset
from engine.train.protocol import TrainConfig
from tests.engine.train.runs import run_steps


def _augment(policy: str, seed: int = 0) -> CriticAugment:
    return CriticAugment(parse_policy(policy), torch.Generator().manual_seed(seed))


def test_policies_parse_and_unknown_names_are_one_line_errors():
    assert parse_policy(None) == parse_policy("none") == parse_policy("") == ()
    assert parse_policy("color, cutout") == ("color", "cutout")
    with pytest.raises(InvalidInput, match="unknown augmentation 'flip'") as error:
        parse_policy("color,flip")
    assert len(str(error.value).splitlines()) == 1
    x = torch.randn(2, 3, 8, 8)
    assert _augment("none")(x) is x and not _augment("none")


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "color,translation,cutout"])
def test_every_operation_keeps_the_shape_passes_gradients_and_repeats_from_its_seed(policy):
    x = torch.randn(3, 3, 16, 16, requires_grad=True)
    out = _augment(policy)(x)
    assert out.shape == x.shape
    out.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    again = _augment(policy)(x.detach())
    assert torch.equal(out.detach(), again)
    stream = _augment(policy)
    assert not torch.equal(stream(x.detach()), stream(x.detach()))  # the stream moves on


def test_translation_shifts_each_image_by_at_most_an_eighth_with_zeros_shifted_in():
    x = torch.rand(4, 3, 16, 16) + 1  # no zeros of its own
    out = _augment("translation", seed=5)(x)
    padded = F.pad(x, (2, 2, 2, 2))
    for i in range(4):
        windows = [padded[i, :, y : y + 16, c : c + 16] for y in range(5) for c in range(5)]
        assert any(torch.equal(out[i], w) for w in windows)
    assert not all(torch.equal(out[i], x[i]) for i in range(4))


def test_cutout_zeroes_one_square_of_half_the_side():
    x = torch.ones(5, 3, 16, 12)
    out = _augment("cutout", seed=2)(x)
    zeros = (out == 0).all(dim=1)  # (N, H, W)
    assert [int(z.sum()) for z in zeros] == [8 * 6] * 5
    for z in zeros:
        rows, cols = torch.nonzero(z, as_tuple=True)
        assert rows.max() - rows.min() == 7 and cols.max() - cols.min() == 5  # one solid 8x6 square


def test_color_is_drawn_per_image_and_keeps_flat_images_flat():
    x = torch.full((2, 3, 8, 8), 0.25)
    out = _augment("color", seed=1)(x)
    assert not torch.equal(out[0], out[1])  # identical inputs, independent draws
    assert torch.allclose(out, out[..., :1, :1].expand_as(out))  # no spatial change


def _image():
    return np.random.default_rng(0).integers(0, 256, (160, 200, 3), dtype=np.uint8)


def _trainer_run(out, steps, augment, resume=False):
    options = InfGANOptions(d_max_channels=16, loss="logistic", augment=augment)
    config = TrainConfig(batch=1, seed=3, r1_every=2, options=options)
    model = build_random("infgan", "tiny")
    trainer = make_trainer(model, config, "cpu")
    dataset = CropDataset([_image()], infgan.real_crop_size(model.config), seed=1)
    _, logs = run_steps(trainer, dataset, out, steps, batch=1, resume=resume)
    return trainer, logs


def test_the_infgan_trainer_augments_its_critics_and_still_resumes_exactly(tmp_path):
    _, plain = _trainer_run(tmp_path / "plain", 2, "none")
    _, logs = _trainer_run(tmp_path / "a", 3, "color,translation,cutout")
    _, first = _trainer_run(tmp_path / "b", 2, "color,translation,cutout")
    _, second = _trainer_run(tmp_path / "b", 3, "color,translation,cutout", resume=True)
    assert logs == first + second and all(math.isfinite(v) for log in logs for v in log.values())
    # Same seeds, same noise and crops: only the critics' inputs differ.
    assert logs[0]["d_loss_l0"] != plain[0]["d_loss_l0"]


@pytest.fixture
def tall_image(tmp_path):
    path = tmp_path / "map.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (160, 400, 3), dtype=np.uint8)).save(path)
    return path


def test_the_command_line_records_the_policy_and_a_resume_keeps_it(tall_image, tmp_path, capsys):
    def argv(out):
        args = ["train", "infgan", "--data", str(tall_image), "--out", str(out), "--batch", "1", "--device", "cpu"]
        return [*args, "--sample-every", "0", "--best-metric", "none", "--snapshot-every", "1"]

    straight, out = tmp_path / "straight", tmp_path / "run"
    assert main([*argv(straight), "--steps", "2", "--augment", "translation"]) == 0
    assert main([*argv(out), "--steps", "1", "--augment", "translation"]) == 0
    assert main([*argv(out), "--steps", "2", "--resume"]) == 0  # no --augment: the run's own policy
    header = read_header(out / "last.safetensors")
    assert header["steps"] == 2 and header["train_extra"]["augment"] == "translation"
    a, b = load_checkpoint(straight / "last.safetensors"), load_checkpoint(out / "last.safetensors")
    assert all(torch.equal(a.weights[k], b.weights[k]) for k in a.weights)  # step 2 augmented too
    capsys.readouterr()
    assert main([*argv(out), "--steps", "3", "--resume", "--augment", "blur"]) == 2
    assert "unknown augmentation 'blur'" in capsys.readouterr().err


def test_the_adversarial_families_augment_through_discriminate_and_resume_exactly(tall_image, tmp_path):
    """InfinityGAN, ALIS and the reference family share ``AdversarialTrainer.discriminate``; its
    augmentation draws from the global RNG the loop saves, so a resume still repeats a straight run."""

    def run(out, steps, *extra):
        args = ["train", "reference", "--data", str(tall_image), "--out", str(out), "--batch", "2"]
        args += ["--device", "cpu", "--sample-every", "0", "--best-metric", "none", "--snapshot-every", "1"]
        assert main([*args, "--steps", str(steps), *extra]) == 0
        return load_checkpoint(out / "last.safetensors").weights

    straight = run(tmp_path / "straight", 2, "--augment", "color,translation,cutout")
    run(tmp_path / "resumed", 1, "--augment", "color,translation,cutout")
    resumed = run(tmp_path / "resumed", 2, "--resume")
    plain = run(tmp_path / "plain", 2)
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    assert any(not torch.equal(straight[k], plain[k]) for k in straight)
