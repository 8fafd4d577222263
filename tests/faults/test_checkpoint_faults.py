"""Hostile checkpoints (classes 2, 3, 8): each is refused in one line, before anything large exists."""

from __future__ import annotations

import math
import pickle
import zipfile

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import filekind
from engine.checkpoints import load_checkpoint, read_header
from engine.errors import CheckpointError, EverscapeError
from engine.models.registry import load_model
from tests.faults.hostile import checkpoint_with, padded_safetensors, raw_safetensors, tiny_checkpoint
from tests.faults.measure import REFUSAL_RSS_BUDGET, assert_refused, peak_rss_bytes, run_cli


def _nan(weights):
    weights["conv0.weight"][0, 0, 0, 0] = math.nan


def _inf(weights):
    weights["conv0.weight"].fill_(math.inf)


def _drop(weights):
    weights.pop("conv0.weight")


def _extra(weights):
    weights["stowaway"] = torch.zeros(3)


def _reshape(weights):
    weights["conv0.weight"] = torch.zeros(2, 2)


#: (case, how to make it, what the one-line refusal must name)
WEIGHT_CASES = [
    ("nan weight", _nan, "conv0.weight"),
    ("inf weights", _inf, "conv0.weight"),
    ("missing tensor", _drop, "conv0.weight"),
    ("unexpected tensor", _extra, "stowaway"),
    ("wrong shape", _reshape, "conv0.weight"),
]


@pytest.mark.parametrize("case,change,needle", WEIGHT_CASES, ids=[c[0] for c in WEIGHT_CASES])
def test_bad_weights_are_refused_naming_the_tensor(tmp_path, case, change, needle):
    path = checkpoint_with(tmp_path / "bad.safetensors", change)
    with pytest.raises(CheckpointError) as error:
        load_model(str(path))
    assert needle in str(error.value) and "\n" not in str(error.value)


HEADER_CASES = [
    ("huge w_dim", {"w_dim": 20000}, "memory"),
    ("huge channels", {"texture_channels": [2**20, 2**20]}, "memory"),
    ("huge structure", {"structure_channels": 10**6, "structure_layers": 50}, "memory"),
    ("negative width", {"w_dim": -5}, "config"),
    ("string width", {"w_dim": "wide"}, "config"),
    ("nan in config", {"fusion_width": math.nan}, "fusion_width"),
    ("inf in config", {"v_per_cell": math.inf}, "v_per_cell"),
    ("wrong but small width", {"w_dim": 24}, "does not match"),
]


@pytest.mark.parametrize("case,changes,needle", HEADER_CASES, ids=[c[0] for c in HEADER_CASES])
def test_header_sizes_are_checked_before_building(tmp_path, monkeypatch, case, changes, needle):
    monkeypatch.setenv("EVERSCAPE_MEMORY_BUDGET", "1G")
    path = tiny_checkpoint(tmp_path / "hostile.safetensors", "infinitygan", **changes)
    with pytest.raises(CheckpointError) as error:
        load_model(str(path))
    assert needle in str(error.value) and "\n" not in str(error.value)


def _torch_zip(path):
    torch.save({"w": torch.zeros(2)}, path)


def _raw_pickle(path):
    path.write_bytes(pickle.dumps({"w": [1, 2]}, protocol=4))


def test_formats_are_told_by_structure_not_by_a_first_byte(tmp_path):
    padded = padded_safetensors(tmp_path / "padded.safetensors")
    assert padded.read_bytes()[0] == 0x80  # what a first-byte check called a pickle
    assert filekind.sniff(padded) == filekind.SAFETENSORS
    assert load_model(str(padded)).model.family == "reference"
    for name, make in (("zip.pt", _torch_zip), ("raw.pkl", _raw_pickle)):
        path = tmp_path / name
        make(path)
        assert filekind.sniff(path) in (filekind.TORCH_ZIP, filekind.PICKLE)
        with pytest.raises(CheckpointError, match="pickle"):
            load_checkpoint(path)
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("readme.txt", "hi")
    assert filekind.sniff(tmp_path / "other.zip") == filekind.ZIP


@pytest.mark.parametrize(
    "header", ["[]", "3", '"text"', '{"format": "everscape.checkpoint/1"}', '{"format": "everscape.checkpoint/1", '
     '"family": "reference", "config": []}', "{not json"],
)  # fmt: skip
def test_headers_of_the_wrong_shape_are_one_line(tmp_path, header):
    path = raw_safetensors(tmp_path / "odd.safetensors", header)
    with pytest.raises(CheckpointError) as error:
        read_header(path)
    assert "\n" not in str(error.value)


def test_a_huge_w_dim_is_refused_by_the_cli_within_the_memory_bound(tmp_path):
    """The issue's case: w_dim = 20000 allocated 6.5 GB before refusing. With the machine's own
    budget it is refused (over budget, or its planned shapes do not fit the weights) with no build."""
    path = tiny_checkpoint(tmp_path / "wide.safetensors", "infinitygan", w_dim=20000)
    run = run_cli("render", "--model", str(path), "--rect", "0,0,64,64", "--out", str(tmp_path / "x.png"))
    assert_refused(run, "wide.safetensors")
    assert not (tmp_path / "x.png").exists()


_VALID = None


def _valid_bytes() -> bytes:
    global _VALID
    if _VALID is None:
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory() as folder:
            _VALID = tiny_checkpoint(Path(folder) / "ok.safetensors").read_bytes()
    return _VALID


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fuzzed_checkpoints_load_or_are_refused(tmp_path_factory, data):
    """Any byte mutation of a valid checkpoint loads or raises EverscapeError, never anything else."""
    raw = bytearray(_valid_bytes())
    header_end = 8 + int.from_bytes(raw[:8], "little")
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.one_of(st.integers(0, header_end + 64), st.integers(0, len(raw) - 1)))
        raw[min(where, len(raw) - 1)] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    path = tmp_path_factory.mktemp("fuzz") / "m.safetensors"
    path.write_bytes(bytes(raw))
    before = peak_rss_bytes()
    try:
        load_model(str(path))
    except EverscapeError as error:
        assert "\n" not in str(error)
    assert peak_rss_bytes() - before < REFUSAL_RSS_BUDGET
