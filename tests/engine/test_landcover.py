"""Land cover by colour (``engine.metrics.landcover``): the rules, coastlines, and the verdicts."""

import json

import numpy as np
import pytest
from PIL import Image

from engine.checkpoints import SHIPPED_DIR
from engine.metrics import landcover
from engine.metrics.realdata import RealImages
from engine.release import gallery as art
from engine.train.datasets import basemap_path, load_image

NAVY, ICE, TAN, GREEN, BLACK = (10, 30, 90), (235, 240, 245), (200, 170, 120), (40, 70, 30), (0, 0, 0)


def solid(*colours: tuple[int, int, int], side: int = 64) -> np.ndarray:
    """Vertical stripes of equal width, one per colour."""
    image = np.zeros((side, side, 3), np.uint8)
    width = side // len(colours)
    for i, colour in enumerate(colours):
        image[:, i * width : (i + 1) * width] = colour
    return image


def test_each_palette_colour_falls_in_its_class():
    labels = landcover.classify(np.array([[NAVY, ICE, TAN, GREEN, BLACK, (128, 128, 128)]], np.uint8))
    assert [landcover.CLASSES[k] for k in labels[0]] == ["ocean", "ice", "desert", "forest", "other", "other"]


def test_classify_rejects_images_without_three_channels():
    with pytest.raises(ValueError, match="H, W, 3"):
        landcover.classify(np.zeros((4, 4), np.uint8))


def test_shares_sum_to_one_and_a_straight_coast_marks_one_column_of_cells():
    cover = landcover.cover(solid(NAVY, TAN))
    assert cover["ocean"] == 0.5 and cover["desert"] == 0.5
    assert sum(cover[k] for k in landcover.CLASSES) == pytest.approx(1.0)
    # 8 x 8 cells of 8 px: the water cells of column 3 meet land on their right; one column in eight
    assert cover["coast"] == pytest.approx(1 / 8)
    assert landcover.cover(solid(NAVY))["coast"] == 0.0
    assert landcover.cover(solid(NAVY, BLACK))["coast"] == 0.0  # "other" is neither water nor land


def test_texture_inside_one_class_is_not_coast():
    rng = np.random.default_rng(0)
    image = solid(NAVY)
    speckle = rng.random((64, 64)) < 0.2  # a fifth of the ocean's pixels are land-coloured specks
    image[speckle] = GREEN
    assert landcover.cover(image)["coast"] == 0.0  # every 8 px cell is still mostly ocean


def test_compare_passes_classes_drawn_at_a_quarter_of_the_data_share_and_skips_absent_ones():
    data = landcover.cover(solid(NAVY, TAN, GREEN, ICE))
    render = landcover.cover(solid(NAVY, NAVY, NAVY, TAN))  # no forest, no ice, desert at its share
    result = landcover.compare(render, data)
    rows = result["measures"]
    assert rows["desert"]["ratio"] == pytest.approx(1.0) and rows["desert"]["pass"]
    assert rows["forest"]["ratio"] == 0.0 and rows["forest"]["pass"] is False
    goals = landcover.verdicts(result)
    assert goals["draws_ice"] == {"value": 0.0, "limit": landcover.MIN_SHARE, "pass": False}
    assert goals["draws_ocean"]["pass"] and goals["draws_ocean"]["value"] == pytest.approx(3.0)

    desert_only = landcover.cover(solid(TAN))
    assert "draws_ice" not in landcover.verdicts(landcover.compare(render, desert_only))  # nothing to recognise


def test_pooled_weights_by_pixels():
    a, b = landcover.cover(solid(NAVY)), landcover.cover(solid(TAN))
    pooled = landcover.pooled([(a, 3), (b, 1)])
    assert pooled["ocean"] == pytest.approx(0.75) and pooled["desert"] == pytest.approx(0.25)
    with pytest.raises(ValueError):
        landcover.pooled([])


def test_a_row_dependent_models_gallery_is_measured_over_its_data_rows_only(tmp_path):
    """Rows beyond the poles are extrapolation: a gallery with ice above the data rows and ocean
    within them draws no ice over the map's rows; a row-independent model's whole gallery counts."""
    from engine.models.registry import build_random

    model = build_random("infinitygan", "tiny")
    top, bottom = model.data_rows()
    assert model.frame_top(-1.0, 16) == top and model.frame_top(1.0, 16) == bottom - 16  # frames fill the rows
    size = (64, (bottom - top) + 40)
    rows = art.gallery_rows(model, size)
    assert rows == (20, 20 + bottom - top)  # the render is centred on the origin
    assert art.gallery_rows(model, (64, 16)) == (0, 16)  # clipped to a gallery shorter than the rows
    assert art.gallery_rows(build_random("reference", "tiny"), size) is None
    gallery = np.zeros((size[1], size[0], 3), np.uint8)
    gallery[:] = NAVY
    gallery[: rows[0]] = ICE
    path = tmp_path / "gallery.png"
    Image.fromarray(gallery).save(path)
    data = RealImages([solid(NAVY, ICE)], "map")
    assert art.gallery_landcover(path, data, rows)["measures"]["ice"]["render"] == 0
    assert art.gallery_landcover(path, data, rows)["gallery_rows"] == list(rows)
    assert art.gallery_landcover(path, data)["measures"]["ice"]["render"] == pytest.approx(20 / size[1], abs=0.02)


def test_a_row_dependent_gallery_is_compared_band_by_band_so_a_missing_pole_shows(tmp_path):
    """The map has ice at both poles; a gallery with twice the ice at the north pole and none at the
    south matches the totals, but not the southern fifth, and the card's line says so."""
    from engine.cards import _cover

    def poles(north: int, south: int) -> np.ndarray:
        image = np.zeros((100, 60, 3), np.uint8)
        image[:] = NAVY
        image[:north] = ICE
        image[100 - south :] = ICE
        return image

    bands = landcover.band_covers(poles(20, 0))
    assert len(bands) == landcover.LATITUDE_BANDS and bands[0]["ice"] == 1.0
    assert all(b["ice"] == 0.0 for b in bands[1:])
    with pytest.raises(ValueError, match="has no 5 bands"):
        landcover.band_covers(np.zeros((3, 8, 3), np.uint8))

    gallery = np.zeros((140, 60, 3), np.uint8)
    gallery[:] = NAVY
    gallery[20:120] = poles(20, 0)  # data rows 20..120 of a gallery 140 tall
    path = tmp_path / "gallery.png"
    Image.fromarray(gallery).save(path)
    result = art.gallery_landcover(path, RealImages([poles(10, 10)], "map"), (20, 120))
    assert result["measures"]["ice"]["render"] == pytest.approx(result["measures"]["ice"]["data"])  # totals agree
    north, *_, south = result["by_latitude"]
    assert north["render"]["ice"] == 1.0 and north["data"]["ice"] == 0.5
    assert south["render"]["ice"] == 0.0 and south["data"]["ice"] == 0.5
    assert "ice by fifth of the rows, north to south: 100.0/50.0, 0.0/0.0, 0.0/0.0, 0.0/0.0, 0.0/50.0" in _cover(result)
    assert "ocean by fifth of the rows, north to south: 0.0/50.0, 100.0/100.0," in _cover(result)
    assert "by_latitude" not in art.gallery_landcover(path, RealImages([poles(10, 10)], "map"))
    # Ocean per band: the north is ice where the map is half ocean, so the worst gap is 0.5.
    assert landcover.verdicts(result)["ocean_by_latitude"] == {
        "value": pytest.approx(0.5),
        "limit": landcover.OCEAN_BY_LATITUDE_GAP,
        "pass": False,
    }


def test_a_gallery_with_the_maps_totals_in_belts_fails_the_ocean_by_latitude_goal():
    """Land all in some bands and ocean in the rest can match every total; per band it cannot."""
    mixed = np.zeros((100, 60, 3), np.uint8)
    mixed[:] = NAVY
    mixed[:, :24] = GREEN  # every band 40 % land
    belts = np.zeros((100, 60, 3), np.uint8)
    belts[:] = NAVY
    belts[:20], belts[40:60] = GREEN, GREEN  # bands 1 and 3 all land, the rest all ocean: 40 % land

    def goals(render: np.ndarray) -> dict:
        comparison = landcover.compare(landcover.cover(render), landcover.cover(mixed))
        return landcover.verdicts({**comparison, "by_latitude": landcover.band_comparison(render, [mixed])})

    assert goals(mixed)["ocean_by_latitude"] == {"value": 0, "limit": landcover.OCEAN_BY_LATITUDE_GAP, "pass": True}
    belted = goals(belts)
    assert belted["draws_forest"]["value"] == pytest.approx(1) and belted["draws_ocean"]["value"] == pytest.approx(1)
    assert belted["ocean_by_latitude"]["value"] == pytest.approx(0.6) and not belted["ocean_by_latitude"]["pass"]
    without_bands = landcover.verdicts(landcover.compare(landcover.cover(belts), landcover.cover(mixed)))
    assert "ocean_by_latitude" not in without_bands  # a model that draws every row alike has no bands


def test_the_rules_read_blue_marble_as_the_map_it_is():
    """On the shipped data: mostly ocean, and Antarctica is most of its ice (∞-GAN's preparation drops it)."""
    whole = landcover.cover(load_image(basemap_path("bluemarble"), scale=0.25))
    no_antarctica = landcover.cover(load_image(basemap_path("bluemarble"), scale=0.25, drop_bottom_fraction=1 / 6))
    assert 0.6 < whole["ocean"] < 0.75 and whole["ice"] > 0.1
    assert no_antarctica["ice"] < whole["ice"] / 3
    assert min(whole["desert"], whole["forest"]) > 0.03 and whole["coast"] > 0.02


@pytest.mark.parametrize("card_file", sorted(SHIPPED_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_shipped_cards_land_cover_is_their_gallerys(card_file):
    """A re-rendered gallery without a re-measured card (or the reverse) fails here."""
    card = json.loads(card_file.read_text())
    prep = card["data"]
    data = RealImages.load(prep["data"], None, prep["scale"], prep["drop_bottom"])
    rows = card["landcover"].get("gallery_rows")
    measured = art.gallery_landcover(SHIPPED_DIR.parent / card["gallery"]["path"], data, rows and tuple(rows))
    # Not bit-exact: JPEG decoders (libjpeg builds, SIMD or not) may differ by a level here and there.
    for key, row in card["landcover"]["measures"].items():
        assert measured["measures"][key]["render"] == pytest.approx(row["render"], abs=2e-3)
        assert measured["measures"][key]["data"] == pytest.approx(row["data"], abs=2e-3)
    verdicts = {k: v["pass"] for k, v in landcover.verdicts(measured).items()}
    assert {k: card["goals"].get(k, {}).get("pass") for k in verdicts} == verdicts
