"""Class 4: extreme views (zoom 10^30, x = ±10^30, NaN) are clamped; no paintEvent can raise.

pytest-qt turns an exception inside a Qt virtual method (``paintEvent``) into a test failure, so
painting each view (``grab`` paints synchronously) is the check.
"""

from __future__ import annotations

import math

import pytest

from app.tiles import MAX_VIEW_CENTRE, MAX_ZOOM_IN, MAX_ZOOM_OUT, SUB, View
from engine.project import Project, ProjectView, save_project
from engine.world import World
from tests.faults.hostile_projects import _meta, write_zip

FAR = 10**30
EXTREMES = [
    (FAR, 0, 0),
    (-FAR, FAR, 0),
    (0, 0, FAR),
    (0, 0, -FAR),
    (FAR, -FAR, -FAR),
    (2**61, 2**61, MAX_ZOOM_IN),
]


def test_views_are_clamped_on_construction():
    view = View(FAR * SUB, -FAR * SUB, FAR, 10**9, -3)
    assert (view.cx, view.cy, view.zoom, view.width, view.height) == (
        MAX_VIEW_CENTRE,
        -MAX_VIEW_CENTRE,
        MAX_ZOOM_IN,
        2**15,
        1,
    )
    nan = View(math.nan, math.inf, -FAR)
    assert (nan.cx, nan.cy, nan.zoom) == (0, 0, -MAX_ZOOM_OUT) and nan.unit > 0
    assert View(1.6, 0, 2.2).cx == 2 and View(1.6, 0, 2.2).zoom == 2


@pytest.mark.parametrize("x, y, zoom", EXTREMES)
def test_the_canvas_paints_extreme_views(make_canvas, x, y, zoom):
    canvas = make_canvas()
    canvas.centre_on(x, y, zoom)
    assert canvas.grab().width() == canvas.width()
    canvas.pan_by(FAR, -FAR)
    canvas.zoom_by(FAR)
    canvas.zoom_by(-FAR)
    assert canvas.grab().width() == canvas.width()
    view = canvas.view
    assert abs(view.cx) <= MAX_VIEW_CENTRE and -canvas.plan.max_level <= view.zoom <= MAX_ZOOM_IN
    assert view.world_rect().w > 0  # the export dialog's rect of the view stays a valid Rect


@pytest.mark.parametrize("x, y, zoom", EXTREMES)
def test_a_project_with_an_extreme_view_opens_and_paints(open_window, tmp_path, x, y, zoom):
    window = open_window()
    path = tmp_path / "fake.everscape"
    save_project(path, Project(World("fake:test", 3), ProjectView(0, 0, 0)))
    far = _meta(dict(_members(path)), lambda d: d.update(view={"x": x, "y": y, "zoom": zoom}))
    write_zip(path, far)
    assert window.project.open_project(path), window.last_error
    assert window.grab().width() > 0  # canvas, navigator and status bar all painted
    window.canvas.pan_by(-(10**6), 10**6)
    window.canvas.zoom_by(-100)
    window.navigator.grab()
    assert window.grab().width() > 0 and window.last_error is None


def _members(path):
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_a_remembered_extreme_view_is_clamped_at_start(open_window):
    from app.settings import Settings

    Settings().save_view(FAR, -FAR, FAR)
    window = open_window(model_ref=None)
    assert window.canvas.view.zoom <= MAX_ZOOM_IN and window.grab().width() > 0
