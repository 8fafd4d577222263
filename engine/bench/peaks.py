"""Peak dense bf16 tensor throughput by GPU model, for "fraction of peak" figures.

Values are vendor datasheet figures in TFLOP/s for dense bf16 matrix maths with fp32
accumulation (no structured sparsity), counting a multiply-add as 2 FLOPs, which is also how
``torch.utils.flop_counter`` counts. A GPU not listed (or one without bf16 tensor cores) gives
``None``; ``--peak-tflops`` or ``$EVERSCAPE_PEAK_TFLOPS`` override the table.
"""

from __future__ import annotations

import os

from engine.errors import InvalidInput

#: substring of ``torch.cuda.get_device_name()`` -> dense bf16 TFLOP/s; longest match wins.
PEAK_BF16_TFLOPS: dict[str, float] = {
    "H100 PCIe": 756.0,
    "H100 NVL": 835.0,
    "H100": 989.4,  # SXM
    "H200": 989.4,
    "GH200": 989.4,
    "B200": 2250.0,
    "A100": 312.0,
    "A30": 165.0,
    "A10": 125.0,
    "L40S": 362.0,
    "L40": 181.0,
    "L4": 121.0,
    "RTX 4090": 165.2,
    "RTX 3090": 71.0,
}

ENV = "EVERSCAPE_PEAK_TFLOPS"


def peak_bf16_tflops(device_name: str, override: float | None = None) -> float | None:
    """The bf16 peak of ``device_name``: ``override``, else ``$EVERSCAPE_PEAK_TFLOPS``, else the table."""
    if override is not None:
        return _positive(override, "--peak-tflops")
    if os.environ.get(ENV):
        try:
            return _positive(float(os.environ[ENV]), ENV)
        except ValueError:
            raise InvalidInput(f"{ENV} must be a number of TFLOP/s, got {os.environ[ENV]!r}") from None
    matches = [key for key in PEAK_BF16_TFLOPS if key.lower() in device_name.lower()]
    return PEAK_BF16_TFLOPS[max(matches, key=len)] if matches else None


def _positive(value: float, name: str) -> float:
    if not value > 0:
        raise InvalidInput(f"{name} must be > 0 TFLOP/s, got {value}")
    return float(value)


def peak_fraction(flops_per_px: float, px_per_s: float, peak_tflops: float | None) -> float | None:
    """Achieved FLOP/s (FLOPs per pixel x pixels per second) as a fraction of the peak."""
    if peak_tflops is None or flops_per_px <= 0:
        return None
    return flops_per_px * px_per_s / (peak_tflops * 1e12)
