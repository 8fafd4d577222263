"""View ▸ Model info: a shipped model's quality card (``checkpoints/NAME.json``) as plots.

A card's numbers are easier to judge against each other than in a table: each plot sets the model
beside its floor (the untrained model of the same config) and its ceiling (real data against real
data). Four plots: SWD per pyramid level; ∞-SWD (a long strip's first and last third, and the whole
strip) beside the frame SWD, which says whether quality holds far from the origin; ScaleInv (SWD
of zoomed-out renders against the data shrunk alike) per zoom; land cover per latitude band (or,
for a model without latitude, per class) against the data's shares.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from engine.cards import card_path, read_card
from engine.checkpoints import find_checkpoint

Series = dict[str, list[tuple[float, float]]]
STYLES = {"trained": "#4e9ae0", "untrained": "#e0804e", "real vs real": "#6cc070", "data": "#6cc070"}


def card_for(model_ref: str) -> dict[str, Any] | None:
    """The card beside ``model_ref``'s checkpoint (a shipped name or a path), or None if it has none."""
    path = find_checkpoint(model_ref) if not Path(model_ref).suffix else Path(model_ref)
    return read_card(card_path(path)) if path is not None else None


def _levels(report: dict[str, Any] | None) -> list[tuple[float, float]]:
    levels = (report or {}).get("levels") or {}
    return [(float(res), float(v)) for res, v in levels.items() if v is not None]


def swd_per_level(card: dict[str, Any]) -> Series:
    reports = card.get("metrics", {}).get("reports", {})
    trained, untrained = reports.get("trained", {}), reports.get("untrained", {})
    return {
        "trained": _levels(trained.get("swd")),
        "untrained": _levels(untrained.get("swd")),
        "real vs real": _levels(trained.get("real_vs_real")),
    }


def inf_swd_vs_frame(card: dict[str, Any]) -> Series:
    trained = card.get("metrics", {}).get("reports", {}).get("trained", {})
    inf = trained.get("inf_swd") or {}
    return {
        "frames": _levels(trained.get("swd")),
        "strip": _levels(inf.get("swd")),
        "strip, first third": _levels(inf.get("first_third")),
        "strip, last third": _levels(inf.get("last_third")),
    }


def scaleinv_curve(card: dict[str, Any]) -> Series:
    metrics = card.get("metrics", {})

    def curve(table: dict[str, Any] | None) -> list[tuple[float, float]]:
        return [(float(zoom), float(v)) for zoom, v in (table or {}).items() if isinstance(v, int | float)]

    return {
        "trained": curve(metrics.get("trained", {}).get("scaleinv")),
        "untrained": curve(metrics.get("untrained", {}).get("scaleinv")),
        "real vs real": curve(metrics.get("real_vs_real", {}).get("scaleinv")),
    }


def landcover(card: dict[str, Any]) -> tuple[str, Series]:
    """``("latitude band", {"ice render": [(band, share)], "ice data": ...})`` or, without bands,
    ``("class", {"render": [(class index, share)], "data": ...})``."""
    cover = card.get("landcover") or {}
    bands = cover.get("by_latitude") or []
    if bands:
        out: Series = {}
        for index, band in enumerate(bands):
            for side in ("render", "data"):
                for key, share in band[side].items():
                    out.setdefault(f"{key} {side}", []).append((float(index), float(share)))
        return "latitude band (north to south)", out
    measures = cover.get("measures") or {}
    return "class: " + ", ".join(measures), {
        side: [(float(i), float(row[side])) for i, row in enumerate(measures.values())] for side in ("render", "data")
    }


class ModelInfoView(QWidget):
    """Plots of one card; :meth:`show_card` replaces them (None: says there is no card)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("no model card")
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setMinimumSize(480, 420)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.plots, 1)
        self.shown: dict[str, Series] = {}

    def show_card(self, card: dict[str, Any] | None) -> None:
        self.plots.clear()
        self.shown = {}
        if card is None:
            self.title.setText("This model has no quality card (only shipped models have one).")
            return
        self.title.setText(f"{card.get('name', '?')} ({card.get('family', '?')}) — lower SWD is better")
        cover_axis, cover = landcover(card)
        panels = (
            ("SWD per level", "level (pixels)", swd_per_level(card), True),
            ("∞-SWD vs frame SWD", "level (pixels)", inf_swd_vs_frame(card), True),
            ("ScaleInv", "zoom out", scaleinv_curve(card), True),
            ("land cover", cover_axis, cover, False),
        )
        for index, (title, x_label, series, log_x) in enumerate(panels):
            self.shown[title] = series
            plot = self.plots.addPlot(row=index // 2, col=index % 2, title=title)
            plot.setLabel("bottom", x_label)
            plot.setLogMode(x=log_x)
            plot.showGrid(x=True, y=True, alpha=0.25)
            plot.addLegend()
            for n, (name, points) in enumerate(series.items()):
                plot.plot([p[0] for p in points], [p[1] for p in points], pen=_pen(n, name), symbol="o",
                          symbolSize=5, name=name)  # fmt: skip


def _pen(index: int, name: str):
    """Model, floor and ceiling keep one colour on every plot; land cover pairs a class's render
    (solid) with the data (dashed) in one colour."""
    side = name.rsplit(" ", 1)[-1]
    if side in ("render", "data") and name != side:
        style = Qt.PenStyle.DashLine if side == "data" else Qt.PenStyle.SolidLine
        return pg.mkPen(pg.intColor(index // 2, hues=6), width=2, style=style)
    return pg.mkPen(STYLES.get(name, pg.intColor(index, hues=6)), width=2)


def show_model_info(parent: QWidget, model_ref: str) -> QDialog:
    """View ▸ Model info: a window with the open model's card plotted (or why there is none)."""
    dialog = QDialog(parent)
    dialog.setWindowTitle(f"Model info — {model_ref}")
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    view = ModelInfoView(dialog)
    view.show_card(card_for(model_ref))
    QVBoxLayout(dialog).addWidget(view)
    dialog.view = view
    dialog.resize(900, 700)
    dialog.show()
    return dialog
