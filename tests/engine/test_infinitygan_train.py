"""InfinityGAN training on the shared stack: finite losses, exact resume, the vertical head learns."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from engine.errors import InvalidInput
from engine.families.infinitygan import model as infinitygan
from engine.families.infinitygan.trainer import diversity_loss
from engine.models.registry import build_random, make_trainer
from engine.train.colour_quantiles import LatitudeColourQuantiles
from engine.train.datasets import CropDataset
from engine.train.loop import train
from engine.train.options import family_options
from engine.train.protocol import TrainConfig

CROP = infinitygan.real_crop_size(infinitygan.CONFIGS["tiny"])


def vertical_ramp(height: int = 160, width: int = 64) -> np.ndarray:
    """An image whose colour says the row: a crop's vertical position is learnable from its pixels."""
    y = np.linspace(0, 255, height)[:, None, None]
    channels = [np.broadcast_to(y, (height, width, 1)), np.broadcast_to(255 - y, (height, width, 1))]
    return np.concatenate([*channels, np.full((height, width, 1), 128.0)], axis=2).astype(np.uint8)


def make(seed: int = 0, extra=None, **overrides):
    options = family_options("infinitygan", extra or {})
    config = TrainConfig(**{"batch": 4, "r1_every": 2, "path_every": 3, "seed": seed, "options": options, **overrides})
    trainer = make_trainer(build_random("infinitygan", "tiny"), config, "cpu")
    return trainer, CropDataset([vertical_ramp()], CROP, seed=seed)


def test_real_crop_size_is_the_training_patch():
    assert infinitygan.real_crop_size(infinitygan.CONFIGS["paper"]) == 101
    assert build_random("infinitygan", "tiny").patch_size == CROP


def test_diversity_loss_rewards_structure_that_follows_z_l():
    z = torch.randn(4, 2, 5, 5)
    follows = diversity_loss(z, torch.cat([z, z], dim=1) * 3)
    ignores = diversity_loss(z, torch.ones(4, 4, 5, 5) + 0.01 * torch.randn(4, 4, 5, 5))
    assert follows < ignores
    assert torch.isfinite(diversity_loss(z, torch.zeros(4, 4, 5, 5)))  # identical pair: large, not NaN


def test_fakes_come_in_pairs_sharing_coordinates_and_styles():
    trainer, _ = make()
    torch.manual_seed(0)
    fakes = trainer.generate(trainer.generator, 4, True)
    assert fakes.images.shape == (4, 3, CROP, CROP)
    positions = fakes.extras["positions"]
    assert positions[0] == positions[1] and positions[2] == positions[3]
    assert positions.abs().max() <= 1
    w_plus = fakes.latents
    assert torch.equal(w_plus[0], w_plus[1]) and not torch.equal(w_plus[0], w_plus[2])
    z_l = fakes.extras["z_l"]
    assert not torch.equal(z_l[0], z_l[1])


def test_steps_are_finite_and_have_every_loss():
    trainer, data = make()
    logs = [trainer.step(data.sample(4), step) for step in range(3)]
    assert all(math.isfinite(v) for log in logs for v in log.values())
    assert {"d_vpos_real", "d_vpos_fake", "g_vpos", "g_div", "r1", "path"} <= set(logs[0])
    assert trainer.sample(2).shape == (2, 3, CROP, CROP)


def run_loop(out, steps, resume=False, **overrides):
    """``steps`` steps of the training loop on a fresh trainer; its logs without timings."""
    trainer, data = make(**overrides)
    logs = []
    train(trainer, data, out, batch=4, steps=steps, log_every=1, sample_every=0, resume=resume, progress_fn=logs.append)
    return trainer, [{k: v for k, v in log.items() if k not in ("img_per_s", "eta_s")} for log in logs]


def test_loop_resumes_exactly(tmp_path):
    straight, logs = run_loop(tmp_path / "a", 4)
    run_loop(tmp_path / "b", 2)
    resumed, rest = run_loop(tmp_path / "b", 4, resume=True)
    assert [log["step"] for log in rest] == [3, 4]
    assert logs[2:] == rest
    for a, b in zip(straight.ema.parameters(), resumed.ema.parameters()):
        assert torch.equal(a, b)


def test_vertical_head_learns_real_crop_positions():
    trainer, data = make(r1_every=4, path_every=4)
    probe = CropDataset([vertical_ramp()], CROP, seed=99, hflip=False).sample(32)

    def error() -> float:
        with torch.no_grad():
            aux = trainer.discriminator(probe.images)[1]
        return (aux[:, 0] - probe.positions[:, 1]).abs().mean().item()

    before = error()
    for step in range(20):
        trainer.step(data.sample(4), step)
    assert error() < 0.75 * before


def test_a_reals_only_vertical_head_never_learns_fakes_positions():
    """``vpos_critic = "reals"``: the critic's position loss has no fake term, so its head can only
    learn where real content lies."""
    paper, data = make()
    reals_only, _ = make(extra={"vpos_critic": "reals"})
    torch.manual_seed(0)
    reals = data.sample(4)
    fakes = paper.generate(paper.generator, 4, False)
    real_aux, fake_aux = torch.rand(4, 1), torch.rand(4, 1, requires_grad=True)
    d_paper = paper.extra_d_losses(reals, real_aux, fakes, fake_aux)
    d_reals = reals_only.extra_d_losses(reals, real_aux, fakes, fake_aux)
    assert set(d_paper) == {"vpos_real", "vpos_fake"} and set(d_reals) == {"vpos_real"}
    assert d_reals["vpos_real"].item() == pytest.approx(d_paper["vpos_real"].item())
    assert sum(d_paper.values()).requires_grad and not sum(d_reals.values()).requires_grad  # no path to fakes
    g_paper = paper.extra_g_losses(fakes, fake_aux)["vpos"]
    assert reals_only.extra_g_losses(fakes, fake_aux)["vpos"].item() == pytest.approx(g_paper.item())

    log = reals_only.step(data.sample(4), 0)
    assert "d_vpos_real" in log and "d_vpos_fake" not in log and math.isfinite(log["g_vpos"])
    with pytest.raises(ValueError, match="vpos_critic must be one of both, reals"):
        make(extra={"vpos_critic": "fakes"})


def _edge_shares(starts: list[float], low: float, high: float) -> tuple[float, float]:
    n = len(starts)
    return sum(t == low for t in starts) / n, sum(t == high for t in starts) / n


def test_centre_placed_windows_show_the_band_edges_as_often_as_centre_sampled_crops():
    """Reals sampled with clamped centres start at the image's top or bottom edge about
    ``crop / 2 / height`` of the time; fakes' windows are placed alike (uniform starts would reach
    an edge 1 row in the band's starts, so windows at the poles would be rarer than polar crops)."""
    from engine.families.infinitygan.trainer import window_start

    lo, hi, window = -50, 40, 10  # 91 starts: a band of 100 rows seen through 10-row windows
    grid = [(r, dy) for r in range(lo, hi + 1) for dy in np.linspace(-0.5, 0.5, 200, endpoint=False)]
    placed = [window_start(r, float(dy), lo, hi, window) for r, dy in grid]
    starts = [r + dy for r, dy in placed]
    assert all(lo <= r <= hi and -0.5 <= dy <= 0.5 for r, dy in placed)
    top, bottom = _edge_shares(starts, lo - 0.5, hi + 0.5)

    reals = CropDataset([np.zeros((100, 40, 3), np.uint8)], window, seed=3, hflip=False, sampling="centre")
    y = reals.sample(20000).positions[:, 1]
    real_top, real_bottom = (y == -1).float().mean().item(), (y == 1).float().mean().item()
    assert abs(top - real_top) < 0.015 and abs(bottom - real_bottom) < 0.015
    assert 0.04 < top < 0.06 and 0.04 < bottom < 0.06
    assert _edge_shares([r + dy for r, dy in grid], lo - 0.5, hi + 0.5)[0] <= 1 / 200  # the raw draw: rarely


def test_fakes_positions_reach_both_edges_of_the_band():
    trainer, _ = make()
    torch.manual_seed(1)
    y = torch.cat([trainer.generate(trainer.generator, 8, False).extras["positions"] for _ in range(40)])
    assert y.abs().max() <= 1 and (y == -1).any() and (y == 1).any()


def test_fakes_lie_where_the_metrics_frames_do():
    """A fake at position p is the patch the metrics render at ``frame_top(p, patch)`` (up to the
    sub-row jitter's rounding); the band's first and last patches touch its edges, which windows
    placed by their starts alone never reach."""
    from engine.families.infinitygan.trainer import frame_window

    model = build_random("infinitygan", "tiny")
    height, patch = model.config.train_rows * model.scale, model.patch_size
    for p in np.linspace(-1, 1, 41):
        row, jitter = frame_window(model, float(p))
        assert -0.5 <= jitter <= 0.5
        top = (row + jitter) * model.scale + model.patch_offset
        assert top == pytest.approx(-height / 2 + (p + 1) / 2 * (height - patch))
        assert abs(round(top) - model.frame_top(float(p), patch)) <= 1
    row, jitter = frame_window(model, -1.0)
    assert (row + jitter) * model.scale + model.patch_offset == pytest.approx(-height / 2)
    lo, _ = model.train_band()
    assert (lo - 0.5) * model.scale + model.patch_offset > -height / 2 + 1  # "centre"'s highest patch
    row, jitter = frame_window(model, 1.0)
    assert (row + jitter) * model.scale + model.patch_offset + patch == pytest.approx(height / 2)


def test_a_row_conditional_critic_grows_from_a_trained_one_scoring_as_it_did_then_learns_rows():
    """``critic_rows``: the critic scores every input at its row. Grown from an unconditional
    critic (the shipped one), its projection starts at zero, so the scores are the old critic's to
    the bit; a step then trains the projection, and the scores depend on the row."""
    from engine.train import critic_weights
    from engine.train.discriminator import Discriminator

    plain, data = make()
    conditional, _ = make(extra={"critic_rows": True})
    assert plain.critic_rows(data.sample(2)) is None
    trained = critic_weights.Critic("infinitygan", {}, "discriminator", plain.discriminator.state_dict(), 7, None, None)
    critic_weights.install(conditional, trained)
    reals = data.sample(4)
    rows = conditional.critic_rows(reals)
    assert torch.equal(rows, reals.positions[:, 1])
    with torch.no_grad():
        before, _ = plain.discriminator(reals.images)
        grown, _ = conditional.discriminator(reals.images, rows)
    assert torch.equal(before, grown)

    torch.manual_seed(0)
    fakes = conditional.generate(conditional.generator, 4, False)
    assert torch.equal(conditional.critic_rows(fakes), fakes.extras["positions"])
    log = conditional.step(data.sample(4), 0)
    assert math.isfinite(log["d_loss"]) and math.isfinite(log["g_loss"])
    assert conditional.discriminator.row_embed.weight.abs().sum() > 0
    with torch.no_grad():
        here, _ = conditional.discriminator(reals.images, rows)
        elsewhere, _ = conditional.discriminator(reals.images, -rows)
    assert not torch.equal(here, elsewhere)

    unconditional = Discriminator(32, aux_outputs=1)
    with pytest.raises(ValueError, match="only it takes them"):
        unconditional(torch.zeros(1, 3, 32, 32), torch.zeros(1))
    with pytest.raises(ValueError, match="needs its inputs' rows"):
        Discriminator(32, row_frequencies=4)(torch.zeros(1, 3, 32, 32))
    # Only the projection may be missing: a critic lacking a trunk layer is still refused.
    lacking = dataclasses.replace(trained, weights={k: v for k, v in trained.weights.items() if "from_rgb" not in k})
    with pytest.raises(InvalidInput, match="does not fit this run's critic"):
        critic_weights.install(conditional, lacking)


def test_colour_moments_train_the_generator_and_resume_exactly(tmp_path):
    """``colour_moments``: the loss is logged, off by default, and its running moments are part of
    the saved state (a resumed run's losses equal the uninterrupted run's)."""
    extra = {"colour_moments": 1.0}
    trainer, data = make(extra=extra)
    log = trainer.step(data.sample(4), 0)
    assert math.isfinite(log["g_moments"]) and trainer.moments.real_count.sum() == 4
    plain, _ = make()
    assert "g_moments" not in plain.step(data.sample(4), 0) and plain.extra_state() == {}

    straight, logs = run_loop(tmp_path / "a", 3, extra=extra)
    run_loop(tmp_path / "b", 1, extra=extra)
    resumed, rest = run_loop(tmp_path / "b", 3, resume=True, extra=extra)
    assert logs[1:] == rest
    assert torch.equal(straight.moments.fake_mean, resumed.moments.fake_mean)
    with pytest.raises(ValueError, match="colour_moments must be in"):
        make(extra={"colour_moments": -1.0})


def test_colour_quantiles_train_the_generator_and_resume_exactly(tmp_path):
    """``colour_quantiles``: the loss is logged and pushes the generator once a band has reals, and
    its pools are part of the saved state (a resumed run's losses equal the uninterrupted run's)."""
    extra = {"colour_quantiles": 1.0, "colour_moments": 1.0}  # both at once: their states are kept apart
    trainer, data = make(extra=extra)
    trainer.quantiles = LatitudeColourQuantiles(bands=1, min_real=1)  # one band: the first reals count
    log = trainer.step(data.sample(4), 0)
    assert log["g_quantiles"] > 0 and int(trainer.quantiles.reals.filled[0]) == 4 * 64
    assert set(trainer.extra_state()) == {"colour_moments", "colour_quantiles"}

    straight, logs = run_loop(tmp_path / "a", 3, extra=extra)
    run_loop(tmp_path / "b", 1, extra=extra)
    resumed, rest = run_loop(tmp_path / "b", 3, resume=True, extra=extra)
    assert logs[1:] == rest
    assert torch.equal(straight.quantiles.fakes.values, resumed.quantiles.fakes.values)
    assert torch.equal(straight.quantiles.reals.head, resumed.quantiles.reals.head)
    with pytest.raises(ValueError, match="colour_quantiles must be in"):
        make(extra={"colour_quantiles": 101.0})
