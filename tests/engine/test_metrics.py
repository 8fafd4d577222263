"""SWD sanity on known cases, the ∞ and ScaleInv variants on a real model, and ``everscape eval``."""

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from engine.cli import main
from engine.errors import InvalidInput
from engine.geometry import Rect
from engine.metrics import SWDConfig, describe, swd
from engine.metrics.evaluate import EvalOptions, evaluate, summary
from engine.metrics.infinite import frame_positions, render_frames, strip_chunks
from engine.metrics.realdata import RealImages, zoom_out
from engine.metrics.swd import _normalise, laplacian_pyramid, pyr_down, pyr_up, sliced_wasserstein, split_swd
from engine.models.registry import build_random
from engine.render import Renderer
from engine.world import World

FAST = SWDConfig(patches_per_image=48, projections=96)


def textures(count: int, seed: int, size: int = 32) -> torch.Tensor:
    """A texture distribution with structure at every scale and a random tint per image."""
    gen = torch.Generator().manual_seed(seed)
    image = torch.zeros(count, 3, size, size)
    for cells, weight in ((4, 0.5), (8, 0.3), (16, 0.2)):
        noise = torch.randn(count, 1, cells, cells, generator=gen)
        image += weight * F.interpolate(noise, size=(size, size), mode="bilinear", align_corners=False)
    tint = 0.1 * torch.randn(count, 3, 1, 1, generator=gen)
    return (0.6 * image + tint).clamp(-1, 1)


@pytest.fixture(scope="module")
def reals():
    return textures(64, seed=1)


@pytest.fixture(scope="module")
def independent():
    return swd(textures(64, seed=1), textures(64, seed=2), FAST)


def test_identical_sets_are_zero(reals):
    result = swd(reals, reals.clone(), FAST)
    assert result.mean == 0.0
    assert list(result.levels) == [32, 16]  # finest first, coarsest = 16 px


def test_independent_samples_are_small_and_worse_cases_clearly_worse(reals, independent):
    other = textures(64, seed=2)
    blurred = swd(reals, pyr_up(pyr_down(other), other.shape[-2:]), FAST)
    shifted = swd(reals, (other + torch.tensor([0.25, 0.0, -0.25])[:, None, None]).clamp(-1, 1), FAST)
    noise = swd(reals, torch.rand_like(other) * 2 - 1, FAST)
    assert 0 < independent.mean < 120
    # blur removes the finest band; a colour shift moves the low-pass level
    assert blurred.levels[32] > 5 * independent.levels[32] and blurred.mean > 2.5 * independent.mean
    assert shifted.levels[16] > 3 * independent.levels[16] and shifted.mean > 3 * independent.mean
    assert noise.mean > 20 * independent.mean


def test_deterministic_given_seed_and_sets_of_different_sizes(reals):
    other = textures(40, seed=3)
    a = swd(reals, other, FAST)
    assert swd(reals, other, FAST) == a
    b = swd(reals, other, SWDConfig(patches_per_image=48, projections=96, seed=5))
    assert b != a and abs(b.mean - a.mean) < 0.5 * a.mean
    assert math.isfinite(a.mean)


def test_descriptors_do_not_depend_on_chunking(reals):
    whole = describe(reals, FAST)
    chunked = describe(iter(reals.split(5)), FAST)
    assert whole.images == chunked.images == 64
    for x, y in zip(whole.levels, chunked.levels):
        assert torch.equal(x, y)


def test_laplacian_pyramid_reconstructs_the_image(reals):
    levels = laplacian_pyramid(reals[:4], min_size=8)
    assert [lv.shape[-1] for lv in levels] == [32, 16, 8]
    image = levels[-1]
    for band in reversed(levels[:-1]):
        image = band + pyr_up(image, band.shape[-2:])
    torch.testing.assert_close(image, reals[:4], atol=1e-5, rtol=0)


def test_uint8_frames_are_accepted(reals):
    frames = [((f.permute(1, 2, 0).numpy() + 1) * 127.5).round().astype(np.uint8) for f in reals[:8]]
    assert swd(frames, frames, FAST).mean == 0.0


def test_split_swd_is_the_exact_sliced_w1_of_each_split_under_pooled_normalisation(reals):
    other = (textures(24, seed=2) + torch.tensor([0.25, 0.0, -0.25])[:, None, None]).clamp(-1, 1)  # shifted
    pooled = describe(torch.cat([reals[:16], other]), FAST)
    splits = np.zeros((3, 40), dtype=bool)
    splits[0, :16] = True  # the observed split: reals vs other
    splits[1, ::2] = True  # an interleaved split of equal sides
    splits[2, :5] = True  # unequal sides
    values = split_swd(pooled, splits, FAST)
    # equal sides: sorted projections pair up, so the plain definition gives the same number
    gen = torch.Generator().manual_seed(FAST.seed * 1_000_003 + 999_983)  # the directions split_swd draws
    expected = []
    for level in pooled.levels:
        channels = level.reshape(level.shape[0], 3, -1)
        normed = _normalise(level, channels.mean(dim=(0, 2))[:, None], channels.std(dim=(0, 2))[:, None])
        side = torch.from_numpy(np.repeat(splits[1], level.shape[0] // 40))
        expected.append(1e3 * sliced_wasserstein(normed[side], normed[~side], FAST.projections, gen))
    assert values[1] == pytest.approx(np.mean(expected), rel=1e-4)
    assert values[2] > 0 and math.isfinite(values[2])
    assert values[0] > 2 * values[1]  # two distributions are further apart than a random mix of them
    with pytest.raises(ValueError, match="both sides"):
        split_swd(pooled, np.ones((1, 40), dtype=bool), FAST)


@pytest.fixture(scope="module")
def map_file(tmp_path_factory):
    """A small real-looking image: smooth noise with a colour gradient, 300 x 300 px."""
    gen = torch.Generator().manual_seed(11)
    base = F.interpolate(torch.randn(1, 3, 30, 30, generator=gen), size=(300, 300), mode="bicubic")[0]
    image = ((base * 0.4).clamp(-1, 1).permute(1, 2, 0).numpy() + 1) * 127.5
    path = tmp_path_factory.mktemp("data") / "map.png"
    Image.fromarray(image.astype(np.uint8)).save(path)
    return path


def test_real_crops_zoom_out_by_box_average(map_file):
    data = RealImages.load(str(map_file))
    crops = data.crops(3, 16, seed=4, zoom=4)
    assert crops.shape == (3, 3, 16, 16)
    assert torch.equal(crops, data.crops(3, 16, seed=4, zoom=4))
    torch.testing.assert_close(zoom_out(torch.ones(1, 3, 8, 8), 4), torch.ones(1, 3, 2, 2))


def test_band_restricts_real_crops_to_its_columns(map_file):
    band = RealImages.load(str(map_file), band=(0.2, 0.5))  # columns 60..150 of 300
    assert band.sources[0].shape[:2] == (300, 90)
    assert band.fits(64) and not band.fits(128)
    assert band.crops(2, 32, seed=0, zoom=2).shape == (2, 3, 32, 32)
    with pytest.raises(InvalidInput):
        band.crops(2, 64, seed=0, zoom=2)


def test_strip_is_cut_into_frames_without_gaps():
    model = build_random("reference", "tiny")
    renderer = Renderer(model, "cpu")
    world = World(model="reference:tiny", seed=5)
    frames = np.concatenate(list(strip_chunks(renderer, world, frames=5, size=24, chunk_px=50)))
    assert frames.shape == (5, 24, 24, 3)
    (whole,) = renderer.render(world, [Rect(0, 0, 120, 24)])
    np.testing.assert_array_equal(np.concatenate(list(frames), axis=1), whole)


def test_evaluate_reference_tiny_gives_finite_numbers_per_zoom(map_file):
    model = build_random("reference", "tiny")
    options = EvalOptions(frame=32, frames=6, strip_frames=6, scale_frames=2, swd=FAST)
    report = evaluate(model, "reference:tiny", RealImages.load(str(map_file)), options, "cpu")
    assert set(report["scaleinv"]) == {"1", "2", "4", "8"}
    assert report["real_scaleinv"]["8"] is not None  # 8 * 32 = 256 px crops fit in 300 px
    numbers = [report["swd"]["mean"], report["real_vs_real"]["mean"], report["inf_swd"]["swd"]["mean"]]
    numbers += [v["mean"] for v in report["scaleinv"].values()]
    numbers += [report["inf_swd"][k]["mean"] for k in ("first_third", "last_third", "first_vs_last_third")]
    assert all(math.isfinite(n) and n >= 0 for n in numbers)
    assert report["inf_swd"]["strip_px"] == 6 * 32
    assert "frames_at_rows" not in report  # every row alike: frames at the origin, as ever
    # an untrained model is far from the data, much further than two real samples are from each other
    assert report["swd"]["mean"] > report["real_vs_real"]["mean"]


def test_a_row_dependent_models_frames_spread_over_its_rows_as_real_crops_over_their_image():
    """InfinityGAN's content depends on the row (a map's latitude): its frames must come from every
    row of its training band, as real crops come from every row of their image; others stay at 0."""
    model = build_random("infinitygan", "tiny")
    band = model.config.train_rows * model.scale
    assert (
        model.row_dependent and model.frame_top(-1.0, 32) == -band // 2 and model.frame_top(1.0, 32) == band // 2 - 32
    )
    tops = [model.frame_top(p, 32) for p in frame_positions(4, 32 / band)]
    # Centred crops: the first frame is clamped to the top row, as a quarter of real crops are.
    assert tops == sorted(tops) and len(set(tops)) == 4 and tops[0] == -band // 2 and tops[-1] <= band // 2 - 32
    renderer = Renderer(model, "cpu")
    frames = render_frames(renderer, "infinitygan:tiny", 4, 32, seed=3)
    (pixels,) = renderer.render(World(model="infinitygan:tiny", seed=6), [Rect(0, tops[3], 32, 32)])
    assert torch.equal(frames[3], torch.from_numpy(pixels).permute(2, 0, 1).float() / 127.5 - 1)
    assert not torch.equal(frames, render_frames(renderer, "infinitygan:tiny", 4, 32, seed=3, at_rows=False))

    reference = Renderer(build_random("reference", "tiny"), "cpu")
    assert not reference.model.row_dependent and reference.model.frame_top(0.7, 32) == 0
    assert torch.equal(
        render_frames(reference, "reference:tiny", 3, 32, seed=3),
        render_frames(reference, "reference:tiny", 3, 32, seed=3, at_rows=False),
    )


def test_frame_positions_place_frames_as_the_crop_sampling_places_real_crops():
    """The frames' tops are the evenly spread quantiles of the real crops' tops, in both samplings:
    clamped centres pile crops at the top and bottom rows (a map's poles), corner offsets do not."""
    from engine.train.datasets import _offset

    height, side, count = 96, 32, 64
    rng = np.random.default_rng(0)
    for sampling in ("centre", "offset"):
        real = np.sort([_offset(rng, [(0, height - side)], side, sampling) for _ in range(20000)])
        tops = [(p + 1) / 2 * (height - side) for p in frame_positions(count, side / height, sampling)]
        quantiles = np.quantile(real, [(2 * i + 1) / (2 * count) for i in range(count)])
        assert np.abs(np.array(tops) - quantiles).max() <= 2.0, sampling
    at_edge = [p for p in frame_positions(count, side / height) if abs(p) == 1.0]
    assert len(at_edge) == 2 * round(count * side / height / 2)  # a sixth of the frames at each edge row
    assert frame_positions(3, 0.0) == frame_positions(3, 0.5, "offset") == pytest.approx([-2 / 3, 0.0, 2 / 3])


def test_centred_real_crops_see_the_edge_rows_three_times_as_often_as_offsets(tmp_path):
    """A map whose top rows are white (ice) and the rest black, crops half its height: centred crops
    hold 6 % white (a crop at the top edge for each centre in its upper half), corner offsets 2 %;
    the map holds 10 %."""
    image = np.zeros((200, 200, 3), dtype=np.uint8)
    image[:20] = 255  # 10 % of the rows
    path = tmp_path / "ice.png"
    Image.fromarray(image).save(path)
    data = RealImages.load(str(path))
    share = {s: float((data.crops(400, 100, seed=1, sampling=s) > 0).float().mean()) for s in ("centre", "offset")}
    assert 0.05 < share["centre"] < 0.075 and 0.012 < share["offset"] < 0.03


def test_metric_crop_sampling_is_checked_and_recorded():
    with pytest.raises(InvalidInput, match="centre or offset"):
        EvalOptions(crop_sampling="wrap").check()
    assert dataclasses.asdict(EvalOptions())["crop_sampling"] == "centre"  # in every report's options


def test_a_row_dependent_models_strip_ratio_divides_by_frames_from_the_strips_row(map_file):
    model = build_random("infinitygan", "tiny")
    options = EvalOptions(frame=32, frames=4, strip_frames=3, scale_frames=2, scales=(1,), swd=FAST)
    report = evaluate(model, "infinitygan:tiny", RealImages.load(str(map_file)), options, "cpu")
    assert report["frames_at_rows"] is True and report["swd"]["mean"] != report["swd_at_strip_row"]["mean"]
    assert report["inf_swd"]["ratio_to_frames"] == report["inf_swd"]["swd"]["mean"] / report["swd_at_strip_row"]["mean"]
    assert "over the data's rows" in summary(report) and "frames at the strip's row" in summary(report)


def test_whole_data_gives_the_real_scaleinv_reference_where_the_band_is_too_narrow(map_file):
    """The held-out band (90 px wide here) holds no 128 px crop for 4× of 32 px frames; the whole
    300 px image does, against the same band crops, so the data's own zoom behaviour is known."""
    model = build_random("reference", "tiny")
    options = EvalOptions(frame=32, frames=6, strip_frames=3, scale_frames=2, scales=(1, 2, 4), swd=FAST)
    band = RealImages.load(str(map_file), band=(0.2, 0.5))
    report = evaluate(model, "reference:tiny", band, options, "cpu", whole=RealImages.load(str(map_file)))
    assert report["real_scaleinv"]["4"] is None and report["real_scaleinv"]["2"] is not None
    whole = report["real_whole_scaleinv"]
    assert set(whole) == {"1", "2", "4"} and all(math.isfinite(v["mean"]) and v["mean"] > 0 for v in whole.values())
    assert "whole real data" in summary(report)


def test_eval_command_writes_json(map_file, tmp_path, capsys):
    out = tmp_path / "eval.json"
    args = ["eval", "--model", "reference:tiny", "--data", str(map_file), "--quick", "--frame", "32"]
    args += ["--frames", "4", "--strip-frames", "3", "--scale-frames", "2", "--scales", "1,2", "--json", str(out)]
    assert main(args) == 0
    report = json.loads(out.read_text())
    assert {"real_vs_real", "swd", "inf_swd", "scaleinv", "real_scaleinv", "device", "units"} <= set(report)
    assert set(report["scaleinv"]) == {"1", "2"}
    assert report["real_whole_scaleinv"] == {}  # no band: the real reference is the whole image already
    assert "ScaleInv-SWD 2x" in capsys.readouterr().out
    # With --band the whole image also gives the reference (a 60 px band holds no 64 px crop)
    assert main([*args, "--band", "0.3,0.5"]) == 0
    report = json.loads(out.read_text())
    assert report["real_scaleinv"]["2"] is None and report["real_whole_scaleinv"]["2"]["mean"] > 0


def test_eval_of_a_trained_checkpoint_measures_on_its_prepared_training_data(map_file, tmp_path, capsys):
    """Without --data, a checkpoint is measured as ``models ship`` measures it: on its training
    data prepared as in training (halved, bottom rows dropped), inside its held-out band."""
    from engine.checkpoints import save_checkpoint

    model = build_random("reference", "tiny")
    ckpt = tmp_path / "trained.safetensors"
    meta = {"data": str(map_file), "scale": 0.5, "drop_bottom": 0.2, "holdout": [0.3, 0.7], "steps": 1}
    save_checkpoint(ckpt, "reference", model.config_dict(), model.state_dict(), meta)
    out = tmp_path / "eval.json"
    args = ["eval", "--model", str(ckpt), "--frame", "32", "--frames", "4", "--strip-frames", "3"]
    args += ["--scale-frames", "2", "--scales", "1,2", "--projections", "16", "--json", str(out)]
    assert main(args) == 0
    assert "as prepared for training (scale 0.5, bottom 0.2 dropped), band 0.3-0.7" in capsys.readouterr().err
    report = json.loads(out.read_text())
    # The prepared map is 150 x 120 px: its 60 px band holds no 64 px crop, the prepared whole does
    # (the map as stored, 300 px, would have held one in its 120 px band).
    assert report["real_scaleinv"]["2"] is None and report["real_whole_scaleinv"]["2"]["mean"] > 0
    assert main([*args, "--band", "none"]) == 0
    assert json.loads(out.read_text())["real_whole_scaleinv"] == {}  # the whole width is the reference
    assert "whole width" in capsys.readouterr().err
    assert main([*args, "--data", str(map_file), "--band", "0.3,0.7"]) == 0
    assert "as prepared" not in capsys.readouterr().err
    assert json.loads(out.read_text())["real_scaleinv"]["2"]["mean"] > 0  # the stored map's 120 px band
    # Without --frame: the training crop (64 px) halved until the 60 px band holds it, as ship does.
    assert main([a for a in args if a not in ("--frame", "32")]) == 0
    assert json.loads(out.read_text())["options"]["frame"] == 32


def test_eval_command_bad_input_is_one_line_error(tmp_path, capsys):
    assert main(["eval", "--model", "reference:tiny", "--data", str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["eval", "--model", "reference:tiny", "--data", str(tmp_path), "--scales", "1,x"]) == 2
    assert main(["eval", "--model", "reference:tiny", "--data", str(tmp_path), "--band", "0.5"]) == 2
    assert "--band" in capsys.readouterr().err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_and_cpu_agree(reals):
    other = textures(40, seed=3)
    cpu, cuda = swd(reals, other, FAST, "cpu"), swd(reals, other, FAST, "cuda")
    assert cuda.levels.keys() == cpu.levels.keys()
    assert cuda.mean == pytest.approx(cpu.mean, rel=1e-3)
