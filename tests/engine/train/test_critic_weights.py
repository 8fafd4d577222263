"""A trained critic ships beside its generator, and ``train --init`` continues with it."""

import dataclasses
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from engine.cards import card_path, read_card
from engine.checkpoints import SHIPPED_DIR, file_sha256, read_header
from engine.cli import main
from engine.errors import CheckpointError, InvalidInput
from engine.release.critics import ship_critic
from engine.train import critic_weights
from engine.train.state import FILENAME, load_state


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A 3-step reference run: its critic has moved off its seeded initial weights."""
    root = tmp_path_factory.mktemp("critic")
    image = root / "map.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (80, 400, 3), dtype=np.uint8)).save(image)
    assert _train(image, root / "first", "--steps", "3") == 0
    return image, root / "first"


def _train(image, out, *extra):
    argv = ["train", "reference", "--data", str(image), "--out", str(out), "--batch", "2"]
    return main([*argv, "--sample-every", "0", "--best-metric", "none", "--device", "cpu", *extra])


def _critic_of(run) -> dict[str, torch.Tensor]:
    return load_state(run / FILENAME)["trainer"]["discriminator"]


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_init_from_a_run_folder_continues_with_that_runs_critic(trained_run, tmp_path, capsys):
    image, first = trained_run
    source = first / "last.safetensors"
    # Zero steps: the new run's saved critic is exactly the one it started with.
    assert _train(image, tmp_path / "warm", "--steps", "0", "--init", str(source)) == 0
    assert "critic from the run's training state" in capsys.readouterr().err
    assert _same(_critic_of(tmp_path / "warm"), _critic_of(first))
    recorded = read_header(tmp_path / "warm" / "last.safetensors")["init"]["critic"]
    assert recorded == {"source": str(first / FILENAME), "step": 3}

    assert _train(image, tmp_path / "fresh", "--steps", "0", "--init", str(source), "--fresh-critic") == 0
    assert not _same(_critic_of(tmp_path / "fresh"), _critic_of(first))
    assert read_header(tmp_path / "fresh" / "last.safetensors")["init"]["critic"] is None
    capsys.readouterr()
    assert _train(image, tmp_path / "new", "--steps", "0", "--fresh-critic") == 2
    assert "--fresh-critic is for --init runs" in capsys.readouterr().err


def test_shipped_critic_is_fp16_paired_with_its_generator_and_loaded_by_init(trained_run, tmp_path, capsys):
    image, first = trained_run
    dest = tmp_path / "checkpoints"
    dest.mkdir()
    target = dest / "m.safetensors"
    shutil.copyfile(first / "last.safetensors", target)  # what ship writes, weights-wise
    entry = ship_critic(first / "last.safetensors", target, file_sha256(target), lambda _m: None)
    companion = dest / "critics" / "m.safetensors"
    assert entry == {"file": "critics/m.safetensors", "bytes": companion.stat().st_size, "step": 3}
    shipped = critic_weights.load(companion)
    original = _critic_of(first)
    assert shipped.key == "discriminator" and shipped.pairs_with == file_sha256(target)
    assert all(shipped.weights[k].dtype == torch.float16 for k in original if original[k].is_floating_point())
    assert _same(shipped.weights, {k: v.half() if v.is_floating_point() else v for k, v in original.items()})

    assert _train(image, tmp_path / "warm", "--steps", "0", "--init", str(target)) == 0
    assert f"critic from {companion} (step 3)" in capsys.readouterr().err
    loaded = _critic_of(tmp_path / "warm")
    assert _same(loaded, {k: shipped.weights[k].to(v.dtype) for k, v in loaded.items()})

    # A generator file that is not the one the critic was paired with gets a fresh critic.
    shutil.copyfile(tmp_path / "warm" / "last.safetensors", target)
    assert _train(image, tmp_path / "other", "--steps", "0", "--init", str(target)) == 0
    assert "trained against another generator file: the critic starts fresh" in capsys.readouterr().err
    assert read_header(tmp_path / "other" / "last.safetensors")["init"]["critic"] is None

    # Re-shipping under the name from a bare file (no training state) removes the stale critic.
    bare = tmp_path / "bare" / "m.safetensors"
    bare.parent.mkdir()
    shutil.copyfile(target, bare)
    assert ship_critic(bare, target, file_sha256(target), lambda _m: None) is None
    assert not companion.exists()


def test_damaged_or_misfitting_critics_are_one_line_errors(trained_run, tmp_path, capsys):
    image, first = trained_run
    target = tmp_path / "m.safetensors"
    shutil.copyfile(first / "last.safetensors", target)
    companion = critic_weights.companion_path(target)
    companion.parent.mkdir()
    companion.write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="is damaged or not ours"):
        critic_weights.load(companion)
    assert _train(image, tmp_path / "warm", "--steps", "0", "--init", str(target)) == 2
    err = capsys.readouterr().err.strip()
    assert "is damaged or not ours" in err and "--fresh-critic" in err and len(err.splitlines()) == 1
    assert _train(image, tmp_path / "fresh", "--steps", "0", "--init", str(target), "--fresh-critic") == 0

    critic = critic_weights.from_run(first / FILENAME)
    partial = dataclasses.replace(critic, weights=dict(list(critic.weights.items())[1:]))

    class Trainer:
        discriminator = torch.nn.Linear(2, 2)

    with pytest.raises(InvalidInput, match="--fresh-critic"):
        critic_weights.install(Trainer(), partial)
    with pytest.raises(InvalidInput, match="no discriminators"):
        critic_weights.install(Trainer(), dataclasses.replace(critic, key="discriminators"))


def test_a_critic_over_the_size_limit_is_refused_and_leaves_no_file(trained_run, tmp_path, monkeypatch):
    _image, first = trained_run
    monkeypatch.setattr(critic_weights, "MAX_BYTES", 100)
    path = tmp_path / "critics" / "m.safetensors"
    with pytest.raises(InvalidInput, match="over the 0 MB limit"):
        critic_weights.save(path, critic_weights.from_run(first / FILENAME), "0" * 64)
    assert not path.exists() and not list(path.parent.iterdir())


def test_a_critic_trained_against_a_frozen_shipped_generator_pairs_with_it(trained_run, tmp_path, capsys):
    """``train --init NAME --critic-warmup N`` past the run's end, then ``models pair-critic``."""
    import json

    from engine.cards import card_path
    from tests.faults.hostile import card

    image, first = trained_run
    shipped = tmp_path / "m.safetensors"
    shutil.copyfile(first / "last.safetensors", shipped)
    card_path(shipped).write_text(json.dumps(card("m")))  # a valid card: a malformed one is never rewritten
    run = tmp_path / "critic-only"
    assert _train(image, run, "--steps", "2", "--init", str(shipped), "--critic-warmup", "100") == 0
    capsys.readouterr()
    assert main(["models", "pair-critic", str(run), str(shipped)]) == 0
    assert "critic of step 2" in capsys.readouterr().out
    critic, note = critic_weights.find_for(shipped)
    assert critic is not None and critic.step == 2 and note.startswith("critic from")
    assert _same(critic.weights, {k: v.half() for k, v in _critic_of(run).items()})
    assert json.loads(card_path(shipped).read_text())["critic"]["step"] == 2

    # A run whose generator moved (the first run trained it) is refused, and nothing is written.
    critic_weights.companion_path(shipped).unlink()
    assert main(["models", "pair-critic", str(first), str(shipped)]) == 2
    err = capsys.readouterr().err.strip()
    assert "is not the generator of" in err and len(err.splitlines()) == 1
    assert not critic_weights.companion_path(shipped).exists()


@pytest.mark.parametrize("critic_file", sorted((SHIPPED_DIR / "critics").glob("*.safetensors")), ids=lambda p: p.stem)
def test_every_shipped_critic_pairs_with_its_shipped_generator_and_card(critic_file):
    generator = SHIPPED_DIR / critic_file.name
    critic, note = critic_weights.find_for(generator)
    assert critic is not None, note  # the companion was paired with exactly this generator file
    assert critic.family == read_header(generator)["family"]
    card = read_card(card_path(generator))
    assert card["critic"] == {
        "file": f"critics/{critic_file.name}",
        "bytes": critic_file.stat().st_size,
        "step": critic.step,
    }
    assert critic_file.stat().st_size <= critic_weights.MAX_BYTES
