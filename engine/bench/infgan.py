"""∞-GAN benchmarks: Theorem 1 (the waste of inconsistent generators) measured, and px/s per level.

Theorem 1 (Lu et al. 2020, appendix A). A generator of ``L`` blocks "nearest ×2 -> 3×3 conv with
zero padding" maps an ``n×n`` latent window to ``M×M = 2^L n × 2^L n`` pixels, but the outer band
of ``2^L - 1`` pixels on each side depends on the padding (Lemma A.1), so neighbouring windows
must overlap by 2 latent pixels (Lemma A.2) and crop-and-stitch discards at least
``1 - (1 - 2^(L+1) / M)^2`` of what it renders. ∞-GAN's layers are consistent: no band, nothing
discarded.

Here nothing is taken from the lemmas: :func:`measure_redundancy` builds the padded twin with
random weights, finds the band empirically (edge pixels of a window's render that differ from the
same pixels of a full render), derives the overlap and waste from it, and proves by stitching
that discarding the measured band rebuilds the full render exactly while discarding one pixel
less does not.
"""

from __future__ import annotations

import functools
import math
import random
import time
from typing import Any

import torch
import torch.nn.functional as F

from engine.bench import BenchContext, Row, benchmark, timed
from engine.geometry import Rect
from engine.layers.spans import NearestUpsample, Span, ValidConv
from engine.models.registry import build_random, get_family
from engine.render import Renderer
from engine.world import World

#: Differences below this are float round-off, not padding (the twin runs in float64, values ~1).
TOLERANCE = 1e-9


def theorem1_bound(levels: int, patch: int) -> float:
    """The paper's lower bound on the discarded fraction for ``levels`` blocks and patch side ``patch``."""
    return 1.0 - (1.0 - 2 ** (levels + 1) / patch) ** 2


class Twin(torch.nn.Module):
    """``levels`` × (nearest ×2 -> 3×3 conv -> leaky ReLU), zero-padded or valid; float64."""

    def __init__(self, levels: int, padded: bool, channels: int = 4, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.weights = [
            torch.randn(channels, channels, 3, 3, generator=generator, dtype=torch.float64) / 6 for _ in range(levels)
        ]
        self.padding = 1 if padded else 0
        self.maps = [m for _ in range(levels) for m in (NearestUpsample(), ValidConv(1 if padded else 3))]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        for weight in self.weights:
            z = F.interpolate(z, scale_factor=2, mode="nearest")
            z = F.leaky_relu(F.conv2d(z, weight, padding=self.padding), 0.2)
        return z

    def gives(self, span: Span) -> Span:
        for m in self.maps:
            span = m.gives(span)
        return span


def _band(diff: torch.Tensor) -> int:
    """Width of the edge band holding every differing pixel of a ``(H, W)`` boolean map: the
    largest distance to the nearest edge (1 = the outermost ring) of any differing pixel."""
    h, w = diff.shape
    rows, cols = diff.nonzero(as_tuple=True)
    if rows.numel() == 0:
        return 0
    depth = torch.minimum(torch.minimum(rows + 1, h - rows), torch.minimum(cols + 1, w - cols))
    return int(depth.max())


def measure_redundancy(levels: int, n: int, padded: bool, channels: int = 4, seed: int = 0) -> dict[str, Any]:
    """Band, overlap, waste and stitching errors of the twin for latent windows of side ``n``."""
    twin = Twin(levels, padded, channels, seed)
    scale = 2**levels
    generator = torch.Generator().manual_seed(seed + 1)

    # 1. The band: a window's render against the same pixels of a render with 2 latent px of context.
    z = torch.randn(1, channels, n + 4, n + 4, generator=generator, dtype=torch.float64)
    full, part = twin(z), twin(z[..., 2 : 2 + n, 2 : 2 + n])
    whole, inner = twin.gives(Span(0, n + 4)), twin.gives(Span(2, 2 + n))
    o = inner.start - whole.start
    ref = full[..., o : o + inner.size, o : o + inner.size]
    band = _band(((part - ref).abs() > TOLERANCE).any(dim=1)[0])
    rendered = inner.size  # pixels per axis one window renders

    # 2. Overlap and waste implied by the band. A padded net's windows start at latent pixels, so two
    #    neighbours share scale * k output pixels and need scale * k >= 2 * band. A consistent net
    #    keeps every pixel it renders (the model plans windows so blocks abut: nothing is discarded).
    overlap = math.ceil(2 * band / scale) if padded else 0
    kept = scale * (n - overlap) if padded else rendered
    waste = 1.0 - (kept / rendered) ** 2

    # 3. Stitch a 3×3 grid of windows at that stride, in random order, and compare with the full render.
    stride = n - overlap if padded else max(1, rendered // scale)
    side = 2 * stride + n
    z = torch.randn(1, channels, side, side, generator=generator, dtype=torch.float64)
    full = twin(z)
    whole = twin.gives(Span(0, side))

    def stitch(discard: int) -> float:
        canvas = torch.full_like(full, float("nan"))
        order = [(i, j) for i in range(3) for j in range(3)]
        random.Random(seed).shuffle(order)
        error = 0.0
        for i, j in order:
            out = twin(z[..., j * stride : j * stride + n, i * stride : i * stride + n])
            ox = twin.gives(Span(i * stride, i * stride + n)).start - whole.start
            oy = twin.gives(Span(j * stride, j * stride + n)).start - whole.start
            keep = kept if padded else rendered
            tile = out[..., discard : discard + keep, discard : discard + keep]
            region = (..., slice(oy + discard, oy + discard + keep), slice(ox + discard, ox + discard + keep))
            seen = canvas[region]
            agree = ~torch.isnan(seen)
            if agree.any():
                error = max(error, float((seen - tile).abs()[agree].max()))
            canvas[region] = tile
        inner = canvas[..., band : full.shape[-2] - band, band : full.shape[-1] - band]
        truth = full[..., band : full.shape[-2] - band, band : full.shape[-1] - band]
        covered = ~torch.isnan(inner)
        return max(error, float((inner - truth).abs()[covered].max()))

    return {
        "levels": levels,
        "latent_n": n,
        "patch_M": rendered,
        "band_px": band,
        "overlap_latent": overlap,
        "waste": waste,
        "stitch_error": stitch(band),
        "stitch_error_band_minus_1": stitch(band - 1) if band > 0 else None,
    }


@benchmark("infgan.theorem1", quick_limit="3 twins of 2-4 levels on 8x8 latents")
def theorem1(ctx: BenchContext) -> list[Row]:
    """Measured discarded fraction of the padded twin vs Theorem 1's bound, and ∞-GAN's (zero)."""
    rows = []
    cases = [(2, 8), (3, 8), (4, 8)] if ctx.quick else [(2, 8), (3, 8), (3, 16), (4, 8), (4, 16), (4, 32), (5, 8)]
    for levels, n in cases:
        for padded in (True, False):
            report = measure_redundancy(levels, n, padded)
            rows.append(
                {
                    "model": "padded twin" if padded else "∞-GAN (valid twin)",
                    **report,
                    "theorem1_bound": theorem1_bound(levels, 2**levels * n) if padded else 0.0,
                }
            )
    return rows


@benchmark("infgan.levels", quick_limit="test configs, 4 blocks per level, no view fill")
def level_speed(ctx: BenchContext) -> list[Row]:
    """px/s at every level (one block per forward on CPU, as the exact renderer runs), and the
    time to fill a 1280×720 view at each level."""
    rows = []
    record = get_family("infgan")
    for config in record.test_configs if ctx.quick else tuple(record.configs):
        model = build_random("infgan", config)
        renderer = Renderer(model, ctx.device)
        world = World(model=f"infgan:{config}", seed=1)
        for level in range(model.num_levels()):
            block = renderer.block_size(level)
            origins = [(block * i, -block) for i in range(4 if ctx.quick else 12)]
            seconds = timed(
                functools.partial(renderer.render_blocks, world, origins, level), repeat=1 if ctx.quick else 3
            )
            view = Rect(-640, -360, 1280, 720)
            start = time.perf_counter()
            if not ctx.quick:
                renderer.render(world, [view], level)
            rows.append(
                {
                    "model": f"infgan:{config}",
                    "level": level,
                    "device": str(renderer.device),
                    "threads": torch.get_num_threads(),
                    "block_px": block,
                    "px_per_s": round(len(origins) * block * block / seconds),
                    "view_1280x720_s": None if ctx.quick else round(time.perf_counter() - start, 3),
                }
            )
    return rows
