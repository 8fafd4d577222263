"""The Jobs dock lists jobs, cancels and retries them; the status bar counts them; quitting asks."""

from __future__ import annotations

import asyncio

from app.jobs import JobState
from engine.errors import InvalidInput


async def forever(job):
    job.progress(0.5, "halfway")
    await asyncio.sleep(3600)


def test_dock_lists_cancels_and_retries(qtbot, open_window):
    window = open_window()
    dock, panel = window.jobs_dock, window.jobs_dock.panel
    assert dock.count_label.text() == ""
    job = window.jobs.start("long", forever)
    qtbot.waitUntil(lambda: job.fraction == 0.5, timeout=5000)
    assert panel.tree.topLevelItemCount() == 1 and panel.selected() is job
    row = panel.rows[job]
    assert row.text(0) == "long" and row.text(1) == "running" and row.text(3).startswith("halfway")
    assert panel.bars[job].value() == 500 and dock.count_label.text() == "1 job running"
    assert panel.cancel_button.isEnabled() and not panel.retry_button.isEnabled()
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: not job.running, timeout=5000)
    assert job.state is JobState.CANCELLED and row.text(1) == "cancelled" and dock.count_label.text() == ""
    assert panel.retry_button.isEnabled() and not panel.show_button.isEnabled()
    panel.retry_button.click()
    again = window.jobs.jobs[-1]
    assert again is not job and again.running and panel.tree.topLevelItemCount() == 2
    assert panel.selected() is again
    again.cancel()
    qtbot.waitUntil(lambda: not again.running, timeout=5000)


def test_failed_job_shows_its_one_line_error_and_done_job_its_result(qtbot, open_window):
    window = open_window()
    panel = window.jobs_dock.panel

    async def bad(job):
        raise InvalidInput("no such map\nsecond line")

    shown = []

    async def good(job):
        job.add_point("loss", 1, 0.5)
        return "out.tif"

    failed = window.jobs.start("bad", bad)
    done = window.jobs.start("good", good, show_result=shown.append)
    qtbot.waitUntil(lambda: not failed.running and not done.running, timeout=5000)
    assert panel.rows[failed].text(3) == "no such map"
    panel.select(done)
    assert panel.show_button.isEnabled() and panel.plot.series == {"loss": [(1.0, 0.5)]}
    panel.show_button.click()
    assert shown == ["out.tif"]


def test_quitting_with_running_jobs_asks_first(qtbot, open_window):
    window = open_window()
    asked = []
    window.jobs_dock.ask = lambda parent, count: asked.append(count) or False
    job = window.jobs.start("long", forever)
    window.close()
    assert asked == [1] and window.isVisible() and job.running  # "no": nothing stops
    window.jobs_dock.ask = lambda parent, count: asked.append(count) or True
    window.close()
    assert asked == [1, 1] and not window.isVisible() and job.state is JobState.CANCELLED
