"""Per-latitude colour quantiles: pools, where transport pushes fakes, and where it does not."""

from pathlib import Path

import pytest
import torch

from engine.train.colour_quantiles import ColourQuantiles, LatitudeColourQuantiles, RingPools, half_sphere
from tests.torchrun import states_of_two_processes

ROOT = Path(__file__).resolve().parents[3]
ICE, OCEAN = (0.9, 0.9, 0.95), (-0.8, -0.6, -0.2)


def flat(colours: list[tuple[float, float, float]], size: int = 8) -> torch.Tensor:
    """Crops of one colour each, ``(N, 3, size, size)``."""
    return torch.tensor(colours, dtype=torch.float32)[:, :, None, None].expand(-1, -1, size, size).clone()


def test_directions_are_unit_vectors_on_one_half_sphere_spread_over_it():
    d = half_sphere(24)
    assert d.shape == (24, 3) and torch.allclose(d.norm(dim=1), torch.ones(24))
    assert (d[:, 2] > 0).all()
    # Even: their outer products sum to nearly D/3 times the identity (what the loss's 3/D assumes).
    assert torch.allclose(d.T @ d / 24 * 3, torch.eye(3), atol=0.15)


def test_ring_pools_keep_each_bands_most_recent_cells():
    pools = RingPools(bands=2, size=4)
    pools.push(1, torch.arange(9.0).view(3, 3))  # cells 0, 1, 2
    pools.push(1, torch.arange(9.0, 18.0).view(3, 3))  # cells 3, 4, 5: 3 fills, 4 and 5 overwrite 0 and 1
    assert pools.filled.tolist() == [0, 4] and pools.head.tolist() == [0, 2]
    assert sorted(pools.cells(1)[:, 0].tolist()) == [6.0, 9.0, 12.0, 15.0]
    assert pools.cells(0).shape == (0, 3)
    pools.push(0, torch.arange(30.0).view(10, 3))  # more than the pool holds: the last four
    assert sorted(pools.cells(0)[:, 0].tolist()) == [18.0, 21.0, 24.0, 27.0]


def test_the_brightest_fakes_of_a_half_ice_band_are_sent_to_the_ice_and_the_rest_stay_ocean():
    """Reals half ice, half ocean; fakes all ocean-like: transport brightens only the brighter half,
    where moments would brighten (and grey) every crop."""
    quantiles = LatitudeColourQuantiles(bands=1, cells=2, real_pool=32, fake_pool=16, min_real=4)
    rows = torch.zeros(8)
    quantiles.observe_reals(flat([ICE] * 4 + [OCEAN] * 4), rows)
    shades = [tuple(v + 0.05 * i for v in OCEAN) for i in range(4)]
    fakes = flat(shades).requires_grad_(True)
    loss = quantiles.loss(fakes, rows[:4])
    loss.backward()
    assert loss.item() > 0.5  # half the cells are about 1.7 from their targets per direction
    bright, dark = fakes.grad[2:], fakes.grad[:2]
    assert (bright < 0).all()  # descending the loss brightens the brighter half
    assert bright.abs().min() > 10 * dark.abs().max()


def test_a_band_with_the_reals_distribution_asks_nothing_even_of_crops_far_from_its_mean():
    quantiles = LatitudeColourQuantiles(bands=1, cells=2, real_pool=8, fake_pool=8, min_real=4)
    rows = torch.zeros(2)
    quantiles.observe_reals(flat([ICE, OCEAN]), rows)
    fakes = flat([OCEAN, ICE]).requires_grad_(True)
    loss = quantiles.loss(fakes, rows)
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(fakes.grad, torch.zeros_like(fakes))


def test_bands_without_enough_reals_are_left_alone():
    quantiles = LatitudeColourQuantiles(bands=2, cells=2, real_pool=8, fake_pool=8, min_real=8)
    quantiles.observe_reals(flat([ICE, ICE]), torch.tensor([0.5, 0.5]))  # 8 cells in the north
    quantiles.observe_reals(flat([ICE]), torch.tensor([-0.5]))  # only 4 in the south
    fakes = flat([OCEAN, OCEAN]).requires_grad_(True)
    quantiles.loss(fakes, torch.tensor([0.5, -0.5])).backward()
    assert (fakes.grad[0] < 0).all()
    assert torch.equal(fakes.grad[1], torch.zeros_like(fakes.grad[1]))


def test_pools_survive_a_state_round_trip_and_a_mismatched_state_is_refused():
    quantiles = LatitudeColourQuantiles(bands=2, cells=2, real_pool=8, fake_pool=8, min_real=4)
    quantiles.observe_reals(flat([ICE, OCEAN]), torch.tensor([0.5, -0.5]))
    quantiles.loss(flat([OCEAN]), torch.tensor([0.5]))
    copy = LatitudeColourQuantiles(bands=2, cells=2, real_pool=8, fake_pool=8, min_real=4)
    copy.load_state_dict(quantiles.state_dict())
    probe = flat([(0.1, 0.2, 0.3)])
    assert torch.equal(quantiles.loss(probe, torch.tensor([0.5])), copy.loss(probe, torch.tensor([0.5])))
    assert torch.equal(quantiles.fakes.values, copy.fakes.values)
    with pytest.raises(ValueError, match="real_pool has shape"):
        LatitudeColourQuantiles(bands=3).load_state_dict(quantiles.state_dict())


def test_pools_are_the_same_on_every_process_and_hold_every_processs_crops(tmp_path):
    body = """
        from engine.train.colour_quantiles import LatitudeColourQuantiles
        quantiles = LatitudeColourQuantiles(bands=2, cells=2, real_pool=16, fake_pool=16, min_real=4)
        shade = torch.full((2, 3, 8, 8), -0.5 + rank)  # rank 0: two dark crops, rank 1: two bright ones
        rows = torch.tensor([0.5, -0.5])
        quantiles.observe_reals(shade, rows)
        quantiles.loss(shade, rows)
        state = quantiles.state_dict()
    """
    a, b = states_of_two_processes(tmp_path, body)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert a["real_filled"].tolist() == [8, 8] and a["fake_filled"].tolist() == [8, 8]
    # In rank order: each band's first crop is rank 0's dark one, then rank 1's bright one.
    assert a["real_pool"][1, :8, 0].tolist() == [-0.5] * 4 + [0.5] * 4


def test_bands_given_by_index_fill_only_their_own_pools_and_out_of_range_ones_are_refused():
    """Bands named by index (∞-GAN passes band 0, its coarsest level): a band's reals feed only its pool."""
    quantiles = ColourQuantiles(bands=3, cells=2, real_pool=8, fake_pool=8, min_real=4)
    quantiles.observe_reals(flat([ICE, ICE]), 2)
    quantiles.observe_reals(flat([OCEAN]), torch.tensor([0]))
    assert quantiles.reals.filled.tolist() == [4, 0, 8]
    assert torch.allclose(quantiles.reals.cells(2), torch.tensor(ICE).expand(8, 3))
    for bad in (3, torch.tensor([-1]), torch.tensor([0, 1])):
        with pytest.raises(ValueError, match="band indices in"):
            quantiles.observe_reals(flat([OCEAN]), bad)
