"""Pixel reductions used by exports: box down-sampling and the 2x2 pyramid step.

Both round half up in integer arithmetic, so a reduction computed tile by tile equals the one
computed on the whole image bit for bit (tiles start on even output coordinates, and the only
partial 2x2 groups are on the image's right and bottom edges, where both see the same pixels).
"""

from __future__ import annotations

import numpy as np


def box_reduce(image: np.ndarray, factor: int) -> np.ndarray:
    """``(h*f, w*f, 3)`` uint8 -> ``(h, w, 3)``: the rounded mean of each ``f x f`` box."""
    if factor == 1:
        return image
    h, w = image.shape[0] // factor, image.shape[1] // factor
    boxes = image.reshape(h, factor, w, factor, image.shape[2]).astype(np.uint32)
    area = factor * factor
    return ((boxes.sum(axis=(1, 3)) + area // 2) // area).astype(np.uint8)


def reduce2(image: np.ndarray) -> np.ndarray:
    """One pyramid step: ``(h, w, 3)`` -> ``(ceil(h/2), ceil(w/2), 3)``, edges replicated when odd."""
    h, w = image.shape[:2]
    if h % 2 or w % 2:
        image = np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    quads = image.astype(np.uint16)
    total = quads[0::2, 0::2] + quads[1::2, 0::2] + quads[0::2, 1::2] + quads[1::2, 1::2]
    return ((total + 2) >> 2).astype(np.uint8)


def pyramid_shapes(height: int, width: int, levels: int) -> list[tuple[int, int]]:
    """Sizes of ``levels`` successive :func:`reduce2` steps below ``(height, width)``."""
    shapes = []
    for _ in range(levels):
        height, width = (height + 1) // 2, (width + 1) // 2
        shapes.append((height, width))
    return shapes


def auto_levels(height: int, width: int, tile: int) -> int:
    """Enough reduced levels that the smallest fits in one tile (what viewers want for an overview)."""
    levels = 0
    while max(height, width) > tile:
        height, width = (height + 1) // 2, (width + 1) // 2
        levels += 1
    return levels
