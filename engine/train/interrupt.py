"""Ctrl-C during training: the first asks for a graceful stop, the second stops at once."""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import Any


class StopOnInterrupt:
    """First Ctrl-C (SIGINT): stop after the current step (with a snapshot). Second: stop now.

    SIGTERM only ever asks for the graceful stop. That is what ``torchrun`` needs: on Ctrl-C its
    agent sends every worker SIGTERM (and SIGKILL 30 s later), so a worker that took SIGTERM as
    "stop now", or as the second Ctrl-C, died without its snapshot and lost the steps since the last.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.flag = False
        self.previous: dict[int, Any] = {}

    def requested(self) -> bool:
        return self.flag

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.flag and signum == signal.SIGINT:
            raise KeyboardInterrupt
        if not self.flag:
            print("everscape: stopping after this step (Ctrl-C again to stop now)", file=sys.stderr, flush=True)
        self.flag = True

    def __enter__(self) -> StopOnInterrupt:
        try:
            self.previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        except ValueError:  # not the main thread (e.g. called from an app worker): no handler
            self.previous = {}
        return self

    def __exit__(self, *exc: object) -> None:
        for s, previous in self.previous.items():
            signal.signal(s, previous)
