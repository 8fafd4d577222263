"""Joining a ``torchrun`` process group with a bounded wait, for training and distributed export.

``init_process_group`` waits for every rank at rendezvous and every collective with a timeout;
left unbounded, a rank whose peers died (a launcher killed with SIGKILL cannot stop its workers)
sleeps forever holding memory. The timeout can be tightened with ``EVERSCAPE_DIST_TIMEOUT_S``
(tests use this) or widened for very slow collectives.
"""

from __future__ import annotations

import datetime
import os

import torch.distributed as dist

from engine.errors import InvalidInput


def timeout_seconds(default_s: float) -> float:
    text = os.environ.get("EVERSCAPE_DIST_TIMEOUT_S")
    if not text:
        return default_s
    try:
        value = float(text)
    except ValueError:
        raise InvalidInput(f"EVERSCAPE_DIST_TIMEOUT_S must be a number of seconds, got {text!r}") from None
    if value <= 0:
        raise InvalidInput("EVERSCAPE_DIST_TIMEOUT_S must be positive")
    return value


def join(backend: str, default_timeout_s: float, **kwargs: object) -> None:
    """Join the group described by torchrun's environment, unless this process already has."""
    if not dist.is_initialized():
        timeout = datetime.timedelta(seconds=timeout_seconds(default_timeout_s))
        dist.init_process_group(backend, timeout=timeout, **kwargs)
