"""Projects in the app: save/open round trips, the modified mark, autosave and crash recovery, bad files."""

from __future__ import annotations

import errno
import functools
import tempfile
import zipfile

import pytest
import torch

from app.main_window import MainWindow
from app.project_controller import SaveChoice
from app.settings import Settings
from engine import project as project_module
from engine.fields import FieldPatch
from engine.geometry import Rect
from engine.project import load_project
from engine.styles import StyleCentre, StyleLayout


@pytest.fixture
def open_window(open_window):
    """The conftest windows, smaller and with a 20 ms autosave debounce."""
    return functools.partial(open_window, size=(600, 400), autosave_ms=20)


def edit(window: MainWindow, seed: int = 42) -> None:
    """A world with every kind of edit: seed, style centres (one with a latent), a field override."""
    styles = StyleLayout.of([StyleCentre(300, -20, 8), StyleCentre(-(10**9), 5, 9, width=64.0, latent=(0.25, -2.0))])
    patch = FieldPatch("z", Rect(-3, 2, 4, 2), torch.randn(3, 2, 4, generator=torch.Generator().manual_seed(seed)))
    world = window.world.with_seed(seed).with_styles(styles).with_override(patch)
    window.canvas.set_world(world)


def same_world(a, b) -> bool:
    return (
        (a.model, a.seed, a.styles, a.version) == (b.model, b.seed, b.styles, b.version)
        and len(a.overrides) == len(b.overrides)
        and all(
            (p.field, p.cells) == (q.field, q.cells) and torch.equal(p.values, q.values)
            for p, q in zip(a.overrides, b.overrides, strict=True)
        )
    )


def test_save_open_round_trip_and_modified_title(qtbot, open_window, scripted_prompts, tmp_path):
    window = open_window(seed=3)
    assert window.windowTitle() == "Untitled — fake:test — Everscape" and not window.project.modified
    edit(window)
    window.canvas.centre_on(1234, -567, -1)
    assert window.project.modified and window.windowTitle().startswith("Untitled*")
    saved = window.world

    scripted_prompts.save_answer = str(tmp_path / "trip")  # Save on an untitled project asks for a name
    assert window.project.save()
    path = tmp_path / "trip.everscape"
    assert window.project.path == path and path.exists()
    assert window.windowTitle() == "trip — fake:test — Everscape" and not window.project.modified
    assert same_world(load_project(path).world, saved)

    window.canvas.set_world(window.world.with_seed(99))  # an unsaved change, then open the file again
    window.canvas.centre_on(0, 0, 0)
    assert window.windowTitle().startswith("trip*")
    scripted_prompts.unsaved_answer = SaveChoice.DISCARD
    assert window.project.open_project(path)
    assert ("unsaved", "trip") in scripted_prompts.asked
    assert same_world(window.world, saved) and window.seed_field.text() == "42"
    assert window.canvas.view.centre == (1234, -567) and window.canvas.view.zoom == -1
    assert not window.project.modified and window.windowTitle().startswith("trip —")
    assert Settings().recent_projects() == [str(path.resolve())]
    window.canvas.set_world(window.world.with_seed(7))
    assert window.project.modified
    window.canvas.set_world(load_project(path).world)  # not the saved object: still "modified"
    assert window.project.modified

    scripted_prompts.unsaved_answer = SaveChoice.SAVE  # close -> save -> reopen: the session project returns
    window.close()
    assert not window.isVisible() and not window.project.modified
    second = open_window()
    assert second.project.path == path and same_world(second.world, load_project(path).world)
    assert second.canvas.view.centre == (1234, -567) and second.windowTitle().startswith("trip —")


def test_new_project_and_cancelled_dialogs(qtbot, open_window, scripted_prompts, tmp_path):
    window = open_window(seed=3)
    edit(window)
    scripted_prompts.unsaved_answer = SaveChoice.CANCEL
    assert not window.project.new_project() and window.world.seed == 42  # cancelled: nothing changed
    scripted_prompts.unsaved_answer = SaveChoice.SAVE
    scripted_prompts.save_answer = None  # ...and then the save dialog is cancelled too
    assert not window.project.new_project() and window.world.seed == 42
    scripted_prompts.unsaved_answer = SaveChoice.DISCARD
    assert window.project.new_project()
    assert window.world.overrides == () and window.world.styles == StyleLayout() and window.world.version == 0
    assert window.project.path is None and not window.project.modified
    assert window.project.open_project() is False  # open dialog answered None
    assert scripted_prompts.asked[-1][0] == "open"


def test_close_with_unsaved_changes_asks(qtbot, open_window, scripted_prompts, private_config, tmp_path):
    window = open_window()
    autosave = private_config / "autosave.everscape"
    window.project.set_autosave_interval(60_000)  # only the close may write it here
    edit(window)
    scripted_prompts.unsaved_answer = SaveChoice.CANCEL
    window.close()
    assert window.isVisible() and window.worker.isRunning()  # the close was refused...
    assert same_world(load_project(autosave).world, window.world)  # ...and the work is on disk at once
    scripted_prompts.unsaved_answer = SaveChoice.SAVE
    scripted_prompts.save_answer = str(tmp_path / "closing.everscape")
    window.close()
    assert not window.isVisible() and not autosave.exists()
    assert same_world(load_project(tmp_path / "closing.everscape").world, window.world)


def test_autosave_follows_edits_and_restores_after_a_crash(qtbot, open_window, scripted_prompts, private_config):
    window = open_window(seed=3)
    autosave = private_config / "autosave.everscape"
    window.canvas.centre_on(-800, 900, 0)  # a view change alone is not an edit
    qtbot.wait(60)
    assert not autosave.exists()
    edit(window)
    window.canvas.centre_on(-800, 900, 0)
    qtbot.waitUntil(autosave.exists, timeout=5000)
    crashed = window.world
    assert same_world(load_project(autosave).world, crashed)
    assert load_project(autosave).view.x == -800

    window.project.confirm_close = lambda: True  # a crash: the window goes without any project bookkeeping
    window.close()
    assert autosave.exists()

    scripted_prompts.restore_answer = True
    restored = open_window()
    assert scripted_prompts.asked[-1][0] == "restore" and "untitled project" in scripted_prompts.asked[-1][1]
    assert same_world(restored.world, crashed) and restored.canvas.view.centre == (-800, 900)
    assert restored.project.modified and restored.windowTitle().startswith("Untitled*")
    restored.close()  # conftest's prompts discard: the autosave goes with the changes
    assert not autosave.exists()


def test_declined_or_stale_autosave_is_removed(qtbot, open_window, scripted_prompts, private_config, tmp_path):
    window = open_window(seed=3)
    autosave = private_config / "autosave.everscape"
    edit(window)
    window.project.write_autosave()
    window.project.confirm_close = lambda: True
    window.close()
    scripted_prompts.restore_answer = False
    declined = open_window()
    assert scripted_prompts.asked[-1][0] == "restore" and not autosave.exists()
    assert declined.world.seed == 42 and not declined.project.modified  # the last world, as always

    # An autosave older than its project (saved later, e.g. by another window) is not offered.
    scripted_prompts.save_answer = str(tmp_path / "p.everscape")
    declined.project.save()
    declined.canvas.set_world(declined.world.with_seed(5))
    declined.project.write_autosave()
    declined.project.confirm_close = lambda: True
    declined.close()
    (tmp_path / "p.everscape").touch()  # the project is newer than the autosave
    count = len(scripted_prompts.asked)
    later = open_window()
    assert len(scripted_prompts.asked) == count and not autosave.exists()
    assert later.project.path == tmp_path / "p.everscape" and later.world.seed == 42


def write_bomb(path, tmp_path) -> None:
    """A valid project whose world.json inflates to 3 MiB of padding (a few KiB on disk)."""
    from engine.project import Project, save_project
    from engine.world import World

    source = tmp_path / "source.everscape"
    save_project(source, Project(World("fake:test", seed=1)))
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name in archive.namelist():
            data = archive.read(name)
            out.writestr(name, data + b" " * (3 * 2**20) if name == "world.json" else data)


def test_bad_project_files_leave_the_world_alone(qtbot, open_window, monkeypatch, tmp_path):
    window = open_window(seed=3)
    edit(window)
    before = window.world
    monkeypatch.setitem(project_module.MEMBER_LIMITS, "world.json", 2**20)
    text = tmp_path / "text.everscape"
    text.write_text("not a zip")
    write_bomb(tmp_path / "bomb.everscape", tmp_path)
    good = tmp_path / "good.everscape"
    from engine.project import Project, save_project

    save_project(good, Project(window.world))
    (tmp_path / "cut.everscape").write_bytes(good.read_bytes()[:-30])
    window.project.prompts.unsaved = lambda parent, name: SaveChoice.DISCARD
    for name, words in (("text", "not a readable"), ("cut", "cut.everscape"), ("bomb", "limit"), ("gone", "exist")):
        assert not window.project.open_project(tmp_path / f"{name}.everscape")
        assert words in window.last_error and "\n" not in window.last_error
        assert window.world is before and window.project.modified and window.project.path is None


def test_unwritable_target_is_a_clear_error(qtbot, open_window, scripted_prompts, monkeypatch, tmp_path):
    window = open_window()
    edit(window)
    scripted_prompts.save_answer = str(tmp_path / "missing-folder" / "p.everscape")
    assert not window.project.save()
    assert "does not exist" in window.last_error and window.project.path is None and window.project.modified

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    scripted_prompts.save_answer = str(tmp_path / "p.everscape")
    assert not window.project.save()
    assert "read-only" in window.last_error and "\n" not in window.last_error
    assert window.project.modified and window.windowTitle().startswith("Untitled*")
    monkeypatch.undo()
    assert window.project.save() and not window.project.modified


def test_open_a_project_of_another_model_or_checkpoint(qtbot, open_window, tmp_path):
    from engine.project import Project, ProjectView, save_project
    from engine.world import World

    window = open_window(seed=3)
    other = World("fake:other", seed=5).with_styles(StyleLayout.of([StyleCentre(1, 2, 3)]))
    save_project(tmp_path / "other.everscape", Project(other, ProjectView(10, 20, 0)))
    assert window.project.open_project(tmp_path / "other.everscape")
    qtbot.waitUntil(lambda: window.world.model == "fake:other", timeout=10000)  # the model loads first
    assert same_world(window.world, other) and not window.project.modified
    assert window.windowTitle() == "other — fake:other — Everscape"

    changed = World("fake:test", seed=5, model_hash="ab" * 32).with_seed(6)  # made with another checkpoint
    save_project(tmp_path / "changed.everscape", Project(changed))
    assert window.project.open_project(tmp_path / "changed.everscape")
    qtbot.waitUntil(lambda: window.world.model == "fake:test", timeout=10000)
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=5000)
    assert "different checkpoint" in window.last_error
    assert window.world.seed == 6 and window.world.version == 0  # a fresh world of the same seed...
    assert window.project.path is None  # ...that Save will never write over the project


def test_file_menu_recent_projects_and_discard_on_close(qtbot, open_window, scripted_prompts, tmp_path):
    window = open_window(seed=3)
    file_actions = [a.text() for a in window.menuBar().actions()[0].menu().actions()]
    assert file_actions[:5] == ["&New project", "&Open…", "Open &Recent", "&Save", "Save &As…"]
    paths = []
    for seed in (10, 11):
        window.canvas.set_world(window.world.with_seed(seed))
        scripted_prompts.save_answer = str(tmp_path / f"s{seed}.everscape")
        window.project.save_as()
        paths.append(tmp_path / f"s{seed}.everscape")
    window.project.recent_menu.aboutToShow.emit()
    entries = window.project.recent_menu.actions()
    assert [a.text() for a in entries] == [str(p.resolve()) for p in reversed(paths)]
    entries[1].trigger()  # s10, the older one
    assert window.project.path == paths[0].resolve() and window.world.seed == 10
    paths[1].unlink()
    window.project.recent_menu.aboutToShow.emit()
    window.project.recent_menu.actions()[1].trigger()  # s11 is gone: an error, and it leaves the list
    assert "does not exist" in window.last_error and window.world.seed == 10
    assert Settings().recent_projects() == [str(paths[0].resolve())]

    window.canvas.set_world(window.world.with_seed(77))  # discarded on close: not remembered anywhere
    window.close()
    again = open_window(model_ref=None)
    assert again.world.seed == 10 and again.project.path == paths[0].resolve()
    assert Settings().last_world().seed == 10


def test_a_damaged_autosave_is_set_aside(qtbot, open_window, private_config):
    private_config.mkdir(parents=True, exist_ok=True)
    (private_config / "autosave.everscape").write_bytes(b"PK\x03\x04 half a file")
    window = open_window()
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=5000)  # shown once the world is up
    assert "autosave could not be read" in window.last_error and "\n" not in window.last_error
    assert not (private_config / "autosave.everscape").exists()
    kept = list(private_config.glob("autosave.everscape.damaged-*"))  # kept for the user, never deleted
    assert len(kept) == 1 and kept[0].read_bytes() == b"PK\x03\x04 half a file"


def test_open_action_and_a_project_whose_model_cannot_load(qtbot, open_window, scripted_prompts, tmp_path):
    from engine.project import Project, save_project
    from engine.world import World

    window = open_window(seed=3)
    scripted_prompts.save_answer = str(tmp_path / "mine.everscape")
    window.project.save()
    save_project(tmp_path / "broken.everscape", Project(World("broken:model", seed=8)))
    fake = window.loader

    def loader(ref):
        if ref == "broken:model":
            raise RuntimeError("no such model")
        return fake(ref)

    window.loader = loader
    scripted_prompts.open_answer = str(tmp_path / "broken.everscape")
    window.project.open_action.trigger()  # File ▸ Open… asks for a file, then opens it
    assert scripted_prompts.asked[-1][0] == "open"
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=10000)
    assert "broken:model" in window.last_error and window.world.seed == 3
    assert window.project.path == tmp_path / "mine.everscape" and window.windowTitle().startswith("mine —")
    window.canvas.set_world(window.world.with_seed(4))  # the next edit is an edit, not a new baseline
    assert window.project.modified and window.windowTitle().startswith("mine*")


def test_switching_the_model_with_unsaved_edits_asks_first(qtbot, open_window, scripted_prompts, tmp_path):
    from engine.models.registry import LoadedModel
    from tests.app.fakes import FakeConfig, FakeModel

    # Another architecture (block size): its edits cannot carry over (tests/app/test_model_switch.py).
    models = {"fake:test": FakeModel(), "fake:other": FakeModel(FakeConfig(block=32))}
    window = open_window(loader=lambda ref: LoadedModel(models[ref], ref, None))
    edit(window)
    edited = window.world
    window.model_picker.addItem("fake:other")
    other = window.model_picker.findText("fake:other")
    scripted_prompts.unsaved_answer = SaveChoice.CANCEL
    window.on_picker_activated(other)
    assert window.world is edited and window.model_picker.currentText() == edited.model  # nothing changed
    assert scripted_prompts.asked[-1][0] == "unsaved"
    scripted_prompts.unsaved_answer = SaveChoice.SAVE
    scripted_prompts.save_answer = str(tmp_path / "before-switch.everscape")
    window.on_picker_activated(other)
    qtbot.waitUntil(lambda: window.world is not None and window.world.model == "fake:other", timeout=10000)
    assert same_world(load_project(tmp_path / "before-switch.everscape").world, edited)  # the edits were kept
    assert window.project.name == "Untitled" and not window.project.modified  # a new document
