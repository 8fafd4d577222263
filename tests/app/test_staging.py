"""The staging strip: outpainting, inbetweening and resampling are previewed until accepted or discarded."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QInputDialog

from app.main_window import MainWindow
from app.settings import Settings
from app.staging import StagedEdit, preview_of, thumbnail_region
from engine.geometry import Rect
from engine.invert import InvertConfig
from engine.models.registry import build_random
from engine.project import load_project
from engine.render import Renderer
from engine.variants import surroundings_variant
from engine.world import World
from tests.app.fakes import loader_for

SIDE = 16


def make_window(qtbot, family: str, steps: int = 3):
    model = build_random(family, "tiny")
    win = MainWindow(Settings(), "fake:test", seed=3, persist=False, loader=loader_for(model))
    qtbot.addWidget(win)
    win.canvas.prefetch = 0  # only the visible tiles: each world these tests show renders quickly
    win.resize(360, 300)
    win.show()
    qtbot.waitUntil(lambda: win.world is not None and win.tools.model() is not None, timeout=10000)
    win.canvas.centre_on(128, 128)  # the canvas (< 256 px a side) shows one tile: each world costs one render
    errors: list[str] = []
    win.tools.image_dropper.report_error = errors.append
    win.show_error = errors.append  # jobs' and the staging's messages
    win.tools.image_dropper.config = InvertConfig(steps=steps)
    return win, model, errors


@pytest.fixture
def infinitygan(qtbot):
    win, model, errors = make_window(qtbot, "infinitygan")
    yield win, model, errors
    win.jobs_dock.ask = lambda parent, count: True  # a job left running is cancelled, no question
    win.close()
    assert not win.worker.isRunning()


@pytest.fixture
def pictures(tmp_path):
    paths = []
    for k in range(3):
        path = tmp_path / f"pic{k}.png"
        rng = np.random.default_rng(k)
        Image.fromarray(rng.integers(0, 255, (SIDE, SIDE, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def drop_and_stage(qtbot, win, path, x: int = 0, y: int = 0) -> StagedEdit:
    dropper = win.tools.image_dropper
    assert dropper.drop_file(path, x, y)
    qtbot.waitUntil(lambda: dropper.job is None, timeout=30000)
    assert win.staging.edit is not None
    return win.staging.edit


def render(model, world: World, rect: Rect) -> np.ndarray:
    return Renderer(model, "cpu").render(world, [rect])[0]


def shown_tiles(qtbot, canvas) -> dict:
    """The canvas's visible tiles once all are painted: ``(level, tx, ty) -> RGB32 pixels``."""
    qtbot.waitUntil(canvas.is_complete, timeout=20000)
    return {(k.level, k.tx, k.ty): canvas.cache.get(k)[1].copy() for k in canvas.visible_keys()}


def same_tiles(a: dict, b: dict) -> bool:
    """Whether the tiles both show are equal (the strip's showing and hiding resizes the canvas)."""
    both = a.keys() & b.keys()
    assert (0, 0, 0) in both
    return all(np.array_equal(a[key], b[key]) for key in both)


def test_staged_edit_rules_without_qt():
    base = World("m", seed=1, version=5)
    made: list[int] = []

    def variant(seed: int) -> World:
        made.append(seed)
        return base.with_seed(seed)

    edit = StagedEdit(base, "Edit", "resample", (Rect(0, 0, 10, 10),), variant)
    edit.add(base.with_seed(100))
    assert edit.more([7, 8]) == [1, 2] and made == [7, 8] and edit.seeds == [None, 7, 8]
    versions = {p.version for p in edit.previews} | {base.version}
    assert len(versions) == 4  # previews never share a version with each other or the document
    assert edit.chosen().version == 6 and edit.chosen().seed == 100  # committed under its natural version
    assert edit.step(-1) and edit.index == 2 and edit.chosen().seed == 8  # wraps around
    assert not edit.select(5) and edit.index == 2  # 5 % 3: already current
    assert preview_of(base).version != preview_of(base).version
    assert thumbnail_region([Rect(0, 0, 10, 20)]) == Rect(-5, -10, 20, 40)
    assert thumbnail_region([Rect(0, 0, 1000, 10), Rect(5000, 0, 10, 10)], 384).w == 384


def test_outpainting_is_staged_with_variants_that_differ_only_outside_the_image(qtbot, infinitygan, pictures):
    win, model, errors = infinitygan
    before, history = win.world, len(win.tools.history)
    pixels = shown_tiles(qtbot, win.canvas)
    edit = drop_and_stage(qtbot, win, pictures[0])
    assert errors == [] and win.world is before and len(win.tools.history) == history  # the document as it was
    assert not win.tools.undo_action.isEnabled() and win.canvas.preview is edit.preview
    assert len(edit.variants) == 4 and edit.kind == "outpaint" and edit.label == "Import pic0.png"
    (footprint,) = edit.footprints
    assert footprint == Rect(-SIDE // 2, -SIDE // 2, SIDE, SIDE)
    around = Rect(footprint.x - 48, footprint.y - 24, footprint.w + 96, footprint.h + 48)
    inside = [render(model, world, footprint) for world in edit.variants]
    outside = [render(model, world, around) for world in edit.variants]
    for k in range(1, 4):
        assert np.array_equal(inside[k], inside[0])  # the image's footprint is pinned
        assert not np.array_equal(outside[k], outside[0])  # its surroundings are redrawn
    assert not win.tool_group.isEnabled()  # no tool builds on a preview

    win.staging.next_action.trigger()
    assert edit.index == 1 and win.canvas.preview is edit.previews[1]
    assert not same_tiles(shown_tiles(qtbot, win.canvas), pixels)  # the canvas shows the variant
    win.canvas.pan_by(200, 0)  # panning a preview: its tiles come like any others
    qtbot.waitUntil(win.canvas.is_complete, timeout=20000)
    assert win.canvas.preview is edit.previews[1] and win.world is before
    win.canvas.pan_by(-200, 0)
    strip = win.staging.strip
    qtbot.waitUntil(lambda: all(strip.has_thumbnail(i) for i in range(4)), timeout=20000)  # idle calls
    strip.list.setCurrentRow(2)  # clicking a thumbnail shows that variant
    assert edit.index == 2 and win.canvas.preview is edit.previews[2] and "variant 3 of 4" in strip.title.text()
    win.staging.more_action.trigger()
    assert len(edit.variants) == 8 and edit.index == 4 and strip.list.count() == 8

    win.staging.discard_action.trigger()
    assert win.staging.edit is None and win.canvas.preview is None and win.canvas.shown is before
    assert win.world is before and len(win.tools.history) == history and win.tool_group.isEnabled()
    assert not win.staging.dock.isVisible()
    assert same_tiles(shown_tiles(qtbot, win.canvas), pixels)  # the world's own pixels again


def test_accept_is_one_named_undo_step_and_round_trips_through_a_saved_project(
    qtbot, infinitygan, pictures, tmp_path, scripted_prompts
):
    win, model, errors = infinitygan
    before = win.world
    edit = drop_and_stage(qtbot, win, pictures[0], 40, 10)
    win.staging.step(1)
    chosen = edit.variants[1]
    win.staging.accept_action.trigger()
    assert win.world is chosen and win.canvas.preview is None and win.staging.edit is None
    assert win.tools.undo_action.text() == "&Undo Import pic0.png"
    win.tools.undo_action.trigger()
    assert win.world is before
    win.tools.redo_action.trigger()
    assert win.world is chosen and errors == []

    rect = Rect(-40, -40, 160, 96)
    pixels = render(model, chosen, rect)
    scripted_prompts.save_answer = str(tmp_path / "staged")
    assert win.project.save()
    reopened = load_project(tmp_path / "staged.everscape").world
    assert np.array_equal(render(model, reopened, rect), pixels)
    win.canvas.set_world(World("fake:test", seed=3))  # something else, then the project again
    assert win.project.open_project(tmp_path / "staged.everscape")
    assert np.array_equal(render(model, win.world, rect), pixels)


def test_two_drops_make_a_staged_inbetween_holding_both_images(qtbot, infinitygan, pictures):
    win, model, errors = infinitygan
    before = win.world
    dropper = win.tools.image_dropper
    first = drop_and_stage(qtbot, win, pictures[0], -60, -8)
    assert dropper.drop_file(pictures[1], 140, 12)  # a second image while the first is staged
    job = win.staging.job
    assert job is not None and job.kind == "inbetween" and win.jobs.jobs[-1] is job  # one job, in the Jobs dock
    qtbot.waitUntil(lambda: not job.running, timeout=30000)
    edit = win.staging.edit
    assert errors == [] and edit is not first and edit.kind == "inbetween" and win.world is before
    assert edit.label == "Inbetween pic0.png and pic1.png" and len(job.curves["loss"]) == 3
    assert edit.footprints == (Rect(-68, -16, SIDE, SIDE), Rect(132, 4, SIDE, SIDE))
    assert dropper.drop_file(pictures[2], 340, 0)  # a third image joins the staged inbetween
    job = win.staging.job
    qtbot.waitUntil(lambda: not job.running, timeout=30000)
    edit = win.staging.edit
    assert errors == [] and edit.label == "Inbetween pic0.png, pic1.png and pic2.png" and len(edit.footprints) == 3
    win.staging.accept()
    world = win.world
    assert world is edit.variants[0] and win.tools.undo_action.text() == f"&Undo {edit.label}"
    # Every image's latents: every cell their pixels read is pinned (a variant keeps them bit-identical).
    other = surroundings_variant(model, world, edit.footprints, seed=11)
    for rect in edit.footprints:
        assert np.array_equal(render(model, other, rect), render(model, world, rect))
    # The fused styles: one fitted centre per image, at its middle, wide enough to meet across the gap.
    centres = sorted((c for c in world.styles.centres if c.latent is not None), key=lambda c: c.x)
    assert [(c.x, c.y) for c in centres] == [(-60, -8), (140, 12), (340, 0)]
    assert all(c.width is not None and 4 * c.width >= 190 for c in centres)  # ~200 px apart


def test_a_drop_during_an_inversion_inbetweens_and_discard_cancels_leaving_nothing(qtbot, infinitygan, pictures):
    win, _model, errors = infinitygan
    before, dropper = win.world, win.tools.image_dropper
    dropper.config = InvertConfig(steps=100000)
    assert dropper.drop_file(pictures[0], -60, 0)
    inversion = dropper.job
    assert dropper.drop_file(pictures[1], 140, 0)  # while the first is being inverted
    job = win.staging.job
    assert job is not None and job.kind == "inbetween"
    qtbot.waitUntil(lambda: not inversion.running, timeout=30000)  # the single inversion gave way
    qtbot.waitUntil(lambda: len(job.curves.get("loss", ())) >= 1, timeout=30000)
    assert win.staging.discard_action.isEnabled()
    win.staging.discard_action.trigger()  # mid-optimisation
    qtbot.waitUntil(lambda: not job.running, timeout=30000)
    assert job.state.value == "cancelled" and errors == []
    assert win.world is before and win.canvas.preview is None and win.staging.edit is None
    assert len(win.tools.history) == 1 and dropper.job is None


def test_a_family_that_cannot_inbetween_says_so_and_keeps_the_staged_image(qtbot, pictures):
    win, _model, errors = make_window(qtbot, "reference")
    try:
        edit = drop_and_stage(qtbot, win, pictures[0], -60, 0)
        assert win.tools.image_dropper.drop_file(pictures[1], 140, 0)
        assert len(errors) == 1 and "cannot inbetween" in errors[0] and "\n" not in errors[0]
        assert win.staging.edit is edit and win.staging.job is None and win.world.overrides == ()
    finally:
        win.close()


def test_resampling_is_staged_and_undo_while_staged_discards_it(qtbot, infinitygan):
    win, _model, _errors = infinitygan
    before = win.world
    pixels = shown_tiles(qtbot, win.canvas)
    win.tools.resample_tool.resample(Rect(0, 0, 64, 64))
    first = win.staging.edit
    assert not same_tiles(shown_tiles(qtbot, win.canvas), pixels)
    win.staging.discard()  # tiles outside the rectangle's reach were kept, the one inside rendered again
    assert same_tiles(shown_tiles(qtbot, win.canvas), pixels) and win.world is before
    win.tools.resample_tool.resample(Rect(0, 0, 64, 64))
    first = win.staging.edit
    assert first is not None and first.kind == "resample" and win.world is before
    assert len(first.variants) == 4 and len({id(w) for w in first.variants}) == 4
    win.staging.accept()
    accepted = win.world
    assert accepted is first.chosen() and win.tools.undo_action.text() == "&Undo Resample region"
    win.tools.resample_tool.resample(Rect(128, 0, 64, 64))
    assert win.staging.edit is not None and win.world is accepted
    win.tools.undo_action.trigger()  # the document changes: the staged edit goes first
    assert win.staging.edit is None and win.canvas.preview is None and win.world is before


@pytest.mark.parametrize("case", ["huge", "truncated", "not an image", "above the rows"])
def test_bad_drops_get_one_line_and_change_nothing(qtbot, infinitygan, pictures, tmp_path, case):
    win, _model, errors = infinitygan
    before = win.world
    path, y = tmp_path / "bad.png", 0
    if case == "huge":
        Image.new("RGB", (700, 40)).save(path)
    elif case == "truncated":
        path.write_bytes(pictures[0].read_bytes()[:60])
    elif case == "not an image":
        path.write_text("hello")
    else:
        path, y = pictures[0], -100_000
    assert win.tools.image_dropper.drop_file(path, 0, y)
    qtbot.waitUntil(lambda: win.tools.image_dropper.job is None, timeout=30000)
    assert len(errors) == 1 and "\n" not in errors[0], errors
    assert win.world is before and win.staging.edit is None and win.canvas.preview is None


def test_a_staged_image_becomes_a_seamless_loop_that_export_writes_with_a_zero_lsb_seam(
    qtbot, infinitygan, pictures, tmp_path, monkeypatch
):
    from engine.cyclic import loop_quantum

    win, model, errors = infinitygan
    before = win.world
    assert not win.staging.jobs.make_loop() and "drop an image first" in errors[-1]  # nothing staged yet
    drop_and_stage(qtbot, win, pictures[0], 2000, 0)  # far from the implicit style centre at the origin
    period = 5 * loop_quantum(model)
    asked = []

    def get_int(parent, title, label, value, low, high, step):
        asked.append((value, low, step))
        return period, True

    monkeypatch.setattr(QInputDialog, "getInt", get_int)
    assert win.staging.jobs.ask_period() == period
    ((default, low, step),) = asked
    assert step == low == loop_quantum(model) and default % step == 0  # every offered period is valid
    win.staging.jobs.loop_action.trigger()
    job = win.staging.job
    assert job is not None and job.kind == "loop"
    qtbot.waitUntil(lambda: not job.running, timeout=30000)
    edit = win.staging.edit
    assert edit.kind == "loop" and len(edit.variants) == 4 and win.world is before
    win.staging.step(2)  # a variant: other surroundings, the same seam band at both ends
    win.staging.accept()
    assert win.world is edit.variants[2]
    middle = Rect(2000 + period // 2, -SIDE // 2, SIDE, SIDE)  # the fresh terrain between the ends
    assert not np.array_equal(render(model, edit.variants[0], middle), render(model, edit.variants[2], middle))
    assert win.tools.undo_action.text() == f"&Undo Loop pic0.png every {period} px"

    dialog = win.open_export_dialog()
    loop = dialog.loop
    assert loop == Rect(2000, -SIDE // 2, period, SIDE) and dialog.loop_radio.isEnabled()
    dialog.loop_radio.setChecked(True)
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData(".png"))
    dialog.path_edit.setText(str(tmp_path / "loop.png"))
    with qtbot.waitSignal(dialog.export_finished, timeout=60_000):
        dialog.export_button.click()
    written = np.asarray(Image.open(tmp_path / "loop.png").convert("RGB"))
    assert written.shape == (SIDE, period, 3)
    k = 8  # the wrapped seam, checked like the tile seams: the loop's end then its start = the world across x + P
    across = render(model, win.world, Rect(loop.right - k, loop.y, 2 * k, loop.h))
    assert np.array_equal(np.concatenate([written[:, -k:], written[:, :k]], axis=1), across)
    dialog.close()
    assert errors[1:] == []
