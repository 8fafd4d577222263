"""The first view of a new world: probed candidate places, scored by land and coast, bounded in cost."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

import app.first_view
from app.first_view import MAX_PROBES, FirstView, candidate_centres, choose_place, place_score
from tests.app.fakes import FakeModel

REAL_PROBE = FirstView.probe  # taken before the app conftest's fixture turns the probe off
OCEAN, LAND = (10, 20, 160), (40, 150, 30)


@pytest.fixture(autouse=True)
def probe_on(monkeypatch):
    monkeypatch.setattr(FirstView, "probe", REAL_PROBE)


class CoastModel(FakeModel):
    """Ocean west of world x = ``coast``, forest east of it: a straight north-south coastline."""

    def __init__(self, coast: int | None) -> None:
        super().__init__()
        self.coast = coast

    def render_blocks(self, origins, source, styles, level=0):
        self.calls.append((level, tuple(origins)))
        b = self.config.block
        out = []
        for ox, _oy in origins:
            x = (torch.arange(b) + ox) << level
            land = (x >= self.coast) if self.coast is not None else torch.zeros(b, dtype=torch.bool)
            land = land[None, :].expand(b, b)
            pixel = [torch.where(land, LAND[c] / 127.5 - 1, OCEAN[c] / 127.5 - 1) for c in range(3)]
            out.append(torch.stack(pixel))
        return torch.stack(out)


def image(west: tuple[int, int, int], east: tuple[int, int, int], split: int = 32) -> np.ndarray:
    out = np.empty((64, 64, 3), dtype=np.uint8)
    out[:, :split], out[:, split:] = west, east
    return out


def test_a_coast_scores_above_open_water_and_plain_land():
    coast, water, land = (
        place_score(image(OCEAN, LAND)),
        place_score(image(OCEAN, OCEAN)),
        place_score(image(LAND, LAND)),
    )
    assert water == 0.0 and land == 0.0 and coast > 1.0
    assert place_score(image(OCEAN, LAND, split=8)) < coast  # mostly water: less balanced


def test_candidates_start_at_the_origin_nearest_first_and_are_bounded():
    places = candidate_centres(500)
    assert len(places) == MAX_PROBES == len(set(places)) and places[0] == (0, 0)
    distances = [x * x + y * y for x, y in places]
    assert distances == sorted(distances) and max(distances) == 4 * 500**2  # two rings at most


def test_choice_keeps_the_origin_unless_another_place_is_strictly_better():
    places = [(0, 0), (1, 0), (2, 0)]
    flat = choose_place(lambda ps: [image(OCEAN, OCEAN) for _ in ps], places)
    assert flat.centre == (0, 0) and flat.score == flat.origin_score == 0.0
    looks = {(0, 0): image(OCEAN, OCEAN), (1, 0): image(OCEAN, LAND, 12), (2, 0): image(OCEAN, LAND)}
    best = choose_place(lambda ps: [looks[p] for p in ps], places)
    assert best.centre == (2, 0) and best.score > best.origin_score


def spacing(window) -> int:
    view = window.canvas.view
    return max(view.width, view.height) * view.unit // 16  # one view apart (app.first_view)


def test_a_new_world_opens_on_the_coast_and_the_origin_when_nothing_is_better(qtbot, open_window, monkeypatch):
    probed: list[int] = []
    real = app.first_view.probe_renders
    monkeypatch.setattr(
        app.first_view, "probe_renders", lambda r, w, places: probed.append(len(places)) or real(r, w, places)
    )
    model = CoastModel(coast=None)  # all water at first
    window = open_window(model)
    qtbot.waitUntil(lambda: window.first_view.last is not None, timeout=10000)  # probed at the first start
    assert window.first_view.last.centre == (0, 0) and window.canvas.view.centre == (0, 0)
    model.coast = spacing(window)  # the next seed has a coast one view east
    window.first_view.last = None
    window.new_world_action.trigger()
    qtbot.waitUntil(lambda: window.first_view.last is not None, timeout=10000)
    choice = window.first_view.last
    assert choice.centre == (model.coast, 0) and choice.score > choice.origin_score == 0.0
    assert window.canvas.view.centre == (model.coast, 0)
    assert probed == [MAX_PROBES, MAX_PROBES]  # the cost: one block per candidate, at start and for New world


def test_a_probe_never_moves_a_view_the_user_moved(qtbot, open_window):
    model = CoastModel(coast=None)
    window = open_window(model)
    qtbot.waitUntil(lambda: window.first_view.last is not None, timeout=10000)
    model.coast = spacing(window)
    window.first_view.last = None
    window.new_world_action.trigger()
    window.go_to("-5000, 0")  # the user moves before the probe reports
    qtbot.waitUntil(lambda: window.first_view.last is not None, timeout=10000)
    assert window.first_view.last.centre == (model.coast, 0) and window.canvas.view.centre == (-5000, 0)


def test_a_project_opened_at_start_keeps_its_own_view(qtbot, tmp_path, monkeypatch):
    """``everscape FILE.everscape``: the project opens while the model loads; no probe moves its view."""
    from app.first_view import Choice
    from app.main_window import MainWindow
    from app.settings import Settings
    from engine.project import Project, ProjectView, save_project
    from engine.world import World
    from tests.app.fakes import loader_for

    asked: list = []
    far = Choice((5000, 5000), 1.0, 0.0, ())
    monkeypatch.setattr(app.first_view, "choose_place", lambda render, places: asked.append(places) or far)
    path = tmp_path / "island.everscape"
    save_project(path, Project(World("fake:test", 41), ProjectView(96, -32, 0)))
    load = loader_for(CoastModel(coast=None))
    slow = lambda ref: (time.sleep(0.5), load(ref))[1]  # noqa: E731 - as a real checkpoint: still loading
    window = MainWindow(Settings(), "fake:test", loader=slow)
    qtbot.addWidget(window)
    window.show()
    assert window.project.open_project(path)  # before the model is ready, as the command line does
    qtbot.waitUntil(lambda: window.world is not None and window.world.seed == 41, timeout=10000)
    qtbot.waitUntil(window.canvas.is_complete, timeout=10000)
    assert not asked and window.canvas.view.centre == (96, -32)
    window.new_world_action.trigger()  # a new world still gets its first view
    qtbot.waitUntil(lambda: window.canvas.view.centre == (5000, 5000), timeout=10000)
    window.close()
