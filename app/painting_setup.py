"""Installs style painting in the main window: brush, eraser and fill tools, the Styles dock
(palette and paint options) and the fusion overlay.

Kept out of :mod:`app.main_window` and out of :mod:`app.tools` (tools never import the panels that
show them, so ``app`` has no import cycle): the window calls :func:`install_painting` once after the
tools controller, and every edit still goes through its ``apply`` (one undo step each, with exact
tile damage from :func:`engine.edits.changed_regions`). The brush paints the session's selection.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QScrollArea, QVBoxLayout, QWidget

from app.canvas_focus import return_focus_after_edit
from app.fusion_overlay import FusionOverlay
from app.panels.paint_options import PaintOptions
from app.panels.styles_palette import StylesPalette
from app.tools.brush import BrushSettings, BrushTool, FillTool
from app.tools.controller import ToolController


@dataclass
class Painting:
    """What :func:`install_painting` made (tests and menus reach them here)."""

    settings: BrushSettings
    brush: BrushTool
    eraser: BrushTool
    fill: FillTool
    overlay: FusionOverlay
    palette: StylesPalette
    options: PaintOptions
    dock: QDockWidget


def install_painting(controller: ToolController) -> Painting:
    """The painting tools, dock and overlay, set as ``controller.painting`` and returned."""
    window, canvas, style_tool = controller.window, controller.canvas, controller.style_tool
    settings = BrushSettings()

    def selection() -> int | None:
        return controller.session.selection

    common = (canvas, controller.apply, window.show_error, controller.model, selection, settings)
    brush = BrushTool(*common, markers=style_tool)
    eraser = BrushTool(*common, erase=True, markers=style_tool)
    fill = FillTool(*common, markers=style_tool)
    controller.add_tool(brush, "Drag to paint the selected style; [ ] size, Shift+[ ] hardness")
    controller.add_tool(eraser, "Drag to return painted ground to the style centres' rule")
    controller.add_tool(fill, "Click inside a closed painted outline to fill it with the selected style")
    overlay = FusionOverlay(canvas, window)
    palette = StylesPalette(canvas, controller.apply, controller.model, style_tool, window.show_error)
    options = PaintOptions(settings, overlay)
    for tool in (brush, eraser, fill):
        tool.on_settings = options.show_settings
    holder = QWidget()
    layout = QVBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(palette)
    layout.addWidget(options)
    scroll = QScrollArea()  # the window may be small (screenshots): the dock scrolls instead of growing it
    scroll.setWidgetResizable(True)
    scroll.setWidget(holder)
    dock = QDockWidget("Styles", window)
    dock.setObjectName("styles")
    dock.setWidget(scroll)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    navigator = window.navigator.parentWidget()
    if isinstance(navigator, QDockWidget):  # one tab group: the window's minimum size stays as it was
        window.tabifyDockWidget(navigator, dock)
        navigator.raise_()
    for action in window.menuBar().actions():
        if action.text() == "&View" and action.menu() is not None:
            action.menu().addAction(dock.toggleViewAction())
    controller.painting = Painting(settings, brush, eraser, fill, overlay, palette, options, dock)
    return_focus_after_edit(canvas, controller.width_box, window.seed_field, palette.seed_field, options.size_box)
    return controller.painting
