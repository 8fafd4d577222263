"""What the status bar says about the device the model runs on."""

from __future__ import annotations


def device_memory(device: str) -> str:
    """Memory in use on ``device`` (GPU allocator) or by this process (CPU), as text."""
    import torch

    if device.startswith("cuda"):
        index = torch.device(device).index or 0
        used = torch.cuda.memory_allocated(index)
        total = torch.cuda.get_device_properties(index).total_memory
        return f"{used / 2**30:.1f}/{total / 2**30:.0f} GiB"
    if device.startswith("mps"):
        return f"{torch.mps.current_allocated_memory() / 2**30:.1f} GiB"
    import psutil

    return f"RAM {psutil.Process().memory_info().rss / 2**20:.0f} MiB"
