"""The training panel runs real ``everscape train`` child processes (reference family, tiny config).

Every job is stopped, killed if needed, and waited for by the fixture: no process outlives a test.
"""

from __future__ import annotations

import numpy as np
import pytest

from app.panels.loss_plot import LossPlot, downsample
from app.panels.training import TrainingPanel
from engine.errors import InvalidInput
from engine.imageio import write_image
from engine.train.progress import JobSpec

FAST = ("--batch", "2", "--log-every", "1")


@pytest.fixture
def panel(qtbot):
    opened: list[str] = []
    widget = TrainingPanel(open_model=opened.append, grace_ms=15000)
    widget.opened = opened
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
    with qtbot.waitSignal(job.sig_finished, timeout=30000):
        pass
    assert job.state.status == "finished", job.stderr_tail
    assert job.state.step == 3
    assert panel.plot.point_count() >= 6  # d_loss and g_loss at steps 1..3
    assert set(panel.plot.series) == {"d_loss", "g_loss"}
    assert panel.preview.pixmap() is not None and not panel.preview.pixmap().isNull()
    assert panel.job_list.item(0).text().startswith("[finished]")
    assert "step 3" in panel.status_label.text()
    assert not panel.stop_button.isEnabled() and panel.resume_button.isEnabled()
    panel.open_button.click()
    assert panel.opened == [str(tmp_path / "run" / "last.safetensors")]


def test_stop_is_graceful_and_writes_a_snapshot(panel, qtbot, tmp_path, image):
    job = panel.start(_spec(tmp_path, image, 100000, "--sample-every", "0", "--snapshot-every", "0"))
    qtbot.waitUntil(lambda: job.state.step >= 1, timeout=30000)
    assert panel.stop_button.isEnabled()
    with qtbot.waitSignal(job.sig_finished, timeout=30000):
        panel.stop_button.click()
    assert job.state.status == "stopped", job.stderr_tail
    assert job.state.stopped == "abort"  # the CLI's own stop, not the kill after the grace period
    assert (tmp_path / "run" / "last.safetensors").exists()
    assert job.state.last_snapshot.endswith("last.safetensors")


def test_bad_arguments_fail_with_one_line_reason(panel, qtbot, tmp_path):
    job = panel.start(JobSpec(out=str(tmp_path / "run"), family="reference", steps=3, device="cpu"))
    with qtbot.waitSignal(job.sig_finished, timeout=30000):
        pass
    assert job.state.status == "failed"
    assert "--data" in job.state.reason and "\n" not in job.state.reason
    assert job.state.reason in panel.status_label.text()
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


def test_downsample_keeps_extremes(qtbot):
    points = [(i, float(i % 7)) for i in range(10000)]
    points[5000] = (5000, 99.0)
    shown = downsample(points, 50)
    assert len(shown) <= 100 and (5000, 99.0) in shown and shown == sorted(shown)
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(200, 120)
    plot.set_series({"g_loss": points})
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
    qtbot.waitUntil(lambda: job.state.step >= 1, timeout=30000)
    panel.stop_button.click()
    assert panel.stop_button.text() == "Kill"
    with qtbot.waitSignal(job.sig_finished, timeout=10000):
        panel.stop_button.click()
    assert job.state.status == "stopped" and job.state.stop_requested
