"""Hostile inputs made on the fly (nothing large is stored in git): checkpoints, cards, images."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import torch
from safetensors.torch import save_file

from engine.checkpoints import FORMAT, save_checkpoint
from engine.models.registry import build_random


def tiny_checkpoint(path: Path, family: str = "reference", **config_changes) -> Path:
    """A valid ``FAMILY:tiny`` checkpoint, optionally with its header's config changed."""
    model = build_random(family, "tiny")
    save_checkpoint(path, family, {**model.config_dict(), **config_changes}, model.state_dict(), {"steps": 1})
    return path


def checkpoint_with(path: Path, change) -> Path:
    """A ``reference:tiny`` checkpoint whose weights ``change(weights)`` edited in place."""
    model = build_random("reference", "tiny")
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    change(weights)
    save_checkpoint(path, "reference", model.config_dict(), weights)
    return path


def raw_safetensors(path: Path, header_json: str, tensors: dict[str, torch.Tensor] | None = None) -> Path:
    """A safetensors file whose ``everscape`` metadata is exactly ``header_json``."""
    save_file(tensors or {"x": torch.zeros(2)}, str(path), metadata={"everscape": header_json})
    return path


def padded_safetensors(path: Path, header_length_first_byte: int = 0x80) -> Path:
    """A valid checkpoint re-written so its header length starts with ``header_length_first_byte``
    (the first byte of a raw pickle is 0x80): detection must go by structure, not that byte."""
    tiny_checkpoint(path)
    data = path.read_bytes()
    length = int.from_bytes(data[:8], "little")
    header, body = data[8 : 8 + length], data[8 + length :]
    target = length + ((header_length_first_byte - length) % 256)
    padded = header + b" " * (target - length)  # safetensors allows trailing spaces in its header
    path.write_bytes(target.to_bytes(8, "little") + padded + body)
    return path


def png_declaring(path: Path, width: int, height: int, bit_depth: int = 8, colour: int = 2) -> Path:
    """A few-hundred-byte PNG whose header declares ``width x height`` (a decompression bomb's
    promise): one IDAT of a little deflated data, a valid IEND. Decoding it would allocate the size."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    idat = zlib.compress(b"\0" * 4096)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def card(name: str = "m", swd: float = 100.0, real: float = 50.0, **extra) -> dict:
    """A minimal valid model card."""
    scores = {"swd": swd, "inf_swd": swd, "scaleinv": {"1": swd}}
    return {
        "format": "everscape.model_card/1",
        "name": name,
        "metrics": {"trained": scores, "untrained": dict(scores), "real_vs_real": {"swd": real}},
        **extra,
    }


def flip_bytes(draw, raw: bytearray, most: int) -> bytes:
    """``raw`` with 1..``most`` bytes overwritten at places and values hypothesis draws (``data.draw``)."""
    from hypothesis import strategies as st

    for _ in range(draw(st.integers(1, most))):
        raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
    return bytes(raw)


def write_json(path: Path, value) -> Path:
    path.write_text(json.dumps(value))
    return path


__all__ = ["FORMAT"]
