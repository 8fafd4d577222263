"""The job system: coroutines on the qasync loop, with progress, cancel, errors and retry."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from app.jobs import JobManager, JobState, one_line
from engine.errors import InvalidInput
from engine.render import Cancelled


@pytest.fixture
def manager(qtbot):
    jobs = JobManager()
    yield jobs
    assert jobs.cancel_all(timeout=10)


def test_progress_eta_result_and_curves_come_from_a_thread(manager, qtbot):
    gui = threading.get_ident()
    seen: list[int] = []

    def heavy(job):
        report, point = job.threadsafe(job.progress), job.threadsafe(job.add_point)
        for step in range(1, 5):
            time.sleep(0.01)
            report(step / 4, f"step {step}")
            point("loss", step, 1 / step)
        return threading.get_ident()

    async def run(job):
        seen.append(threading.get_ident())
        return await job.in_thread(heavy, job)

    counts: list[int] = []
    manager.sig_running_changed.connect(counts.append)
    shown: list[int] = []
    job = manager.start("count", run, show_result=shown.append)
    assert job.running and counts == [1]
    with qtbot.waitSignal(job.sig_finished, timeout=10000):
        pass
    assert job.state is JobState.DONE and job.fraction == 1.0 and job.status.startswith("done in ")
    assert seen == [gui] and job.result != gui  # the coroutine on the GUI thread, the work beside it
    assert job.curves["loss"] == [(1.0, 1.0), (2.0, 0.5), (3.0, 1 / 3), (4.0, 0.25)]
    assert counts[-1] == 0 and manager.running_count() == 0
    assert job.show_result() and shown == [job.result]


def test_eta_follows_the_fraction(manager, qtbot):
    gate = asyncio.Event()

    async def run(job):
        job.progress(0.25, "a quarter")
        await gate.wait()

    job = manager.start("wait", run)
    qtbot.waitUntil(lambda: job.fraction == 0.25, timeout=5000)
    job.started -= 30  # 30 s for a quarter: 90 s to go
    assert job.eta == pytest.approx(90, abs=1)
    gate.set()
    qtbot.waitUntil(lambda: not job.running, timeout=5000)
    assert job.eta is None


def test_cancel_stops_the_thread_work_and_ends_cancelled(manager, qtbot):
    started, stopped = threading.Event(), threading.Event()

    def heavy(job):
        started.set()
        while not job.cancelled():
            time.sleep(0.005)
        stopped.set()
        raise Cancelled("stopped")

    job = manager.start("forever", lambda job: job.in_thread(heavy, job))
    qtbot.waitUntil(started.is_set, timeout=5000)
    with qtbot.waitSignal(job.sig_finished, timeout=10000):
        job.cancel()
    assert stopped.is_set()  # the job ended only after its thread saw the flag
    assert job.state is JobState.CANCELLED and job.status == "cancelled" and not job.show_result()


def test_cancel_before_the_first_step(manager, qtbot):
    ran: list[bool] = []

    async def run(job):
        ran.append(True)

    job = manager.start("never", run)
    job.cancel()
    qtbot.waitUntil(lambda: not job.running, timeout=5000)
    assert job.state is JobState.CANCELLED and ran == []


def test_errors_are_one_line_and_retry_runs_again(manager, qtbot):
    attempts: list[int] = []

    async def run(job):
        attempts.append(1)
        if len(attempts) == 1:
            raise InvalidInput("the image is 0 pixels wide\n(details)")
        return "ok"

    job = manager.start("flaky", run)
    qtbot.waitUntil(lambda: not job.running, timeout=5000)
    assert job.state is JobState.FAILED and job.error == "the image is 0 pixels wide"
    assert manager.retry(manager.jobs[0]) is not None
    again = manager.jobs[-1]
    qtbot.waitUntil(lambda: not again.running, timeout=5000)
    assert again.state is JobState.DONE and again.result == "ok" and len(manager.jobs) == 2
    assert manager.retry(again) is None  # a success is not retried
    message = one_line(ZeroDivisionError("division by zero\nmore"))
    assert message == "internal error: ZeroDivisionError: division by zero"
