"""How much memory and disk one request may claim, checked before anything of that size exists.

Files and arguments declare sizes (a checkpoint's ``w_dim``, an image header's width, an export's
rectangle). A few bytes of input must never turn into gigabytes of allocation, so every such size
is compared with a budget *first*, and an over-budget request is one line naming the file, what
it asks for and the limit. The budget is derived from the machine: half of its physical memory
(the other half is the interpreter, torch, Qt and whatever else runs), never more than what is
available right now plus a little slack. ``$EVERSCAPE_MEMORY_BUDGET`` (bytes, or with a K/M/G/T
suffix) overrides it, for machines that share memory or tests that want a small bound.

    from engine.budget import memory_budget, check_memory, check_disk
    check_memory(need_bytes, "checkpoint x.safetensors (w_dim 20000)")   # raises InvalidInput
    check_disk(path, need_bytes, "export out.tif")                       # raises OutputError
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from engine.errors import EverscapeError, InvalidInput, OutputError

ENV_VAR = "EVERSCAPE_MEMORY_BUDGET"
#: Share of physical memory one request may claim.
PHYSICAL_SHARE = 0.5
#: Never below this, however small the machine (the program itself needs about this much).
FLOOR = 256 * 2**20
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def parse_bytes(text: str) -> int:
    """``"1.5G"`` -> bytes; plain integers are bytes. A malformed value is a one-line error."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", text.lower())
    if not found:
        raise InvalidInput(f"{ENV_VAR}={text!r} is not a size (e.g. 4G, 512M or a number of bytes)")
    return int(float(found.group(1)) * _UNITS[found.group(2)])


def memory_budget() -> int:
    """Bytes one request (a model, an image, an export's working set) may allocate."""
    override = os.environ.get(ENV_VAR)
    if override:
        return parse_bytes(override)
    try:
        import psutil

        memory = psutil.virtual_memory()
        return max(FLOOR, min(int(memory.total * PHYSICAL_SHARE), int(memory.available * 0.9)))
    except (ImportError, OSError):  # no psutil or no /proc: assume a small machine
        return 2 * 2**30


def human_bytes(count: float) -> str:
    """``3.2 GiB``: sizes in refusals are read by people."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(count) < 1024 or unit == "PiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} PiB"  # pragma: no cover - the loop returns


def check_memory(
    need: int, what: str, budget: int | None = None, error: type[EverscapeError] = InvalidInput
) -> None:
    """Refuse ``what`` (a phrase naming the file and the size it declares) if it needs over the budget;
    ``error`` is the kind of refusal (:class:`CheckpointError` for a checkpoint, ...)."""
    limit = memory_budget() if budget is None else budget
    if need > limit:
        raise error(
            f"{what} needs {human_bytes(need)} of memory, over the budget of {human_bytes(limit)} "
            f"(set {ENV_VAR} to change it)"
        )


def free_disk(path: str | Path) -> int:
    """Free bytes on the file system that holds ``path`` (its nearest existing folder)."""
    folder = Path(path).resolve()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if folder.is_file():
        folder = folder.parent
    return shutil.disk_usage(folder).free


def check_disk(path: str | Path, need: int, what: str) -> None:
    """Refuse to write ``need`` bytes (at least) to ``path`` when its disk has less free space."""
    try:
        free = free_disk(path)
    except OSError:
        return  # the write itself reports an unusable folder
    if need > free:
        raise OutputError(f"{what} needs at least {human_bytes(need)} of disk, {path} has {human_bytes(free)} free")


def return_memory() -> bool:
    """Give freed memory back to the operating system; True if the C heap was trimmed.

    Freed tensors go back to the C allocator, not to the system: glibc keeps large freed blocks in
    its heaps (one per thread that allocated), so a process that once rendered a big region keeps its
    peak resident size for good. After long work (an export, an inversion, a deep zoom) this runs
    the garbage collector, empties torch's CUDA cache, and asks glibc to release free pages
    (``malloc_trim``); other C libraries have no such call and keep their pages.
    """
    import gc

    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return trim_heap()


def trim_heap() -> bool:
    """Only the C heap part of :func:`return_memory` (``malloc_trim``): no garbage collection, so it
    may run on any thread while others work (ctypes releases the GIL for the call)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows)
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return bool(trim(0))
