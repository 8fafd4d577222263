"""Trainer for the ``reference`` family: the end-to-end test bed of the training stack.

Fakes are real renders: ``render_blocks`` at random block-aligned origins through a
:class:`LatentSource` whose seed is derived from ``(config.seed, rank, step, call)``, so the
generator is trained exactly as it renders (gradients flow through the same code) and the fakes
need no RNG state to resume. A random ``crop``-sized window of each block goes to D. Path-length
regularisation differentiates against every latent field the blocks read (the source records
them with ``requires_grad``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import torch

from engine.fields import FieldStore, LatentSource, address_seed
from engine.geometry import Rect
from engine.models.base import Generator
from engine.styles import StyleLayout
from engine.train import distributed
from engine.train.adversarial import AdversarialTrainer, Fakes, seeded_init
from engine.train.discriminator import Discriminator
from engine.train.protocol import TrainConfig

#: Origins are drawn from this many blocks either side of 0 on each axis.
_ORIGIN_RANGE = 1 << 16


class RecordingSource(LatentSource):
    """A latent source that hands out grad-requiring copies of what it reads and keeps them."""

    def __init__(self, *args: Any, track: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.track = track
        self.tensors: list[torch.Tensor] = []

    def read(self, name: str, channels: int, cells: Sequence[Rect]) -> torch.Tensor:
        values = super().read(name, channels, cells)
        if self.track:
            values.requires_grad_(True)
            self.tensors.append(values)
        return values


class ReferenceTrainer(AdversarialTrainer):
    def __init__(self, model: Generator, config: TrainConfig, device: Any) -> None:
        self.block = model.block_size(0)
        self.crop = config.crop or self.block
        if not 16 <= self.crop <= self.block:
            raise ValueError(f"reference crops must be 16..{self.block} px, not {self.crop}")
        with seeded_init(config.seed):
            d = Discriminator(
                self.crop,
                channel_base=config.options.d_channel_base or 1024,
                max_channels=config.options.d_max_channels or 64,
            )
        super().__init__(model, d, config, device)
        # A private, small cache: training fields are used once, they must not evict the app's.
        self.store = FieldStore(max_bytes=32 * 2**20)
        self._calls = 0
        self._calls_step = -1

    def _seed(self) -> int:
        if self._calls_step != self.current_step:
            self._calls_step, self._calls = self.current_step, 0
        self._calls += 1
        return address_seed("reference-train", self.config.seed, distributed.rank(), self.current_step, self._calls)

    def _render(self, model: Generator, batch: int, seed: int, track: bool, crop: bool) -> Fakes:
        rng = random.Random(seed)
        b = self.block
        origins = [
            (rng.randrange(-_ORIGIN_RANGE, _ORIGIN_RANGE) * b, rng.randrange(-_ORIGIN_RANGE, _ORIGIN_RANGE) * b)
            for _ in range(batch)
        ]
        source = RecordingSource(seed, device=self.device, store=self.store, track=track)
        blocks = model.render_blocks(origins, source, StyleLayout())  # (N, 3, B, B)
        if crop and self.crop < b:
            offsets = [(rng.randrange(b - self.crop + 1), rng.randrange(b - self.crop + 1)) for _ in range(batch)]
            blocks = torch.stack([im[:, y : y + self.crop, x : x + self.crop] for im, (x, y) in zip(blocks, offsets)])
        return Fakes(blocks, source.tensors if track else None)

    def generate(self, model: Generator, batch: int, need_latent_grad: bool) -> Fakes:
        return self._render(model, batch, self._seed(), need_latent_grad, crop=True)

    def sample(self, count: int) -> torch.Tensor:
        """Whole blocks from the EMA generator at fixed latents (the same at every step)."""
        with torch.no_grad():
            return self._render(
                self.ema, count, address_seed("reference-sample", self.config.seed), False, False
            ).images
