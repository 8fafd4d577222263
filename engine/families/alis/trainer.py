"""ALIS training: frames at random continuous positions between random anchors.

Each fake frame (``F`` = the crop side, normally the config's ``frame``) is rendered through the
same ``ALISGenerator.synthesize`` as inference, at a world position ``anchor * d + delta`` with
``delta`` uniform over the WHOLE span ``[0, 2d - F]`` on each axis the anchors vary along (x only
in panorama mode, where frames sit on the strip at y = 0). The released code draws
``delta`` from whole half-frames and never reaches its last position; here every integer offset
is reachable, the last one included. The anchor index is random too (up to ±2^20), so the
coordinate channels are trained at every phase and far from the origin.

Batching: the frames of one batch must share their windows' shapes, which depend on the offset
modulo the coarsest scale ``S``, so a batch shares that phase (drawn per batch) and each frame
draws the rest (``delta = phase + S * k``): over many steps the offsets are uniform.

All randomness (anchor codes, offsets, the input and noise fields) comes from the global torch
RNG, which the generic loop saves, so a resumed run continues exactly. Fields are drawn fresh for
each frame's windows (:func:`random_fields`): the distribution the world's fields have at any
offset, which is all a frame at an arbitrary position would read at inference.

Losses, lazy R1, path length (against all anchor ``w``s a frame reads; the released code uses
``w_c`` only) and the EMA with ALIS's ramp-up come from :class:`AdversarialTrainer`. Style mixing
(p = 0.9, ``ALISOptions.style_mixing``) is drawn per anchor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from engine.errors import InvalidInput
from engine.families.alis.model import ALISGenerator, FieldReader, frame_cells
from engine.geometry import Rect
from engine.train.adversarial import AdversarialTrainer, Fakes
from engine.train.discriminator import Discriminator
from engine.train.options import TrainOptions, option, options_for
from engine.train.protocol import TrainConfig

#: Frames sit between anchors drawn from ±this many anchor cells around the origin.
ANCHOR_RANGE = 1 << 20


@dataclass(frozen=True)
class ALISOptions(TrainOptions):
    """ALIS's own training options."""

    style_mixing: float = option(
        0.9,
        "probability that an anchor's style switches to a second one (StyleGAN2's and ALIS's 0.9)",
        low=0,
        high=1,
        metavar="P",
    )


#: Decay of the tracked mean ``w`` (truncation centre), as in StyleGAN2.
W_AVG_BETA = 0.995


def random_fields(device: Any) -> FieldReader:
    """A field reader for training frames: standard normal values, from the global RNG, over the
    windows asked for. Fields are i.i.d. N(0, 1) cells, so these are distributed exactly like the
    cells a world would serve there, with no field store in the training loop."""

    def read(name: str, channels: int, rects: list[Rect]) -> torch.Tensor:
        return torch.randn(len(rects), channels, rects[0].h, rects[0].w, device=device)

    return read


class ALISTrainer(AdversarialTrainer):
    def __init__(self, model: ALISGenerator, config: TrainConfig, device: Any) -> None:
        c = model.config
        self.frame = config.crop or c.frame
        if not 16 <= self.frame <= 2 * c.spacing:
            raise InvalidInput(f"ALIS frames must be 16..{2 * c.spacing} px (two anchor spacings), not {self.frame}")
        d = Discriminator(
            self.frame,
            channel_base=config.options.d_channel_base or 64 * c.frame,
            max_channels=config.options.d_max_channels or max(c.channels),
        )
        super().__init__(model, d, config, device)
        self.mixing = options_for(config.options, ALISOptions).style_mixing

    def mix(self, model: ALISGenerator, ws: torch.Tensor) -> torch.Tensor:
        """Style mixing, per anchor (as released): with probability ``mixing`` an anchor switches to
        the latent of a fresh z from a random layer on. (N, J, I, D) -> (N, J, I, L, D)."""
        n, j, i, _ = ws.shape
        layers = model.styled_layers
        other = model.anchor_ws(torch.randn(n, model.config.z_dim, j, i, device=ws.device))
        cutoff = torch.randint(1, layers, (n, j, i), device=ws.device)
        cutoff = torch.where(torch.rand(n, j, i, device=ws.device) < self.mixing, cutoff, layers)
        first = torch.arange(layers, device=ws.device) < cutoff[..., None]  # (N, J, I, L)
        return torch.where(first[..., None], ws[:, :, :, None], other[:, :, :, None])

    def _offsets(self, batch: int, varies: bool) -> list[int]:
        """Offsets from an anchor, uniform over ``[0, 2d - F]``, sharing one phase modulo ``S``."""
        if not varies:
            return [0] * batch
        scale = self.generator.config.coarse_scale
        span = 2 * self.generator.config.spacing - self.frame
        phase = int(torch.randint(0, min(scale, span + 1), ()))
        steps = torch.randint(0, (span - phase) // scale + 1, (batch,))
        return [phase + scale * int(k) for k in steps]

    def positions(self, batch: int) -> list[tuple[int, int]]:
        """World positions of ``batch`` training frames (top-left pixels)."""
        c = self.generator.config
        d = c.spacing
        anchors = torch.randint(-ANCHOR_RANGE, ANCHOR_RANGE, (batch, 2))
        dx = self._offsets(batch, True)
        dy = self._offsets(batch, not c.panorama)
        if c.panorama:
            return [(int(a) * d + x, 0) for a, x in zip(anchors[:, 0], dx)]
        return [(int(a) * d + x, int(b) * d + y) for (a, b), x, y in zip(anchors.tolist(), dx, dy)]

    def generate(self, model: ALISGenerator, batch: int, need_latent_grad: bool) -> Fakes:
        c = model.config
        origins = self.positions(batch)
        cells = [frame_cells(model, x, y, self.frame) for x, y in origins]
        rows, cols = cells[0].h, cells[0].w
        z = torch.randn(batch, c.z_dim, rows, cols, device=self.device)
        ws = model.anchor_ws(z)  # (N, J, I, w_dim), no truncation in training
        if model is self.generator:
            with torch.no_grad():
                model.w_avg.lerp_(ws.detach().float().mean(dim=(0, 1, 2)), 1.0 - W_AVG_BETA)
        if self.mixing > 0:
            ws = self.mix(model, ws)
        fields = random_fields(self.device)
        images = model.synthesize(ws, [(r.x, r.y) for r in cells], origins, self.frame, fields)
        return Fakes(images, ws if need_latent_grad else None, {"origins": origins})
