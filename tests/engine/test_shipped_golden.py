"""The shipped models keep their pixels: renders at three places (one far from the origin) against
PNGs recorded before the render path was optimised. Allowed: 1 LSB (float reassociation in a
faster path may flip a rounding), nothing more."""

from __future__ import annotations

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
#: (name, rect): near the origin across block borders, a negative corner, and far out.
PLACES = {
    "origin": Rect(-40, -24, 96, 64),
    "negative": Rect(-1000, 517, 64, 48),
    "far": Rect(10**9 + 3, -(10**7) - 5, 80, 48),
}


def golden_path(model: str, place: str) -> Path:
    return GOLDEN / f"{model}-{place}.png"


def render_places(model: str, region: int = 1) -> dict[str, np.ndarray]:
    loaded = load_model(model)
    world = World(model, seed=7, model_hash=loaded.sha256)
    renderer = Renderer(loaded.model, "cpu", region=region)
    images = renderer.render(world, list(PLACES.values()))
    return dict(zip(PLACES, images, strict=True))


@pytest.mark.parametrize("region", [1, 2], ids=["blocks", "regions"])  # regions: what an export uses
@pytest.mark.parametrize("model", ["alis-bluemarble"])
def test_shipped_model_renders_its_recorded_pixels(model, region):
    if find_checkpoint(model) is None:
        pytest.skip(f"{model} is not installed")
    for place, image in render_places(model, region).items():
        recorded = np.asarray(Image.open(golden_path(model, place)).convert("RGB"))
        diff = np.abs(image.astype(np.int16) - recorded.astype(np.int16))
        assert diff.max() <= 1, (place, int(diff.max()), int((diff > 0).sum()))


if __name__ == "__main__":  # re-record (only when a model's pixels are meant to change)
    for name in ("alis-bluemarble",):
        for place, image in render_places(name).items():
            Image.fromarray(image).save(golden_path(name, place))
