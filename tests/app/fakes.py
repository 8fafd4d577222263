"""Fake generators for app tests: cheap, deterministic, optionally slow or failing, any level count."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from engine.fields import LatentSource
from engine.models.base import Generator
from engine.models.registry import LoadedModel
from engine.styles import StyleLayout


@dataclass(frozen=True)
class FakeConfig:
    block: int = 64
    levels: int = 1


class FakeModel(Generator):
    """Each block is a smooth colour ramp keyed by (seed, level, origin); never reads latents.

    ``delay`` seconds are slept per forward (releasing the GIL like a real forward would), ``fail``
    makes every forward raise, and ``calls`` records ``(level, origins)`` per forward.
    """

    family = "fake"

    def __init__(self, config: FakeConfig = FakeConfig(), delay: float = 0.0, fail: str | None = None) -> None:
        super().__init__(config)
        self.delay = delay
        self.fail = fail
        self.calls: list[tuple[int, tuple[tuple[int, int], ...]]] = []
        self.entered = threading.Event()

    def num_levels(self) -> int:
        return self.config.levels

    def block_size(self, level: int = 0) -> int:
        self.check_level(level)
        return self.config.block

    def field_specs(self, level: int = 0):
        return ()

    def render_blocks(
        self, origins: Sequence[tuple[int, int]], source: LatentSource, styles: StyleLayout, level: int = 0
    ) -> torch.Tensor:
        self.check_level(level)
        self.entered.set()
        self.calls.append((level, tuple(origins)))
        if self.delay:
            time.sleep(self.delay)
        if self.fail:
            raise RuntimeError(self.fail)
        b = self.config.block
        ramp = torch.arange(b, dtype=torch.float32) / b
        out = []
        for ox, oy in origins:
            phase = ((ox // b) * 7 + (oy // b) * 13 + source.seed * 31 + level * 17) % 64 / 64
            r = ramp[None, :].expand(b, b)
            g = ramp[:, None].expand(b, b)
            blue = torch.full((b, b), phase)
            out.append(torch.stack([r, g, blue]) * 2 - 1)
        return torch.stack(out)


def loader_for(model: FakeModel):
    return lambda ref: LoadedModel(model, ref, None)
