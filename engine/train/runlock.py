"""One training per run folder: a lock the operating system releases when its holder dies.

Two trainings into the same ``--out`` would overwrite each other's snapshots. A lock *file* that
merely exists would outlive a training killed with ``kill -9`` and lock the user out of their own
run; ``fcntl.flock`` on the file is held by the open descriptor, which the kernel closes when the
process dies however it dies, so a stale lock cannot exist. The holder's pid is written into the
file for the refusal's message. Where ``fcntl`` is missing (Windows) the folder is not locked.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from engine.errors import InvalidInput, OutputError

LOCK_NAME = ".everscape-train.lock"


@contextlib.contextmanager
def run_lock(out: str | Path) -> Iterator[None]:
    """Hold ``out``'s training lock for the block; another holder is a one-line refusal."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        handle = open(out / LOCK_NAME, "a+")  # noqa: SIM115 - held open for the whole block
    except OSError as error:
        raise OutputError(f"cannot use {out} as a run folder: {error.strerror or error}") from None
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            message = f"{out} is in use by another training (pid {holder}); wait for it or choose a new --out"
            raise InvalidInput(message) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()
