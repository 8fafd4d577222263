"""Atomic file writes: a result appears under its final name complete, or not at all.

Everything user-visible that Everscape writes (renders, exports, checkpoints, projects) goes
through :func:`atomic_path`: the writer fills a temporary file in the same folder, which is
fsynced and renamed over the target only when the writer finished without an exception. A crash,
a cancel or a full disk leaves the old file (if any) untouched and no half-written one.

A process killed outright (SIGKILL, power loss) cannot remove its temporary file, and a gigapixel
export's can be gigabytes. So temporary names carry the writer's process id
(``.NAME.PID.RANDOM.partSUFFIX``), and the next write to the same target removes the partials of
processes that no longer exist: the space comes back on the user's next try, and a partial that
another live process is still writing is never touched.

``mkstemp`` creates its file readable by its owner only (0600), the right default for a temporary
but not for a result: a rename would carry that mode onto an export or a project. So the result
gets the mode the file it replaces had, or for a new file what ``open`` would have given it
(0666 less the umask).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from engine.errors import OutputError

_UMASK = os.umask(0o022)  # read once at import (os.umask can only be read by setting it) ...
os.umask(_UMASK)  # ... and restored at once, before any writer thread exists


def describe_os_error(error: OSError, path: Path) -> str:
    """A one-line, user-facing reason for a failed write."""
    if error.errno == errno.ENOSPC:
        return f"cannot write {path}: the disk is full"
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write {path}: permission denied or read-only file system"
    if error.errno == errno.ENOENT:
        return f"cannot write {path}: folder {path.parent} does not exist"
    return f"cannot write {path}: {error.strerror or error}"


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but belongs to someone else (EPERM), or the check is unsupported
        return True
    return True


def remove_stale_partials(target: str | Path) -> list[Path]:
    """Delete temporary files of ``target`` left by writers that no longer run; return them.

    Best effort and silent: a folder that cannot be listed, or a partial that cannot be removed,
    is simply left for the write itself to report on.
    """
    target = Path(target)
    prefix = f".{target.stem}."
    removed = []
    try:
        candidates = [p for p in target.parent.iterdir() if p.name.startswith(prefix) and ".part" in p.name]
    except OSError:
        return removed
    for path in candidates:
        pid_text = path.name[len(prefix) :].split(".", 1)[0]
        if not pid_text.isdigit() or _process_alive(int(pid_text)):
            continue
        try:
            path.unlink()
            removed.append(path)
        except OSError:
            pass
    return removed


@contextlib.contextmanager
def atomic_path(target: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` if the block succeeds.

    The temporary name keeps ``target``'s suffix (writers pick formats by it) and starts with a
    dot so file browsers hide it. OS errors become :class:`OutputError` with a one-line reason.
    """
    target = Path(target)
    suffix = target.suffix if suffix is None else suffix
    remove_stale_partials(target)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.stem}.{os.getpid()}.", suffix=f".part{suffix}", dir=target.parent)
    except OSError as error:
        raise OutputError(describe_os_error(error, target)) from None
    os.close(fd)
    temp = Path(name)
    try:
        yield temp
        with open(temp, "rb+") as handle:
            os.fsync(handle.fileno())
        with contextlib.suppress(OSError):  # file systems without modes (FAT, some shares) refuse: keep going
            os.chmod(temp, _result_mode(target))
        os.replace(temp, target)
    except OSError as error:
        temp.unlink(missing_ok=True)
        if isinstance(error, OutputError):
            raise
        raise OutputError(describe_os_error(error, target)) from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _result_mode(target: Path) -> int:
    """The permission bits the finished file gets: those of the file it replaces, else 0666 & ~umask."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        return 0o666 & ~_UMASK


def write_bytes_atomic(target: str | Path, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as temp:
        temp.write_bytes(data)


@contextlib.contextmanager
def atomic_paths(*targets: str | Path) -> Iterator[list[Path]]:
    """:func:`atomic_path` for files that belong together (a snapshot's weights and its training
    state): the block fills one temporary per target; all are renamed only after every one was
    written and synced, so a full disk or an error leaves all the old files, never a mix."""
    with contextlib.ExitStack() as stack:
        temps = [stack.enter_context(_deferred(Path(target))) for target in targets]
        try:
            yield [temp for temp, _ in temps]
        except OutputError:
            raise
        except OSError as error:
            raise OutputError(describe_os_error(error, Path(targets[0]))) from None
        for temp, target in temps:
            try:
                with open(temp, "rb+") as handle:
                    os.fsync(handle.fileno())
            except OSError as error:
                raise OutputError(describe_os_error(error, target)) from None
        for temp, target in temps:
            with contextlib.suppress(OSError):
                os.chmod(temp, _result_mode(target))
            try:
                os.replace(temp, target)
            except OSError as error:
                raise OutputError(describe_os_error(error, target)) from None


@contextlib.contextmanager
def _deferred(target: Path) -> Iterator[tuple[Path, Path]]:
    """A temporary beside ``target`` that is removed on exit unless it was renamed onto it."""
    remove_stale_partials(target)
    try:
        fd, name = tempfile.mkstemp(
            prefix=f".{target.stem}.{os.getpid()}.", suffix=f".part{target.suffix}", dir=target.parent
        )
    except OSError as error:
        raise OutputError(describe_os_error(error, target)) from None
    os.close(fd)
    temp = Path(name)
    try:
        yield temp, target
    finally:
        temp.unlink(missing_ok=True)
