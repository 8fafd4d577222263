"""Infinite Gaussian latent fields: the one source of randomness for every model.

A field value at lattice cell ``(i, j)`` is a pure function of ``(seed, field name, channels, i, j)``.
The lattice is cut into ``CHUNK x CHUNK`` chunks; each chunk is drawn with its own CPU
``torch.Generator`` seeded by a hash of its address, so any rectangle read in any order, in any
batch, on any device yields the same numbers (the ∞-GAN paper's marginalisation consistency and
permutation invariance, made true by construction rather than by care). Values are always drawn
on the CPU and moved afterwards: CUDA generators differ from CPU ones.

Edits (resampled regions, inverted latents) are :class:`FieldPatch` overrides pasted on top, in
order, by :class:`LatentSource`, which is what a model sees while it renders.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from engine.errors import InvalidInput
from engine.geometry import Rect, ceil_div, floor_div

#: Side of a chunk in cells. Part of the file format of every world: changing it changes all worlds.
CHUNK = 64


def address_seed(*parts: object) -> int:
    """A 63-bit generator seed from an address; exact for ints of any size (no float, no overflow)."""
    text = "|".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") & (2**63 - 1)


def gaussian(shape: Sequence[int], *address: object) -> torch.Tensor:
    """Standard normal float32 values drawn on the CPU from a generator keyed by ``address``."""
    generator = torch.Generator(device="cpu").manual_seed(address_seed(*address))
    return torch.randn(tuple(shape), generator=generator, dtype=torch.float32)


@dataclass(frozen=True)
class FieldPatch:
    """Values that replace a field's cells inside ``cells`` (an edit: inversion, resampling)."""

    field: str
    cells: Rect
    values: torch.Tensor  # (C, cells.h, cells.w) float32, CPU

    def __post_init__(self) -> None:
        if self.values.ndim != 3 or tuple(self.values.shape[1:]) != (self.cells.h, self.cells.w):
            raise InvalidInput(
                f"patch for {self.field!r} has shape {tuple(self.values.shape)}, "
                f"expected (C, {self.cells.h}, {self.cells.w})"
            )


class FieldStore:
    """Draws and caches field chunks; thread-safe, bounded in bytes, shared by all renderers."""

    def __init__(self, max_bytes: int = 256 * 2**20) -> None:
        self.max_bytes = max_bytes
        self._chunks: OrderedDict[tuple, torch.Tensor] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        """Bytes of the chunks held now."""
        return self._bytes

    def set_max_bytes(self, max_bytes: int) -> None:
        """A new bound (the app's memory budget gives the store its share); evicts down to it now."""
        with self._lock:
            self.max_bytes = int(max_bytes)
            self._evict()

    def clear(self) -> None:
        """Drop every chunk (they are redrawn on demand, identically)."""
        with self._lock:
            self._chunks.clear()
            self._bytes = 0

    def _evict(self) -> None:
        while self._bytes > self.max_bytes and len(self._chunks) > 1:
            _, old = self._chunks.popitem(last=False)
            self._bytes -= old.numel() * old.element_size()

    def chunk(self, seed: int, name: str, channels: int, ci: int, cj: int) -> torch.Tensor:
        """Chunk ``(ci, cj)``: a ``(channels, CHUNK, CHUNK)`` tensor, rows = j, columns = i."""
        key = (seed, name, channels, ci, cj)
        with self._lock:
            hit = self._chunks.get(key)
            if hit is not None:
                self._chunks.move_to_end(key)
                return hit
        values = gaussian((channels, CHUNK, CHUNK), "field", seed, name, channels, ci, cj)
        with self._lock:
            if key not in self._chunks:
                self._chunks[key] = values
                self._bytes += values.numel() * values.element_size()
                self._evict()
        return values

    def read(self, seed: int, name: str, channels: int, cells: Rect) -> torch.Tensor:
        """Field values of ``cells`` as ``(channels, h, w)``: gathered from whole chunks."""
        out = torch.empty((channels, cells.h, cells.w), dtype=torch.float32)
        ci0, ci1 = floor_div(cells.x, CHUNK), ceil_div(cells.right, CHUNK)
        cj0, cj1 = floor_div(cells.y, CHUNK), ceil_div(cells.bottom, CHUNK)
        for cj in range(cj0, cj1):
            for ci in range(ci0, ci1):
                chunk_rect = Rect(ci * CHUNK, cj * CHUNK, CHUNK, CHUNK)
                part = chunk_rect.intersection(cells)
                if part is None:
                    continue
                values = self.chunk(seed, name, channels, ci, cj)
                sx, sy = part.x - chunk_rect.x, part.y - chunk_rect.y
                dx, dy = part.x - cells.x, part.y - cells.y
                out[:, dy : dy + part.h, dx : dx + part.w] = values[:, sy : sy + part.h, sx : sx + part.w]
        return out


#: The process-wide store; renderers share it so panning back reuses chunks.
DEFAULT_STORE = FieldStore()


class LatentSource:
    """What a model reads latents from while rendering one world: fields plus that world's edits.

    It is the only way randomness reaches a model at inference; it is deterministic, so a model
    that reads through it stays a pure function of the world.
    """

    def __init__(
        self,
        seed: int,
        overrides: Sequence[FieldPatch] = (),
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        store: FieldStore | None = None,
    ) -> None:
        self.seed = seed
        self.overrides = tuple(overrides)
        self.device = torch.device(device)
        self.dtype = dtype
        self.store = store or DEFAULT_STORE
        self.reads: list[tuple[str, Rect]] | None = None  # set to a list to record reads (tests)

    def read_cpu(self, name: str, channels: int, cells: Rect) -> torch.Tensor:
        """One cell rectangle as a CPU ``(C, h, w)`` float32 tensor, overrides applied."""
        if self.reads is not None:
            self.reads.append((name, cells))
        values = self.store.read(self.seed, name, channels, cells)
        for patch in self.overrides:
            if patch.field != name:
                continue
            if patch.values.shape[0] != channels:
                raise InvalidInput(
                    f"override for {name!r} has {patch.values.shape[0]} channels, model reads {channels}"
                )
            part = patch.cells.intersection(cells)
            if part is None:
                continue
            sx, sy = part.x - patch.cells.x, part.y - patch.cells.y
            dx, dy = part.x - cells.x, part.y - cells.y
            values[:, dy : dy + part.h, dx : dx + part.w] = patch.values[:, sy : sy + part.h, sx : sx + part.w]
        return values

    def read(self, name: str, channels: int, cells: Sequence[Rect]) -> torch.Tensor:
        """Equal-sized cell rectangles, one per batch item, as ``(N, C, h, w)`` on the render device."""
        batch = torch.stack([self.read_cpu(name, channels, c) for c in cells])
        return batch.to(device=self.device, dtype=self.dtype)

    def vector(self, name: str, key: int, dim: int) -> torch.Tensor:
        """A global latent vector (e.g. a style centre's z) addressed by ``(name, key)``, on the device."""
        values = gaussian((dim,), "vector", name, key)
        return values.to(device=self.device, dtype=self.dtype)
