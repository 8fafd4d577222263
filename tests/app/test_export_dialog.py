"""The export dialog: exports what it says in the background, cancels cleanly, checks disk space."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest
import tifffile
from PIL import Image

from app.export_dialog import ExportDialog
from app.export_job import THROUGHPUT
from app.jobs import JobState
from engine.geometry import Rect
from engine.models.registry import load_model
from engine.render import Renderer
from engine.world import World

WORLD = World(model="reference:tiny", seed=9)


def factory() -> Renderer:
    return Renderer(load_model("reference:tiny").model, "cpu")


@pytest.fixture
def dialog(qtbot, tmp_path):
    widget = ExportDialog(WORLD, factory, Rect(-50, 20, 160, 90), selection=Rect(3, -40, 70, 45),
                          default_path=tmp_path / "out.tif")  # fmt: skip
    qtbot.addWidget(widget)
    return widget


def test_selection_export_equals_direct_render(qtbot, dialog, tmp_path):
    assert dialog.chosen_rect() == Rect(3, -40, 70, 45)
    assert "70 × 45 px" in dialog.size_label.text()
    with qtbot.waitSignal(dialog.export_finished, timeout=60_000) as blocker:
        dialog.export_button.click()
    assert blocker.args == [str(tmp_path / "out.tif")]
    (expected,) = factory().render(WORLD, [Rect(3, -40, 70, 45)])
    assert np.array_equal(tifffile.imread(tmp_path / "out.tif"), expected)
    assert dialog.progress_bar.value() == 1000 and dialog.export_button.isEnabled()
    (job,) = dialog.jobs.jobs
    assert job.state is JobState.DONE and job.result == str(tmp_path / "out.tif") and job.kind == "export"
    assert job.curves[THROUGHPUT] and all(rate > 0 for _, rate in job.curves[THROUGHPUT])


def test_custom_rect_png_at_half_scale(qtbot, dialog, tmp_path):
    dialog.custom_radio.setChecked(True)
    dialog.x_edit.setText("-7")
    dialog.y_edit.setText("11")
    dialog.w_spin.setValue(40)
    dialog.h_spin.setValue(30)
    dialog.format_combo.setCurrentIndex(1)
    dialog.scale_combo.setCurrentIndex(1)
    assert dialog.path().suffix == ".png" and not dialog.pyramid_check.isEnabled()
    assert dialog.chosen_rect() == Rect(-7, 11, 40, 30)
    assert "21 × 16 px" in dialog.size_label.text()  # x -4..17, y 5..21 at 1:2
    with qtbot.waitSignal(dialog.export_finished, timeout=60_000):
        dialog.export_button.click()
    assert np.asarray(Image.open(tmp_path / "out.png")).shape == (16, 21, 3)


def test_cancel_leaves_no_file_and_gui_stays_responsive(qtbot, dialog, tmp_path):
    dialog.custom_radio.setChecked(True)
    dialog.w_spin.setValue(4096)
    dialog.h_spin.setValue(4096)
    dialog.export_button.click()
    assert dialog.cancel_button.isEnabled() and not dialog.export_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.progress_bar.value() > 0, timeout=60_000)  # events flow while it runs
    with qtbot.waitSignal(dialog.export_failed, timeout=60_000) as blocker:
        dialog.cancel_button.click()
    assert blocker.args == ["cancelled"]
    assert list(tmp_path.iterdir()) == []  # half-way through: neither the file nor its temporary
    assert 0 < dialog.jobs.jobs[0].fraction < 1 and dialog.jobs.jobs[0].state is JobState.CANCELLED
    assert "cancelled" in dialog.status_label.text()


def test_missing_folder_disables_export(qtbot, dialog, tmp_path):
    (tmp_path / "file").write_text("x")
    dialog.path_edit.setText(str(tmp_path / "file" / "a.tif"))
    assert not dialog.export_button.isEnabled()  # the folder does not exist
    assert "does not exist" in dialog.disk_label.text()


def test_free_disk_check(qtbot, dialog, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr("app.export_dialog.shutil.disk_usage", lambda path: usage(10**6, 10**6 - 1000, 1000))
    dialog.compression_combo.setCurrentText("none")
    assert not dialog.export_button.isEnabled()
    assert "Not enough space" in dialog.disk_label.text()
    dialog.compression_combo.setCurrentText("zlib")
    assert dialog.export_button.isEnabled()
    assert "may not fit" in dialog.disk_label.text()


def test_job_failure_is_reported(qtbot, tmp_path):
    from engine.errors import CheckpointError

    def broken() -> Renderer:
        raise CheckpointError("checkpoint x is damaged or truncated")

    widget = ExportDialog(WORLD, broken, Rect(0, 0, 8, 8), default_path=tmp_path / "a.tif")
    qtbot.addWidget(widget)
    with qtbot.waitSignal(widget.export_failed, timeout=30_000) as blocker:
        widget.export_button.click()
    assert blocker.args == ["checkpoint x is damaged or truncated"]
    assert "Export failed" in widget.status_label.text() and widget.export_button.isEnabled()
    assert list(tmp_path.iterdir()) == []
