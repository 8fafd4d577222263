"""The generic loop on reference:tiny: exact resume, abort, best checkpoints, the CLI's JSON lines."""

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from engine.checkpoints import load_checkpoint
from engine.cli import main
from engine.errors import CheckpointError
from engine.families import reference as reference_family
from engine.families.reference.trainer import ReferenceTrainer
from engine.models.registry import build_random, load_model, make_trainer
from engine.train.datasets import CropDataset
from engine.train.loop import Snapshot, images_behind
from engine.train.protocol import TrainConfig
from engine.train.session import images_seen
from engine.train.state import FILENAME, decode, encode, load_state
from tests.engine.train.runs import run_steps
from tests.torchrun import run_torchrun

ROOT = Path(__file__).resolve().parents[3]


def _image():
    return np.random.default_rng(0).integers(0, 256, (48, 96, 3), dtype=np.uint8)


def _setup(seed=0):
    config = TrainConfig(batch=2, crop=32, r1_every=2, path_every=2, seed=seed)
    trainer = make_trainer(build_random("reference", "tiny"), config, "cpu")
    return trainer, CropDataset([_image()], 32, seed=seed)


def _run(out, steps, resume=False, **kwargs):
    trainer, dataset = _setup()
    result, logs = run_steps(trainer, dataset, out, steps, batch=2, resume=resume, **kwargs)
    return trainer, result, logs


def test_resume_is_bit_exact(tmp_path):
    straight, _, logs = _run(tmp_path / "a", 4)
    _, first, logs1 = _run(tmp_path / "b", 2)
    assert first.step == 2
    resumed, second, logs2 = _run(tmp_path / "b", 4, resume=True)
    assert second.step == 4
    assert logs == logs1 + logs2
    for a, b in zip(straight.state_dict()["generator"].values(), resumed.state_dict()["generator"].values()):
        assert torch.equal(a, b)
    for a, b in zip(straight.discriminator.parameters(), resumed.discriminator.parameters()):
        assert torch.equal(a, b)
    assert straight.path_reg.mean.item() == resumed.path_reg.mean.item()
    a, b = load_checkpoint(tmp_path / "a" / "last.safetensors"), load_checkpoint(tmp_path / "b" / "last.safetensors")
    assert a.meta["steps"] == b.meta["steps"] == 4
    assert all(torch.equal(a.weights[k], b.weights[k]) for k in a.weights)


def test_kimg_counts_the_images_seen_when_a_resume_changes_the_batch(tmp_path):
    """kimg is the images seen, summed step by step: a resume with another batch (or, under
    torchrun, another process count) must not re-count the earlier steps at the new size."""
    _run(tmp_path, 2)  # 2 steps of 2
    trainer, dataset = _setup()
    result, logs = run_steps(trainer, dataset, tmp_path, 3, batch=1, resume=True)  # 1 step of 1
    assert result.step == 3 and logs[-1]["kimg"] == 0.005
    assert load_checkpoint(tmp_path / "last.safetensors").meta["kimg"] == 0.005
    assert load_state(tmp_path / FILENAME)["images"] == 5
    # A state saved before the count was kept is refused in one line naming the run format.
    with pytest.raises(CheckpointError, match=r"is a run of format 1 \(its images seen not counted\)"):
        images_seen({"step": 10, "meta": {"world_size": 1}}, tmp_path / FILENAME)


def test_a_resume_keeps_the_run_provenance_it_does_not_restate(tmp_path):
    """A warm-started run's ``init`` record (given once, with --init) must survive a resume, or its
    model card stops counting the training behind the starting weights."""
    _run(tmp_path, 1, meta={"init": {"steps": 7, "kimg": 0.1}, "device": "cpu"})
    _run(tmp_path, 2, resume=True, meta={"device": "cuda"})
    meta = load_checkpoint(tmp_path / "last.safetensors").meta
    assert meta["init"] == {"steps": 7, "kimg": 0.1} and meta["device"] == "cuda" and meta["steps"] == 2


def test_the_ema_ramp_counts_the_images_behind_a_warm_start_and_keeps_them_on_resume(tmp_path, monkeypatch):
    """A warm start is not the start of training: the EMA ramp must see the images its generator
    had seen (``init.kimg``), or its half-life restarts near 0 and snapshots follow the raw G."""
    seen: list[int | None] = []
    step = ReferenceTrainer.step

    def spy(self, reals, index, images_seen=None):
        seen.append(images_seen)
        return step(self, reals, index, images_seen)

    monkeypatch.setattr(ReferenceTrainer, "step", spy)
    _run(tmp_path / "warm", 2, meta={"init": {"steps": 50, "kimg": 0.1}})
    _run(tmp_path / "warm", 3, resume=True)  # the resume restates no --init: the state's is kept
    _run(tmp_path / "cold", 1)
    assert seen == [100, 102, 104, 0]
    assert images_behind({"init": {"kimg": "junk"}}) == 0 and images_behind({}) == 0


def test_checkpoint_renders_and_state_has_everything(tmp_path):
    _run(tmp_path, 1)
    loaded = load_model(str(tmp_path / "last.safetensors"))
    assert loaded.model.family == "reference"
    state = load_state(tmp_path / FILENAME)
    assert state["step"] == 1
    assert {"generator", "ema", "discriminator", "g_opt", "d_opt", "path_reg"} <= set(state["trainer"])
    assert {"torch", "python", "numpy"} <= set(state["rng"])
    assert not any(p.suffix in (".pt", ".pkl") for p in tmp_path.iterdir())


def test_state_encoding_round_trips_odd_keys():
    tree = {"a": (1, 2.5, None), 3: [torch.ones(2)], "__x": {"y": np.int64(4)}}
    tensors = {}
    doc = json.loads(json.dumps(encode(tree, tensors)))
    back = decode(doc, tensors)
    assert back["a"] == (1, 2.5, None) and torch.equal(back[3][0], torch.ones(2)) and back["__x"]["y"] == 4


def test_abort_stops_cleanly_with_snapshot_and_best(tmp_path):
    calls = {"n": 0}

    def abort():
        calls["n"] += 1
        return calls["n"] > 2

    snaps = []
    _, result, _ = _run(tmp_path, 50, abort_fn=abort, snapshot_fn=snaps.append, metric_fn=lambda t: 1.0)
    assert result.stopped == "abort" and result.step == 2
    assert load_state(tmp_path / FILENAME)["step"] == 2
    assert snaps == [Snapshot(tmp_path / "last.safetensors", 1.0, True)]
    assert load_checkpoint(tmp_path / "best.safetensors").meta["metric"] == 1.0


def test_resume_keeps_the_best_only_when_it_was_scored_the_same_way(tmp_path):
    _run(tmp_path / "a", 2, metric_fn=lambda t: 1.0, metric_name="swd@64")
    _run(tmp_path / "a", 4, resume=True, metric_fn=lambda t: 5.0, metric_name="swd@64")
    assert load_checkpoint(tmp_path / "a" / "best.safetensors").meta["steps"] == 2  # 5 is no better than 1

    _run(tmp_path / "b", 2, metric_fn=lambda t: 1.0, metric_name="swd@64")
    _run(tmp_path / "b", 4, resume=True, metric_fn=lambda t: 5.0, metric_name="swd@128")
    best = load_checkpoint(tmp_path / "b" / "best.safetensors").meta
    assert (best["steps"], best["metric"], best["metric_name"]) == (4, 5.0, "swd@128")
    state = load_state(tmp_path / "b" / FILENAME)
    assert (state["best"], state["best_metric"]) == (5.0, "swd@128")


def test_cli_prints_json_lines_and_refuses_untrainable_family(tmp_path, capsys, monkeypatch):
    image = tmp_path / "map.png"
    from PIL import Image

    Image.fromarray(_image()).save(image)
    out = tmp_path / "run"
    argv = [
        "train",
        "reference",
        "--data",
        str(image),
        "--out",
        str(out),
        "--steps",
        "2",
        "--batch",
        "2",
        "--crop",
        "32",
        "--log-every",
        "1",
        "--sample-every",
        "2",
        "--device",
        "cpu",
    ]
    assert main(argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line.get("step") for line in lines if "event" not in line] == [1, 2]
    events = [line["event"] for line in lines if "event" in line]
    assert events == ["sample", "snapshot", "done"]
    assert {"d_loss", "g_loss", "img_per_s", "eta_s", "kimg"} <= set(lines[0])
    assert (out / "samples" / "step-0000002.png").is_file()
    assert main(["train", "reference", "--data", str(image), "--out", str(out), "--steps", "1"]) == 2
    assert "already holds a training run" in capsys.readouterr().err
    monkeypatch.setattr(reference_family, "FAMILY", dataclasses.replace(reference_family.FAMILY, trainer=None))
    out = tmp_path / "other"
    assert main(["train", "reference", "--data", str(image), "--out", str(out), "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "cannot be trained" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_torchrun_two_processes_end_with_identical_weights(tmp_path):
    image = tmp_path / "map.png"
    from PIL import Image

    Image.fromarray(_image()).save(image)
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = run_torchrun(["--standalone", "--nproc-per-node", "2", str(script), str(image), str(tmp_path)], env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    a = load_file(tmp_path / "rank0.safetensors")
    b = load_file(tmp_path / "rank1.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "run" / "last.safetensors").is_file()
    assert not list((tmp_path / "run").glob("*rank1*"))


DDP_SCRIPT = """
import sys, torch
from safetensors.torch import save_file
import dataclasses

from engine.models import registry
from engine.models.registry import build_random, make_trainer
from engine.train import distributed
from engine.train.datasets import open_dataset
from engine.train.loop import train
from engine.train.protocol import TrainConfig
from engine.families.reference.trainer import ReferenceTrainer

image, out = sys.argv[1], sys.argv[2]
info = distributed.initialise(torch.device("cpu"))
config = TrainConfig(batch=2, crop=32, r1_every=2, path_every=2)
trainer = make_trainer(build_random("reference", "tiny"), config, "cpu")
data = open_dataset(image, 32, seed=distributed.rank_seed(0))
first = data.sample(1).images
gathered = [torch.zeros_like(first) for _ in range(2)]
torch.distributed.all_gather(gathered, first)
assert not torch.equal(gathered[0], gathered[1]), "ranks must draw different crops"
train(trainer, data, out + "/run", batch=2, steps=3, sample_every=0, snapshot_every=100)
weights = {**{"g." + k: v for k, v in trainer.generator.state_dict().items()},
           **{"d." + k: v for k, v in trainer.discriminator.state_dict().items()},
           **{"e." + k: v for k, v in trainer.ema.state_dict().items()}}
save_file({k: v.contiguous() for k, v in weights.items()}, f"{out}/rank{info.rank}.safetensors")
distributed.shutdown()
"""


def test_ctrl_c_turns_into_an_abort_request():
    import signal

    from engine.train.interrupt import StopOnInterrupt

    stop = StopOnInterrupt()
    with stop:
        assert not stop.requested()
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.requested()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigterm_asks_for_the_graceful_stop_and_never_forces_it():
    """torchrun's agent answers Ctrl-C by sending its workers SIGTERM: the worker, already asked to
    stop by the same Ctrl-C, must still finish its step and write the snapshot."""
    import signal

    from engine.train.interrupt import StopOnInterrupt

    previous = signal.getsignal(signal.SIGTERM)
    stop = StopOnInterrupt()
    with stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.requested()
        os.kill(os.getpid(), signal.SIGTERM)  # again: still the graceful stop
    with StopOnInterrupt() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)  # the agent's SIGTERM after the Ctrl-C
        assert stop.requested()
    assert signal.getsignal(signal.SIGTERM) is previous


@pytest.mark.slow
def test_torchrun_resume_is_exact_on_every_rank(tmp_path):
    """Two ranks, ∞-GAN (global RNGs, data samplers and the trainer's private generators all differ
    per rank): 2 steps + resume + 2 steps ends on exactly the weights of 4 straight steps. Before
    per-rank states, rank 1 re-seeded on resume (and took rank 0's private noise stream)."""
    from PIL import Image

    image = tmp_path / "map.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (160, 200, 3), dtype=np.uint8)).save(image)
    script = tmp_path / "ddp_resume.py"
    script.write_text(DDP_RESUME_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    for args in (["straight", "4", "0"], ["split", "2", "0"], ["split", "4", "1"]):
        proc = run_torchrun(
            ["--standalone", "--nproc-per-node", "2", str(script), str(image), str(tmp_path), *args], env=env
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
    straight, split = (
        load_file(tmp_path / "straight-rank1.safetensors"),
        load_file(tmp_path / "split-rank1.safetensors"),
    )
    assert straight.keys() == split.keys() and all(torch.equal(straight[k], split[k]) for k in straight)
    state = load_state(tmp_path / "split" / FILENAME)
    assert len(state["ranks"]) == 2 and not torch.equal(
        state["ranks"][0]["rng"]["torch"], state["ranks"][1]["rng"]["torch"]
    )


DDP_RESUME_SCRIPT = """
import sys, torch
from safetensors.torch import save_file
from engine.families.infgan import model as infgan
from engine.models.registry import build_random, make_trainer
from engine.train import distributed
from engine.train.datasets import CropDataset, load_image
from engine.train.loop import train
from engine.train.options import TrainOptions
from engine.train.protocol import TrainConfig
from engine.families.reference.trainer import ReferenceTrainer

image, out, name, steps, resume = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1"
info = distributed.initialise(torch.device("cpu"))
model = build_random("infgan", "tiny")
trainer = make_trainer(model, TrainConfig(batch=1, seed=3, options=TrainOptions(d_max_channels=16)), "cpu")
data = CropDataset([load_image(image)], infgan.real_crop_size(model.config), seed=distributed.rank_seed(1))
train(trainer, data, f"{out}/{name}", batch=1, steps=steps, sample_every=0, snapshot_every=100, resume=resume)
weights = {**{"g." + k: v for k, v in trainer.generator.state_dict().items()},
           **{"d." + k: v for k, v in trainer.discriminators.state_dict().items()},
           **{"e." + k: v for k, v in trainer.ema.state_dict().items()}}
save_file({k: v.contiguous() for k, v in weights.items()}, f"{out}/{name}-rank{info.rank}.safetensors")
distributed.shutdown()
"""
