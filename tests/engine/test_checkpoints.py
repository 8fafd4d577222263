import pickle

import pytest
import torch

from engine.checkpoints import import_legacy, load_checkpoint, save_checkpoint
from engine.errors import CheckpointError
from engine.models.registry import build_random, load_model


def _save_reference(path):
    model = build_random("reference", "tiny")
    save_checkpoint(path, "reference", model.config_dict(), model.state_dict(), {"steps": 12})
    return model


def test_roundtrip_loads_same_weights(tmp_path):
    path = tmp_path / "ref.safetensors"
    model = _save_reference(path)
    ckpt = load_checkpoint(path)
    assert ckpt.family == "reference" and ckpt.meta["steps"] == 12 and len(ckpt.sha256) == 64
    loaded = load_model(str(path))
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.model.state_dict()[key])


def test_truncated_file(tmp_path):
    path = tmp_path / "ref.safetensors"
    _save_reference(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="damaged or truncated"):
        load_model(str(path))


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(str(tmp_path / "nope.safetensors"))


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_pickles_are_refused_and_code_never_runs(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"w": torch.zeros(1), "x": Evil()}, path)
    with pytest.raises(CheckpointError, match="pickle"):
        load_model(str(path))
    with pytest.raises(CheckpointError, match="refused to import"):
        import_legacy(path)
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError):
        load_model(str(raw))
    assert "pwned" not in capsys.readouterr().out


def test_mismatched_weights(tmp_path):
    path = tmp_path / "bad.safetensors"
    model = build_random("reference", "tiny")
    weights = model.state_dict()
    weights["conv0.weight"] = torch.zeros(1)
    save_checkpoint(path, "reference", model.config_dict(), weights)
    with pytest.raises(CheckpointError, match="does not match"):
        load_model(str(path))


def test_legacy_import_of_plain_tensors(tmp_path):
    model = build_random("reference", "tiny")
    path = tmp_path / "legacy.pt"
    torch.save(model.state_dict(), path)
    weights = import_legacy(path)
    assert set(weights) == set(model.state_dict())
