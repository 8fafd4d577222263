"""``everscape train --init CHECKPOINT``: a new run that starts from a trained generator."""

import functools
import json

import numpy as np
import pytest
import torch
from PIL import Image

from engine.cards import quality_table
from engine.checkpoints import load_checkpoint, read_header, save_checkpoint
from engine.cli import main
from engine.models.registry import make_trainer
from engine.train.options import TrainOptions


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "map.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (80, 400, 3), dtype=np.uint8)).save(path)
    return path


def _train(image, out, *extra, family="reference"):
    argv = ["train", family, "--data", str(image), "--out", str(out), "--batch", "2"]
    return main([*argv, "--sample-every", "0", "--best-metric", "none", "--device", "cpu", *extra])


def test_init_starts_from_the_checkpoint_and_records_the_chain(image, tmp_path):
    assert _train(image, tmp_path / "first", "--steps", "3") == 0
    first = tmp_path / "first" / "last.safetensors"
    # Zero steps: the new run's EMA is exactly the generator it started from.
    assert _train(image, tmp_path / "second", "--steps", "0", "--init", str(first)) == 0
    second = tmp_path / "second" / "last.safetensors"
    source, warm = load_checkpoint(first).weights, load_checkpoint(second).weights
    assert source.keys() == warm.keys() and all(torch.equal(source[k], warm[k]) for k in source)
    init = read_header(second)["init"]
    assert init["source"] == str(first) and init["steps"] == 3 and init["kimg"] == pytest.approx(0.006)
    assert init["sha256"] == load_checkpoint(first).sha256

    # A warm start of a warm start carries the totals along, and training does move the weights.
    assert _train(image, tmp_path / "third", "--steps", "2", "--init", str(second)) == 0
    third = tmp_path / "third" / "last.safetensors"
    assert read_header(third)["init"]["steps"] == 3 and read_header(third)["steps"] == 2
    moved = load_checkpoint(third).weights
    assert any(not torch.equal(moved[k], source[k]) for k in source)
    fresh = tmp_path / "fresh"
    assert _train(image, fresh, "--steps", "2") == 0
    random_start = load_checkpoint(fresh / "last.safetensors").weights
    assert any(not torch.equal(moved[k], random_start[k]) for k in source)


def test_init_refuses_other_families_configs_and_missing_files(image, tmp_path, capsys):
    assert _train(image, tmp_path / "tiny", "--steps", "0") == 0
    tiny = str(tmp_path / "tiny" / "last.safetensors")
    capsys.readouterr()
    argv = ["train", "alis", "--data", str(image), "--out", str(tmp_path / "a"), "--steps", "0", "--device", "cpu"]
    assert main([*argv, "--init", tiny]) == 2
    assert "is a reference model; this run trains alis" in capsys.readouterr().err
    assert _train(image, tmp_path / "b", "--steps", "0", "--config", "wide", "--init", tiny) == 2
    assert "another reference config" in capsys.readouterr().err
    assert _train(image, tmp_path / "c", "--steps", "0", "--init", "no-such-model") == 2
    err = capsys.readouterr().err.strip()
    assert "no such checkpoint" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "c").exists()


def test_report_counts_the_training_before_a_warm_start():
    card = {
        "name": "m",
        "training": {
            "steps": 100,
            "kimg": 0.4,
            "wall_time_s": 1800,
            "device": "cpu",
            "init": {
                "steps": 3000,
                "kimg": 12.0,
                "wall_time_s": 5400,
            },
        },
        "metrics": {
            "trained": {"swd": 1.0, "inf_swd": 1.0, "scaleinv": {}},
            "untrained": {"swd": 2.0, "inf_swd": 2.0, "scaleinv": {}},
            "real_vs_real": {"swd": 0.5, "scaleinv": {}},
        },
        "goals": {},
    }
    training_row = quality_table([card]).splitlines()[2]
    assert training_row.startswith("| training | 3100 steps, 12.4 kimg, 2.00 h on cpu (last 100 steps warm-started)")


def test_init_reads_an_older_header_as_its_config(image, tmp_path):
    """A header written before a config field existed means that field's default: it still fits."""
    assert _train(image, tmp_path / "first", "--steps", "0") == 0
    ckpt = load_checkpoint(tmp_path / "first" / "last.safetensors")
    older = tmp_path / "older.safetensors"
    config = {k: v for k, v in ckpt.config.items() if k != "block"}  # as if `block` came later
    save_checkpoint(older, ckpt.family, config, ckpt.weights, ckpt.meta)
    assert _train(image, tmp_path / "second", "--steps", "0", "--init", str(older)) == 0
    assert read_header(tmp_path / "second" / "last.safetensors")["init"]["source"] == str(older)


def test_init_may_change_inference_only_fields_but_not_the_architecture(tmp_path):
    """InfinityGAN's style lattice does not shape the weights, so a trained model can take it up."""
    import dataclasses

    from engine.errors import InvalidInput
    from engine.families.infinitygan import model as infinitygan
    from engine.models.registry import build_initial, build_random
    from engine.train.warm_start import warm_start

    trained = build_random("infinitygan", "tiny")
    path = tmp_path / "ig.safetensors"
    save_checkpoint(path, "infinitygan", trained.config_dict(), trained.state_dict(), {"steps": 5, "kimg": 0.1})
    assert "style_cell" in infinitygan.INFERENCE_FIELDS and trained.config.style_cell == 0
    lattice = build_initial("infinitygan", dataclasses.replace(trained.config, style_cell=96))
    assert warm_start(lattice, str(path))["steps"] == 5
    assert all(torch.equal(v, trained.state_dict()[k]) for k, v in lattice.state_dict().items())
    other = build_initial("infinitygan", dataclasses.replace(trained.config, style_cell=96, period=37))
    with pytest.raises(InvalidInput, match="another infinitygan config"):
        warm_start(other, str(path))


def test_init_may_give_infinitygan_new_latitude_coordinates_and_records_the_old(tmp_path):
    """The vertical coordinate's shape and slope feed G_S's inputs, not its weights' shapes: a
    tanh-trained model warm-starts a linear-latitude run with every weight (and its critic), and
    the run's ``init`` says what the coordinates were; any other change is still refused."""
    import dataclasses

    from engine.errors import InvalidInput
    from engine.families.infinitygan import model as infinitygan
    from engine.models.registry import build_initial, build_random
    from engine.train.warm_start import warm_start

    trained = build_random("infinitygan", "tiny")
    path = tmp_path / "ig.safetensors"
    save_checkpoint(path, "infinitygan", trained.config_dict(), trained.state_dict(), {"steps": 5, "kimg": 0.1})
    assert set(infinitygan.COORDINATE_FIELDS) == {"vertical", "v_per_cell"}
    linear = build_initial("infinitygan", dataclasses.replace(trained.config, vertical="linear", v_per_cell=1 / 12))
    init = warm_start(linear, str(path))
    assert init["recoordinated_from"] == {"vertical": "tanh", "v_per_cell": trained.config.v_per_cell}
    assert "grown_from" not in init and init["steps"] == 5
    assert all(torch.equal(v, trained.state_dict()[k]) for k, v in linear.state_dict().items())
    assert "recoordinated_from" not in warm_start(build_initial("infinitygan", trained.config), str(path))
    other = build_initial("infinitygan", dataclasses.replace(linear.config, train_rows=30))
    with pytest.raises(InvalidInput, match="another infinitygan config"):
        warm_start(other, str(path))


def test_init_may_extend_infinitygan_with_a_latitude_table_that_starts_as_a_no_op(tmp_path):
    """A model trained without the latitude table warm-starts a run with one: every trained weight
    is kept, the table starts at zero so the model renders what it rendered, the critic still fits
    (no ``grown_from``), and ``init.extended_from`` says what it was. A model holding a table of
    another size cannot be squeezed into this one: refused in one line."""
    import dataclasses

    from engine.errors import InvalidInput
    from engine.families.infinitygan import model as infinitygan
    from engine.fields import LatentSource
    from engine.models.registry import build_initial, build_random
    from engine.styles import StyleLayout
    from engine.train.warm_start import warm_start

    trained = build_random("infinitygan", "tiny")
    path = tmp_path / "ig.safetensors"
    save_checkpoint(path, "infinitygan", trained.config_dict(), trained.state_dict(), {"steps": 5, "kimg": 0.1})
    assert "latitude_bands" in infinitygan.EXTENSION_FIELDS
    extended = build_initial("infinitygan", dataclasses.replace(trained.config, latitude_bands=9, vertical="linear"))
    with torch.no_grad():
        extended.structure.latitude.table.fill_(1.0)  # warm_start must set it back to its initial zeros
    init = warm_start(extended, str(path))
    assert init["extended_from"] == {"latitude_bands": 0} and init["recoordinated_from"]["vertical"] == "tanh"
    assert "grown_from" not in init and init["steps"] == 5
    assert all(torch.equal(v, extended.state_dict()[k]) for k, v in trained.state_dict().items())
    assert torch.equal(extended.structure.latitude.table, torch.zeros(9, trained.config.structure_channels))
    same_coordinates = build_initial("infinitygan", dataclasses.replace(trained.config, latitude_bands=9))
    warm_start(same_coordinates, str(path))
    source = LatentSource(3)
    assert torch.equal(
        same_coordinates.render_blocks([(0, 0)], source, StyleLayout()),
        trained.render_blocks([(0, 0)], source, StyleLayout()),
    )
    nine = tmp_path / "nine.safetensors"
    save_checkpoint(nine, "infinitygan", same_coordinates.config_dict(), same_coordinates.state_dict(), {"steps": 1})
    wandering = build_initial("infinitygan", dataclasses.replace(same_coordinates.config, latitude_wander=0.2))
    assert warm_start(wandering, str(nine))["extended_from"] == {"latitude_wander": 0.0}
    assert torch.equal(
        wandering.render_blocks([(0, 0)], source, StyleLayout()),
        trained.render_blocks([(0, 0)], source, StyleLayout()),
    )
    other = build_initial("infinitygan", dataclasses.replace(trained.config, latitude_bands=5))
    with pytest.raises(InvalidInput, match="has latitude_bands=9; this run needs latitude_bands=5"):
        warm_start(other, str(nine))


def test_init_may_respace_and_reblend_alis_anchors_keeping_every_weight(tmp_path):
    """ALIS's anchor spacing and blend move where and how styles meet, not what the layers learnt:
    a model trained with anchors two frames apart and the paper's linear blend warm-starts a run
    with them one frame apart and the variance-preserving blend (the shipped changes)."""
    import dataclasses

    from engine.errors import InvalidInput
    from engine.families.alis import config as alis_config
    from engine.models.registry import build_initial
    from engine.train.warm_start import warm_start

    trained = build_initial("alis", dataclasses.replace(alis_config.CONFIGS["tiny"], blend="linear"))
    assert trained.config.anchor_frames == 2
    path = tmp_path / "alis.safetensors"
    save_checkpoint(path, "alis", trained.config_dict(), trained.state_dict(), {"steps": 7, "kimg": 0.1})
    respaced = build_initial("alis", dataclasses.replace(trained.config, anchor_frames=1, blend="variance"))
    assert warm_start(respaced, str(path))["steps"] == 7
    assert respaced.config.spacing == trained.config.frame and respaced.config.blend == "variance"
    assert all(torch.equal(v, trained.state_dict()[k]) for k, v in respaced.state_dict().items())
    wider = build_initial("alis", dataclasses.replace(trained.config, anchor_frames=1, input_channels=4))
    with pytest.raises(InvalidInput, match="another alis config"):
        warm_start(wider, str(path))


def test_critic_warmup_trains_only_the_critic_for_its_steps(image, tmp_path, capsys):
    assert _train(image, tmp_path / "first", "--steps", "3") == 0
    first = tmp_path / "first" / "last.safetensors"
    source = load_checkpoint(first).weights
    warm = tmp_path / "warm"
    assert _train(image, warm, "--steps", "2", "--init", str(first), "--critic-warmup", "2") == 0
    held = load_checkpoint(warm / "last.safetensors").weights
    assert all(torch.equal(held[k], source[k]) for k in source)  # two critic-only steps: G as it was
    progress = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"step"')]
    assert progress[-1]["step"] == 2 and "d_loss" in progress[-1] and "g_loss" not in progress[-1]  # critic only
    # resumed past the warm-up (the run keeps its option), the generator trains
    assert _train(image, warm, "--steps", "3", "--resume") == 0
    moved = load_checkpoint(warm / "last.safetensors").weights
    assert any(not torch.equal(moved[k], source[k]) for k in source)
    capsys.readouterr()
    assert _train(image, tmp_path / "bad", "--steps", "1", "--critic-warmup", "-1") == 2
    assert "--critic-warmup must be 0 or more" in capsys.readouterr().err


def test_the_multiscale_trainer_honours_the_critic_warmup():
    from engine.families.infgan import model as infgan
    from engine.models.registry import build_random
    from engine.train.datasets import CropDataset
    from engine.train.protocol import TrainConfig

    model = build_random("infgan", "tiny")
    trainer = make_trainer(model, TrainConfig(batch=1, options=TrainOptions(critic_warmup=1)), "cpu")
    data = CropDataset(
        [np.random.default_rng(0).integers(0, 256, (160, 200, 3), dtype=np.uint8)],
        infgan.real_crop_size(model.config),
        seed=1,
    )
    g0 = {k: v.clone() for k, v in trainer.generator.state_dict().items()}
    d0 = {k: v.clone() for k, v in trainer.discriminators.state_dict().items()}
    trainer.step(data.sample(trainer.real_batches_per_step), 0)
    assert all(torch.equal(v, g0[k]) for k, v in trainer.generator.state_dict().items())
    assert any(not torch.equal(v, d0[k]) for k, v in trainer.discriminators.state_dict().items())
    trainer.step(data.sample(trainer.real_batches_per_step), 1)
    assert any(not torch.equal(v, g0[k]) for k, v in trainer.generator.state_dict().items())


@pytest.mark.parametrize("family", ["reference", "infgan"])
def test_g_lr_scale_slows_only_the_generator(family):
    from engine.models.registry import build_random, get_family
    from engine.train.protocol import TrainConfig

    def rates(extra):
        config = TrainConfig(batch=1, options=TrainOptions(**extra))
        trainer = get_family(family).make_trainer(build_random(family, "tiny"), config, "cpu")
        return trainer.g_opt.param_groups[0]["lr"], trainer.d_opt.param_groups[0]["lr"]

    (g, d), (slow_g, slow_d) = rates({}), rates({"g_lr_scale": 0.25})
    assert slow_g == pytest.approx(0.25 * g) and slow_d == d


def test_g_lr_scale_is_recorded_kept_on_resume_and_checked(image, tmp_path, capsys):
    run = tmp_path / "slow"
    assert _train(image, run, "--steps", "1", "--g-lr-scale", "0.5") == 0
    assert read_header(run / "last.safetensors")["train_extra"]["g_lr_scale"] == 0.5
    assert _train(image, run, "--steps", "2", "--resume") == 0
    assert read_header(run / "last.safetensors")["train_extra"]["g_lr_scale"] == 0.5
    capsys.readouterr()
    assert _train(image, run, "--steps", "3", "--resume", "--g-lr-scale", "0.1") == 2
    assert "a resumed run keeps its learning rates" in capsys.readouterr().err
    assert _train(image, run, "--steps", "3", "--resume", "--g-lr-scale", "0.5") == 0  # the same is fine
    capsys.readouterr()
    assert _train(image, tmp_path / "bad", "--steps", "1", "--g-lr-scale", "0") == 2
    assert "--g-lr-scale must be in (0, 10]" in capsys.readouterr().err


def test_crop_sampling_is_centre_recorded_kept_on_resume_and_checked(image, tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(image, run, "--steps", "1") == 0
    assert read_header(run / "last.safetensors")["crop_sampling"] == "centre"
    assert _train(image, run, "--steps", "2", "--resume") == 0
    assert read_header(run / "last.safetensors")["crop_sampling"] == "centre"
    capsys.readouterr()
    assert _train(image, run, "--steps", "3", "--resume", "--crop-sampling", "offset") == 2
    assert "a resumed run keeps its crop sampling (centre)" in capsys.readouterr().err
    old = tmp_path / "old"
    assert _train(image, old, "--steps", "1", "--crop-sampling", "offset") == 0
    assert read_header(old / "last.safetensors")["crop_sampling"] == "offset"


def test_new_runs_wrap_crops_on_world_maps_and_centre_them_elsewhere():
    from engine.train.launch import crop_sampling

    assert crop_sampling(None, None, "bluemarble") == "wrap"
    assert crop_sampling(None, None, "shadedrelief") == "wrap"
    assert crop_sampling(None, None, "photos/") == "centre"
    assert crop_sampling("offset", None, "bluemarble") == "offset"
    assert crop_sampling(None, {"crop_sampling": "centre"}, "bluemarble") == "centre"  # a resume keeps its own


@pytest.mark.parametrize("family", ["reference", "infgan"])
def test_g_lr_warmup_ramps_the_generator_rate_after_the_critic_warmup(family):
    from engine.models.registry import build_random, get_family
    from engine.train.datasets import CropDataset
    from engine.train.protocol import TrainConfig

    module = get_family(family)
    model = build_random(family, "tiny")
    config = TrainConfig(batch=1, options=TrainOptions(critic_warmup=1, g_lr_warmup=4))
    trainer = module.make_trainer(model, config, "cpu")
    full = [group["lr"] for group in trainer.g_opt.param_groups]
    crop = module.crop_size(model.config)
    data = CropDataset([np.random.default_rng(0).integers(0, 256, (160, 200, 3), dtype=np.uint8)], crop, seed=1)
    seen = []
    for step in range(6):
        trainer.step(data.sample(getattr(trainer, "real_batches_per_step", 1)), step)
        seen.append([group["lr"] / f for group, f in zip(trainer.g_opt.param_groups, full)])
    # step 0 trains only the critic; then 1/4, 2/4, 3/4 of the rate, then all of it
    assert [round(s[0], 6) for s in seen] == [1.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert all(len(set(np.round(s, 6))) == 1 for s in seen)  # every group alike


def test_g_lr_warmup_is_recorded_and_checked(image, tmp_path, capsys):
    assert _train(image, tmp_path / "run", "--steps", "1", "--g-lr-warmup", "300") == 0
    assert read_header(tmp_path / "run" / "last.safetensors")["train_extra"]["g_lr_warmup"] == 300
    capsys.readouterr()
    assert _train(image, tmp_path / "bad", "--steps", "1", "--g-lr-warmup", "-5") == 2
    assert "--g-lr-warmup must be 0 or more" in capsys.readouterr().err


def test_ema_kimg_sets_the_averages_half_life_is_recorded_and_kept_on_resume(image, tmp_path, capsys):
    from safetensors import safe_open

    from engine.train.state import FILENAME

    def ema_is_the_generator(run):
        ema = load_checkpoint(tmp_path / run / "last.safetensors").weights
        with safe_open(str(tmp_path / run / FILENAME), "pt") as state:
            return all(torch.equal(ema[k], state.get_tensor(f"s.trainer.generator.{k}")) for k in ema)

    for run, extra in (("default", ()), ("short", ("--ema-kimg", "1e-6"))):
        assert _train(image, tmp_path / run, "--steps", "3", *extra) == 0
    assert ema_is_the_generator("short") and not ema_is_the_generator("default")
    assert read_header(tmp_path / "short" / "last.safetensors")["train_extra"]["ema_kimg"] == 1e-6
    assert _train(image, tmp_path / "short", "--steps", "4", "--resume") == 0
    assert ema_is_the_generator("short")
    capsys.readouterr()
    assert _train(image, tmp_path / "bad", "--steps", "1", "--ema-kimg", "0") == 2
    assert "--ema-kimg must be in (0, 1000]" in capsys.readouterr().err


def test_r1_gamma_weights_the_critic_penalty_is_recorded_and_kept_on_resume(image, tmp_path, capsys):
    from engine.train import critic_weights
    from engine.train.state import FILENAME

    def critic(run):
        return critic_weights.from_run(tmp_path / run / FILENAME).weights

    for run, extra in (("default", ()), ("ten", ("--r1-gamma", "10")), ("half", ("--r1-gamma", "0.5"))):
        assert _train(image, tmp_path / run, "--steps", "1", *extra) == 0  # step 0 takes the lazy R1 step
    same, other = critic("default"), critic("half")
    assert all(torch.equal(same[k], critic("ten")[k]) for k in same)  # 10 is the default
    assert any(not torch.equal(same[k], other[k]) for k in same)
    assert read_header(tmp_path / "half" / "last.safetensors")["train_extra"]["r1_gamma"] == 0.5
    assert _train(image, tmp_path / "half", "--steps", "2", "--resume") == 0
    assert read_header(tmp_path / "half" / "last.safetensors")["train_extra"]["r1_gamma"] == 0.5
    capsys.readouterr()
    assert _train(image, tmp_path / "bad", "--steps", "1", "--r1-gamma", "-1") == 2
    assert "--r1-gamma must be in [0, 1000]" in capsys.readouterr().err


def test_runs_of_format_1_with_dropped_options_or_modes_are_refused_in_one_line(image, tmp_path, capsys):
    from engine.errors import CheckpointError
    from engine.train.resume import RUN_FORMAT, check_resumable
    from engine.train.state import load_state, save_state

    shipped = {"crop_sampling": "wrap", "train_extra": {"fake_rows": "frame", "critic_rows": True}}
    assert check_resumable(shipped, "runs/ig") == {"critic_rows": True}  # the recipes' runs resume
    assert check_resumable({"run_format": RUN_FORMAT, "train_extra": {"augment": "cutout"}}, "r") == {
        "augment": "cutout"
    }
    old = (
        ({"train_extra": {"colour_critic": True}, "crop_sampling": "wrap"}, "trained with colour_critic"),
        ({"train_extra": {"fake_rows": "offset"}, "crop_sampling": "offset"}, "fakes placed by offset"),
        ({}, "crops drawn before the crop sampling was recorded"),
    )
    for meta, why in old:
        with pytest.raises(CheckpointError, match=f"runs/x is a run of format 1 \\({why}\\), which Everscape"):
            check_resumable(meta, "runs/x")

    run = tmp_path / "old"
    assert _train(image, run, "--steps", "1") == 0
    state = load_state(run / "train_state.safetensors")
    state["meta"] = {**state["meta"], "train_extra": {"vpos_weight": 2.0}}
    del state["meta"]["run_format"]
    save_state(run / "train_state.safetensors", state)
    capsys.readouterr()
    assert _train(image, run, "--steps", "2", "--resume") == 2
    err = capsys.readouterr().err.strip()
    assert "is a run of format 1 (trained with vpos_weight)" in err and "run format 2" in err
    assert len(err.splitlines()) == 1


def test_vertical_position_options_are_recorded_for_infinitygan_kept_on_resume_and_refused_elsewhere(
    image, tmp_path, capsys
):
    train = functools.partial(_train, image, family="infinitygan")

    run = tmp_path / "latitudes"
    assert train(run, "--steps", "1", "--vpos-critic", "reals") == 0
    assert read_header(run / "last.safetensors")["train_extra"]["vpos_critic"] == "reals"
    assert train(run, "--steps", "2", "--resume") == 0
    assert read_header(run / "last.safetensors")["train_extra"]["vpos_critic"] == "reals"
    capsys.readouterr()
    assert train(run, "--steps", "3", "--resume", "--critic-rows") == 2  # its critic has no rows
    assert "start a new run from its checkpoint with --init" in capsys.readouterr().err
    rows = tmp_path / "rows"
    assert train(rows, "--steps", "1", "--critic-rows") == 0
    assert train(rows, "--steps", "2", "--resume") == 0  # the state's conditional critic fits
    assert read_header(rows / "last.safetensors")["train_extra"]["critic_rows"] is True
    capsys.readouterr()
    row_flags = (
        ["--vpos-critic", "reals"],
        ["--critic-rows"],
        ["--colour-moments", "1"],
    )
    for i, flags in enumerate(row_flags):
        assert _train(image, tmp_path / f"flat{i}", "--steps", "1", *flags) == 2
        assert f"{flags[0]} is for infinitygan, not reference" in capsys.readouterr().err
    assert _train(image, tmp_path / "flat-quantiles", "--steps", "1", "--colour-quantiles", "1") == 2
    assert "--colour-quantiles is for infinitygan, infgan, not reference" in capsys.readouterr().err
    for flag, key in (("--colour-moments", "colour_moments"), ("--colour-quantiles", "colour_quantiles")):
        run = tmp_path / key
        assert train(run, "--steps", "1", flag, "0.5") == 0
        assert train(run, "--steps", "2", "--resume") == 0
        assert read_header(run / "last.safetensors")["train_extra"][key] == 0.5
        assert train(tmp_path / f"{key}-bad", "--steps", "1", flag, "200") == 2
        assert f"{flag} must be in [0, 100]" in capsys.readouterr().err
