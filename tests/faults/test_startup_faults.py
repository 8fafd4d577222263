"""Class 1: no file the app reads at start-up can lock the user out.

Whatever the autosave, the last world, the settings INI, the remembered project or model hold, the
window opens on the shipped default, the bad file is set aside with a timestamp (never deleted),
and the user is told in one line (stderr here: the tests run headless).
"""

from __future__ import annotations

import json
import zipfile

import pytest
from PySide6.QtCore import QByteArray
from PySide6.QtWidgets import QWidget

from app.main_window import MainWindow
from app.settings import Preferences, Settings
from app.startup_safety import MIN_WINDOW, restore_window_geometry
from engine.errors import EverscapeError
from tests.app.fakes import FakeModel, loader_for
from tests.faults.hostile_projects import CASES, valid_members, write_zip

AUTOSAVE_CASES = [
    "version x",
    "centre width NaN",
    "override tensor NaN",
    "world nested too deep",
    "view NaN",
    "project format unknown",
    "image gigapixel header",
    "tensors header lies",
]


@pytest.fixture
def start(qtbot):
    """Start a main window the way ``everscape gui`` does (no model named), on a fake model."""
    windows: list[MainWindow] = []

    def make(loader=None) -> MainWindow:
        window = MainWindow(Settings(), None, loader=loader or loader_for(FakeModel()))
        qtbot.addWidget(window)
        windows.append(window)
        window.show()
        qtbot.waitUntil(lambda: window.world is not None, timeout=15000)
        return window

    yield make
    for window in windows:
        window.close()
        assert not window.worker.isRunning()


def set_aside_copies(folder, name):
    return sorted(folder.glob(f"{name}.damaged-*"))


@pytest.mark.parametrize("case", AUTOSAVE_CASES)
def test_a_hostile_autosave_is_set_aside_and_the_default_world_opens(start, private_config, tmp_path, capsys, case):
    private_config.mkdir(parents=True, exist_ok=True)
    members = CASES[case][0](valid_members(tmp_path))
    autosave = write_zip(private_config / "autosave.everscape", members)
    original = autosave.read_bytes()
    (private_config / "autosave.json").write_text(json.dumps({"project": None, "written": 0}))
    window = start()
    assert window.world.seed == 0 and window.project.path is None  # the default world
    kept = set_aside_copies(private_config, "autosave.everscape")
    assert len(kept) == 1 and kept[0].read_bytes() == original and not autosave.exists()
    warning = [line for line in capsys.readouterr().err.splitlines() if line.startswith("everscape: warning:")]
    assert len(warning) == 1 and "autosave" in warning[0] and "set aside" in warning[0]


def test_a_damaged_last_world_is_set_aside(start, private_config, capsys):
    private_config.mkdir(parents=True, exist_ok=True)
    doc = {
        "format": "everscape.world/1",
        "model": "fake:test",
        "seed": 5,
        "styles": {"centres": [{"x": 0, "y": 0, "seed": 1, "width": 1e300}]},
        "version": "x",
    }
    (private_config / "last-world.json").write_text(json.dumps(doc))
    window = start()
    assert window.world.seed == 0
    assert len(set_aside_copies(private_config, "last-world.json")) == 1
    assert "last world" in capsys.readouterr().err


def test_bad_settings_values_fall_back_to_defaults(start, private_config, capsys):
    private_config.mkdir(parents=True, exist_ok=True)
    ini = private_config / "everscape.ini"
    ini.write_text(
        "[prefs]\nmemory_mib=-5\nprefetch=1000000\nsynth_levels=abc\ndevice=quantum\nkinetic=maybe\nbatch_tiles=4\n"
        "[window]\ngeometry=not a geometry\n[session]\nview=nan,inf,x\n"
        "[projects]\nrecent=5\nsession=@Variant(garbage)\n"
    )
    window = start()
    defaults = Preferences()
    assert window.prefs == defaults and window.world.seed == 0
    assert window.canvas.view.centre == (0, 0)
    assert len(set_aside_copies(private_config, "everscape.ini")) == 1  # the INI as it was, kept
    err = capsys.readouterr().err
    for key in ("prefs/memory_mib", "prefs/prefetch", "prefs/synth_levels", "prefs/device", "window/geometry"):
        assert key in err
    assert len([line for line in err.splitlines() if line.startswith("everscape:")]) == 1
    assert Settings().preferences() == defaults and not Settings().notices  # repaired for the next start


def test_absurd_window_geometry_is_reset(qtbot):
    huge = QWidget()
    qtbot.addWidget(huge)
    huge.setGeometry(0, 0, 60000, 60000)
    saved = huge.saveGeometry()
    window = QWidget()
    qtbot.addWidget(window)
    notices: list[str] = []
    restore_window_geometry(window, saved, notices)
    area = window.screen().availableGeometry()
    assert MIN_WINDOW[0] <= window.width() <= 2 * area.width() and MIN_WINDOW[1] <= window.height() <= 2 * area.height()
    restore_window_geometry(window, QByteArray(b"\x01\xd9\xd0\xcbjunk"), notices)
    assert notices and window.width() >= 200


def test_a_remembered_model_that_no_longer_opens_falls_back_to_the_default(start, private_config, capsys):
    private_config.mkdir(parents=True, exist_ok=True)
    doc = {"format": "everscape.world/1", "model": "gone:model", "seed": 9, "styles": {}, "overrides": []}
    (private_config / "last-world.json").write_text(json.dumps(doc))
    fake = loader_for(FakeModel())

    def loader(ref):
        if ref == "gone:model":
            raise EverscapeError("model gone:model is not installed")
        return fake(ref)

    window = start(loader)
    assert window.world.model != "gone:model"
    assert "gone:model" in capsys.readouterr().err


def test_a_failing_default_model_choice_still_opens(start, monkeypatch, capsys):
    import engine.default_model as default_model

    def broken():
        raise EverscapeError("card infinitygan-bluemarble.json is not a model card")

    monkeypatch.setattr(default_model, "default_model_ref", broken)
    window = start()
    assert window.world is not None and "not a model card" in capsys.readouterr().err


def test_a_damaged_session_project_is_forgotten_not_renamed(start, private_config, tmp_path, capsys):
    mine = write_zip(tmp_path / "mine.everscape", CASES["version x"][0](valid_members(tmp_path)))
    Settings().save_session_project(mine)
    window = start()
    assert window.project.path is None and window.world.seed == 0
    assert mine.exists() and zipfile.is_zipfile(mine)  # the user's own file is never renamed
    assert Settings().session_project() is None
    assert "mine.everscape" in capsys.readouterr().err
