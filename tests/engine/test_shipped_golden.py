"""The shipped models keep their pixels: renders at three places (one far from the origin) against
small PNGs recorded before a refactor or an optimisation of the render path. Allowed: 1 LSB (float
reassociation in a faster path may flip a rounding), nothing more. ``golden/digests.json`` keeps the
SHA-256 of each recorded image so a bit-exact match can be told apart from a 1-LSB one."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.checkpoints import find_checkpoint
from engine.geometry import Rect
from engine.models.registry import load_model
from engine.render import Renderer
from engine.world import World

GOLDEN = Path(__file__).parent / "golden"
DIGESTS = GOLDEN / "digests.json"
SHIPPED = ("alis-bluemarble", "infinitygan-bluemarble", "infgan-bluemarble")
#: (name, rect): near the origin across block borders, a negative corner, and far out.
PLACES = {
    "origin": Rect(-40, -24, 96, 64),
    "negative": Rect(-1000, 517, 64, 48),
    "far": Rect(10**9 + 3, -(10**7) - 5, 80, 48),
}


def golden_path(model: str, place: str) -> Path:
    return GOLDEN / f"{model}-{place}.png"


def pixel_digest(image: np.ndarray) -> str:
    """SHA-256 of the image's shape and uint8 pixels: equal digests mean bit-equal renders."""
    return hashlib.sha256(repr(image.shape).encode() + np.ascontiguousarray(image).tobytes()).hexdigest()


def render_places(model: str, region: int = 1) -> dict[str, np.ndarray]:
    loaded = load_model(model)
    world = World(model, seed=7, model_hash=loaded.sha256)
    renderer = Renderer(loaded.model, "cpu", region=region)
    images = renderer.render(world, list(PLACES.values()))
    return dict(zip(PLACES, images, strict=True))


def assert_recorded_pixels(model: str, images: dict[str, np.ndarray]) -> None:
    for place, image in images.items():
        recorded = np.asarray(Image.open(golden_path(model, place)).convert("RGB"))
        assert image.shape == recorded.shape, (place, image.shape, recorded.shape)
        diff = np.abs(image.astype(np.int16) - recorded.astype(np.int16))
        assert diff.max() <= 1, (place, int(diff.max()), int((diff > 0).sum()))


@pytest.mark.parametrize("model", SHIPPED)
def test_shipped_model_renders_its_recorded_pixels(model):
    if find_checkpoint(model) is None:
        pytest.skip(f"{model} is not installed")
    assert_recorded_pixels(model, render_places(model))


@pytest.mark.parametrize("model", SHIPPED)
def test_regions_render_the_recorded_pixels(model):
    """Regions (what an export uses) are every family's second render path."""
    if find_checkpoint(model) is None:
        pytest.skip(f"{model} is not installed")
    assert_recorded_pixels(model, render_places(model, region=2))


def test_recorded_digests_describe_the_recorded_pngs():
    """The digest file and the PNGs were written together; a re-record must update both."""
    digests = json.loads(DIGESTS.read_text())
    for model in SHIPPED:
        for place in PLACES:
            image = np.asarray(Image.open(golden_path(model, place)).convert("RGB"))
            assert digests[model][place] == pixel_digest(image), (model, place)


if __name__ == "__main__":  # re-record (only when a model's pixels are meant to change)
    import sys

    recorded = json.loads(DIGESTS.read_text()) if DIGESTS.exists() else {}
    for name in sys.argv[1:] or SHIPPED:
        rendered = render_places(name)
        for place, image in rendered.items():
            Image.fromarray(image).save(golden_path(name, place))
        recorded[name] = {place: pixel_digest(image) for place, image in rendered.items()}
    DIGESTS.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")
