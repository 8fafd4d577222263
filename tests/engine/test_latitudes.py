"""Land cover by latitude on pole-to-pole strips (``everscape eval --latitudes``)."""

import json

import numpy as np
import pytest
from PIL import Image

from engine.cli import main
from engine.errors import InvalidInput
from engine.metrics.latitudes import LatitudeOptions, latitude_cover, latitude_strips, summary
from engine.metrics.realdata import RealImages
from engine.models.registry import build_random


@pytest.fixture
def ice_over_ocean(tmp_path):
    """A map whose northern half is ice and southern half ocean."""
    pixels = np.zeros((80, 160, 3), dtype=np.uint8)
    pixels[:40] = (240, 240, 240)
    pixels[40:] = (10, 30, 120)
    path = tmp_path / "map.png"
    Image.fromarray(pixels).save(path)
    return path


def test_strips_span_the_data_rows_and_bands_compare_with_the_data_north_to_south(ice_over_ocean):
    model = build_random("infinitygan", "tiny")
    top, bottom = model.data_rows()
    options = LatitudeOptions(strips=2, width=24, bands=4)
    strips = latitude_strips(model, "infinitygan:tiny", options, "cpu")
    assert strips.shape == (bottom - top, 48, 3)
    # Strips far apart show different terrain: not one strip twice.
    assert not np.array_equal(strips[:, :24], strips[:, 24:])
    result = latitude_cover(model, "infinitygan:tiny", RealImages.load(str(ice_over_ocean)), options, "cpu")
    bands = result["bands"]
    assert len(bands) == 4
    assert [b["data"]["ice"] for b in bands] == [1.0, 1.0, 0.0, 0.0]
    assert [b["data"]["ocean"] for b in bands] == [0.0, 0.0, 1.0, 1.0]
    assert all(0 <= sum(b["render"].values()) <= 1 + 1e-9 for b in bands)
    rows = [line for line in summary(result).splitlines() if line[:3] in ("| 1", "| 2", "| 3", "| 4")]
    assert rows[-1].startswith("| 4 |") and len(rows) == 4 and "/ 100.0" in rows[-1]


def test_models_that_draw_every_row_alike_have_no_latitudes(ice_over_ocean):
    with pytest.raises(InvalidInput, match="row-dependent"):
        latitude_strips(build_random("reference", "tiny"), "reference:tiny", LatitudeOptions(), "cpu")


def test_eval_latitudes_reports_bands_and_refuses_models_without_rows(ice_over_ocean, tmp_path, capsys):
    out = tmp_path / "lat.json"
    args = ["eval", "--model", "infinitygan:tiny", "--data", str(ice_over_ocean), "--latitudes", "only"]
    assert main([*args, "--device", "cpu", "--json", str(out)]) == 0
    assert "Land cover by latitude" in capsys.readouterr().out
    report = json.loads(out.read_text())
    assert len(report["latitudes"]["bands"]) == 10 and "swd" not in report
    assert report["latitudes"]["bands"][0]["data"]["ice"] == 1.0
    assert main(["eval", "--model", "reference:tiny", "--latitudes", "only", "--device", "cpu"]) == 2
    assert "--latitudes is for row-dependent models" in capsys.readouterr().err
    both = ["eval", "--model", "infinitygan:tiny", "--latitudes", "only", "--diagnostics", "only"]
    assert main(both) == 2
    assert "exclude each other" in capsys.readouterr().err
