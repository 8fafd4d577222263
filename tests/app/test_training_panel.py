"""The training panel runs real ``everscape train`` child processes (reference family, tiny config).

Every job is stopped, killed if needed, and waited for by the fixture: no process outlives a test.
"""

from __future__ import annotations

import numpy as np
import pytest

from app.jobs import JobManager, JobState
from app.panels.loss_plot import LossPlot
from app.panels.training import TrainingPanel
from engine.errors import InvalidInput
from engine.imageio import write_image
from engine.train.progress import JobSpec

#: A hang guard, not a speed goal: a child `everscape train` starts torch and trains a few steps, which
#: on two loaded cores (pytest -n 2 beside other work) takes far longer than on an idle machine.
SUBPROCESS_TIMEOUT_MS = 120_000

FAST = ("--batch", "2", "--log-every", "1")


@pytest.fixture
def panel(qtbot):
    opened: list[str] = []
    shipped: list[str] = []
    widget = TrainingPanel(open_model=opened.append, grace_ms=15000, jobs=JobManager(), ship_run=shipped.append)
    widget.opened, widget.shipped = opened, shipped
    qtbot.addWidget(widget)
    widget.resize(480, 800)
    widget.show()
    yield widget
    widget.shutdown(wait_ms=15000)
    assert not any(job.running for job in widget.jobs)


@pytest.fixture
def image(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "tiny.png"
    write_image(path, rng.integers(0, 256, (96, 96, 3), dtype=np.uint8))
    return str(path)


def _spec(tmp_path, image, steps, *extra):
    return JobSpec(
        out=str(tmp_path / "run"),
        family="reference",
        config="tiny",
        data=image,
        steps=steps,
        device="cpu",
        extra=FAST + extra,
    )


def test_short_job_plots_previews_and_finishes(panel, qtbot, tmp_path, image):
    job = panel.start(_spec(tmp_path, image, 3, "--sample-every", "2"))
    with qtbot.waitSignal(job.sig_finished, timeout=SUBPROCESS_TIMEOUT_MS):
        pass
    assert job.state.status == "finished", job.stderr_tail
    assert job.state.step == 3
    assert panel.plot.point_count() >= 6  # d_loss and g_loss at steps 1..3
    assert set(panel.plot.series) == {"d_loss", "g_loss"}
    assert set(panel.plot.curves) == {"d_loss", "g_loss"} and len(panel.plot.curves["g_loss"].getData()[0]) == 3
    assert sorted(job.step_times) == [1, 2, 3]  # every point is timed: the wall-time axis has them all
    assert panel.preview.pixmap() is not None and not panel.preview.pixmap().isNull()
    assert panel.job_list.item(0).text().startswith("[finished]")
    assert "step 3" in panel.status_label.text()
    assert not panel.stop_button.isEnabled() and panel.resume_button.isEnabled()
    panel.open_button.click()
    assert panel.opened == [str(tmp_path / "run" / "last.safetensors")]
    panel.ship_button.click()  # Ship…: the run's folder goes to the shipping job (asked for a name)
    assert panel.shipped == [str(tmp_path / "run")]
    (listed,) = panel.job_manager.jobs  # the same run as a job of the Jobs dock
    qtbot.waitUntil(lambda: not listed.running, timeout=5000)
    assert listed.state is JobState.DONE and listed.fraction == 1.0 and listed.result == str(tmp_path / "run")
    assert listed.show_result() and panel.opened[-1] == panel.opened[0]  # "show result" opens the run


def test_stop_is_graceful_and_writes_a_snapshot(panel, qtbot, tmp_path, image):
    job = panel.start(_spec(tmp_path, image, 100000, "--sample-every", "0", "--snapshot-every", "0"))
    qtbot.waitUntil(lambda: job.state.step >= 1, timeout=SUBPROCESS_TIMEOUT_MS)
    assert panel.stop_button.isEnabled()
    with qtbot.waitSignal(job.sig_finished, timeout=SUBPROCESS_TIMEOUT_MS):
        panel.stop_button.click()
    assert job.state.status == "stopped", job.stderr_tail
    assert job.state.stopped == "abort"  # the CLI's own stop, not the kill after the grace period
    assert (tmp_path / "run" / "last.safetensors").exists()
    assert job.state.last_snapshot.endswith("last.safetensors")


def test_bad_arguments_fail_with_one_line_reason(panel, qtbot, tmp_path):
    job = panel.start(JobSpec(out=str(tmp_path / "run"), family="reference", steps=3, device="cpu"))
    with qtbot.waitSignal(job.sig_finished, timeout=SUBPROCESS_TIMEOUT_MS):
        pass
    assert job.state.status == "failed"
    assert "--data" in job.state.reason and "\n" not in job.state.reason
    assert job.state.reason in panel.status_label.text()
    (listed,) = panel.job_manager.jobs
    qtbot.waitUntil(lambda: not listed.running, timeout=5000)
    assert listed.state is JobState.FAILED and listed.error == job.state.reason
    assert panel.job_list.item(0).text().startswith("[failed]")


def test_form_builds_the_spec(panel, tmp_path, monkeypatch):
    import app.panels.training as training

    monkeypatch.setattr(training.QFileDialog, "getOpenFileName", lambda *a: ("/maps/x.png", ""))
    monkeypatch.setattr(training.QFileDialog, "getExistingDirectory", lambda *a: "/maps/folder")
    panel.browse_file.click()
    assert panel.data.currentText() == "/maps/x.png"
    panel.browse_folder.click()
    assert panel.data.currentText() == "/maps/folder"
    panel.kind.setCurrentText("family")
    panel.model.setCurrentText("reference")
    panel.data.setCurrentText("etopo")
    panel.out.setText(str(tmp_path / "r"))
    panel.minutes.setValue(2.5)
    panel.resume.setChecked(True)
    panel.extra.setText("--batch 4")
    spec = panel.spec_from_form()
    assert (spec.family, spec.recipe, spec.data, spec.steps, spec.max_minutes, spec.resume, spec.extra) == (
        "reference",
        None,
        "etopo",
        None,
        2.5,
        True,
        ("--batch", "4"),
    )
    panel.kind.setCurrentText("recipe")
    assert panel.spec_from_form().family is None and panel.spec_from_form().recipe


def test_plot_smooths_switches_axes_and_reads_out(qtbot):
    points = [(i, float(i % 7)) for i in range(1, 20001)]
    points[5000] = (points[5000][0], 99.0)
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(300, 200)
    plot.show()
    plot.set_series({"g_loss": points}, wall_times={s: s / 10 for s in range(1, 10001)})
    curve = plot.curves["g_loss"]
    assert curve.opts["clipToView"] and curve.opts["autoDownsample"] and curve.opts["downsampleMethod"] == "peak"
    x, y = plot.arrays("g_loss")
    assert len(x) == 20000 and y.max() == 99.0
    assert plot.show_readout_at(5001.2) == "g_loss 99 @ 5001"
    plot.smoothing.setValue(90)
    x, smoothed = plot.arrays("g_loss")
    assert smoothed.max() < 99.0 and smoothed[0] == points[0][1]  # bias-corrected: no pull towards 0
    assert plot.raw_curves["g_loss"].getData()[1].max() == 99.0  # the raw curve stays behind, faint
    plot.x_axis.setCurrentIndex(1)  # wall time: only the timed steps, in seconds
    x, _ = plot.arrays("g_loss")
    assert len(x) == 10000 and x[-1] == 1000.0
    plot.log_y.setChecked(True)
    assert plot.item.ctrl.logYCheck.isChecked()
    assert not plot.grab().isNull()


def test_second_stop_kills_and_one_folder_takes_one_live_job(panel, qtbot, tmp_path, image):
    spec = _spec(tmp_path, image, 100000, "--sample-every", "0", "--snapshot-every", "0")
    job = panel.start(spec)
    with pytest.raises(InvalidInput, match="already writes"):
        panel.start(spec)
    panel.out.setText(spec.out)  # the form reports it instead of raising
    panel.data.setCurrentText(image)
    panel.start_button.click()
    assert len(panel.jobs) == 1 and "already writes" in panel.status_label.text()
    qtbot.waitUntil(lambda: job.state.step >= 1, timeout=SUBPROCESS_TIMEOUT_MS)
    panel.stop_button.click()
    assert panel.stop_button.text() == "Kill"
    with qtbot.waitSignal(job.sig_finished, timeout=10000):
        panel.stop_button.click()
    assert job.state.status == "stopped" and job.state.stop_requested
