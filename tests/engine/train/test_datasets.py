"""Real crops: ranges, positions, the held-out band, determinism, and hostile files."""

import numpy as np
import pytest
import torch
from PIL import Image

from engine.errors import InvalidInput
from engine.train.datasets import CropDataset, _free_intervals, _ring_span, basemap_path, load_image, open_dataset


def _gradient_image(w=200, h=60):
    """Red channel = column index (so a crop's columns reveal where it came from)."""
    image = np.zeros((h, w, 3), dtype=np.uint8)
    image[..., 0] = np.arange(w, dtype=np.uint8)[None, :]
    image[..., 1] = np.arange(h, dtype=np.uint8)[:, None]
    return image


def test_crops_in_range_with_positions_and_holdout_excluded():
    image = _gradient_image()
    data = CropDataset([image], 16, hflip=False, holdout=(0.45, 0.55), seed=3)
    batch = data.sample(300)
    assert batch.images.shape == (300, 3, 16, 16)
    assert batch.images.min() >= -1 and batch.images.max() <= 1
    assert batch.positions.min() >= -1 and batch.positions.max() <= 1
    columns = ((batch.images[:, 0] + 1) * 127.5).round().long()  # (N, 16, 16) column indices
    assert not ((columns >= 90) & (columns < 110)).any()  # band 0.45..0.55 of 200 px
    # Positions match the crop's offsets exactly.
    x0 = columns[:, 0, 0].float()
    y0 = ((batch.images[:, 1, 0, 0] + 1) * 127.5).round()
    assert np.allclose(batch.positions[:, 0], 2 * x0 / (200 - 16) - 1, atol=1e-5)
    assert np.allclose(batch.positions[:, 1], 2 * y0 / (60 - 16) - 1, atol=1e-5)
    assert (x0 < 90 - 15).any() and (x0 >= 110).any()  # both sides of the band are used


def test_hflip_negates_x_and_sampling_is_resumable():
    data = CropDataset([_gradient_image()], 16, hflip=True, seed=1)
    batch = data.sample(50)
    flipped = batch.images[:, 0, 0, 0] > batch.images[:, 0, 0, -1]
    assert flipped.any() and (~flipped).any()
    state = data.state_dict()
    nxt = data.sample(5)
    again = CropDataset([_gradient_image()], 16, hflip=True, seed=99)
    again.load_state_dict(state)
    assert (again.sample(5).images == nxt.images).all()


def test_scale_and_drop_bottom(tmp_path):
    path = tmp_path / "map.png"
    Image.fromarray(_gradient_image(200, 100)).save(path)
    image = load_image(path, scale=0.5, drop_bottom_fraction=0.2)
    assert image.shape == (40, 100, 3)
    data = open_dataset(str(path), 32, scale=0.5, drop_bottom_fraction=0.2, seed=0)
    assert data.sample(2).images.shape == (2, 3, 32, 32)


def test_folder_dataset(tmp_path):
    for i in range(3):
        Image.fromarray(_gradient_image(40 + i, 40)).save(tmp_path / f"{i}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    data = open_dataset(str(tmp_path), 32, seed=0)
    assert len(data.sources) == 3
    assert data.sample(4).images.shape == (4, 3, 32, 32)


def test_corrupt_truncated_and_too_large_images_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"this is not a png at all")
    with pytest.raises(InvalidInput, match="not an image"):
        load_image(bad)
    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:400])
    with pytest.raises(InvalidInput, match="truncated") as info:
        load_image(truncated)
    assert "\n" not in str(info.value)
    with pytest.raises(InvalidInput, match="gigapixels"):
        load_image(good, max_pixels=1000)
    with pytest.raises(InvalidInput, match="too small"):
        CropDataset([np.zeros((10, 10, 3), np.uint8)], 16)
    with pytest.raises(InvalidInput):
        open_dataset(str(tmp_path / "missing"), 16)


def test_basemap_files_are_found():
    path = basemap_path("bluemarble")
    assert path.is_file()
    with Image.open(path) as image:
        assert image.size == (5400, 2700)


def _row_coverage(data: CropDataset, count: int, height: int) -> np.ndarray:
    """How often each image row falls inside a crop (green channel = row index)."""
    rows = ((data.sample(count).images[:, 1, :, 0] + 1) * 127.5).round().long()
    return np.bincount(rows.flatten().numpy(), minlength=height).astype(float)


def test_centre_sampling_sees_the_edge_rows_at_least_half_as_often_as_the_middle():
    # Offsets uniform: row 0 is in one crop position of 61 while row 50 is in 40 of them.
    image = _gradient_image(300, 100)
    offset = _row_coverage(CropDataset([image], 40, hflip=False, seed=0, sampling="offset"), 4000, 100)
    centre = _row_coverage(CropDataset([image], 40, hflip=False, seed=0, sampling="centre"), 4000, 100)
    assert offset[[0, 99]].max() < 0.1 * offset[50]
    assert 0.4 * centre[50] < centre[[0, 99]].min() and centre.max() < 1.6 * centre[50]


def test_centre_sampling_keeps_out_of_the_held_out_band_and_its_positions_exact():
    image = _gradient_image()
    batch = CropDataset([image], 16, hflip=False, holdout=(0.45, 0.55), seed=2, sampling="centre").sample(400)
    columns = ((batch.images[:, 0] + 1) * 127.5).round().long()
    assert not ((columns >= 90) & (columns < 110)).any()
    x0 = columns[:, 0, 0].float()
    assert np.allclose(batch.positions[:, 0], 2 * x0 / (200 - 16) - 1, atol=1e-5)
    assert (x0 == 0).any() and (x0 == 200 - 16).any()  # the image's own edges are reached
    (_, below), (above, _) = _free_intervals(200, 16, (0.45, 0.55))
    assert (x0 == below).any() and (x0 == above).any()  # and the band's


def test_offset_sampling_draws_the_crops_it_always_drew():
    # A run started before centre sampling resumes into the same crops: the same draws, in order.
    image = _gradient_image()
    rng = np.random.Generator(np.random.PCG64(5))
    expected = []
    for _ in range(20):
        x = int(rng.integers((200 - 16) + 1))
        y = int(rng.integers(60 - 16 + 1))
        expected.append((x, y))
    batch = CropDataset([image], 16, hflip=False, seed=5, sampling="offset").sample(20)
    got = [(round((c[0, 0, 0].item() + 1) * 127.5), round((c[1, 0, 0].item() + 1) * 127.5)) for c in batch.images]
    assert got == expected


def test_unknown_sampling_is_a_one_line_error():
    with pytest.raises(InvalidInput, match="crop sampling must be one of wrap, centre, offset"):
        CropDataset([_gradient_image()], 16, sampling="corner")


def test_wrap_sampling_runs_across_the_date_line_and_sees_every_column_alike():
    # A world map's left and right edges meet: crops come round the edge, and no column is rare.
    image = _gradient_image(200, 60)
    batch = CropDataset([image], 40, hflip=False, seed=4, sampling="wrap").sample(3000)
    columns = ((batch.images[:, 0] + 1) * 127.5).round().long()  # (N, 40, 40) column indices
    x0 = columns[:, 0, 0]
    assert bool((columns[:, 0, :] == (x0[:, None] + torch.arange(40)) % 200).all())  # consecutive mod the width
    assert np.allclose(batch.positions[:, 0], 2 * x0.float() / 200 - 1, atol=1e-5)
    assert (x0 > 200 - 40).any()  # some crops straddle the edge
    coverage = np.bincount(columns[:, 0, :].flatten().numpy(), minlength=200).astype(float)
    assert coverage.min() > 0.8 * coverage.mean() and coverage.max() < 1.2 * coverage.mean()
    rows = ((batch.images[:, 1, :, 0] + 1) * 127.5).round().long()  # rows are sampled as "centre"
    assert (rows == 0).any() and (rows == 59).any()


def test_wrap_sampling_keeps_out_of_the_held_out_band_from_both_sides():
    image = _gradient_image(200, 60)
    batch = CropDataset([image], 16, hflip=False, holdout=(0.45, 0.55), seed=6, sampling="wrap").sample(2000)
    columns = ((batch.images[:, 0] + 1) * 127.5).round().long()
    assert not ((columns >= 90) & (columns < 110)).any()
    x0 = columns[:, 0, 0]
    first, last = _ring_span(200, 16, (0.45, 0.55))
    (_, below), (above, _) = _free_intervals(200, 16, (0.45, 0.55))  # the very columns centre crops keep out
    assert (first, last) == (above, below + 200)
    assert (x0 == first).any() and (x0 == last % 200).any()  # right up to the band on both sides
    assert (columns[:, 0, -1] < x0).any()  # and across the date line between them
    coverage = np.bincount(columns[:, 0, :].flatten().numpy(), minlength=200).astype(float)
    assert coverage[[above, below + 15]].min() > 0.4 * np.median(coverage[coverage > 0])  # the band's sides
    assert _ring_span(200, 190, (0.45, 0.55)) is None  # the free arc is 180 columns
    with pytest.raises(InvalidInput, match="too small"):
        CropDataset([image], 190, holdout=(0.45, 0.55), sampling="wrap")
