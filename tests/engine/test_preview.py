"""Coarse previews: InfinityGAN's skip image cut early, consistent like blocks, coloured by a fitted
map that is kept per checkpoint (engine.preview)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from engine.checkpoints import find_checkpoint
from engine.errors import EverscapeError, InvalidInput
from engine.families.infinitygan.model import CONFIGS, build
from engine.fields import LatentSource
from engine.geometry import Rect
from engine.models.base import MAX_PREVIEW_SIDE
from engine.models.registry import FAMILY_PACKAGES, build_random, load_model
from engine.preview import MAX_COEFFICIENT, PreviewCalibration, box_downsample, cache_file, forget_calibrations
from engine.render import Cancelled, Renderer
from engine.styles import StyleLayout
from engine.world import World

SHA = "ab" * 32  # stands for a checkpoint's SHA-256
#: Regions of 8x8 blocks: the calibration's real render (256x1280 px) in 5 forward passes, not 320.
FAST = 8


def four_block_model():
    """The tiny config with four G_T blocks (scale 16): previews at levels 1 and 2."""
    torch.manual_seed(0)
    config = dataclasses.replace(CONFIGS["tiny"], texture_channels=(16, 12, 8, 8), block=32)
    return build(config).eval().requires_grad_(False)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EVERSCAPE_CACHE", str(tmp_path))
    forget_calibrations()
    yield cache_file()
    forget_calibrations()


def test_preview_levels_need_two_texture_blocks_before_the_skip():
    tiny = CONFIGS["tiny"]
    assert build(tiny).preview_levels() == ()  # two blocks: the skip after one is no preview
    assert build(dataclasses.replace(tiny, texture_channels=(16, 12, 8), block=32)).preview_levels() == (1,)
    assert four_block_model().preview_levels() == (1, 2)
    for family in FAMILY_PACKAGES:
        if family != "infinitygan":
            model = build_random(family, "tiny")
            assert model.preview_levels() == ()
            with pytest.raises(InvalidInput, match="no preview at level 1"):
                model.render_preview([(0, 0)], LatentSource(0), StyleLayout(), 1)


def test_a_preview_pixel_is_the_same_in_every_region_and_origin():
    model, source = four_block_model(), LatentSource(3)
    with torch.inference_mode():
        for level in model.preview_levels():
            b = model.preview_block(level)
            region = model.render_preview([(-b, 0)], source, StyleLayout(), level, (2 * b, 2 * b))[0]
            assert region.shape == (3, 2 * b, 2 * b)
            # One forward pass per block, as the renderer runs them on a CPU (a batch changes low bits).
            corners = [(-b, 0), (0, 0), (-b, b), (0, b)]
            singles = [model.render_preview([corner], source, StyleLayout(), level)[0] for corner in corners]
            assert torch.equal(region[:, :b, :b], singles[0]) and torch.equal(region[:, :b, b:], singles[1])
            assert torch.equal(region[:, b:, :b], singles[2]) and torch.equal(region[:, b:, b:], singles[3])
            shifted = model.render_preview([(0, 0)], source, StyleLayout(), level, (2 * b, 2 * b))[0]
            assert torch.equal(region[:, :, b:], shifted[:, :, :b])


def test_renderer_previews_stitch_exactly_and_a_rect_is_cut_from_its_cover(cache):
    renderer = Renderer(four_block_model(), "cpu", region=2)
    world = World("tiny4", 5, model_hash=SHA)
    whole = renderer.render_preview(world, [Rect(-37, -20, 90, 70)], 1)[0]
    parts = renderer.render_preview(world, [Rect(-37, -20, 50, 70), Rect(13, -20, 40, 30), Rect(13, 10, 40, 40)], 1)
    assert whole.shape == (70, 90, 3) and whole.dtype == np.uint8
    assert np.array_equal(whole[:, :50], parts[0])
    assert np.array_equal(whole[:30, 50:], parts[1]) and np.array_equal(whole[30:, 50:], parts[2])
    assert whole.std() > 1  # not one flat colour


def test_bad_level_or_size_is_refused_before_anything_is_allocated(cache):
    model, source = four_block_model(), LatentSource(0)
    for level in (0, 3, -1):
        with pytest.raises(EverscapeError, match=f"no preview at level {level}"):
            model.render_preview([(0, 0)], source, StyleLayout(), level)
    with pytest.raises(EverscapeError, match="whole blocks of 16 px"):
        model.render_preview([(0, 0)], source, StyleLayout(), 1, (24, 16))
    with pytest.raises(EverscapeError, match=f"at most {MAX_PREVIEW_SIDE} px"):
        model.render_preview([(0, 0)], source, StyleLayout(), 1, (16 * 10**6, 16 * 10**6))  # TBs if allocated
    with pytest.raises(EverscapeError, match="multiples of 8"):
        model.render_preview([(4, 0)], source, StyleLayout(), 2)
    renderer = Renderer(model, "cpu", region=FAST)
    with pytest.raises(EverscapeError, match="no preview at level 3"):
        renderer.render_preview(World("tiny4", 0, model_hash=SHA), [Rect(0, 0, 8, 8)], 3)
    assert renderer.blocks_rendered == 0 and not cache.exists()  # refused before the calibration too


def test_calibration_is_kept_per_checkpoint_and_read_back(cache):
    renderer = Renderer(four_block_model(), "cpu", region=FAST)
    world = World("tiny4", 5, model_hash=SHA)
    first = renderer.render_preview(world, [Rect(0, 0, 32, 32)], 1)[0]
    fitted = renderer.blocks_rendered
    assert fitted > 0 and cache.exists()  # the calibration rendered the real model, then kept its maps
    stored = json.loads(cache.read_text())["models"][SHA]
    assert sorted(stored) == ["1", "2"] and all(np.shape(m) == (3, 4) for m in stored.values())
    forget_calibrations()
    again = Renderer(renderer.model, "cpu", region=FAST)
    assert np.array_equal(again.render_preview(world, [Rect(0, 0, 32, 32)], 1)[0], first)
    assert again.blocks_rendered == 0  # read from the file, not fitted again


def test_a_cancelled_preview_stops_in_its_calibration_and_keeps_nothing(cache):
    renderer = Renderer(four_block_model(), "cpu", region=FAST)
    with pytest.raises(Cancelled):
        renderer.render_preview(World("tiny4", 5, model_hash=SHA), [Rect(0, 0, 16, 16)], 1, cancelled=lambda: True)
    assert renderer.blocks_rendered == 0 and not cache.exists()


def test_random_weights_fit_in_memory_only(cache):
    renderer = Renderer(four_block_model(), "cpu", region=FAST)
    world = World("tiny4", 5)  # no checkpoint hash
    renderer.render_preview(world, [Rect(0, 0, 16, 16)], 2)
    fitted = renderer.blocks_rendered
    renderer.render_preview(world, [Rect(16, 0, 16, 16)], 2)
    assert renderer.blocks_rendered == fitted and not cache.exists()


def corrupt_documents(good: dict) -> list:
    nan_map = json.loads(json.dumps(good))
    nan_map["1"][0][0] = float("nan")
    huge = json.loads(json.dumps(good))
    huge["2"][2][3] = MAX_COEFFICIENT * 10
    return [
        {**good, "1": [row[:3] for row in good["1"]]},  # 3x3
        {"1": good["1"]},  # a level missing
        nan_map,
        huge,
        {**good, "2": [["x", 0, 0, 0]] * 3},
        "not a map",
    ]


def test_a_damaged_calibration_file_is_ignored_and_fitted_again(cache):
    model, world = four_block_model(), World("tiny4", 5, model_hash=SHA)
    reference = Renderer(model, "cpu", region=FAST).render_preview(world, [Rect(0, 0, 16, 16)], 2)[0]
    good = json.loads(cache.read_text())["models"][SHA]
    for damaged in corrupt_documents(good):
        cache.write_text(json.dumps({"recipe": 1, "models": {SHA: damaged}}))
        forget_calibrations()
        renderer = Renderer(model, "cpu", region=FAST)
        assert np.array_equal(renderer.render_preview(world, [Rect(0, 0, 16, 16)], 2)[0], reference)
        assert renderer.blocks_rendered > 0, damaged  # refitted
        assert json.loads(cache.read_text())["models"][SHA] == good  # and the file repaired
    for text in ("{not json", json.dumps({"recipe": 0, "models": {SHA: good}})):
        cache.write_text(text)
        forget_calibrations()
        renderer = Renderer(model, "cpu", region=FAST)
        renderer.render_preview(world, [Rect(0, 0, 16, 16)], 2)
        assert renderer.blocks_rendered > 0


def test_calibration_fit_recovers_an_affine_map():
    raw = torch.rand(3, 8, 8, dtype=torch.float64) * 2 - 1
    truth = torch.tensor([[90.0, 10, -5, 128], [0, 120, 3, 100], [-8, 4, 100, 140]], dtype=torch.float64)
    colours = PreviewCalibration({1: truth}).apply(1, raw[None])[0]  # (8, 8, 3) uint8
    real = colours.repeat(2, axis=0).repeat(2, axis=1)  # a level-0 image whose 2x2 means are the colours
    fitted = PreviewCalibration.fit(real, {1: raw}).maps[1]
    assert torch.allclose(fitted, truth, atol=2.0)  # the 0.5 LSB rounding is all that is lost
    assert np.array_equal(box_downsample(real, 1).permute(1, 2, 0).numpy(), colours)


def test_calibrated_previews_of_the_shipped_model_are_close_to_its_real_render(cache):
    if find_checkpoint("infinitygan-bluemarble") is None:
        pytest.skip("infinitygan-bluemarble is not installed")
    loaded = load_model("infinitygan-bluemarble")
    renderer = Renderer(loaded.model, "cpu", region=2)
    world = World(loaded.ref, 5, model_hash=loaded.sha256)  # not the calibration's world or place
    place = Rect(4096, -512, 256, 1024)
    real = renderer.render(world, [place])[0]
    calibration = renderer.preview_calibration(world)
    source = renderer.source(world)
    # Measured here: 4.9 and 9.1 LSB.
    for level, bound in ((1, 10.0), (2, 18.0)):
        coarse = Rect(place.x >> level, place.y >> level, place.w >> level, place.h >> level)
        preview = renderer.render_preview(world, [coarse], level)[0]
        target = box_downsample(real, level).permute(1, 2, 0).numpy()
        error = np.abs(preview - target).mean()
        with torch.inference_mode():
            raw = loaded.model.render_preview([(coarse.x, coarse.y)], source, world.styles, level, coarse.size)
        uncalibrated = np.abs((raw[0].clamp(-1, 1).permute(1, 2, 0).numpy() + 1) * 127.5 - target).mean()
        assert error < bound and error < uncalibrated / 2, (level, error, uncalibrated)
    assert sorted(calibration.maps) == [1, 2]
