"""Benchmark and model shipping as jobs: real ``engine.cli`` child processes, their progress, result,
one-line error and cancel, and the Diagnostics menu that starts them."""

from __future__ import annotations

import json

from app.cli_job_actions import start_ship
from app.cli_jobs import benchmark_arguments, cli_coroutine, progress_of
from app.jobs import JobManager, JobState


def test_bench_lines_are_progress_and_other_lines_are_status():
    assert progress_of("[2/5] render") == (0.4, "render")
    assert progress_of("[0/0] nothing") == (None, "nothing")
    assert progress_of("  measuring SWD on 64 crops ") == (None, "measuring SWD on 64 crops")


def test_benchmark_job_writes_its_report_and_returns_the_tables(qtbot, tmp_path):
    jobs = JobManager()
    report = tmp_path / "bench.json"
    run = cli_coroutine([*benchmark_arguments(True, "cpu", report), "--only", "no-such-benchmark"], output=report)
    job = jobs.start("Quick benchmark", run)
    qtbot.waitUntil(lambda: not job.running, timeout=120_000)
    assert job.state is JobState.DONE, job.error
    assert job.result.output == report and json.loads(report.read_text())["results"] == []
    assert "Device:" in job.result.stdout and job.log[0].startswith("everscape bench --quick")


def test_cancelling_a_benchmark_interrupts_the_child_and_leaves_no_report(qtbot, tmp_path):
    jobs = JobManager()
    report = tmp_path / "bench.json"
    run = cli_coroutine([*benchmark_arguments(True, "cpu", report), "--only", "infgan.theorem1"], output=report)
    job = jobs.start("Quick benchmark", run)
    qtbot.waitUntil(lambda: job.status == "infgan.theorem1", timeout=120_000)  # its "[0/1]" line came
    assert job.fraction == 0.0 and job.running
    job.cancel()
    qtbot.waitUntil(lambda: not job.running, timeout=60_000)
    assert job.state is JobState.CANCELLED and not report.exists()


def test_shipping_from_the_window_fails_in_one_line_and_lists_in_the_jobs_dock(qtbot, window, tmp_path, monkeypatch):
    monkeypatch.setenv("EVERSCAPE_DATA_DIR", str(tmp_path / "data"))
    win = window()
    job = start_ship(win, tmp_path / "no-such-run", "hills")
    assert win.jobs_dock.panel.tree.topLevelItemCount() == 1 and win.jobs_dock.count_label.text() == "1 job running"
    qtbot.waitUntil(lambda: not job.running, timeout=120_000)
    assert job.state is JobState.FAILED and "\n" not in job.error and "no-such-run" in job.error
    assert not job.error.startswith("everscape: error") and not job.show_result()
    assert not (tmp_path / "data" / "checkpoints" / "hills.safetensors").exists()


def test_the_diagnostics_menu_starts_a_benchmark_the_jobs_dock_cancels(qtbot, window, tmp_path, monkeypatch):
    monkeypatch.setenv("EVERSCAPE_DATA_DIR", str(tmp_path / "data"))
    win = window()
    assert win.ship_action in win.diagnostics_menu.actions()
    win.quick_bench_action.trigger()
    (job,) = win.jobs.jobs
    assert job.title == "Quick benchmark" and job.running
    panel = win.jobs_dock.panel
    panel.select(job)
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: not job.running, timeout=60_000)
    assert job.state is JobState.CANCELLED and win.jobs_dock.count_label.text() == ""
    assert list((tmp_path / "data" / "benchmarks").iterdir()) == []  # no report from a cancelled run
