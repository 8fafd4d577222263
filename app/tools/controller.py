"""Wires tools and undo into the main window: the one door through which worlds change.

:class:`ToolController` owns the :class:`~app.history.History`, the Edit menu's Undo/Redo, and the
tool actions of the window's "Tools" toolbar. Every change of the shown world goes through it:
:meth:`apply` records an edit (seed, tools) and shows it, :meth:`undo`/:meth:`redo` move through
history, and a world shown on the canvas by anything else (a model or project opened) starts a new
history, as does :meth:`open`. Each time it tells the canvas where the new world can differ from
the shown one (:func:`engine.edits.changed_regions`), so the canvas keeps the tiles an edit, undo
or redo cannot have changed.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QSpinBox

from app.canvas_focus import return_focus_after_edit
from app.history import History
from app.tools.drop_image import ImageDropper
from app.tools.resample import ResampleTool
from app.tools.style_centres import StyleCentreTool
from engine.edits import changed_regions
from engine.world import World


class ToolController:
    def __init__(self, window) -> None:
        self.window = window
        self.canvas = window.canvas
        self.history = History()
        self.before_change: list[Callable[[], None]] = []  # run before the document changes (app.staging)
        self._build_edit_menu()
        # A world shown by anyone else (a model opened, a project loaded) starts a new history.
        self.canvas.sig_view_changed.connect(self._on_canvas_changed)
        self.style_tool = StyleCentreTool(self.canvas, self.apply, window.show_error, model=self.model)
        self.resample_tool = ResampleTool(self.canvas, self.apply, self.model, window.show_error)
        self.image_dropper = ImageDropper(  # drop = invert, a job of the window's
            self.canvas, self.apply, self.model, window.show_error, jobs=window.jobs
        )
        self.pan_action = window.tool_group.actions()[0]
        self.pan_action.triggered.connect(lambda _checked=False: self.canvas.set_tool(None))
        self.style_action = self._add_tool(
            self.style_tool, "Click: new style centre; drag: move; right-click/Delete: remove; Ctrl+wheel: width"
        )
        self.resample_action = self._add_tool(self.resample_tool, "Drag a rectangle to resample what is inside it")
        self.width_box = QSpinBox()
        self.width_box.setRange(0, 100000)
        self.width_box.setSingleStep(16)
        self.width_box.setSpecialValueText("default")
        self.width_box.setSuffix(" px")
        self.width_box.setToolTip("Blend width of the selected style centre and of new ones (default: the model's)")
        self.width_box.valueChanged.connect(lambda value: self.style_tool.set_width(float(value) if value else None))
        self.style_tool.on_select = self._show_width
        self.width_box.setFixedWidth(72)  # the vertical toolbar stays as narrow as its buttons
        window.tools_bar.addWidget(self.width_box)
        from app.tools.painting_setup import install_painting  # imports the controller's tools: late

        self.painting = install_painting(self)
        return_focus_after_edit(
            self.canvas,
            self.width_box,
            window.seed_field,
            self.painting.palette.seed_field,
            self.painting.options.size_box,
        )

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

    def _add_tool(self, tool, tip: str) -> QAction:
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

    def model(self):
        """The open model (its latent geometry), or None while none matches the shown world."""
        info, world = self.window.model_info, self.canvas.world
        if info is None or world is None or info.ref != world.model:
            return None
        return info.model

    # -- worlds -------------------------------------------------------------------------------------

    def open(self, world: World) -> None:
        """Show ``world`` as a fresh document: the history restarts from it."""
        self._before_change()
        self.history.reset(world)
        self._show(world)

    def apply(self, world: World, merge: Hashable | None = None, label: str = "Edit") -> None:
        """Record an edit of the shown world (``label``: what it did, for Edit ▸ Undo) and show it."""
        self._before_change()
        self.history.push(world, merge, label)
        self._show(world)

    def _on_canvas_changed(self, _view=None) -> None:
        world = self.canvas.world
        if world is not None and world is not self.history.current:
            self.history.reset(world)
            self._update_actions()

    def _before_change(self) -> None:
        for hook in self.before_change:
            hook()

    def undo(self) -> None:
        self._before_change()
        world = self.history.undo()
        if world is not None:
            self._show(world)

    def redo(self) -> None:
        self._before_change()
        world = self.history.redo()
        if world is not None:
            self._show(world)

    def _show(self, world: World) -> None:
        shown, model = self.canvas.shown, self.model()  # a staged preview, if one is shown
        damage = None
        if shown is not None and model is not None and world.model == shown.model:
            damage = lambda level: changed_regions(model, shown, world, level)  # noqa: E731
        self.canvas.set_world(world, damage)
        self.window.seed_field.setText(str(world.seed))
        self._update_actions()

    def _update_actions(self) -> None:
        undo, redo = self.history.undo_label(), self.history.redo_label()
        self.undo_action.setEnabled(undo is not None)
        self.redo_action.setEnabled(redo is not None)
        self.undo_action.setText(f"&Undo {undo}" if undo else "&Undo")
        self.redo_action.setText(f"&Redo {redo}" if redo else "&Redo")
