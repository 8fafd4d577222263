"""A streaming PNG writer: rows in, a valid PNG out, one strip in memory at a time.

Pillow (and most libraries) need the whole image in memory to save a PNG, which rules out a
100 000 x 100 000 mosaic (30 GB). The format itself streams: a header, the filtered rows
deflated as one zlib stream cut into IDAT chunks, an end chunk. This writer filters each strip
of rows with numpy (the ``up``, ``sub`` and ``paeth`` filters only look at the previous row, which
it keeps across strips), deflates with :func:`zlib.compressobj`, and emits IDAT chunks of
``chunk_bytes``. 8-bit RGB, non-interlaced (interlacing needs the whole image).
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
FILTERS = {"none": 0, "sub": 1, "up": 2, "paeth": 4}


def chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC of type + data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def filter_rows(rows: np.ndarray, previous: np.ndarray, method: int) -> np.ndarray:
    """Filter ``(n, w, 3)`` uint8 rows (``previous``: the row above the first); ``(n, 1 + 3w)`` bytes out."""
    n, w, _ = rows.shape
    raw = rows.reshape(n, w * 3)
    out = np.empty((n, 1 + w * 3), dtype=np.uint8)
    out[:, 0] = method
    if method == 0:
        out[:, 1:] = raw
        return out
    up = np.concatenate([previous.reshape(1, w * 3), raw[:-1]])  # the pixel above, raw
    left = np.zeros_like(raw)
    left[:, 3:] = raw[:, :-3]
    if method == 1:
        out[:, 1:] = raw - left
    elif method == 2:
        out[:, 1:] = raw - up
    else:
        upleft = np.zeros_like(raw)
        upleft[:, 3:] = up[:, :-3]
        a, b, c = left.astype(np.int16), up.astype(np.int16), upleft.astype(np.int16)
        p = a + b - c
        pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
        predictor = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c)).astype(np.uint8)
        out[:, 1:] = raw - predictor
    return out


class PngStreamWriter:
    """Write an ``width x height`` RGB PNG to ``stream`` from strips of rows, top to bottom.

    >>> writer = PngStreamWriter(f, width, height, text={"everscape": "..."})
    >>> for strip in strips: writer.write_rows(strip)   # (n, width, 3) uint8
    >>> writer.close()                                   # checks every row arrived
    """

    ROWS_PER_FILTER = 32  # bounds the int16 temporaries of the paeth filter

    def __init__(
        self,
        stream: BinaryIO,
        width: int,
        height: int,
        *,
        level: int = 6,
        filter: str = "up",
        text: dict[str, str] | None = None,
        chunk_bytes: int = 1 << 20,
    ) -> None:
        if not (0 < width < 2**31 and 0 < height < 2**31):
            raise ValueError(f"PNG sides must be in 1..2^31-1, got {width}x{height}")
        self.stream = stream
        self.width, self.height = width, height
        self.method = FILTERS[filter]
        self.rows_written = 0
        self.chunk_bytes = chunk_bytes
        self._deflate = zlib.compressobj(level, zlib.DEFLATED, 15, 9)
        self._pending = bytearray()  # deflated bytes not yet written as an IDAT chunk
        self._previous = np.zeros((width, 3), dtype=np.uint8)
        stream.write(SIGNATURE)
        stream.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        for key, value in (text or {}).items():
            stream.write(chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1")))

    def write_rows(self, rows: np.ndarray) -> None:
        if rows.dtype != np.uint8 or rows.ndim != 3 or rows.shape[1:] != (self.width, 3):
            raise ValueError(f"expected (n, {self.width}, 3) uint8 rows, got {rows.shape} {rows.dtype}")
        if self.rows_written + rows.shape[0] > self.height:
            raise ValueError("more rows than the image height")
        for start in range(0, rows.shape[0], self.ROWS_PER_FILTER):
            part = rows[start : start + self.ROWS_PER_FILTER]
            self._emit(self._deflate.compress(filter_rows(part, self._previous, self.method).tobytes()))
            self._previous = part[-1].copy()
        self.rows_written += rows.shape[0]

    def _emit(self, data: bytes, flush: bool = False) -> None:
        """Write IDAT chunks of exactly ``chunk_bytes`` (the last may be shorter).

        Cutting at fixed offsets of the deflate stream, not wherever the compressor returned
        data, makes the file a function of the pixels alone: the same image written in strips of
        any height is byte-identical.
        """
        self._pending += data
        while len(self._pending) >= self.chunk_bytes:
            self.stream.write(chunk(b"IDAT", bytes(self._pending[: self.chunk_bytes])))
            del self._pending[: self.chunk_bytes]
        if flush and self._pending:
            self.stream.write(chunk(b"IDAT", bytes(self._pending)))
            self._pending.clear()

    def close(self) -> None:
        """Finish the zlib stream and write IEND; fails if rows are missing."""
        if self.rows_written != self.height:
            raise ValueError(f"PNG got {self.rows_written} of {self.height} rows")
        self._emit(self._deflate.flush(), flush=True)
        self.stream.write(chunk(b"IEND", b""))
