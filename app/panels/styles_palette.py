"""The styles palette: the world's styles as swatches to pick, name, add, duplicate, resample, delete.

One row per style centre: a small sample rendered with that style alone (in the tile worker,
through :meth:`app.worker.TileWorker.call`; cached per model and seed), the user's name for it
(double-click to edit) and its seed. The selected row is the style-centre tool's selection, both
ways, and what the brush paints with. Every button is one world edit through the tool controller,
so it is undoable and saved with the project:

- **Add** a style with a random seed, or the seed typed beside it, at the centre of the view;
- **Duplicate** the selected style (same seed and width) a little beside it;
- **Resample**: a new seed for the selected style, same place, same painted strokes;
- **Delete** it (its strokes go with it, see :func:`engine.style_edits.remove_centre`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon, QImage, QIntValidator, QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.session import weakly
from app.tiles import SUB
from app.tools.base import Commit
from app.tools.style_centres import StyleCentreTool, random_seed
from engine.errors import EverscapeError
from engine.geometry import Rect
from engine.models.base import Generator
from engine.render import Renderer
from engine.style_edits import add_centre, remove_centre, set_centre_name, set_centre_seed
from engine.styles import StyleCentre, StyleLayout
from engine.world import World

SWATCH = 48  # rendered swatch side, world pixels at level 0
DUPLICATE_OFFSET = 48  # screen pixels between a style and its duplicate
SwatchKey = tuple[str, int, tuple[float, ...] | None]  # model, seed, explicit latent


def render_swatch(renderer: Renderer, world: World, centre: StyleCentre) -> np.ndarray:
    """``(SWATCH, SWATCH, 3)`` uint8: the world's model and seed with ``centre``'s style alone."""
    alone = StyleLayout.of([replace(centre, x=SWATCH // 2, y=SWATCH // 2, name=None)])
    sample = World(world.model, world.seed, alone, model_hash=world.model_hash)
    return renderer.render(sample, [Rect(0, 0, SWATCH, SWATCH)])[0]


class StylesPalette(QWidget):
    def __init__(
        self,
        canvas,
        apply: Commit,
        model: Callable[[], Generator | None],
        style_tool: StyleCentreTool,
        report_error: Callable[[str], None],
        seed_source: Callable[[], int] = random_seed,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.canvas, self.apply, self.model = canvas, apply, model
        self.style_tool, self.report_error, self.seed_source = style_tool, report_error, seed_source
        self.swatches: dict[SwatchKey, QIcon] = {}
        self._asked: set[SwatchKey] = set()
        self._shown: StyleLayout | None = None
        self._syncing = False
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Style", "Seed"])
        self.tree.setRootIsDecorated(False)
        self.tree.setIconSize(QPixmap(SWATCH, SWATCH).size())
        self.tree.currentItemChanged.connect(self._on_current)
        self.tree.itemChanged.connect(self._on_renamed)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.seed_field = QLineEdit()
        self.seed_field.setValidator(QIntValidator(0, 2**31 - 1))
        self.seed_field.setPlaceholderText("seed")
        self.seed_field.returnPressed.connect(self.add_typed)
        buttons = QGridLayout()
        self.add_button = self._button("Add", "A new style with a random seed at the view's centre", self.add_random)
        self.add_seed_button = self._button("Add seed", "A new style with the seed typed here", self.add_typed)
        self.duplicate_button = self._button("Duplicate", "The selected style again, beside it", self.duplicate)
        self.resample_button = self._button("Resample", "A new seed for the selected style, same place", self.resample)
        self.delete_button = self._button("Delete", "Remove the selected style and its strokes", self.delete)
        for index, widget in enumerate(
            (self.add_button, self.seed_field, self.add_seed_button, self.duplicate_button, self.resample_button)
        ):
            buttons.addWidget(widget, index // 3, index % 3)
        buttons.addWidget(self.delete_button, 1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tree)
        layout.addWidget(self.hint)
        layout.addLayout(buttons)
        canvas.session.world_changed.connect(weakly(self._on_world_changed))  # the document's world
        canvas.worker.sig_call_done.connect(self._on_swatch)
        canvas.session.selection_changed.connect(weakly(self._on_tool_selection))  # the tool selects in the session
        self.refresh()

    def _button(self, text: str, tip: str, slot: Callable[[], None]) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        button.clicked.connect(lambda _checked=False: slot())
        return button

    # -- showing the world's styles -------------------------------------------------------------------

    def _on_world_changed(self, _change) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the rows when the shown world's styles changed (not on every pan)."""
        world = self.canvas.world
        layout = world.styles if world is not None else None
        if layout is self._shown:
            return
        self._shown = layout
        self._syncing = True
        self.tree.clear()
        centres = layout.centres if layout is not None else ()
        for index, centre in enumerate(centres):
            item = QTreeWidgetItem([centre.name or f"Style {index + 1}", str(centre.seed)])
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            item.setToolTip(0, f"at {centre.x}, {centre.y}; double-click to rename")
            icon = self._swatch(world, centre)
            if icon is not None:
                item.setIcon(0, icon)
            self.tree.addTopLevelItem(item)
        self._syncing = False
        self._on_tool_selection(self.style_tool.selected)
        if world is not None and not centres:
            self.hint.setText(f"One style everywhere (world seed {world.seed}). Add styles to paint with them.")
        else:
            self.hint.setText("Select a style to paint it with the Brush; double-click its name to rename it.")

    def _swatch_key(self, world: World, centre: StyleCentre) -> SwatchKey:
        return (world.model, centre.seed, centre.latent)

    def _swatch(self, world: World, centre: StyleCentre) -> QIcon | None:
        key = self._swatch_key(world, centre)
        if key not in self.swatches and key not in self._asked:
            self._asked.add(key)
            swatch = lambda renderer: (key, render_swatch(renderer, world, centre))  # noqa: E731 - runs in the worker
            self.canvas.worker.call_latest(f"swatch:{key}", swatch)
        return self.swatches.get(key)

    def _on_swatch(self, group: str, result) -> None:
        if not group.startswith("swatch:"):
            return
        key, pixels = result
        image = QImage(pixels.data, pixels.shape[1], pixels.shape[0], 3 * pixels.shape[1], QImage.Format.Format_RGB888)
        self.swatches[key] = QIcon(QPixmap.fromImage(image.copy()))
        world = self.canvas.world
        if world is None:
            return
        for index, centre in enumerate(world.styles.centres):
            item = self.tree.topLevelItem(index)
            if item is not None and self._swatch_key(world, centre) == key:
                self._syncing = True
                item.setIcon(0, self.swatches[key])
                self._syncing = False

    # -- selection, both ways ---------------------------------------------------------------------

    def _on_current(self, item: QTreeWidgetItem | None, _previous=None) -> None:
        if not self._syncing:
            self.style_tool.selected = None if item is None else self.tree.indexOfTopLevelItem(item)

    def _on_tool_selection(self, index: int | None) -> None:
        self._syncing = True
        item = None if index is None else self.tree.topLevelItem(index)
        self.tree.setCurrentItem(item) if item is not None else self.tree.clearSelection()
        self._syncing = False

    def selected(self) -> int | None:
        index = self.style_tool.selected
        world = self.canvas.world
        return index if world is not None and index is not None and index < len(world.styles.centres) else None

    # -- edits ------------------------------------------------------------------------------------------

    def _edit(
        self, make: Callable[[StyleLayout], StyleLayout], select: Callable[[StyleLayout], int | None], label: str
    ) -> None:
        world = self.canvas.world
        if world is None:
            return
        try:
            layout = make(world.styles)
        except EverscapeError as error:
            self.report_error(str(error))
            return
        self.apply(world.with_styles(layout), label=label)
        self.refresh()
        self.style_tool.selected = select(layout)

    def add(self, seed: int) -> None:
        world, model = self.canvas.world, self.model()
        if world is None:
            return
        x, y = self.canvas.view.centre
        centre = StyleCentre(x, y, int(seed), self.style_tool.new_width)
        implicit = model is None or model.implicit_style_centre
        self._edit(
            lambda layout: add_centre(layout, world.seed, centre, implicit),
            lambda new: len(new.centres) - 1,
            "Add style",
        )

    def add_random(self) -> None:
        self.add(self.seed_source())

    def add_typed(self) -> None:
        text = self.seed_field.text().strip()
        if not text:
            self.report_error("type a seed (an integer) to add that style")
            return
        self.add(int(text))

    def duplicate(self) -> None:
        index = self.selected()
        if index is None:
            self.report_error("select a style to duplicate")
            return
        offset = DUPLICATE_OFFSET * self.canvas.view.unit // SUB
        c = self.canvas.world.styles.centres[index]
        copy = replace(c, x=c.x + offset, y=c.y + offset, name=None if c.name is None else f"{c.name} copy")
        self._edit(
            lambda layout: add_centre(layout, 0, copy, False), lambda new: len(new.centres) - 1, "Duplicate style"
        )

    def resample(self) -> None:
        index = self.selected()
        if index is None:
            self.report_error("select a style to resample")
            return
        seed = self.seed_source()
        self._edit(lambda layout: set_centre_seed(layout, index, seed), lambda _l: index, "Resample style")

    def delete(self) -> None:
        index = self.selected()
        if index is None:
            self.report_error("select a style to delete")
            return
        self._edit(lambda layout: remove_centre(layout, index), lambda _l: None, "Delete style")

    def _on_renamed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._syncing or column != 0:
            return
        index = self.tree.indexOfTopLevelItem(item)
        name, world = item.text(0).strip(), self.canvas.world
        if world is None or not 0 <= index < len(world.styles.centres):
            return
        if name == (world.styles.centres[index].name or f"Style {index + 1}"):
            return  # edited back to what it was: no edit
        self._edit(lambda layout: set_centre_name(layout, index, name), lambda _l: index, "Rename style")
