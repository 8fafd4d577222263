"""``everscape models check FILE...`` (engine.doctor.describe_file): what a file is, whether it loads, why not."""

from __future__ import annotations

import json
import zipfile

import numpy as np
from PIL import Image

from engine.cli import main
from engine.doctor import CARD, CHECKPOINT, IMAGE, PROJECT, TRAINING_STATE, describe_file
from engine.train.state import save_state
from tests.faults.hostile import card, checkpoint_with, padded_safetensors, tiny_checkpoint, write_json


def test_each_kind_is_named_and_loads_or_says_why(tmp_path):
    good = tiny_checkpoint(tmp_path / "good.safetensors")
    nan = checkpoint_with(tmp_path / "nan.safetensors", lambda w: w["conv0.weight"].fill_(float("nan")))
    padded = padded_safetensors(tmp_path / "padded.safetensors")
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(good.read_bytes()[:500])
    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((4, 5, 3), np.uint8)).save(image)
    bad_image = tmp_path / "b.png"
    bad_image.write_bytes(image.read_bytes()[:40])
    save_state(tmp_path / "train_state.safetensors", {"family": "reference", "config": {}, "step": 4,
                                                      "wall_time_s": 1.0, "trainer": {}, "rng": {}})  # fmt: skip
    project = tmp_path / "p.everscape"
    with zipfile.ZipFile(project, "w") as archive:
        archive.writestr("world.json", "{}")
    expected = {
        good: (CHECKPOINT, True, "reference model"),
        nan: (CHECKPOINT, False, "conv0.weight"),
        padded: (CHECKPOINT, True, "reference model"),
        cut: (CHECKPOINT, False, "truncated"),
        write_json(tmp_path / "c.json", card("c")): (CARD, True, "card of c"),
        write_json(tmp_path / "d.json", {**card("d"), "metrics": 3}): (CARD, False, "malformed"),
        image: (IMAGE, True, "PNG 5x4"),
        bad_image: (IMAGE, False, "b.png"),
        tmp_path / "train_state.safetensors": (TRAINING_STATE, True, "step 4"),
        project: (PROJECT, False, "project"),
    }
    for path, (kind, ok, needle) in expected.items():
        report = describe_file(path)
        assert (report.kind, report.ok) == (kind, ok), report
        assert needle in report.detail and "\n" not in report.line(), report


def test_the_command_prints_one_line_per_file_and_exits_2_on_any_failure(tmp_path, capsys):
    good = tiny_checkpoint(tmp_path / "good.safetensors")
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    assert main(["models", "check", str(good)]) == 0
    assert main(["models", "check", str(good), str(other), str(tmp_path / "missing")]) == 2
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and "does not load" in lines[2] and "missing" in lines[3]
    assert main(["models", "--json", "check", str(other)]) == 2
    assert json.loads(capsys.readouterr().out)[0]["ok"] is False
