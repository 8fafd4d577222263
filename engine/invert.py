"""GAN inversion for outpainting: fit the latents under a user image so the world extends it.

A user image is placed at a world rectangle. The generator stays frozen; what is optimised are the
latent cells the model reads for that rectangle (the footprint of every :class:`FieldSpec`: latent
fields and noise fields) and, for families whose style is a per-centre global latent (InfinityGAN),
the latent of a dedicated style centre at the image centre. The result is a new :class:`World`
whose :class:`FieldPatch` overrides hold exactly those cells (plus that centre, with its explicit
``latent``): the region renders close to the image, and because the surroundings read the same
fields, the model continues the image seamlessly beyond its border (InfinityGAN App. K, In&Out).

Generic over families. Gradients flow through ``Generator.render_blocks`` with an
:class:`OptimisableSource`: a :class:`LatentSource` whose reads paste trainable leaf tensors over
the chosen cells and serve fixed field values elsewhere; its ``vector`` serves a trainable vector
for the dedicated centre's seed. A family that never asks for that vector simply gets no style
centre. The only family knowledge is the naming convention that single-channel fields called
``...noise...`` are noise maps, which are re-normalised to zero mean and unit variance each step
(as in the paper) instead of being penalised.

Locality. Pixels outside the union of the patches' supports (``engine.edits.changed_regions``) are
bit-identical to the original world when no style centre is added. A style centre, like any centre
added by the style tool, owns its Voronoi cell of the layout; ``InvertConfig.style=False`` leaves
the layout untouched.

Loss: MSE on the known pixels (in [-1, 1]) plus mean and RMS penalties keeping the latents near
N(0, 1). Adam with a linear warm-up and a cosine ramp-down; a progress callback gets
``(step, loss)`` and a ``cancelled`` callback is polled every step (raising
:class:`~engine.render.Cancelled`, so nothing half-done is returned).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from engine.errors import InvalidInput
from engine.fields import FieldPatch, LatentSource, address_seed
from engine.geometry import Rect, aligned_cover
from engine.imageio import read_image
from engine.models.base import FieldSpec, Generator
from engine.render import Cancelled
from engine.style_edits import add_centre
from engine.styles import StyleCentre
from engine.world import World

#: Largest image side accepted (pixels): inversion renders the whole region every step.
MAX_SIDE = 512
#: Pillow's decompression-bomb guard for images read here (pixels).
MAX_FILE_PIXELS = 64 * 2**20


@dataclass(frozen=True)
class InvertConfig:
    steps: int = 300
    lr: float = 0.05  # latent and noise cells
    style_lr: float = 0.05  # the style centre's latent
    warmup: float = 0.05  # fraction of steps of linear lr warm-up
    rampdown: float = 0.25  # fraction of steps of cosine lr ramp-down at the end
    mean_weight: float = 1.0  # penalty on the squared mean of each latent patch
    rms_weight: float = 1.0  # penalty on (RMS - 1)^2 of each latent patch
    style: bool = True  # add and fit a style centre where the family reads one
    level: int = 0


@dataclass(frozen=True)
class InversionResult:
    world: World
    losses: list[float] = field(default_factory=list)  # total loss per step
    seconds_per_step: float = 0.0
    style_centre: StyleCentre | None = None
    #: Level-0 world rects the user's images occupy (one per image): what variants keep pinned.
    footprints: tuple[Rect, ...] = ()
    #: Every style centre the inversion fitted (one per image; ``style_centre`` is the first).
    style_centres: tuple[StyleCentre, ...] = ()


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as ``(H, W, 3)`` uint8; every failure is a one-line :class:`InvalidInput`."""
    return read_image(path, max_pixels=MAX_FILE_PIXELS)


def check_image(image: np.ndarray) -> np.ndarray:
    """``image`` as a contiguous ``(H, W, 3)`` uint8 array within :data:`MAX_SIDE`, or a one-line error."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InvalidInput("the image must be an (H, W, 3) uint8 RGB array")
    h, w = image.shape[:2]
    if h == 0 or w == 0:
        raise InvalidInput("the image is empty")
    if max(h, w) > MAX_SIDE:
        raise InvalidInput(f"image is {w}x{h}; inversion accepts at most {MAX_SIDE} pixels a side, scale it down")
    return np.ascontiguousarray(image)


def is_noise(spec: FieldSpec) -> bool:
    """Noise maps (re-normalised, not penalised): single-channel fields named ``...noise...``."""
    return spec.channels == 1 and "noise" in spec.name.rsplit(".", 1)[-1]


class OptimisableSource(LatentSource):
    """A :class:`LatentSource` serving trainable tensors over chosen cells and fixed values elsewhere.

    ``params[name] = (cells, tensor (C, h, w))``; reads of other cells or fields come from the
    world's fields and overrides, detached. ``vector(..., key=style_seed)`` returns ``style``.
    """

    def __init__(
        self,
        base: LatentSource,
        params: dict[str, tuple[Rect, torch.Tensor]],
        style_seed: int | None = None,
        style: torch.Tensor | None = None,
    ) -> None:
        super().__init__(base.seed, base.overrides, device=base.device, dtype=base.dtype, store=base.store)
        self.params = params
        self.style_seed = style_seed
        self.style = style
        self.style_used = False

    def read(self, name: str, channels: int, cells: Sequence[Rect]) -> torch.Tensor:
        rows = []
        for rect in cells:
            values = self.read_cpu(name, channels, rect).to(device=self.device, dtype=self.dtype)
            if name in self.params:
                own, param = self.params[name]
                part = own.intersection(rect)
                if part is not None:
                    sx, sy = part.x - own.x, part.y - own.y
                    dx, dy = part.x - rect.x, part.y - rect.y
                    values[:, dy : dy + part.h, dx : dx + part.w] = param[:, sy : sy + part.h, sx : sx + part.w]
            rows.append(values)
        return torch.stack(rows)

    def vector(self, name: str, key: int, dim: int) -> torch.Tensor:
        if self.style is not None and key == self.style_seed and self.style.shape == (dim,):
            self.style_used = True
            return self.style
        return super().vector(name, key, dim)


def _footprints(model: Generator, rect: Rect, level: int) -> dict[str, tuple[FieldSpec, Rect]]:
    """Cells per field name that pixels of ``rect`` read (the union if a name has several specs)."""
    out: dict[str, tuple[FieldSpec, Rect]] = {}
    for spec in model.field_specs(level):
        cells = spec.footprint(rect)
        if spec.name in out:
            old = out[spec.name][1]
            x0, y0 = min(old.x, cells.x), min(old.y, cells.y)
            cells = Rect(x0, y0, max(old.right, cells.right) - x0, max(old.bottom, cells.bottom) - y0)
        out[spec.name] = (spec, cells)
    return out


def _lr_factor(t: float, warmup: float, rampdown: float) -> float:
    """Linear warm-up over ``warmup`` of the run, cosine ramp-down over the last ``rampdown``."""
    up = min(1.0, t / warmup) if warmup > 0 else 1.0
    down = min(1.0, (1.0 - t) / rampdown) if rampdown > 0 else 1.0
    return up * (0.5 - 0.5 * math.cos(down * math.pi))


def _renormalise(values: torch.Tensor) -> None:
    with torch.no_grad():
        values.sub_(values.mean()).div_(values.std().clamp(min=1e-8) if values.numel() > 1 else 1.0)


def render_region(model: Generator, source: LatentSource, world: World, rect: Rect, level: int) -> torch.Tensor:
    """``rect`` rendered as ``(3, h, w)`` in [-1, 1], differentiable (one batch of its covering blocks)."""
    block = model.block_size(level)
    cover = aligned_cover(rect, block)
    origins = [(bx, by) for by in range(cover.y, cover.bottom, block) for bx in range(cover.x, cover.right, block)]
    blocks = model.render_blocks(origins, source, world.styles, level)  # (N, 3, B, B)
    cols = cover.w // block
    rows = [torch.cat(list(blocks[r * cols : (r + 1) * cols]), dim=2) for r in range(cover.h // block)]
    canvas = torch.cat(rows, dim=1)  # (3, cover.h, cover.w)
    dy, dx = rect.y - cover.y, rect.x - cover.x
    return canvas[:, dy : dy + rect.h, dx : dx + rect.w]


def invert(
    model: Generator,
    world: World,
    image: np.ndarray,
    at: tuple[int, int],
    config: InvertConfig = InvertConfig(),
    *,
    device: torch.device | str = "cpu",
    progress: Callable[[int, float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> InversionResult:
    """Fit the latents under ``image`` placed with its top-left pixel at world ``at`` (pixels of
    ``config.level``); return the edited world. Raises :class:`Cancelled` when ``cancelled()`` says so."""
    image = check_image(image)
    if config.steps < 1:
        raise InvalidInput(f"inversion needs at least one step, got {config.steps}")
    h, w = image.shape[:2]
    rect = Rect(int(at[0]), int(at[1]), w, h)
    level = config.level
    model.check_level(level)
    device = torch.device(device)
    model.eval()
    if any(p.requires_grad for p in model.parameters()):
        model.requires_grad_(False)  # the generator is frozen; only latents learn
    target = torch.from_numpy(image.copy()).to(device=device, dtype=torch.float32).permute(2, 0, 1) / 127.5 - 1.0
    latents = _trainable_latents(model, world, rect, level, config, device)
    losses, seconds = fit_latents(model, latents, [(rect, target)], config, progress, cancelled)
    edited, centre = _edited_world(world, latents)
    centres = () if centre is None else (centre,)
    return InversionResult(edited, losses, seconds, centre, (level_zero_rect(rect, level),), centres)


def level_zero_rect(rect: Rect, level: int) -> Rect:
    """``rect`` (pixels of ``level``) in level-0 world pixels, where footprints are stated."""
    return Rect(rect.x << level, rect.y << level, rect.w << level, rect.h << level)


@dataclass
class TrainableLatents:
    """What an inversion trains: the cells each field's pixels read (``params``), served through
    ``source``, and the style vector of a new centre (``style``, in ``style_world``) if the family reads one."""

    specs: dict[str, tuple[FieldSpec, Rect]]
    params: dict[str, tuple[Rect, torch.Tensor]]
    source: OptimisableSource
    style: torch.Tensor | None
    style_world: World

    def style_tensors(self) -> list[torch.Tensor]:
        """The trainable style vectors (one per fitted centre)."""
        return [] if self.style is None else [self.style]


def _trainable_latents(
    model: Generator, world: World, rect: Rect, level: int, config: InvertConfig, device: torch.device
) -> TrainableLatents:
    """The world's latents under ``rect`` as trainable copies, and a style centre at its middle."""
    base = LatentSource(world.seed, world.overrides, device=device)
    specs = _footprints(model, rect, level)
    params: dict[str, tuple[Rect, torch.Tensor]] = {}
    for name, (spec, cells) in specs.items():
        start = base.read_cpu(name, spec.channels, cells).to(device)
        params[name] = (cells, start.clone().requires_grad_(True))

    style_world = world
    style_seed = style = None
    if config.style:
        style_seed = address_seed("invert.style", world.seed, rect.x, rect.y, rect.w, rect.h) & (2**31 - 1)
        centre = StyleCentre(rect.x + rect.w // 2, rect.y + rect.h // 2, style_seed)
        style_world = world.with_styles(add_centre(world.styles, world.seed, centre, model.implicit_style_centre))
    source = OptimisableSource(base, params, style_seed, None)
    if config.style:
        style = probe_style(model, source, style_world, rect, config.level, style_seed)
        source.style = style
    if style is None:
        style_world = world
    return TrainableLatents(specs, params, source, style, style_world)


def fit_latents(
    model: Generator,
    latents: TrainableLatents,
    regions: Sequence[tuple[Rect, torch.Tensor]],
    config: InvertConfig,
    progress: Callable[[int, float], None] | None,
    cancelled: Callable[[], bool] | None,
) -> tuple[list[float], float]:
    """Adam on the latents (pixel MSE over the ``(rect, target)`` regions, averaged, plus the
    latents' mean/RMS priors); the losses per step and the seconds per step."""
    params, specs, styles = latents.params, latents.specs, latents.style_tensors()
    groups = [{"params": [p for _, p in params.values()], "lr": config.lr}]
    if styles:
        groups.append({"params": styles, "lr": config.style_lr})
    optimiser = torch.optim.Adam(groups, betas=(0.9, 0.999))
    base_lrs = [g["lr"] for g in optimiser.param_groups]
    codes = [params[n][1] for n, (spec, _) in specs.items() if not is_noise(spec)]
    noises = [params[n][1] for n, (spec, _) in specs.items() if is_noise(spec)]
    codes.extend(styles)

    losses: list[float] = []
    started = time.perf_counter()
    for step in range(config.steps):
        if cancelled is not None and cancelled():
            raise Cancelled("inversion was cancelled")
        factor = _lr_factor(step / config.steps, config.warmup, config.rampdown)
        for group, lr in zip(optimiser.param_groups, base_lrs, strict=True):
            group["lr"] = lr * max(factor, 1e-3)
        with torch.enable_grad():
            loss = sum(
                torch.mean((render_region(model, latents.source, latents.style_world, r, config.level) - t) ** 2)
                for r, t in regions
            ) / len(regions)
            for z in codes:
                loss = loss + config.mean_weight * z.mean() ** 2
                loss = loss + config.rms_weight * (z.pow(2).mean().sqrt() - 1.0) ** 2
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
        optimiser.step()
        for noise in noises:
            _renormalise(noise)
        losses.append(float(loss.detach()))
        if progress is not None:
            progress(step + 1, losses[-1])
    return losses, (time.perf_counter() - started) / config.steps


def _edited_world(world: World, latents: TrainableLatents) -> tuple[World, StyleCentre | None]:
    """``world`` with the fitted cells as field patches and the fitted style centre, if any."""
    patches = tuple(
        FieldPatch(name, cells, p.detach().to("cpu", torch.float32).clone())
        for name, (cells, p) in latents.params.items()
    )
    new_styles = latents.style_world.styles
    centre = None
    if latents.style is not None:
        latent = tuple(float(v) for v in latents.style.detach().cpu())
        centre = replace(new_styles.centres[-1], latent=latent)
        new_styles = replace(new_styles, centres=(*new_styles.centres[:-1], centre))
    edited = world.with_overrides((*world.overrides, *patches))
    if centre is not None:
        edited = replace(edited, styles=new_styles)
    return edited, centre


def probe_style(
    model: Generator, source: OptimisableSource, world: World, rect: Rect, level: int, seed: int | None
) -> torch.Tensor | None:
    """The trainable style vector, if the family reads one for the new centre (found by one forward
    pass recording which vector it asks for); ``None`` when it ignores extra centres."""
    asked: list[tuple[str, int]] = []
    plain = LatentSource.vector

    class Probe(OptimisableSource):
        def vector(self, name: str, key: int, dim: int) -> torch.Tensor:
            if key == seed:
                asked.append((name, dim))
            return plain(self, name, key, dim)

    probe = Probe(source, source.params)
    block = model.block_size(level)
    corner = aligned_cover(rect, block)
    with torch.no_grad():
        model.render_blocks([(corner.x, corner.y)], probe, world.styles, level)
    if not asked:
        return None
    name, dim = asked[0]
    return plain(source, name, seed, dim).detach().clone().requires_grad_(True)
