"""Per-latitude colour moments: what they measure, where they push fakes, and where they do not."""

from pathlib import Path

import pytest
import torch

from engine.train.colour_moments import LatitudeColourMoments, band_of, colour_features
from tests.torchrun import states_of_two_processes

ROOT = Path(__file__).resolve().parents[3]


def flat(colours: list[tuple[float, float, float]], size: int = 16) -> torch.Tensor:
    """Crops of one colour each, ``(N, 3, size, size)``."""
    return torch.tensor(colours, dtype=torch.float32)[:, :, None, None].expand(-1, -1, size, size).clone()


def test_features_are_the_cells_mean_colour_and_raw_second_moments():
    features = colour_features(flat([(0.5, -0.25, 1.0)]), cells=4)
    expected = [0.5, -0.25, 1.0, 0.25, 0.0625, 1.0, -0.125, 0.5, -0.25]
    assert torch.allclose(features[0], torch.tensor(expected))
    # Half white, half black by cells: the mean is grey but the second moment is the white's.
    split = flat([(-1.0, -1.0, -1.0)])
    split[..., 8:] = 1.0
    features = colour_features(split, cells=4)[0]
    assert torch.allclose(features[:3], torch.zeros(3)) and torch.allclose(features[3:], torch.ones(6))


def test_bands_split_the_rows_evenly_and_clamp_the_edges():
    rows = torch.tensor([-1.0, -0.95, 0.0, 0.99, 1.0, 1.5])
    assert band_of(rows, 4).tolist() == [0, 0, 2, 3, 3, 3]


def test_dark_fakes_where_reals_are_white_are_pushed_brighter_and_other_bands_are_left_alone():
    moments = LatitudeColourMoments(bands=2, cells=2)
    south = torch.tensor([0.5, 0.5])
    moments.observe_reals(flat([(0.9, 0.9, 0.9)] * 2), south)  # no real crop seen in the north yet
    fakes = flat([(-0.8, -0.8, -0.7), (-0.8, -0.8, -0.7), (-0.5, -0.5, -0.5)]).requires_grad_(True)
    loss = moments.loss(fakes, torch.tensor([0.5, 0.5, -0.5]))
    loss.backward()
    assert loss.item() > 1  # the squared gap: about 3 x 1.6^2 for the means alone
    assert (fakes.grad[:2] < 0).all()  # descending it brightens every pixel of the southern fakes
    assert torch.equal(fakes.grad[2], torch.zeros_like(fakes.grad[2]))  # no reals there: no push


def test_a_band_matched_as_a_whole_asks_nothing_of_its_crops_even_when_each_is_far_from_its_mean():
    """Ice and ocean crops in a band whose reals are half ice, half ocean: no push, where a
    per-crop loss would grey both."""
    moments = LatitudeColourMoments(bands=1, cells=2, fake_rate=1.0)
    ice, ocean = (0.9, 0.9, 0.95), (-0.9, -0.7, -0.3)
    rows = torch.zeros(2)
    moments.observe_reals(flat([ice, ocean]), rows)
    fakes = flat([ice, ocean]).requires_grad_(True)
    loss = moments.loss(fakes, rows)
    loss.backward()
    assert loss.item() < 1e-10
    assert fakes.grad.abs().max() < 1e-6
    # The same band all ocean: pushed towards the missing ice.
    fakes = flat([ocean, ocean]).requires_grad_(True)
    moments.loss(fakes, rows).backward()
    assert (fakes.grad < 0).all()


def test_fake_moments_average_over_steps_and_survive_a_state_round_trip():
    moments = LatitudeColourMoments(bands=1, cells=1, fake_rate=0.5)
    rows = torch.zeros(1)
    moments.observe_reals(flat([(0.0, 0.0, 0.0)]), rows)
    moments.loss(flat([(1.0, 1.0, 1.0)]), rows)  # the first fakes set the average outright
    assert moments.fake_mean[0, 0].item() == 1.0
    moments.loss(flat([(0.0, 0.0, 0.0)]), rows)
    assert moments.fake_mean[0, 0].item() == 0.5
    copy = LatitudeColourMoments(bands=1, cells=1, fake_rate=0.5)
    copy.load_state_dict(moments.state_dict())
    a, b = moments.loss(flat([(0.2, 0.1, 0.0)]), rows), copy.loss(flat([(0.2, 0.1, 0.0)]), rows)
    assert torch.equal(a, b) and torch.equal(moments.fake_mean, copy.fake_mean)
    with pytest.raises(ValueError, match="shape"):
        LatitudeColourMoments(bands=3).load_state_dict(moments.state_dict())


def test_running_moments_are_the_same_on_every_process_and_count_every_crop(tmp_path):
    """Two processes with different crops: both hold the moments of all three crops."""
    body = """
        from engine.train.colour_moments import LatitudeColourMoments
        moments = LatitudeColourMoments(bands=2, cells=2, fake_rate=0.5)
        shade = torch.full((1 + rank, 3, 8, 8), -0.5 + rank)  # rank 0: one dark crop, rank 1: two bright ones
        rows = torch.full((1 + rank,), 0.5)
        moments.observe_reals(shade, rows)
        moments.loss(shade, rows)
        state = moments.state_dict()
    """
    a, b = states_of_two_processes(tmp_path, body)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert a["real_count"].tolist() == [0.0, 3.0] and a["fake_seen"].tolist() == [0.0, 3.0]
    assert a["real_sum"][1, 0].item() == pytest.approx(-0.5 + 2 * 0.5)  # one crop at -0.5, two at 0.5
