"""``everscape models ship`` on a two-step reference:tiny run, and the app's default model choice."""

import json
import math
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from engine import checkpoints
from engine.cards import FORMAT, card_path, quality_table, read_card
from engine.checkpoints import read_header
from engine.cli import main
from engine.default_model import default_model_ref
from engine.errors import InvalidInput
from engine.metrics import landcover
from engine.metrics.realdata import RealImages
from engine.models.registry import FALLBACK_MODEL, load_model
from engine.release import measure
from engine.release import ship as shipping
from engine.train import critic_weights


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A 2-step reference:tiny run on a smooth 700x80 map, the band 0.45-0.55 held out."""
    root = tmp_path_factory.mktemp("ship")
    gen = torch.Generator().manual_seed(3)
    base = F.interpolate(torch.randn(1, 3, 8, 70, generator=gen), size=(80, 700), mode="bicubic")[0]
    image = ((base * 0.4).clamp(-1, 1).permute(1, 2, 0).numpy() + 1) * 127.5
    Image.fromarray(image.astype(np.uint8)).save(root / "map.png")
    argv = ["train", "reference", "--data", str(root / "map.png"), "--out", str(root / "run"), "--steps", "2"]
    argv += ["--batch", "2", "--holdout", "0.45,0.55", "--sample-every", "0", "--device", "cpu"]
    assert main(argv) == 0
    return root / "run"


@pytest.fixture(scope="module")
def shipped(run_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("shipped")
    dest, gallery = out / "checkpoints", out / "gallery"
    argv = ["models", "ship", str(run_dir), "--name", "tiny-ref", "--dest", str(dest), "--gallery-dir", str(gallery)]
    assert main([*argv, "--quick", "--device", "cpu"]) == 0
    return dest, gallery


def test_ship_quick_writes_a_loadable_checkpoint_a_card_and_a_gallery(shipped, run_dir, monkeypatch, capsys):
    dest, gallery = shipped
    assert sorted(p.name for p in dest.iterdir()) == ["critics", "tiny-ref.json", "tiny-ref.safetensors"]
    assert [p.name for p in (dest / "critics").iterdir()] == ["tiny-ref.safetensors"]  # no temp files
    monkeypatch.setenv("EVERSCAPE_CHECKPOINTS", str(dest))
    loaded = load_model("tiny-ref")
    assert loaded.model.family == "reference"
    source = load_model(str(run_dir / "last.safetensors")).model.state_dict()
    assert all(torch.equal(v, source[k]) for k, v in loaded.model.state_dict().items())
    header = read_header(dest / "tiny-ref.safetensors")
    assert header["name"] == "tiny-ref" and header["steps"] == 2
    assert header["metrics"]["mode"] == "quick" and header["metrics"]["data"].endswith("map.png[0.45..0.55]")

    card = read_card(card_path(dest / "tiny-ref.safetensors"))
    assert card["format"] == FORMAT and card["name"] == "tiny-ref" and card["family"] == "reference"
    assert card["data"]["holdout"] == [0.45, 0.55] and card["data"]["scale"] == 1.0
    assert card["training"]["steps"] == 2 and card["training"]["device"] == "cpu"
    assert card["training"]["kimg"] == 0.004 and card["training"]["wall_time_s"] > 0
    assert card["checkpoint"]["sha256"] == loaded.sha256
    critic = card["critic"]  # the run's critic ships beside it, paired with this very file
    assert critic["file"] == "critics/tiny-ref.safetensors" and critic["step"] == 2
    assert critic_weights.load(dest / critic["file"]).pairs_with == loaded.sha256
    metrics = card["metrics"]
    for side in ("trained", "untrained"):
        assert set(metrics[side]["scaleinv"]) == {"1", "2", "4", "8"}
        assert metrics[side]["swd"] > 0 and metrics[side]["inf_swd"] > 0
    # two steps of training barely move the weights: the floor is measured on the weights it started from
    assert metrics["untrained"]["swd"] == pytest.approx(metrics["trained"]["swd"], rel=0.05)
    assert 0 < metrics["real_vs_real"]["swd"] < metrics["trained"]["swd"]
    assert metrics["reports"]["trained"]["inf_swd"]["strip_px"] == metrics["options"]["strip_frames"] * 64
    cover = card["landcover"]["measures"]
    assert {k for k, row in cover.items() if row["data"] > 0} == {
        k[len("draws_") :] for k in card["goals"] if k.startswith("draws_")
    }
    with Image.open(gallery / "tiny-ref.jpg") as image:  # the card's land cover is the gallery's
        rendered = landcover.cover(np.asarray(image.convert("RGB")))
    assert all(row["render"] == rendered[k] for k, row in cover.items())
    assert set(card["goals"]) - {k for k in card["goals"] if k.startswith("draws_")} == {
        "inf_swd_over_frame_swd",
        "scaleinv_8x_over_1x",
        "beats_untrained_swd",
        "inversion_beats_untrained",
        "no_colour_drift_swd",
        "no_colour_drift_mean_z",
        "no_repetition_at_coordinate_period",
        "no_envelope_at_coordinate_period",
        "no_seams",
    }
    assert card["goals"]["no_seams"] == {"value": 0, "limit": 0, "pass": True}
    assert card["diagnostics"]["seams"]["seam_max_abs_u8"] == 0 and card["diagnostics"]["coordinate_periods"] == []
    ratio = card["goals"]["inf_swd_over_frame_swd"]
    assert ratio["pass"] == (ratio["value"] <= 1.1) and ratio["value"] == metrics["trained"]["inf_swd_ratio"]

    assert card["gallery"]["path"] == str(gallery / "tiny-ref.jpg") and card["gallery"]["size"] == [512, 256]
    with Image.open(gallery / "tiny-ref.jpg") as image:
        assert image.size == (512, 256) and image.format == "JPEG"
    assert [p.name for p in gallery.iterdir()] == ["tiny-ref.jpg"]  # the intermediate PNG is gone
    inversion = card["inversion"]
    assert math.isfinite(inversion["trained"]["psnr_db"]) and inversion["untrained"]["steps"] >= 1
    assert card["goals"]["inversion_beats_untrained"]["value"] == inversion["trained"]["psnr_db"]

    capsys.readouterr()
    assert main(["models", "--json"]) == 0
    (entry,) = [e for e in json.loads(capsys.readouterr().out)["checkpoints"] if e["name"] == "tiny-ref"]
    assert entry["heldout_swd"] == metrics["trained"]["swd"] and entry["steps"] == 2

    assert main(["models", "report", "tiny-ref"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == "| | tiny-ref |" and any(
        line.startswith("| goal: no_seams | 0.000 vs 0.000: pass") for line in table
    )
    swd_row = next(line for line in table if line.startswith("| SWD"))
    assert f"{metrics['trained']['swd']:.1f} / {metrics['untrained']['swd']:.1f}" in swd_row
    cover_row = next(line for line in table if line.startswith("| land cover"))
    ocean = card["landcover"]["measures"]["ocean"]
    assert f"ocean {100 * ocean['render']:.1f}/{100 * ocean['data']:.1f}" in cover_row
    assert main(["models", "report", "nosuch"]) == 2 and "no installed checkpoint" in capsys.readouterr().err


def test_ship_prefers_best_and_refuses_large_or_unmeasurable_checkpoints(run_dir, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    # A run with a held-out band keeps best.safetensors by default; ship prefers it, else last.
    assert (run / "best.safetensors").is_file()
    assert shipping.pick_checkpoint(run) == run / "best.safetensors"
    (run / "best.safetensors").unlink()
    assert shipping.pick_checkpoint(run) == run / "last.safetensors"
    shutil.copy(run / "last.safetensors", run / "best.safetensors")

    monkeypatch.setattr(shipping, "MAX_BYTES", 1000)
    dest = tmp_path / "dest"
    argv = ["models", "ship", str(run), "--name", "big", "--dest", str(dest), "--quick", "--device", "cpu"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "over the 0 MB limit" in err and len(err.splitlines()) == 1
    assert not dest.exists()
    assert main(["models", "ship", str(tmp_path / "missing"), "--name", "x", "--dest", str(dest)]) == 2
    assert main(["models", "ship", str(run), "--name", "../x", "--dest", str(dest)]) == 2

    with pytest.raises(InvalidInput, match="held-out band"):
        measure.preparation({"data": "map.png"}, "x")
    with pytest.raises(InvalidInput, match="what data"):
        measure.preparation({}, "x")
    prep = measure.preparation({"steps": 5}, "infgan-bluemarble")  # an old header: the recipe of that name
    assert (prep["data"], prep["scale"], prep["holdout"]) == ("bluemarble", 0.5, [0.45, 0.55])


def test_ship_refuses_to_replace_a_model_that_measured_better_on_the_same_sets(shipped, run_dir, tmp_path, capsys):
    dest, gallery = tmp_path / "checkpoints", tmp_path / "gallery"
    shutil.copytree(shipped[0], dest)
    card = read_card(dest / "tiny-ref.json")
    measured = card["metrics"]["trained"]["swd"]
    card["metrics"]["trained"]["swd"] = measured / 2  # the shipped model now reads as twice as good
    (dest / "tiny-ref.json").write_text(json.dumps(card))
    before = {p.name: p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    argv = ["models", "ship", str(run_dir), "--name", "tiny-ref", "--dest", str(dest), "--gallery-dir", str(gallery)]
    argv += ["--quick", "--device", "cpu"]
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    err = lines[-1]
    assert "not shipped" in err and "--replace-worse" in err
    # refused right after the trained half: the floor (as long again) is never measured
    assert any("measuring the trained model" in line for line in lines)
    assert not any("untrained" in line for line in lines[:-1])
    assert f"{measured:.1f}" in err and f"{measured / 2:.1f}" in err
    assert {p.name: p.read_bytes() for p in dest.rglob("*") if p.is_file()} == before and not gallery.exists()

    # measured another way (another seed), the numbers do not compare, and it ships
    assert not measure.comparable(card, {**card["metrics"], "options": {**card["metrics"]["options"], "seed": 1}})
    assert measure.comparable(card, card["metrics"])
    assert main([*argv, "--replace-worse"]) == 0
    assert read_card(dest / "tiny-ref.json")["metrics"]["trained"]["swd"] == pytest.approx(measured)
    card["metrics"]["trained"]["swd"] = measured * 2  # a worse shipped model is replaced without asking
    (dest / "tiny-ref.json").write_text(json.dumps(card))
    assert main(argv) == 0


def test_a_card_measured_another_way_is_remeasured_before_the_guard(shipped, run_dir, tmp_path, capsys, monkeypatch):
    """A change in how models are measured must not wave a worse model through: the shipped weights'
    frames are measured as the candidate's were, and the guard compares those."""
    dest, gallery = tmp_path / "checkpoints", tmp_path / "gallery"
    shutil.copytree(shipped[0], dest)
    card = read_card(dest / "tiny-ref.json")
    card["metrics"]["frames_at_rows"] = True  # measured another way (as a row-dependent model's card)
    card["metrics"]["trained"]["swd"] = 1e-6  # a number that would refuse anything, were it compared
    (dest / "tiny-ref.json").write_text(json.dumps(card))
    seen = []
    real_guard = shipping.refuse_if_worse
    monkeypatch.setattr(shipping, "refuse_if_worse", lambda c, m, *a: (seen.append((c, m)), real_guard(c, m, *a)))
    argv = ["models", "ship", str(run_dir), "--name", "tiny-ref", "--dest", str(dest), "--gallery-dir", str(gallery)]
    argv += ["--quick", "--device", "cpu"]
    assert main(argv) == 0  # the same weights re-measured: exactly as good, so it ships
    err = capsys.readouterr().err
    assert "was measured another way" in err and "shipped: held-out SWD" in err
    ((old, new),) = seen
    assert old["metrics"]["trained"]["swd"] == new["trained"]["swd"]  # the very measurement, not a near one
    assert measure.comparable(old, new)

    card["metrics"]["trained"]["swd"] = 1e-6
    (dest / "tiny-ref.json").write_text(json.dumps(card))
    monkeypatch.setattr(measure.HeldOutSWD, "__call__", lambda self, model: 1e-6)  # the shipped one measures better
    assert main(argv) == 2
    assert "not shipped" in capsys.readouterr().err.strip().splitlines()[-1]


def test_rediagnose_rewrites_only_the_diagnostics_and_their_goals(shipped, run_dir, tmp_path, capsys):
    dest = tmp_path / "checkpoints"
    shutil.copytree(shipped[0], dest)
    path = dest / "tiny-ref.safetensors"
    card = read_card(card_path(path))
    # a card from before the drift test changed: an old-style value and diagnostics
    card["goals"]["no_colour_drift_swd"] = {"value": 2.5, "limit": 2.0, "pass": False}
    card["diagnostics"]["drift"] = {"worst_swd_over_control": 2.5}
    card_path(path).write_text(json.dumps(card))
    weights = path.read_bytes()
    assert main(["models", "rediagnose", str(path), "--device", "cpu"]) == 0
    assert "tiny-ref: drift p" in capsys.readouterr().out
    again = read_card(card_path(path))
    assert again["goals"]["no_colour_drift_swd"] == {
        "value": again["diagnostics"]["drift"]["worst_p_adjusted"],
        "limit": 0.05,
        "pass": again["diagnostics"]["drift"]["worst_p_adjusted"] >= 0.05,
    }
    assert {k: v for k, v in again.items() if k not in ("goals", "diagnostics")} == {
        k: v for k, v in card.items() if k not in ("goals", "diagnostics")
    }
    assert set(again["goals"]) == set(card["goals"]) and path.read_bytes() == weights
    assert again["diagnostics"]["options"]["permutations"] == 149  # a quick card keeps quick diagnostics
    other = tmp_path / "other.safetensors"  # a card that does not describe these weights is refused
    shutil.copy(run_dir / "last.safetensors", other)
    card_path(other).write_text(json.dumps(card))
    assert main(["models", "rediagnose", str(other), "--device", "cpu"]) == 2
    assert "sha256 differs" in capsys.readouterr().err


def test_remeasure_rewrites_a_cards_metrics_the_current_way_and_nothing_else(shipped, tmp_path, capsys):
    """A card measured before the real crops were centred (its options lack ``crop_sampling``) is
    measured again with the same frame, mode and seed: the same weights give the numbers a fresh
    ship would, while the weights, training record, diagnostics and land cover stay as they were."""
    dest = tmp_path / "checkpoints"
    shutil.copytree(shipped[0], dest)
    path = dest / "tiny-ref.safetensors"
    fresh = read_card(card_path(path))
    old = json.loads(json.dumps(fresh))
    del old["metrics"]["options"]["crop_sampling"]  # as measured against corner offsets
    old["metrics"]["trained"]["swd"] = 1e-6
    old["goals"]["beats_untrained_swd"]["value"] = 1e-6
    card_path(path).write_text(json.dumps(old))
    weights = path.read_bytes()
    assert main(["models", "remeasure", str(path), "--device", "cpu"]) == 0
    assert f"tiny-ref: held-out SWD 0.0 -> {fresh['metrics']['trained']['swd']:.1f}" in capsys.readouterr().out
    again = read_card(card_path(path))
    assert measure.comparable(again, fresh["metrics"]) and path.read_bytes() == weights
    assert again["metrics"]["trained"] == fresh["metrics"]["trained"]  # the measurement, repeated exactly
    assert again["metrics"]["untrained"] == fresh["metrics"]["untrained"]
    assert again["goals"] == fresh["goals"]
    untouched = ("metrics", "goals")
    assert {k: v for k, v in again.items() if k not in untouched} == {
        k: v for k, v in old.items() if k not in untouched
    }
    assert main(["models", "remeasure", "nothing-called-this", "--device", "cpu"]) == 2


def test_ship_frames_are_the_training_crop_halved_until_the_held_out_band_holds_them():
    """∞-GAN ``small4`` trains on 512 px crops; Blue Marble's prepared band is 270 px wide."""
    band = RealImages([np.zeros((1125, 270, 3), np.uint8)], "band")
    assert band.fitting_side(512) == 256
    assert band.fitting_side(256) == 256  # a crop that fits is kept
    assert band.fitting_side(133) == 133
    narrow = RealImages([np.zeros((1125, 20, 3), np.uint8)], "narrow")
    assert narrow.fitting_side(512) == 16
    tiny = RealImages([np.zeros((10, 10, 3), np.uint8)], "tiny")
    assert tiny.fitting_side(17) == 17  # odd: not halved, so crops() gives its one-line error
    with pytest.raises(InvalidInput, match="at least 17x17"):
        tiny.crops(1, 17, seed=0)


def test_goals_compare_with_the_issue_limits():
    trained = {"inf_swd_ratio": 1.05, "swd": 10.0, "scaleinv": {"1": 10.0, "8": 25.0}}
    goals = measure.goals(trained, {"swd": 30.0})
    assert goals["inf_swd_over_frame_swd"]["pass"] and not goals["scaleinv_8x_over_1x"]["pass"]
    assert goals["scaleinv_8x_over_1x"]["value"] == 2.5 and goals["beats_untrained_swd"]["pass"]
    assert "data" not in goals["scaleinv_8x_over_1x"]


def test_the_scaleinv_goal_carries_the_datas_own_ratio_at_the_largest_zoom_it_allows():
    """A map zoomed out is not the map at 1:1; a perfect model scores the data's own ratio, shown
    beside the goal. 8× crops do not fit in the whole image here, so 4× is the largest."""
    trained = {"inf_swd_ratio": 1.0, "swd": 10.0, "inf_swd": 10.0, "scaleinv": {"1": 10.0, "8": 50.0}}
    real = {"swd": 4.0, "whole_scaleinv": {"1": 20.0, "2": 40.0, "4": 76.0, "8": None}}
    goal = measure.goals(trained, {"swd": 30.0}, real)["scaleinv_8x_over_1x"]
    assert goal["data"] == {"zoom": 4, "ratio": 3.8} and not goal["pass"]
    card = {"name": "m", "metrics": {"trained": trained, "untrained": trained, "real_vs_real": real}}
    card["goals"] = {"scaleinv_8x_over_1x": goal}
    table = quality_table([card])
    assert "the map's own 4×/1×: 3.80" in table
    assert "10.0 / 10.0 / – / 20.0" in table  # 1×: trained / untrained / band (none) / whole map


def _install(folder, name, source, swd=None, real=None):
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, folder / f"{name}.safetensors")
    if swd is not None:
        card = json.loads(card_path(source).read_text())
        card["name"] = name
        card["metrics"]["trained"]["swd"] = swd
        if real is not None:
            card["metrics"]["real_vs_real"]["swd"] = real
        card_path(folder / f"{name}.safetensors").write_text(json.dumps(card))


def test_default_model_is_the_best_carded_checkpoint(shipped, tmp_path, monkeypatch):
    source = shipped[0] / "tiny-ref.safetensors"
    shipped_dir, user = tmp_path / "shipped", tmp_path / "user"
    monkeypatch.setattr(checkpoints, "SHIPPED_DIR", shipped_dir)
    monkeypatch.setenv("EVERSCAPE_CHECKPOINTS", str(user))
    assert default_model_ref() == FALLBACK_MODEL
    _install(shipped_dir, "infgan-bluemarble", source)  # no cards: the fixed order
    _install(shipped_dir, "alis-bluemarble", source)
    assert default_model_ref() == "alis-bluemarble"
    _install(shipped_dir, "infinitygan-bluemarble", source, swd=80.0)
    _install(user, "mine", source, swd=40.0)
    assert default_model_ref() == "mine"
    _install(shipped_dir, "alis-bluemarble", source, swd=20.0)
    assert default_model_ref() == "alis-bluemarble"
    card_path(shipped_dir / "alis-bluemarble.safetensors").write_text("{not json")  # a broken card is ignored
    assert default_model_ref() == "mine"
    # Ranked relative to real-vs-real: larger frames give larger SWDs for real data too.
    _install(shipped_dir, "infinitygan-bluemarble", source, swd=60.0, real=30.0)  # 2x the best possible
    _install(user, "mine", source, swd=40.0, real=10.0)  # 4x
    assert default_model_ref() == "infinitygan-bluemarble"
    assert load_model(default_model_ref()).model.family == "reference"
