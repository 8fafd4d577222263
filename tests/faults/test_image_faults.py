"""Images (classes 2 and 5): one loader, read right in every mode, hostile ones refused before decoding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from engine import invert
from engine.errors import InvalidInput
from engine.imageio import read_image, verify_image
from engine.train.datasets import load_image
from tests.faults.hostile import flip_bytes, png_declaring
from tests.faults.measure import REFUSAL_RSS_BUDGET, assert_refused, peak_rss_bytes, run_cli


def _gradient16() -> np.ndarray:
    return (np.arange(64, dtype=np.uint32)[None, :] * 1040).astype(np.uint16).repeat(8, axis=0)  # 0 .. 65520


def test_sixteen_bit_grey_keeps_its_range_in_every_reader(tmp_path):
    path = tmp_path / "grey16.png"
    Image.fromarray(_gradient16()).save(path)
    expected = np.rint(_gradient16().astype(np.float64) * 255 / 65535).astype(np.uint8)
    for reader in (read_image, invert.load_image, load_image):  # the drop, the training data
        pixels = reader(path)
        assert pixels.shape == (8, 64, 3)
        assert np.array_equal(pixels[..., 0], expected) and np.array_equal(pixels[..., 2], expected)


def _exif_rotated(path, orientation):
    image = Image.fromarray(np.zeros((10, 30, 3), np.uint8))
    image.paste((255, 0, 0), (0, 0, 5, 5))  # a red corner, top left as stored
    exif = image.getexif()
    exif[0x0112] = orientation
    image.save(path, exif=exif, quality=100)
    return path


@pytest.mark.parametrize("suffix", ["jpg", "png"])
def test_exif_orientation_is_applied(tmp_path, suffix):
    pixels = read_image(_exif_rotated(tmp_path / f"rot.{suffix}", 6))  # 6: rotate 90° clockwise to view
    assert pixels.shape == (30, 10, 3)
    assert pixels[2, -3, 0] > 200 and pixels[-3, 2, 0] < 50  # the red corner is now top right


MODES = {
    "1": Image.new("1", (6, 4), 1),
    "L": Image.new("L", (6, 4), 128),
    "P": Image.new("RGB", (6, 4), (10, 200, 30)).convert("P", palette=Image.Palette.ADAPTIVE),
    "LA": Image.new("LA", (6, 4), (100, 255)),
    "RGBA transparent": Image.new("RGBA", (6, 4), (0, 0, 0, 0)),
    "RGBA opaque": Image.new("RGBA", (6, 4), (10, 20, 30, 255)),
    "CMYK": Image.new("CMYK", (6, 4), (0, 255, 255, 0)),
    "I": Image.fromarray(np.full((4, 6), 65535, np.int32)),
    "F": Image.fromarray(np.full((4, 6), 0.5, np.float32)),
}
EXPECTED = {
    "1": (255, 255, 255),
    "L": (128, 128, 128),
    "P": (10, 200, 30),
    "LA": (100, 100, 100),
    "RGBA transparent": (255, 255, 255),
    "RGBA opaque": (10, 20, 30),
    "CMYK": (255, 0, 0),
    "I": (255, 255, 255),
    "F": (128, 128, 128),
}


@pytest.mark.parametrize("mode", list(MODES))
def test_every_mode_becomes_the_rgb_it_shows(tmp_path, mode):
    suffix = "tif" if mode in ("I", "F", "CMYK") else "png"
    path = tmp_path / f"image.{suffix}"
    MODES[mode].save(path)
    pixels = read_image(path)
    assert pixels.shape == (4, 6, 3) and pixels.dtype == np.uint8
    assert tuple(int(v) for v in pixels[1, 1]) == pytest.approx(EXPECTED[mode], abs=2)


def _broken(tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(good)
    cases = {
        "truncated": good.read_bytes()[:300],
        "not an image": b"hello, I am text",
        "empty": b"",
        "png signature only": b"\x89PNG\r\n\x1a\n",
        "flipped crc": good.read_bytes()[:29] + b"\0\0\0\0" + good.read_bytes()[33:],
    }
    return {name: (tmp_path / f"{i}.png", data) for i, (name, data) in enumerate(cases.items())}


def test_damaged_images_are_one_line_refusals(tmp_path):
    for name, (path, data) in _broken(tmp_path).items():
        path.write_bytes(data)
        for reader in (read_image, verify_image):
            with pytest.raises(InvalidInput) as error:
                reader(path)
            assert "\n" not in str(error.value) and str(path) in str(error.value), name


@pytest.mark.parametrize("size", [(200_000, 200_000), (60_000, 60_000), (2**31 - 1, 1)])
def test_declared_sizes_are_checked_before_decoding(tmp_path, monkeypatch, size):
    monkeypatch.setenv("EVERSCAPE_MEMORY_BUDGET", "1G")
    path = png_declaring(tmp_path / "bomb.png", *size)
    assert path.stat().st_size < 1000
    with pytest.raises(InvalidInput) as error:
        read_image(path)
    assert "\n" not in str(error.value)


def test_a_thumbnail_is_decoded_by_draft(tmp_path):
    path = tmp_path / "big.jpg"
    Image.new("RGB", (4000, 2000), (0, 100, 0)).save(path)
    assert read_image(path, max_side=250).shape == (125, 250, 3)


def test_a_png_bomb_in_training_data_is_refused_within_the_memory_bound(tmp_path):
    """The issue's case: a small PNG whose header promises ~16 GB of pixels, as the training data."""
    png_declaring(tmp_path / "bomb.png", 70_000, 70_000)
    run = run_cli("train", "reference", "--data", str(tmp_path / "bomb.png"), "--out", str(tmp_path / "run"),
                  "--steps", "1", "--device", "cpu")  # fmt: skip
    assert_refused(run, "bomb.png")


def _seed_images() -> dict[str, bytes]:
    import io

    pixels = np.random.default_rng(1).integers(0, 255, (12, 16, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 8
    found = {}
    for fmt, options in (("PNG", {}), ("JPEG", {"exif": exif}), ("TIFF", {}), ("WEBP", {})):
        buffer = io.BytesIO()
        image.save(buffer, format=fmt, **options)
        found[fmt] = buffer.getvalue()
    return found


_SEEDS = _seed_images()


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about the damaged tags it skips
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fuzzed_images_decode_or_are_refused(tmp_path_factory, data):
    """Any byte mutation of a small PNG, JPEG (with EXIF), TIFF or WebP decodes to RGB or is refused in one line."""
    raw = bytearray(_SEEDS[data.draw(st.sampled_from(sorted(_SEEDS)))])
    raw = flip_bytes(data.draw, raw, most=4)
    path = tmp_path_factory.mktemp("image") / "fuzz.img"
    path.write_bytes(raw)
    before = peak_rss_bytes()
    try:
        pixels = read_image(path)
    except InvalidInput as error:
        assert "\n" not in str(error)
    else:
        assert pixels.ndim == 3 and pixels.shape[2] == 3 and pixels.dtype == np.uint8
    assert peak_rss_bytes() - before < REFUSAL_RSS_BUDGET


def test_open_files_read_like_paths_and_are_named_in_refusals():
    """Zip members (project images) are read from file objects, with the same checks."""
    import io

    data = io.BytesIO()
    Image.fromarray(_gradient16()).save(data, format="PNG")
    assert read_image(io.BytesIO(data.getvalue())).shape == (8, 64, 3)
    bad = io.BytesIO(b"not an image")
    bad.name = "images/drop.png"
    with pytest.raises(InvalidInput, match=r"images/drop\.png"):
        read_image(bad)
