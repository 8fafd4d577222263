"""The ``inbetween`` bench row: its schema and its baselines, from one tiny model in seconds."""

from __future__ import annotations

import json

import numpy as np

from engine.bench import inbetween as row
from engine.cli import main


def test_inbetween_row_schema(tmp_path, monkeypatch):
    monkeypatch.setattr(row, "models_to_fit", lambda ctx: ["infinitygan:tiny"])
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--device", "cpu", "--only", "inbetween", "--json", str(out)]) == 0
    (result,) = json.loads(out.read_text())["results"]
    assert "error" not in result and "skipped" not in result, result
    assert result["model"] == "infinitygan:tiny" and result["data"].startswith("bluemarble[")
    for key in ("outpaint_rmse", "mirror_rmse", "inbetween_rmse", "crossfade_rmse", "seconds_per_step"):
        assert np.isfinite(result[key]) and result[key] > 0, key
    assert result["outpaint_over_mirror"] == result["outpaint_rmse"] / result["mirror_rmse"]
    assert result["loop_seam_max_lsb"] == 0 and result["loop_period_px"] % 124 == 0


def test_baselines():
    left = np.zeros((2, 3, 3), np.uint8)
    right = np.full((2, 3, 3), 200, np.uint8)
    fade = row.cross_fade(left, right, 3)
    assert fade[0, :, 0].tolist() == [50, 100, 150]
    image = np.arange(6, dtype=np.uint8).reshape(1, 2, 3)
    assert np.array_equal(row.mirror_fill(image, 2)[0, :2], image[0, ::-1])
    assert row.rmse(left, right) == 200.0
