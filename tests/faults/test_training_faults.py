"""Training (classes 6 and 8): bad data, errors and full disks mid-run, two runs in one folder,
resumes on other data, crafted training states. Tiny config, a few steps, never real training."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from engine.cli import main
from engine.errors import CheckpointError, InvalidInput, OutputError
from engine.models.registry import build_random, make_trainer
from engine.train import session
from engine.train.datasets import CropDataset, open_dataset
from engine.train.protocol import TrainConfig
from engine.train.runlock import run_lock
from engine.train.state import FILENAME, FORMAT, load_state
from tests.engine.train.runs import run_steps
from tests.faults.measure import REPO_ROOT


def _image(seed=0):
    return np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8)


def _folder(tmp_path, good=4, bad=()):
    folder = tmp_path / "data"
    folder.mkdir()
    for i in range(good):
        Image.fromarray(_image(i)).save(folder / f"good{i}.png")
    Image.fromarray(_image()).save(tmp_path / "whole.png")
    whole = (tmp_path / "whole.png").read_bytes()
    damaged = {"truncated": whole[:200], "text": b"not an image", "empty": b"", "tiny": None}
    for name in bad:
        if damaged[name] is None:
            Image.fromarray(_image()[:8, :8]).save(folder / f"{name}.png")
        else:
            (folder / f"{name}.png").write_bytes(damaged[name])
    return folder


def test_a_folder_is_checked_up_front_bad_files_skipped_and_named(tmp_path):
    data = open_dataset(str(_folder(tmp_path, 3, ("truncated", "text", "empty", "tiny"))), 32)
    assert sorted(p.name for p in data.sources) == ["good0.png", "good1.png", "good2.png"]
    assert sorted(p.name for p, _ in data.skipped) == ["empty.png", "text.png", "tiny.png", "truncated.png"]
    assert all("\n" not in reason for _, reason in data.skipped)
    assert data.sample(4).images.shape == (4, 3, 32, 32)


def test_a_folder_of_only_bad_files_is_refused(tmp_path):
    with pytest.raises(InvalidInput, match="none of its 3 images is usable"):
        open_dataset(str(_folder(tmp_path, 0, ("truncated", "text", "empty"))), 32)


def test_an_image_that_breaks_after_the_check_is_skipped_mid_run(tmp_path):
    folder = _folder(tmp_path, 3)
    data = open_dataset(str(folder), 32, cache_images=0)
    (folder / "good1.png").write_bytes(b"changed on disk")
    for _ in range(6):
        data.sample(4)
    assert [p.name for p, _ in data.skipped] == ["good1.png"]


def _trainer():
    config = TrainConfig(batch=2, crop=32, r1_every=2, path_every=2, seed=0)
    return make_trainer(build_random("reference", "tiny"), config, "cpu")


class _FailingAfter(CropDataset):
    """Data that fails at its ``fail_at``-th batch, the way a file damaged mid-run did."""

    fail_at = 3

    def sample(self, count):
        self.fail_at -= 1
        if self.fail_at < 0:
            raise InvalidInput("data/broken.png is damaged")
        return super().sample(count)


def test_an_error_between_steps_snapshots_first(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(InvalidInput, match=r"broken\.png"):
        run_steps(_trainer(), _FailingAfter([_image()], 32), out, steps=50, batch=2)
    assert load_state(out / FILENAME)["step"] == 3  # the steps done before the error are kept


def test_a_full_disk_at_a_snapshot_keeps_the_previous_weights_and_state_together(tmp_path, monkeypatch):
    out = tmp_path / "run"
    run_steps(_trainer(), CropDataset([_image()], 32), out, steps=1, batch=2)
    before = {name: (out / name).read_bytes() for name in ("last.safetensors", FILENAME)}

    def disk_full(temp, state, *, target):
        raise OutputError(f"cannot write {target}: the disk is full")

    monkeypatch.setattr(session, "write_state_file", disk_full)
    with pytest.raises(OutputError, match="disk is full"):
        run_steps(_trainer(), CropDataset([_image()], 32), out, steps=2, batch=2, resume=True)
    assert {name: (out / name).read_bytes() for name in before} == before  # neither was replaced
    assert not [p for p in out.iterdir() if ".part" in p.name]


def test_safetensors_disk_errors_become_one_line_output_errors(tmp_path, monkeypatch):
    import safetensors.torch

    from engine import checkpoints

    def failing(*args, **kwargs):
        raise checkpoints.SafetensorError("Error while serializing: IoError(Os { code: 28, message: \"No space\" })")

    monkeypatch.setattr(checkpoints, "save_file", failing)
    with pytest.raises(OutputError, match="the disk is full"):
        checkpoints.save_checkpoint(tmp_path / "m.safetensors", "reference", {}, {"x": torch.zeros(1)})
    assert list(tmp_path.iterdir()) == []
    assert safetensors.torch.save_file is not failing


def test_two_trainings_cannot_share_a_run_folder(tmp_path):
    with (
        run_lock(tmp_path / "run"),
        pytest.raises(InvalidInput, match="in use by another training"),
        run_lock(tmp_path / "run"),
    ):
        pass
    with run_lock(tmp_path / "run"):  # released: usable again
        pass


def test_the_lock_of_a_killed_training_does_not_outlive_it(tmp_path):
    script = f"import time; from engine.train.runlock import run_lock\nwith run_lock({str(tmp_path / 'run')!r}):\n" \
             "    print('held', flush=True); time.sleep(60)"  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout.readline().strip() == "held"
        with pytest.raises(InvalidInput, match=f"pid {child.pid}"), run_lock(tmp_path / "run"):
            pass
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    time.sleep(0.1)
    with run_lock(tmp_path / "run"):
        pass


def test_a_resume_on_other_data_is_refused(tmp_path, capsys):
    first, other = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(_image(0)).save(first)
    Image.fromarray(_image(1)).save(other)
    argv = ["train", "reference", "--out", str(tmp_path / "run"), "--batch", "2", "--crop", "32",
            "--sample-every", "0", "--device", "cpu"]  # fmt: skip
    assert main([*argv, "--data", str(first), "--steps", "1"]) == 0
    header = (tmp_path / "run" / FILENAME).read_bytes()
    assert main([*argv, "--data", str(other), "--steps", "2", "--resume"]) == 2
    assert "keeps its data" in capsys.readouterr().err
    assert (tmp_path / "run" / FILENAME).read_bytes() == header  # nothing rewritten


def _state_file(path, state, tensors):
    doc = {"format": FORMAT, "state": state}
    save_file(tensors, str(path), metadata={"everscape_train": json.dumps(doc)})
    return path


GOOD = {"family": "reference", "config": {}, "step": 3, "wall_time_s": 1.0, "trainer": {}, "rng": {}}
STATE_CASES = [
    ("missing tensor", {**GOOD, "trainer": {"w": {"__tensor__": "s.trainer.w"}}}, "s.trainer.w"),
    ("string step", {**GOOD, "step": "three"}, "'step'"),
    ("negative step", {**GOOD, "step": -1}, "step -1"),
    ("no trainer", {k: v for k, v in GOOD.items() if k != "trainer"}, "'trainer'"),
    ("list state", [1, 2], "list"),
    ("bool step", {**GOOD, "step": True}, "'step'"),
    ("nan wall time", {**GOOD, "wall_time_s": float("nan")}, "wall time"),
    ("bad ndarray", {**GOOD, "rng": {"numpy": {"__ndarray__": [1], "dtype": "nonsense"}}}, "damaged"),
]


@pytest.mark.parametrize("case,state,needle", STATE_CASES, ids=[c[0] for c in STATE_CASES])
def test_crafted_training_states_are_one_line_refusals(tmp_path, case, state, needle):
    path = _state_file(tmp_path / FILENAME, state, {"other": torch.zeros(1)})
    with pytest.raises(CheckpointError) as error:
        load_state(path)
    assert needle in str(error.value) and "\n" not in str(error.value)
