import json

import pytest
import torch

from engine.errors import InvalidInput
from engine.fields import FieldPatch
from engine.geometry import Rect
from engine.styles import StyleCentre, StyleLayout
from engine.world import World


def test_edits_make_new_versions():
    w0 = World(model="reference:tiny", seed=1)
    w1 = w0.with_seed(2)
    w2 = w1.with_styles(StyleLayout.of([StyleCentre(0, 0, 7, 256.0)]))
    assert (w0.seed, w0.version, w1.version, w2.version) == (1, 0, 1, 2)
    with pytest.raises(AttributeError):
        w0.seed = 3


def test_roundtrip_with_tensors(tmp_path):
    patch = FieldPatch("z", Rect(-3, 4, 2, 1), torch.arange(6, dtype=torch.float32).view(3, 1, 2))
    layout = StyleLayout.of([StyleCentre(10, -20, 5), StyleCentre(300, 0, 6, 128.0, (0.5, -1.0))])
    world = World(model="reference:tiny", seed=9, styles=layout).with_override(patch)
    path = tmp_path / "w.json"
    world.save(path)
    back = World.load(path)
    assert back.styles == world.styles and back.seed == 9 and back.version == world.version
    assert torch.equal(back.overrides[0].values, patch.values) and back.overrides[0].cells == patch.cells
    assert json.loads(path.read_text())["format"] == "everscape.world/1"


def test_bad_documents_are_clear(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InvalidInput, match="not readable JSON"):
        World.load(bad)
    bad.write_text(json.dumps({"format": "other"}))
    with pytest.raises(InvalidInput, match="not an Everscape world"):
        World.load(bad)
    with pytest.raises(InvalidInput):
        StyleLayout.from_json({"centres": [{"x": 1.5, "y": 0, "seed": 1}]})
