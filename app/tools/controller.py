"""Wires tools and undo into the main window: the Edit menu's Undo/Redo and the "Tools" toolbar.

The history and the shown world belong to the :class:`~app.session.Session`; this controller turns
them into actions. Tools commit through :meth:`apply` (= :meth:`Session.apply`), Undo/Redo call the
session's, and the actions follow its ``history_changed`` event. The session tells the canvas where
each new world can differ from the shown one (:func:`engine.edits.changed_regions`), so the canvas
keeps the tiles an edit, undo or redo cannot have changed; a world shown by anything else (a model
or project opened) starts a new history there.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QSpinBox

from app.history import History
from app.session import weakly
from app.tools.drop_image import ImageDropper
from app.tools.resample import ResampleTool
from app.tools.style_centres import StyleCentreTool
from engine.world import World


class ToolController:
    def __init__(self, window) -> None:
        self.window = window
        self.canvas = window.canvas
        self.session = self.canvas.session
        self.before_change: list[Callable[[], None]] = []  # run before the document changes (app.staging)
        self._build_edit_menu()
        self.session.history_changed.connect(weakly(self._on_history_changed))
        self.style_tool = StyleCentreTool(self.canvas, self.apply, window.show_error, model=self.model)
        self.resample_tool = ResampleTool(self.canvas, self.apply, self.model, window.show_error)
        self.image_dropper = ImageDropper(  # drop = invert, a job of the window's
            self.canvas, self.apply, self.model, window.show_error, jobs=window.jobs
        )
        self.pan_action = window.tool_group.actions()[0]
        self.pan_action.triggered.connect(lambda _checked=False: self.canvas.set_tool(None))
        self.style_action = self.add_tool(
            self.style_tool, "Click: new style centre; drag: move; right-click/Delete: remove; Ctrl+wheel: width"
        )
        self.resample_action = self.add_tool(self.resample_tool, "Drag a rectangle to resample what is inside it")
        self.width_box = QSpinBox()
        self.width_box.setRange(0, 100000)
        self.width_box.setSingleStep(16)
        self.width_box.setSpecialValueText("default")
        self.width_box.setSuffix(" px")
        self.width_box.setToolTip("Blend width of the selected style centre and of new ones (default: the model's)")
        self.width_box.valueChanged.connect(lambda value: self.style_tool.set_width(float(value) if value else None))
        self.style_tool.on_select = self._show_width
        self.style_tool.selection_listeners.append(self.session.select)  # the document's selection
        self.width_box.setFixedWidth(72)  # the vertical toolbar stays as narrow as its buttons
        window.tools_bar.addWidget(self.width_box)

    def _build_edit_menu(self) -> None:
        bar = self.window.menuBar()
        menu = QMenu("&Edit", self.window)
        actions = bar.actions()
        if len(actions) > 1:
            bar.insertMenu(actions[1], menu)  # File, Edit, then the rest
        else:
            bar.addMenu(menu)
        self.undo_action = menu.addAction("&Undo", QKeySequence("Ctrl+Z"), self.undo)
        self.redo_action = menu.addAction("&Redo", QKeySequence("Ctrl+Shift+Z"), self.redo)
        self.edit_menu = menu
        self._update_actions()

    @property
    def history(self) -> History:
        return self.session.history

    def add_tool(self, tool, tip: str) -> QAction:
        """A checkable action in the Tools toolbar that makes ``tool`` the canvas's."""
        action = QAction(tool.name, self.window, checkable=True)
        action.setIconText(tool.short_name)  # the toolbar's text: keeps the vertical bar narrow
        action.setToolTip(f"{tool.name}: {tip}")
        action.triggered.connect(lambda _checked=False: self.canvas.set_tool(tool))
        self.window.tool_group.addAction(action)
        self.window.tools_bar.addAction(action)
        return action

    def _show_width(self, width: float | None) -> None:
        """Show a picked centre's width without making that an edit."""
        self.width_box.blockSignals(True)
        self.width_box.setValue(0 if width is None else round(width))
        self.width_box.blockSignals(False)
        self.style_tool.new_width = width

    _add_tool = add_tool  # the name older wiring used

    def model(self):
        """The open model (its latent geometry), or None while none matches the shown world."""
        return self.session.model()

    # -- worlds -------------------------------------------------------------------------------------

    def open(self, world: World) -> None:
        """Show ``world`` as a fresh document: the history restarts from it."""
        self._before_change()
        self.session.open(world)

    def apply(self, world: World, merge: Hashable | None = None, label: str = "Edit") -> None:
        """Record an edit of the shown world (``label``: what it did, for Edit ▸ Undo) and show it."""
        self._before_change()
        self.session.apply(world, merge, label)

    def _before_change(self) -> None:
        for hook in self.before_change:
            hook()

    def undo(self) -> None:
        self._before_change()
        self.session.undo()

    def redo(self) -> None:
        self._before_change()
        self.session.redo()

    def _on_history_changed(self, _session) -> None:
        self._update_actions()

    def _update_actions(self) -> None:
        undo, redo = self.history.undo_label(), self.history.redo_label()
        self.undo_action.setEnabled(undo is not None)
        self.redo_action.setEnabled(redo is not None)
        self.undo_action.setText(f"&Undo {undo}" if undo else "&Undo")
        self.redo_action.setText(f"&Redo {redo}" if redo else "&Redo")
