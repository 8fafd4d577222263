"""Splitting an export's tiles across ``torchrun`` ranks, with rank 0 as the one writer.

Rank ``r`` of ``n`` renders the tiles whose row-major index ``i`` has ``i % n == r`` and sends each
finished tile to rank 0, which renders its own share and receives the others in index order, so
its tile stream (and the file) is identical to a single-process export. Tiles travel as CPU
uint8 tensors over a gloo process group, which works between GPU ranks and CPU-only ones alike.
Senders keep a few tiles in flight (bounded memory) and then wait for rank 0 to catch up.
"""

from __future__ import annotations

import os
from collections import deque

import numpy as np
import torch
import torch.distributed as dist

from engine import process_group
from engine.errors import EverscapeError

#: Tiles a sending rank may have in flight before it waits for rank 0.
IN_FLIGHT = 4


class TileExchange:
    """One process's view of the tile split (see module docstring)."""

    def __init__(self, rank: int = 0, world_size: int = 1) -> None:
        self.rank = rank
        self.world_size = world_size
        self._pending: deque = deque()

    @classmethod
    def from_environment(cls, timeout_s: float = 3600) -> TileExchange:
        """Join the group ``torchrun`` describes in the environment (RANK, WORLD_SIZE, MASTER_ADDR...)."""
        if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
            raise EverscapeError("--distributed needs to run under torchrun (RANK and WORLD_SIZE are not set)")
        process_group.join("gloo", timeout_s)
        return cls(dist.get_rank(), dist.get_world_size())

    @property
    def is_writer(self) -> bool:
        return self.rank == 0

    def owned(self, index: int) -> bool:
        return index % self.world_size == self.rank

    def send(self, array: np.ndarray) -> None:
        """Send a finished tile to the writer (non-blocking up to :data:`IN_FLIGHT` tiles)."""
        tensor = torch.from_numpy(np.ascontiguousarray(array))
        self._pending.append((dist.isend(tensor, dst=0), tensor))
        while len(self._pending) > IN_FLIGHT:
            self._pending.popleft()[0].wait()

    def receive(self, index: int, shape: tuple[int, int]) -> np.ndarray:
        """The tile ``index`` rendered by its owner."""
        tensor = torch.empty((shape[0], shape[1], 3), dtype=torch.uint8)
        dist.recv(tensor, src=index % self.world_size)
        return tensor.numpy()

    def finish(self) -> None:
        """Wait for every send, then for all ranks (so none exits while the writer still reads)."""
        while self._pending:
            self._pending.popleft()[0].wait()
        if self.world_size > 1:
            dist.barrier()
