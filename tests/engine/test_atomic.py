"""Atomic writes: partials of dead writers are reclaimed, a live writer's never are."""

import os
import subprocess
import sys

from engine import atomic
from engine.atomic import remove_stale_partials, write_bytes_atomic


def test_stale_partials_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    stale = tmp_path / f".map.{finished.pid}.x1y2.part.png"
    live = tmp_path / f".map.{os.getpid()}.a7b8.part.png"
    other = tmp_path / f".mapping.{finished.pid}.q.part.png"  # another target's partial
    unrelated = tmp_path / ".map.notes"
    for path in (stale, live, other, unrelated):
        path.write_bytes(b"x" * 10)
    assert remove_stale_partials(tmp_path / "map.png") == [stale]
    assert live.exists() and other.exists() and unrelated.exists()
    write_bytes_atomic(tmp_path / "mapping.png", b"done")  # a write cleans up before it starts
    assert not other.exists() and (tmp_path / "mapping.png").read_bytes() == b"done"


def test_a_result_gets_the_umask_mode_or_keeps_the_replaced_files_mode(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "_UMASK", 0o027)  # the module reads the umask once, at import
    fresh = tmp_path / "fresh.json"
    write_bytes_atomic(fresh, b"{}")
    assert fresh.stat().st_mode & 0o777 == 0o640  # not mkstemp's 0600
    kept = tmp_path / "kept.json"
    kept.write_bytes(b"old")
    kept.chmod(0o604)
    write_bytes_atomic(kept, b"new")
    assert kept.read_bytes() == b"new" and kept.stat().st_mode & 0o777 == 0o604
