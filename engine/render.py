"""The Renderer: the one door between clients (canvas, export, CLI, tests) and a model.

``Renderer.render(world, rects)`` returns uint8 RGB arrays for ANY integer rectangles. It covers
each rectangle with the model's world-aligned blocks, renders every distinct block once, in
batches of equal shape, and crops. Because each block is a pure function of the world and its
origin, a rectangle's pixels do not depend on how it was cut, batched or ordered.

It also owns device choice (cuda > mps > cpu), dtype, inference mode, and the out-of-memory
policy: halve the batch and retry, and only give up (with a clear error) at batch 1.

Batching and exactness. Convolution libraries choose kernels by batch size: on CPU, oneDNN gives
a block different low bits in a batch of 7 than alone (measured for 3- and 8-channel inputs), while
at a *fixed* batch size every sample is independent of its batch-mates (measured for 3..512
channels). And on CPU batching real-width convolutions is slower, not faster (0.79x at 256
channels, 0.83x at 64). So on CPU a forward pass holds exactly one block: bit-exact by
construction. On GPUs forward passes hold ``max_batch`` blocks, partial batches padded to that
size, so a block never depends on which blocks it was batched with. ``exact=False`` lets
benchmarks measure CPU batching anyway.

Regions. Every block of a padding-free generator is computed with margins its neighbours compute
again. ``region=k`` renders world-aligned squares of ``k x k`` blocks instead, each as one window
(every family: ``Generator.renders_regions``), so margins are paid once per region: for callers
that want many pixels (export). A region's pixels equal its blocks' up to float rounding (<= 1 LSB),
not bit for bit (convolution kernels sum in an order that depends on the window's shape), so one
renderer's renders stitch exactly with each other, and a ``region=k`` render is compared with a
``region=1`` render to within 1 LSB. An export passes ``within`` (its rectangle): a region on its
rim is then computed only over the blocks the export needs, so big regions waste no rim pixels;
every pixel of one export still comes from exactly one window.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np
import torch

from engine.errors import EverscapeError
from engine.fields import DEFAULT_STORE, FieldStore, LatentSource
from engine.geometry import Rect, aligned_cover
from engine.models.base import Generator
from engine.preview import (
    CALIBRATION_SEED,
    PreviewCalibration,
    cached_calibration,
    calibration_rect,
    remember_calibration,
)
from engine.world import World


def choose_device(preference: str | None = None) -> torch.device:
    """``preference`` if given ('cpu', 'cuda', 'cuda:1', 'mps'), else the best available."""
    if preference and preference != "auto":
        try:
            device = torch.device(preference)
        except RuntimeError:
            raise EverscapeError(f"unknown device {preference!r} (use auto, cpu, cuda, cuda:N or mps)") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise EverscapeError("CUDA was asked for but no CUDA device is available")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise EverscapeError("MPS was asked for but is not available on this machine")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


#: Largest region side (pixels of the rendered level) :func:`region_for` picks: a region is one
#: forward pass, so its activations must fit. Peak RSS of one region of the shipped models on a CPU
#: (∞-GAN, InfinityGAN, ALIS): 0.95, 1.3 and 1.6 GiB at 1024 px; 3.0, 4.0 and 5.1 GiB at 2048 px.
MAX_REGION_SIDE = 2048
#: On a CPU bigger regions compute fewer FLOPs but take longer: their activations leave the caches,
#: and per-pixel style fusion grows with the lattice cells a window spans. Seconds per megapixel of a
#: 2048x1024 render of the shipped models (InfinityGAN, ALIS, ∞-GAN) on 2 cores, 256 / 512 / 1024 px
#: regions: 2.4 / 3.5 / 5.3, 2.6 / 3.0 / 4.9, 1.4 / 1.5 / 3.1. So CPU exports use 256 px regions.
CPU_REGION_SIDE = 256


def region_side(device: str | torch.device) -> int:
    """The region cap for ``device``: a GPU holds 2048 px regions of every shipped model and the
    fewest FLOPs are fastest there; on a CPU 256 px regions are the fastest (:data:`CPU_REGION_SIDE`)."""
    return CPU_REGION_SIDE if torch.device(device).type == "cpu" else MAX_REGION_SIDE


#: An export keeps a row of regions across its width (``engine.export.plan``): at most this many bytes.
REGION_ROW_BYTES = 512 * 2**20


def region_for(model: Generator, rect: Rect, level: int = 0, max_side: int = MAX_REGION_SIDE) -> int:
    """Blocks per region side for rendering ``rect`` in one go (an export): the largest power of two
    whose region fits in ``max_side`` and in ``rect``'s shorter side, and whose row across ``rect``
    fits :data:`REGION_ROW_BYTES` (margins cost about ``margin / side``, so bigger is cheaper; an
    export clips rim regions to its rectangle), or 1 for a model without regions."""
    if not getattr(model, "renders_regions", False):
        return 1
    block, k = model.block_size(level), 1
    while 2 * k * block <= min(max_side, rect.w, rect.h) and rect.w * 2 * k * block * 3 <= REGION_ROW_BYTES:
        k *= 2
    return k


def is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """``(N, 3, H, W)`` in [-1, 1] -> ``(N, H, W, 3)`` uint8, rounding half up, identically everywhere."""
    scaled = (images.float().clamp(-1, 1) + 1) * 127.5
    return torch.floor(scaled + 0.5).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


class Renderer:
    """Renders worlds with one model on one device; safe to call from one thread at a time."""

    def __init__(
        self,
        model: Generator,
        device: str | torch.device | None = None,
        *,
        max_batch: int = 8,
        dtype: torch.dtype = torch.float32,
        store: FieldStore | None = None,
        exact: bool = True,
        region: int = 1,
    ) -> None:
        self.device = choose_device(None if device is None else str(device))
        if not isinstance(region, int) or region < 1:
            raise EverscapeError(f"region must be a whole number of blocks >= 1, got {region!r}")
        self.region = region if getattr(model, "renders_regions", False) else 1
        self.exact = exact
        self.model = model.to(self.device).eval().requires_grad_(False)
        self.max_batch = max(1, int(max_batch))
        self.dtype = dtype
        self.store = store or DEFAULT_STORE
        self._lock = threading.Lock()
        self.blocks_rendered = 0  # statistics for benchmarks and tests
        self.pixels_rendered = 0  # output pixels computed (a rim region computes less than its square)
        self._own_calibration: PreviewCalibration | None = None  # preview colours of a model without a hash

    def source(self, world: World) -> LatentSource:
        return LatentSource(world.seed, world.overrides, device=self.device, dtype=self.dtype, store=self.store)

    def block_size(self, level: int = 0) -> int:
        """Side of the squares this renderer computes: the model's block, times ``region``."""
        return self.model.block_size(level) * self.region

    def render(
        self,
        world: World,
        rects: Sequence[Rect],
        level: int = 0,
        cancelled: Callable[[], bool] | None = None,
    ) -> list[np.ndarray]:
        """Pixels of each rect as ``(h, w, 3)`` uint8, in the order given.

        ``cancelled`` is polled between batches; when it returns True the call raises
        :class:`Cancelled` and renders nothing more.
        """
        block = self.block_size(level)
        blocks = self.render_blocks(world, cover_origins(rects, block), level, cancelled)
        return assemble(rects, blocks, block)

    def render_preview(
        self,
        world: World,
        rects: Sequence[Rect],
        level: int,
        cancelled: Callable[[], bool] | None = None,
    ) -> list[np.ndarray]:
        """A cheap stand-in for ``render`` at ``level`` (rects in pixels of ``level``) for models
        with previews (``model.preview_levels()``): the network's coarse image, through the
        model's fitted colour map (:mod:`engine.preview`; the first call per model fits it, about a
        second). Consistent like ``render``: world-aligned squares of as many pixels as this renderer's
        level-0 squares (:meth:`block_size`; a 256 px tile is then one forward pass at any level, the
        fastest measured), each rendered alone on CPU. Not the real render: a few LSB off at level
        1, more at 2 (``engine.preview``)."""
        self.model.preview_block(level)  # raises for a level without previews, before the calibration
        side = self.block_size(0)
        calibration = self.preview_calibration(world, cancelled)
        source = self.source(world)

        def run(corners: list[tuple[int, int]], size: tuple[int, int]) -> np.ndarray:
            return calibration.apply(level, self.model.render_preview(corners, source, world.styles, level, size))

        jobs = [(origin, Rect(origin[0], origin[1], side, side)) for origin in cover_origins(rects, side)]
        return assemble(rects, self._run_jobs(jobs, side, run, cancelled, counted=False), side)

    def preview_calibration(self, world: World, cancelled: Callable[[], bool] | None = None) -> PreviewCalibration:
        """The colour maps of this renderer's model (``world.model_hash`` names its checkpoint): kept
        per checkpoint, else fitted from a real render of a fixed place of ``world``'s model."""
        levels, sha = self.model.preview_levels(), world.model_hash
        found = cached_calibration(sha, levels) if sha else self._own_calibration
        if found is not None:
            return found
        place = calibration_rect(self.model.block_size(0))
        real_world = World(world.model, CALIBRATION_SEED, model_hash=sha)
        side = self.block_size(0)  # regions over the place only (``within``), whatever this renderer's region
        blocks = self.render_blocks(real_world, cover_origins([place], side), 0, cancelled, within=place)
        real = assemble([place], blocks, side)[0]
        raws = {}
        with self._lock, torch.inference_mode():
            source = self.source(real_world)
            for level in levels:
                corner, size = (place.x >> level, place.y >> level), (place.w >> level, place.h >> level)
                raws[level] = self.model.render_preview([corner], source, real_world.styles, level, size)[0]
        found = PreviewCalibration.fit(real, raws)
        if sha:
            remember_calibration(sha, found)
        else:  # random weights: no name to keep the maps under beyond this renderer
            self._own_calibration = found
        return found

    def window(self, origin: tuple[int, int], level: int = 0, within: Rect | None = None) -> Rect:
        """The pixels computed for the block (or region) at ``origin``: its square, or for a region
        the part of it over the model blocks that cover ``within`` (an export's rim)."""
        side = self.block_size(level)
        square = Rect(origin[0], origin[1], side, side)
        if within is None or self.region == 1:
            return square
        return square.intersection(aligned_cover(within, self.model.block_size(level))) or square

    def render_blocks(
        self,
        world: World,
        origins: Sequence[tuple[int, int]],
        level: int = 0,
        cancelled: Callable[[], bool] | None = None,
        within: Rect | None = None,
    ) -> dict[tuple[int, int], np.ndarray]:
        """Render world-aligned blocks (of :meth:`block_size`) by origin, batching up to ``max_batch``
        and halving on OOM. With ``within``, regions are computed over :meth:`window` only; the
        rest of their array is left unwritten (the caller reads only pixels inside ``within``)."""
        source = self.source(world)

        def run(corners: list[tuple[int, int]], size: tuple[int, int]) -> np.ndarray:
            region = {"size": size} if self.region > 1 else {}
            return to_uint8(self.model.render_blocks(corners, source, world.styles, level, **region))

        jobs = [(origin, self.window(origin, level, within)) for origin in origins]
        return self._run_jobs(jobs, self.block_size(level), run, cancelled)

    def _run_jobs(
        self,
        jobs: Sequence[tuple[tuple[int, int], Rect]],
        side: int,
        run: Callable[[list[tuple[int, int]], tuple[int, int]], np.ndarray],
        cancelled: Callable[[], bool] | None,
        counted: bool = True,
    ) -> dict[tuple[int, int], np.ndarray]:
        """``(origin, window)`` jobs of ``side`` px squares by origin: ``run(corners, size)`` renders
        a batch of equal windows to uint8 ``(N, h, w, 3)``; batches of :meth:`_next_batch`, halved
        on OOM, ``cancelled`` polled between them. ``counted``: real blocks, for the statistics."""
        results: dict[tuple[int, int], np.ndarray] = {}
        start = 0
        with self._lock, torch.inference_mode():
            while start < len(jobs):
                if cancelled is not None and cancelled():
                    raise Cancelled("rendering was cancelled")
                batch, padded = self._next_batch(jobs, start)
                w, h = batch[0][1].size
                corners = [(window.x, window.y) for _, window in padded]
                try:
                    images = run(corners, (w, h))[: len(batch)]
                except Exception as error:
                    if not is_out_of_memory(error):
                        raise
                    if self.device.type == "cuda":
                        torch.cuda.empty_cache()
                    if len(batch) == 1:
                        raise EverscapeError(
                            f"out of memory on {self.device} even for one block; use a smaller model or --device cpu"
                        ) from None
                    self.max_batch = max(1, len(batch) // 2)
                    continue
                for (origin, window), array in zip(batch, images, strict=True):
                    if (w, h) != (side, side):  # a rim region: only its window is ever read
                        whole = np.empty((side, side, 3), dtype=np.uint8)
                        x0, y0 = window.x - origin[0], window.y - origin[1]
                        whole[y0 : y0 + h, x0 : x0 + w] = array
                        array = whole
                    results[origin] = array
                if counted:
                    self.blocks_rendered += len(batch)
                    self.pixels_rendered += len(batch) * w * h
                start += len(batch)
        return results

    def _next_batch(self, jobs: Sequence[tuple[tuple[int, int], Rect]], start: int) -> tuple[list, list]:
        """The next ``(origin, window)`` jobs to render (windows of one size), and the list actually
        run (padded to a fixed size on GPUs)."""
        size = 1 if self.device.type == "cpu" and self.exact else self.max_batch
        shape = jobs[start][1].size
        stop = start
        while stop < min(len(jobs), start + size) and jobs[stop][1].size == shape:
            stop += 1
        batch = list(jobs[start:stop])
        if self.device.type == "cpu":
            return batch, batch
        pad = self.max_batch - len(batch) if self.exact else 0
        return batch, batch + [batch[-1]] * pad


def cover_origins(rects: Sequence[Rect], block: int) -> list[tuple[int, int]]:
    """Origins of the world-aligned ``block`` px squares covering ``rects``, each once, in order."""
    origins: dict[tuple[int, int], None] = {}
    for rect in rects:
        cover = aligned_cover(rect, block)
        for by in range(cover.y, cover.bottom, block):
            for bx in range(cover.x, cover.right, block):
                origins.setdefault((bx, by))
    return list(origins)


def assemble(rects: Sequence[Rect], blocks: dict[tuple[int, int], np.ndarray], block: int) -> list[np.ndarray]:
    """Each rect's ``(h, w, 3)`` pixels cut from the ``block`` px squares (by origin) that cover it."""
    out = []
    for rect in rects:
        image = np.empty((rect.h, rect.w, 3), dtype=np.uint8)
        cover = aligned_cover(rect, block)
        for by in range(cover.y, cover.bottom, block):
            for bx in range(cover.x, cover.right, block):
                part = Rect(bx, by, block, block).intersection(rect)
                if part is None:
                    continue
                tile = blocks[(bx, by)]
                image[part.y - rect.y : part.bottom - rect.y, part.x - rect.x : part.right - rect.x] = tile[
                    part.y - by : part.bottom - by, part.x - bx : part.right - bx
                ]
        out.append(image)
    return out


class Cancelled(EverscapeError):
    """Raised by :meth:`Renderer.render` when its ``cancelled`` callback says so."""
