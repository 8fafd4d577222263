"""Painting style-fusion maps in the main window: palette, brush, eraser, fill, overlay, exact re-rendering."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication

from app.tiles import TileKey
from app.worker import tile_region
from engine.edits import changed_regions
from engine.geometry import Rect
from engine.models.registry import build_random
from engine.project import load_project
from engine.render import Renderer
from engine.styles import StyleCentre, StyleLayout
from tests.app.test_tools import mouse

MOVE, PRESS, RELEASE = QEvent.Type.MouseMove, QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease


@pytest.fixture(scope="module")
def tiny():
    return build_random("infinitygan", "tiny")


@pytest.fixture
def painter(open_window, tiny):
    """A window on the tiny InfinityGAN with two styles, the second selected, and the brush active."""

    def make(size=(960, 400), centres=((-200, 0, 11), (200, 0, 22))):
        win = open_window(model=tiny, size=size, model_ref="infinitygan:tiny")
        win.canvas.prefetch = 0
        assert win.canvas.width() > 400 and win.canvas.height() > 300, win.canvas.size()
        world = win.world.with_styles(StyleLayout.of([StyleCentre(x, y, seed) for x, y, seed in centres]))
        win.tools.open(world)
        win.tools.style_tool.selected = 1
        return win

    return make


def stroke(win, points) -> None:
    canvas = win.canvas
    mouse(canvas, PRESS, QPoint(*points[0]))
    for p in points[1:]:
        mouse(canvas, MOVE, QPoint(*p), Qt.MouseButton.LeftButton)
    mouse(canvas, RELEASE, QPoint(*points[-1]))


def key(win, code, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    QApplication.sendEvent(win.canvas, QKeyEvent(QEvent.Type.KeyPress, code, modifiers))


def select_tool(win, name: str) -> None:
    next(a for a in win.tool_group.actions() if a.text() == name).trigger()


def painted_ids(win, x: int, y: int) -> np.ndarray:
    """Raster ids of the 3x3 cells around world pixel ``(x, y)`` (all -1 without strokes)."""
    strokes = win.world.styles.strokes
    if strokes is None:
        return np.full((3, 3), -1)
    c = strokes.cell
    return strokes.read(Rect(x // c - 1, y // c - 1, 3, 3))


def test_stroke_erase_and_fill_are_one_undo_step_each(qtbot, painter):
    win = painter()
    painting = win.tools.painting
    select_tool(win, "Brush")
    start = win.world
    ring = [(230 + round(90 * np.cos(a)), 170 + round(90 * np.sin(a))) for a in np.linspace(0, 2 * np.pi, 40)]
    painting.settings.size, painting.settings.hardness = 24, 1.0
    stroke(win, ring)
    outlined = win.world
    assert outlined.styles.strokes is not None and outlined.styles.strokes.max_id() == 1
    assert outlined.styles.centres == start.styles.centres
    select_tool(win, "Fill")
    win.tools.style_tool.selected = 0
    stroke(win, [(230, 170)])
    filled = win.world
    cx, cy = win.canvas.view.screen_to_world(230, 170)
    assert (painted_ids(win, cx, cy) == 0).all(), win.last_error
    select_tool(win, "Eraser")
    painting.settings.size = 400
    stroke(win, [(230, 170), (240, 175)])
    erased = win.world
    assert erased.styles.strokes != filled.styles.strokes
    assert (painted_ids(win, cx, cy) == -1).all(), "the eraser returns the ground to the centre rule"
    for expected in (filled, outlined, start):  # one undo step each
        win.tools.undo()
        assert win.world is expected


def test_brush_keys_change_size_and_hardness_and_the_cursor_shows_the_outline(qtbot, painter):
    win = painter()
    select_tool(win, "Brush")
    settings, options = win.tools.painting.settings, win.tools.painting.options
    size, hardness = settings.size, settings.hardness
    key(win, Qt.Key.Key_BracketRight)
    assert settings.size > size and options.size_box.value() == settings.size
    key(win, Qt.Key.Key_BracketLeft)
    key(win, Qt.Key.Key_BracketLeft)
    assert settings.size < size
    key(win, Qt.Key.Key_BraceLeft, Qt.KeyboardModifier.ShiftModifier)
    assert settings.hardness == hardness - 0.25 and options.hardness.value() == round(settings.hardness * 100)
    key(win, Qt.Key.Key_BracketRight, Qt.KeyboardModifier.ShiftModifier)
    assert settings.hardness == hardness
    mouse(win.canvas, MOVE, QPoint(100, 120), Qt.MouseButton.NoButton)
    assert win.tools.painting.brush.hover is not None
    shot = win.canvas.grab().toImage()
    r = settings.size // 2
    edge = shot.pixelColor(100 + r, 120)
    inside = shot.pixelColor(100 + r // 2, 120)
    assert edge != inside, "the brush outline is drawn around the cursor"


def test_painting_a_family_without_style_layouts_says_so(qtbot, open_window):
    win = open_window()  # the fake family: no style fusion
    win.tools.style_tool.add(0, 0)
    select_tool(win, "Brush")
    before = win.world
    stroke(win, [(100, 100), (140, 120)])
    assert win.world is before
    assert "no style layouts" in win.last_error
    win.clear_error()
    select_tool(win, "Fill")
    stroke(win, [(100, 100)])
    assert "no style layouts" in win.last_error
    overlay = win.tools.painting.overlay
    win.tools.painting.options.overlay_box.setChecked(True)  # nothing to tint, asked once, not in a loop
    qtbot.waitUntil(lambda: bool(overlay.images) and not overlay._asked, timeout=10000)
    asked = dict(overlay.images)
    qtbot.wait(200)
    assert overlay.images == asked and all(image is None for _, image in asked.values())


def test_tiles_outside_the_predicted_support_keep_their_cached_images(qtbot, painter, tiny):
    win = painter()
    canvas = win.canvas
    canvas.centre_on(128, 128, 1)  # magnified: a few level-0 tiles fill the view
    qtbot.waitUntil(canvas.is_complete, timeout=60000)
    before = win.world
    cached = {(k.tx, k.ty): canvas.cache.get(k) for k in canvas.visible_keys()}
    select_tool(win, "Brush")
    win.tools.painting.settings.size = 16
    stroke(win, [(60, 60), (70, 64), (80, 68)])
    after = win.world
    regions = changed_regions(tiny, before, after, 0)
    kept, dropped = [], 0
    for (tx, ty), value in cached.items():
        key = TileKey(canvas.state, 0, tx, ty)
        damaged = any(key.world_rect().intersection(r) is not None for r in regions)
        if damaged:
            dropped += 1
            assert key not in canvas.cache
        else:
            kept.append(key)
            assert canvas.cache.get(key) is value, "an undamaged tile keeps its cached image"
    assert kept and dropped
    renderer = Renderer(tiny, "cpu", region=tile_region(tiny))  # tiles are rendered as the worker renders them
    fresh = renderer.render(after, [kept[0].world_rect()])[0]  # kept = what a new render gives
    assert np.array_equal(canvas.cache.get(kept[0])[1][..., 2::-1], fresh)


def test_strokes_round_trip_through_a_project_and_render_identically(qtbot, painter, scripted_prompts, tmp_path, tiny):
    win = painter()
    select_tool(win, "Brush")
    stroke(win, [(150, 150), (200, 170), (260, 160)])
    painted = win.world
    scripted_prompts.save_answer = str(tmp_path / "painted")
    assert win.project.save_as()
    loaded = load_project(win.project.path).world
    assert loaded.styles == painted.styles and loaded.styles.strokes is not None
    renderer = Renderer(tiny, "cpu")
    x, y = win.canvas.view.screen_to_world(200, 160)
    area = Rect(x - 64, y - 64, 128, 128)
    a, b = (renderer.render(w, [area])[0] for w in (painted, loaded))
    assert np.array_equal(a, b)


def test_palette_adds_names_duplicates_resamples_deletes_and_follows_the_selection(qtbot, painter):
    win = painter()
    palette, tool = win.tools.painting.palette, win.tools.style_tool
    assert palette.tree.topLevelItemCount() == 2 and palette.tree.currentItem() is palette.tree.topLevelItem(1)
    palette.tree.setCurrentItem(palette.tree.topLevelItem(0))
    assert tool.selected == 0
    x, y = win.canvas.view.world_to_screen(200, 0)  # a click on centre 1 with the style-centre tool
    select_tool(win, "Style centres")
    mouse(win.canvas, PRESS, QPoint(round(x), round(y)))
    mouse(win.canvas, RELEASE, QPoint(round(x), round(y)))
    assert tool.selected == 1 and palette.tree.currentItem() is palette.tree.topLevelItem(1)
    assert len(win.world.styles.centres) == 2, "a click on a centre selects it, adds nothing"
    palette.seed_field.setText("4242")
    palette.add_seed_button.click()
    assert win.world.styles.centres[-1].seed == 4242 and tool.selected == 2
    assert palette.tree.topLevelItem(2).text(1) == "4242"
    palette.tree.topLevelItem(2).setText(0, "meadow")
    assert win.world.styles.centres[2].name == "meadow"
    palette.duplicate_button.click()
    dup = win.world.styles.centres[3]
    assert (dup.seed, dup.name) == (4242, "meadow copy") and tool.selected == 3
    palette.resample_button.click()
    assert win.world.styles.centres[3].seed != 4242 and tool.selected == 3
    palette.delete_button.click()
    assert len(win.world.styles.centres) == 3 and tool.selected is None
    palette.add_button.click()
    assert len(win.world.styles.centres) == 4
    qtbot.waitUntil(lambda: not palette.tree.topLevelItem(0).icon(0).isNull(), timeout=30000)
    for _ in range(5):
        win.tools.undo()
    assert win.world.styles.centres[2].name is None


def test_fusion_overlay_is_computed_in_the_worker_from_the_models_weights(qtbot, painter, monkeypatch):
    import app.fusion_overlay as fusion_overlay

    threads = []
    real = fusion_overlay.overlay_tile

    def spy(*args):
        threads.append(threading.current_thread())
        return real(*args)

    monkeypatch.setattr(fusion_overlay, "overlay_tile", spy)
    win = painter()
    overlay, options = win.tools.painting.overlay, win.tools.painting.options
    options.overlay_box.setChecked(True)
    options.opacity.setValue(100)
    qtbot.waitUntil(lambda: overlay.computed > 0 and not overlay._asked, timeout=30000)
    assert threads and all(t is not threading.main_thread() for t in threads)
    image = overlay.images[(0, -1, 0)][1]  # world x -256..0: samples every 4 px from x = -254
    left, right = image.pixelColor(14, 0), image.pixelColor(63, 0)  # x = -198 (centre 0), x = -2 (midway)
    assert (left.red(), left.green(), left.blue(), left.alpha()) == (*fusion_overlay.style_rgb(11), 255)
    mixed = fusion_overlay.style_rgb(11), fusion_overlay.style_rgb(22)
    for channel, got in enumerate((right.red(), right.green(), right.blue())):  # the blend zone: a mix
        assert min(mixed[0][channel], mixed[1][channel]) - 1 <= got <= max(mixed[0][channel], mixed[1][channel]) + 1
    assert (right.red(), right.green(), right.blue()) not in mixed
    before = overlay.computed
    select_tool(win, "Brush")
    win.tools.painting.settings.size, win.tools.painting.settings.hardness = 200, 1.0
    stroke(win, [(win.canvas.width() // 2 - 100, win.canvas.height() // 2)])
    qtbot.waitUntil(lambda: overlay.computed > before and not overlay._asked, timeout=30000)
    x, y = win.canvas.view.screen_to_world(win.canvas.width() // 2 - 100, win.canvas.height() // 2)
    painted = overlay.images[(0, x // 256, y // 256)][1].pixelColor((x % 256) // 4, (y % 256) // 4)
    assert (painted.red(), painted.green(), painted.blue()) == fusion_overlay.style_rgb(22), "the stroke shows"


def test_strokes_far_away_and_zoomed_out_cover_what_the_user_saw(qtbot, painter):
    win = painter(centres=((10**9 - 200, 0, 11), (10**9 + 200, 0, 22)))
    win.canvas.centre_on(10**9, 0, -2)  # 4 world pixels per screen pixel
    select_tool(win, "Brush")
    win.tools.painting.settings.size, win.tools.painting.settings.hardness = 64, 1.0
    stroke(win, [(200, 150), (260, 150)])
    strokes, view = win.world.styles.strokes, win.canvas.view
    c = strokes.cell
    (x0, y0), (x1, _) = view.screen_to_world(200, 150), view.screen_to_world(260, 150)
    assert x0 > 10**9 - 1000
    ids = strokes.read(Rect((x0 - 200) // c, (y0 - 200) // c, (x1 - x0 + 400) // c + 1, 400 // c + 1))
    painted = np.argwhere(ids == 1)
    width_px = (painted[:, 1].max() - painted[:, 1].min() + 1) * c
    height_px = (painted[:, 0].max() - painted[:, 0].min() + 1) * c
    assert abs(height_px - 64 * 4) <= 2 * c, "a 64-px brush at zoom 1/4 paints 256 world px across"
    assert abs(width_px - (x1 - x0 + 256)) <= 2 * c
