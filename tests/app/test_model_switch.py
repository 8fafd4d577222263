"""A model switch keeps the edits when the new model can render them, and asks otherwise."""

from __future__ import annotations

from app.model_switch import architecture, carried_world, has_edits
from app.project_controller import SaveChoice
from engine.checkpoints import save_checkpoint
from engine.models.registry import LoadedModel, build_random, get_family
from engine.styles import StyleCentre, StyleLayout
from engine.world import World
from tests.app.fakes import FakeConfig, FakeModel


def loader_by_ref(models: dict[str, FakeModel]):
    """Each name its own fake model; ``sha256`` names the checkpoint so worlds record a hash."""
    return lambda ref: LoadedModel(models[ref], ref, f"sha-{ref}")


def styled(window) -> World:
    world = window.world.with_styles(StyleLayout.of([StyleCentre(40, -30, 7, width=96.0)]))
    window.tools.apply(world, label="Add style centre")
    return world


def pick(window, ref: str) -> None:
    if window.model_picker.findText(ref) < 0:
        window.model_picker.addItem(ref)
    window.on_picker_activated(window.model_picker.findText(ref))


def test_a_retrained_checkpoint_of_the_same_architecture_keeps_the_edits(qtbot, open_window, scripted_prompts):
    same = FakeConfig(block=64)
    models = {"fake:test": FakeModel(same), "fake:retrained": FakeModel(same)}
    window = open_window(loader=loader_by_ref(models))
    edited = styled(window)
    asked = len(scripted_prompts.asked)
    pick(window, "fake:retrained")
    qtbot.waitUntil(lambda: window.world.model == "fake:retrained", timeout=10000)
    kept = window.world
    assert len(scripted_prompts.asked) == asked  # nothing to ask: nothing is lost
    assert kept.styles == edited.styles and kept.seed == edited.seed and kept.model_hash == "sha-fake:retrained"
    assert window.project.modified and window.windowTitle().startswith("Untitled*")
    qtbot.waitUntil(window.canvas.is_complete, timeout=10000)  # the new model renders the kept edits


def test_another_architecture_asks_and_cancel_changes_nothing(qtbot, open_window, scripted_prompts):
    models = {"fake:test": FakeModel(FakeConfig(block=64)), "fake:other": FakeModel(FakeConfig(block=32))}
    window = open_window(loader=loader_by_ref(models))
    edited = styled(window)
    scripted_prompts.unsaved_answer = SaveChoice.CANCEL
    pick(window, "fake:other")
    assert scripted_prompts.asked[-1][0] == "unsaved"
    assert window.world is edited and window.model_picker.currentText() == "fake:test"
    scripted_prompts.unsaved_answer = SaveChoice.DISCARD
    pick(window, "fake:other")
    qtbot.waitUntil(lambda: window.world.model == "fake:other", timeout=10000)
    assert not has_edits(window.world) and not window.project.modified  # a new, clean document


def test_architecture_reads_checkpoint_headers_and_family_configs(tmp_path):
    family = get_family("reference")
    names = list(family.configs)
    model = build_random("reference", names[0])
    first, second = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    for path, scale in ((first, 1.0), (second, 0.5)):  # the same architecture, other weights
        weights = {k: v * scale for k, v in model.state_dict().items()}
        save_checkpoint(path, "reference", model.config_dict(), weights)
    a, b, named = architecture(str(first)), architecture(str(second)), architecture(f"reference:{names[0]}")
    assert a[:2] == b[:2] == named[:2] and a[2] != b[2] and named[2] is None
    world = World(f"reference:{names[0]}", 5).with_styles(StyleLayout.of([StyleCentre(0, 0, 1)]))
    carried = carried_world(world, named, str(second))
    assert carried.model == str(second) and carried.model_hash == b[2] and carried.styles == world.styles
    if len(names) > 1 and family.configs[names[1]] != family.configs[names[0]]:
        assert carried_world(world, named, f"reference:{names[1]}") is None
    assert architecture("nosuch:model") is None and architecture(str(tmp_path / "missing.safetensors")) is None
