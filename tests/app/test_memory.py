"""One memory budget: shared out to the tile cache and the latent store, applied live, memory handed back."""

from __future__ import annotations

import platform

import pytest

from app.memory import MIB, MemoryPlan
from app.preferences_dialog import PreferencesDialog
from app.settings import Settings
from engine.budget import return_memory
from engine.fields import DEFAULT_STORE


@pytest.fixture(autouse=True)
def restore_store():
    """The latent store is process-wide: later tests get its bound back."""
    bound = DEFAULT_STORE.max_bytes
    yield
    DEFAULT_STORE.set_max_bytes(bound)


def test_the_plan_shares_out_the_whole_budget():
    plan = MemoryPlan.of(1000)
    assert plan.tiles + plan.fields + plan.headroom == plan.total == 1000 * MIB
    assert plan.tiles == plan.total // 2 and plan.fields == plan.total // 4


def test_the_budget_bounds_tiles_and_latents_live_and_persists(qtbot, open_window):
    window = open_window()
    assert window.canvas.cache.budget == 512 * MIB and DEFAULT_STORE.max_bytes == 256 * MIB  # 1 GiB default
    for seed in range(40):  # fill the latent store with about 40 chunks
        DEFAULT_STORE.chunk(seed, "z", 16, 0, 0)
    held = DEFAULT_STORE.nbytes
    dialog = PreferencesDialog(window.prefs, window)
    qtbot.addWidget(dialog)
    dialog.memory.setValue(128)
    window.apply_preferences(dialog.preferences())
    assert window.canvas.cache.budget == 64 * MIB and window.canvas.cache.bytes <= 64 * MIB
    assert DEFAULT_STORE.max_bytes == 32 * MIB and DEFAULT_STORE.nbytes <= max(32 * MIB, held // 40)
    assert Settings().preferences().memory_mib == 128


def test_memory_is_handed_back_after_a_job_and_after_rendering(qtbot, open_window):
    from app.jobs import JobState

    window = open_window()
    qtbot.waitUntil(lambda: window.memory.returns >= 1, timeout=10000)  # the first view rendered, then idle
    before = window.memory.returns

    async def work(job):
        return 1

    job = window.jobs.start("work", work)
    qtbot.waitUntil(lambda: job.state is JobState.DONE, timeout=10000)
    assert window.memory.returns == before + 1


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_return_memory_gives_freed_heap_pages_back():
    import psutil

    process = psutil.Process()
    blocks = [bytearray(64 * 1024) for _ in range(800)]  # 50 MiB in heap-sized blocks (below mmap's threshold)
    pin = bytearray(64 * 1024)  # allocated last: the freed blocks lie below it, where free() never trims
    for block in blocks:
        block[::4096] = b"x" * len(block[::4096])  # touch every page
    del blocks
    freed = process.memory_info().rss
    assert return_memory() is True
    assert freed - process.memory_info().rss > 20 * MIB
    del pin


def test_a_batch_of_synthesised_tiles_holds_no_more_pixels_than_a_plain_batch():
    from app.tiles import LevelPlan, TileKey
    from app.worker import TileRequest, TileWorker

    worker = TileWorker(batch_tiles=4)  # never started: only its queue is used
    worker._plan = LevelPlan(1, 2)  # one native level, two synthesised by halving
    for level, expected in ((0, 4), (1, 1), (2, 1)):  # 4 plain tiles; 4x and 16x the pixels: one at a time
        worker._queue = {
            key: TileRequest(key, (i,)) for i, key in enumerate(TileKey(0, level, tx, 0) for tx in range(6))
        }
        assert len(worker._take_batch()) == expected


def test_while_tiles_keep_coming_the_heap_is_trimmed_on_a_timer(qtbot, open_window):
    window = open_window()
    trims = window.memory.trims
    window.canvas.centre_on(5000, 0)  # new tiles: rendering goes on
    qtbot.waitUntil(lambda: window.memory.trims > trims, timeout=15000)
    quiet = window.memory.trims
    qtbot.wait(2 * 3000 + 500)  # nothing rendered since: no more trims
    assert window.memory.trims <= quiet + 1
