"""Data-parallel training under ``torchrun``: process group, gradient averaging, rank-0 writes.

We average gradients by hand (:func:`average_gradients` after each backward) instead of wrapping
modules in ``DistributedDataParallel``: GAN steps run G and D in several phases with
``requires_grad`` toggled and lazy regularisers on some steps only, which DDP's bucket hooks
handle poorly (unused-parameter errors, double reductions). One flattened all-reduce per phase
is simple and exact. Without ``torchrun`` (no ``WORLD_SIZE``) everything here is a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from engine import process_group


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Only the main process writes files and prints progress."""
        return self.rank == 0


def from_environment() -> DistInfo:
    """The process's place in a ``torchrun`` job (single process when the variables are absent)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    return DistInfo(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))


def initialise(device: torch.device) -> DistInfo:
    """Join the process group if launched by ``torchrun`` (gloo on CPU, nccl on CUDA)."""
    info = from_environment()
    if info.world_size > 1:
        backend = "nccl" if device.type == "cuda" else "gloo"
        # 30 min bounds a snapshot write on rank 0 while the others wait, and a dead peer's orphans.
        process_group.join(backend, 1800, rank=info.rank, world_size=info.world_size)
    return info


def cuda_device_for(info: DistInfo, requested: str) -> str:
    """Under torchrun each process takes the GPU of its local rank."""
    if info.world_size > 1 and requested in ("cuda", "auto") and torch.cuda.is_available():
        return f"cuda:{info.local_rank}"
    return requested


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def average_gradients(module: nn.Module) -> None:
    """Mean of every trainable parameter's gradient over processes (missing grads count as 0).

    Every rank must call this for the same modules in the same order (the trainers do, since all
    ranks run the same schedule).
    """
    if not active():
        return
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset : offset + n].view_as(p).clone()
        offset += n


def mean_over_processes(value: torch.Tensor) -> torch.Tensor:
    """Average a tensor over processes (running statistics such as the path-length mean)."""
    if not active():
        return value
    value = value.detach().clone()
    dist.all_reduce(value)
    return value / dist.get_world_size()


def all_gather_cat(value: torch.Tensor) -> torch.Tensor:
    """Every process's ``value`` concatenated along dim 0 in rank order, on every process (pools of
    recent samples that must be identical everywhere). Shapes must match across processes."""
    if not active():
        return value
    parts = [torch.empty_like(value) for _ in range(world_size())]
    dist.all_gather(parts, value.detach().contiguous())
    return torch.cat(parts)


def broadcast_module(module: nn.Module) -> None:
    """Copy rank 0's parameters and buffers to every rank (identical start)."""
    if not active():
        return
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor.data, src=0)


def gather_to_main(value: Any) -> list[Any] | None:
    """Every rank's ``value`` (picklable), in rank order, on rank 0; None on the others.

    A collective: every rank must call it. In one process: ``[value]``.
    """
    if not active():
        return [value]
    gathered: list[Any] | None = [None] * world_size() if rank() == 0 else None
    dist.gather_object(value, gathered, dst=0)
    return gathered


def barrier() -> None:
    if active():
        dist.barrier()


def rank_seed(seed: int, salt: str = "data") -> int:
    """A per-rank seed, so processes draw different crops and latents."""
    return (seed * 1_000_003 + rank() * 7919 + sum(map(ord, salt))) % (2**63)
