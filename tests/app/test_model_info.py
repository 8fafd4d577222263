"""The Model info view plots the shipped models' real quality cards."""

from __future__ import annotations

import pytest

from app.panels.model_info import ModelInfoView, card_for, landcover, scaleinv_curve, swd_per_level


def test_card_plots_swd_scaleinv_and_landcover_by_latitude(qtbot):
    card = card_for("infinitygan-bluemarble")
    assert card is not None
    swd = swd_per_level(card)
    trained = card["metrics"]["reports"]["trained"]["swd"]["levels"]
    assert dict(swd["trained"]) == {float(k): v for k, v in trained.items()}
    assert swd["untrained"] and swd["real vs real"]
    scale = dict(scaleinv_curve(card)["trained"])
    assert scale[1.0] == pytest.approx(card["metrics"]["trained"]["scaleinv"]["1"])
    axis, cover = landcover(card)
    bands = card["landcover"]["by_latitude"]
    assert axis.startswith("latitude") and [p[1] for p in cover["ice data"]] == [b["data"]["ice"] for b in bands]
    view = ModelInfoView()
    qtbot.addWidget(view)
    view.show_card(card)
    assert set(view.shown) == {"SWD per level", "∞-SWD vs frame SWD", "ScaleInv", "land cover"}
    plot = view.plots.getItem(1, 1)
    assert len(plot.listDataItems()) == len(cover)
    assert not view.grab().isNull()


def test_model_without_bands_or_card(qtbot):
    axis, cover = landcover(card_for("alis-bluemarble"))
    assert axis.startswith("class: ocean") and set(cover) == {"render", "data"}
    assert card_for("reference:tiny") is None
    view = ModelInfoView()
    qtbot.addWidget(view)
    view.show_card(None)
    assert "no quality card" in view.title.text() and not view.shown


def test_view_menu_opens_model_info_for_the_open_model(qtbot, open_window):
    from PySide6.QtWidgets import QDialog

    window = open_window()
    view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    next(a for a in view_menu.actions() if a.text() == "&Model info…").trigger()
    dialog = next(d for d in window.findChildren(QDialog) if d.windowTitle() == "Model info — fake:test")
    assert "no quality card" in dialog.view.title.text()
    dialog.close()
