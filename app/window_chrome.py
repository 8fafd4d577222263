"""The main window's chrome: toolbars, menus, the training dock and the status bar.

Built here, apart from :mod:`app.main_window`, so the window class keeps to its behaviour (worlds,
worker signals, preferences) and each builder stays a plain function of the window it furnishes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QIntValidator, QKeySequence
from PySide6.QtWidgets import QComboBox, QDockWidget, QLabel, QLineEdit, QToolBar

from app.help_menu import build_help_menu
from app.panels.model_info import show_model_info

if TYPE_CHECKING:
    from app.main_window import MainWindow


def build_world_toolbar(window: MainWindow) -> None:
    bar = QToolBar("World", window)
    bar.setObjectName("world")
    window.addToolBar(bar)
    bar.addWidget(QLabel(" Model "))
    window.model_picker = QComboBox()
    window.model_picker.setMinimumContentsLength(18)
    window.model_picker.setToolTip("Shipped and your own checkpoints (random models: developer option)")
    window.model_picker.activated.connect(window.on_picker_activated)
    bar.addWidget(window.model_picker)
    bar.addWidget(QLabel(" Seed "))
    window.seed_field = QLineEdit()
    window.seed_field.setValidator(QIntValidator())
    window.seed_field.setFixedWidth(110)
    window.seed_field.setToolTip("World seed; press Enter to open it")
    window.seed_field.returnPressed.connect(window.on_seed_entered)
    bar.addWidget(window.seed_field)
    window.new_world_action = bar.addAction("New world", window.new_world)
    window.new_world_action.setToolTip("A new world of this model with a fresh random seed")

def build_tools_toolbar(window: MainWindow) -> None:
    # Tools (style centres, resample, drop image...) register here as checkable actions of
    # ``window.tool_group``; the pan tool is the canvas's built-in behaviour and the default.
    window.tools_bar = QToolBar("Tools", window)
    window.tools_bar.setObjectName("tools")
    window.addToolBar(Qt.ToolBarArea.LeftToolBarArea, window.tools_bar)
    window.tool_group = QActionGroup(window)
    window.tool_group.setExclusive(True)
    pan = QAction("Pan", window, checkable=True, checked=True)
    pan.setToolTip("Drag to pan, wheel to zoom (the default tool)")
    window.tool_group.addAction(pan)
    window.tools_bar.addAction(pan)

def build_menus(window: MainWindow, dock: QDockWidget) -> None:
    file_menu = window.menuBar().addMenu("&File")
    window.project.build_file_menu(file_menu)
    window.import_action = file_menu.addAction(  # the tools (and their dropper) are installed after the menus
        "&Import image…", QKeySequence("Ctrl+I"), lambda: window.tools.image_dropper.import_file()
    )
    window.export_action = file_menu.addAction("&Export…", QKeySequence("Ctrl+E"), window.open_export_dialog)
    file_menu.addSeparator()
    file_menu.addAction("&Quit", QKeySequence.StandardKey.Quit, window.close)
    view_menu = window.menuBar().addMenu("&View")
    view_menu.addAction("&Go to x, y…", QKeySequence("Ctrl+G"), window.ask_go_to)
    view_menu.addAction("Zoom &in", QKeySequence.StandardKey.ZoomIn, lambda: window.canvas.zoom_by(1))
    view_menu.addAction("Zoom &out", QKeySequence.StandardKey.ZoomOut, lambda: window.canvas.zoom_by(-1))
    view_menu.addAction("&Home (0, 0)", QKeySequence("Ctrl+Home"), lambda: window.canvas.centre_on(0, 0, 0))
    view_menu.addAction(dock.toggleViewAction())
    view_menu.addAction(install_training_panel(window).toggleViewAction())
    view_menu.addAction(window.jobs_dock.toggleViewAction())
    view_menu.addAction("&Model info…", lambda: window.model_info and show_model_info(window, window.model_info.ref))
    view_menu.addSeparator()
    view_menu.addAction("&Preferences…", QKeySequence.StandardKey.Preferences, window.edit_preferences)
    window.diagnostics_menu = diagnostics = view_menu.addMenu("&Diagnostics")  # developer items, out of the way
    window.developer_action = diagnostics.addAction("Offer random FAMILY:CONFIG models")
    window.developer_action.setCheckable(True)
    window.developer_action.setChecked(window.prefs.developer)
    window.developer_action.toggled.connect(window.on_developer_toggled)
    window.about_action = build_help_menu(window)

def install_training_panel(window: MainWindow) -> QDockWidget:
    """View ▸ Training (hidden until asked for): jobs run as child processes; "Open in canvas"
    opens a run's ``last.safetensors`` here with the current seed. Closing the window stops them."""
    from app.cli_job_actions import ask_ship
    from app.panels.training import TrainingPanel

    def open_checkpoint(path: str) -> None:
        window.open_world(path, window.world.seed if window.world is not None else 0)

    window.training = TrainingPanel(
        open_model=open_checkpoint, jobs=window.jobs, ship_run=lambda out: ask_ship(window, Path(out))
    )
    dock = QDockWidget("Training", window)
    dock.setObjectName("training")
    dock.setWidget(window.training)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    dock.hide()
    return dock

def build_status_bar(window: MainWindow) -> None:
    bar = window.statusBar()
    window.cursor_label = QLabel("x —, y —")
    window.zoom_label = QLabel()
    window.pending_label = QLabel("0 pending")
    window.error_label = QLabel()
    window.error_label.setStyleSheet("color: #e06060")
    window.device_label = QLabel("loading model…")
    for label in (window.cursor_label, window.zoom_label, window.pending_label, window.error_label):
        bar.addWidget(label)
    bar.addPermanentWidget(window.device_label)
    window.memory_timer = QTimer(window, interval=1000)
    window.memory_timer.timeout.connect(window.update_device_label)
    window.memory_timer.start()
    window.on_canvas_view(window.canvas.view)
