"""SWD for unbounded generators: independent frames, ∞-SWD along one strip, ScaleInv-SWD.

- **Frames** are the generator's "images": ``S x S`` squares at the world origin of worlds with
  seeds ``seed, seed+1, ...`` (each world has its own global style, as each GAN sample has).
- **∞-SWD** follows the ALIS paper's ∞-FID: one world, one very wide strip ``S x (K*S)`` cut into
  K frames with no gaps, compared with real frames. A generator whose quality decays away from the
  origin, or that repeats itself, scores worse than on independent frames. The strip is rendered in
  chunks through :class:`engine.render.Renderer` and described chunk by chunk: pixels in memory are
  one chunk (``chunk_px`` wide), and only descriptors accumulate (patches x 147 floats per frame and
  level, ~75 KB: ~240 MB for a 100 000 px strip of 128 px frames). SWD between the first and the
  last third of the strip shows drift away from the origin.
- **ScaleInv-SWD** follows InfinityGAN's ScaleInv FID: render frames ``N`` times larger, zoom them
  out (``N x N`` box average) to ``S``, compare with real ``S`` px crops. The same procedure applied
  to real crops (real ``N*S`` crops zoomed out vs real ``S`` crops) is reported beside it: how far
  from scale invariant the real data itself is, the best a perfect model of the data can do.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from engine.geometry import Rect
from engine.metrics.realdata import RealImages, zoom_out
from engine.metrics.swd import Descriptors, SWDConfig, SWDResult, as_tensor, describe, swd_descriptors
from engine.render import Renderer
from engine.world import World

SCALES = (1, 2, 4, 8)


def frame_positions(count: int, side_fraction: float = 0.0, sampling: str = "centre") -> list[float]:
    """Vertical positions in [-1, 1] (as ``RealBatch.positions``) of ``count`` frames placed the way
    ``sampling`` places real crops, evenly rather than by a random draw.

    ``"offset"``: the middles of ``count`` equal parts of the positions (uniform tops).
    ``"centre"``: the crops' centres are uniform over the rows and the crop is clamped inside them,
    so with frames ``side_fraction`` of the rows tall, the middles of ``count`` equal parts of the
    centres, clamped: more frames sit at the very top and bottom, as real crops do.
    """
    middles = [(2 * i + 1) / (2 * count) for i in range(count)]
    f = side_fraction
    if sampling == "offset" or not 0.0 < f < 1.0:
        return [2.0 * q - 1.0 for q in middles]
    return [2.0 * min(max(q - f / 2, 0.0), 1.0 - f) / (1.0 - f) - 1.0 for q in middles]


def render_frames(
    renderer: Renderer,
    model_ref: str,
    count: int,
    size: int,
    seed: int,
    zoom: int = 1,
    at_rows: bool = True,
    sampling: str = "centre",
) -> torch.Tensor:
    """``count`` independent frames (world seeds ``seed..seed+count-1``) as ``(N, 3, S, S)`` in [-1, 1].

    With ``zoom`` > 1 each frame covers ``zoom * S`` world pixels, zoomed out to ``S``. Frames sit
    at the world's origin, except a row-dependent model's (``Generator.frame_top``), whose frames
    are spread over its rows as ``sampling`` spreads real crops over their image's (frame
    positions), unless ``at_rows`` is False.
    """
    side = size * zoom
    model = renderer.model
    rows = model.data_rows()
    fraction = side / (rows[1] - rows[0]) if rows else 0.0
    positions = frame_positions(count, fraction, sampling)
    tops = [model.frame_top(p, side) if at_rows else 0 for p in positions]
    out = torch.empty(count, 3, size, size)
    for i in range(count):
        world = World(model=model_ref, seed=seed + i)
        (pixels,) = renderer.render(world, [Rect(0, tops[i], side, side)])
        out[i] = zoom_out(as_tensor([pixels]), zoom)[0]
    return out


def strip_chunks(
    renderer: Renderer, world: World, frames: int, size: int, chunk_px: int = 4096
) -> Iterator[np.ndarray]:
    """The strip ``Rect(0, 0, frames*S, S)`` as consecutive ``(n, S, S, 3)`` uint8 chunks of frames."""
    per_chunk = max(1, chunk_px // size)
    for first in range(0, frames, per_chunk):
        n = min(per_chunk, frames - first)
        (pixels,) = renderer.render(world, [Rect(first * size, 0, n * size, size)])
        yield pixels.reshape(size, n, size, 3).transpose(1, 0, 2, 3)


def infinite_swd(
    renderer: Renderer,
    model_ref: str,
    real: Descriptors,
    frames: int,
    size: int,
    config: SWDConfig,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> dict:
    """∞-SWD of a ``frames * size`` px strip, plus SWD of its first and last thirds (vs real and each other)."""
    world = World(model=model_ref, seed=seed)
    strip = describe(strip_chunks(renderer, world, frames, size), config, device, stream=1)
    third = max(1, frames // 3)
    first = strip.select(0, third, config.patches_per_image)
    last = strip.select(frames - third, frames, config.patches_per_image)
    return {
        "strip_px": frames * size,
        "swd": swd_descriptors(real, strip, config).to_json(),
        "first_third": swd_descriptors(real, first, config).to_json(),
        "last_third": swd_descriptors(real, last, config).to_json(),
        "first_vs_last_third": swd_descriptors(first, last, config).to_json(),
    }


def scaleinv_swd(
    renderer: Renderer,
    model_ref: str,
    real: Descriptors,
    count: int,
    size: int,
    config: SWDConfig,
    scales: Sequence[int] = SCALES,
    seed: int = 0,
    device: str | torch.device = "cpu",
    sampling: str = "centre",
) -> dict[int, SWDResult]:
    """ScaleInv-SWD per zoom factor ``N``: generated ``N*S`` frames zoomed out to ``S`` vs real ``S`` crops."""
    results = {}
    for zoom in scales:
        frames = render_frames(renderer, model_ref, count, size, seed, zoom, sampling=sampling)
        results[zoom] = swd_descriptors(real, describe(frames, config, device, stream=2), config)
    return results


def real_scaleinv_swd(
    data: RealImages,
    real: Descriptors,
    count: int,
    size: int,
    config: SWDConfig,
    scales: Sequence[int] = SCALES,
    seed: int = 0,
    device: str | torch.device = "cpu",
    sampling: str = "centre",
) -> dict[int, SWDResult | None]:
    """The ScaleInv procedure on real data: real ``N*S`` crops zoomed out vs real ``S`` crops.

    ``None`` where the real images are too small for ``N*S`` px crops.
    """
    results: dict[int, SWDResult | None] = {}
    for zoom in scales:
        if not data.fits(size * zoom):
            results[zoom] = None
            continue
        crops = data.crops(count, size, seed + 7919 * zoom, zoom, sampling)
        results[zoom] = swd_descriptors(real, describe(crops, config, device, stream=3), config)
    return results
