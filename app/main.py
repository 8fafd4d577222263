"""Application start-up. Until the infinite canvas lands this shows a placeholder window: one
view of the default world rendered once, so the install can be checked end to end."""

from __future__ import annotations

import argparse
import sys

import numpy as np


def array_to_qimage(array: np.ndarray):
    """``(H, W, 3)`` uint8 -> an owning ``QImage`` (copied, so the numpy buffer may die)."""
    from PySide6.QtGui import QImage

    array = np.ascontiguousarray(array)
    h, w, _ = array.shape
    return QImage(array.data, w, h, array.strides[0], QImage.Format.Format_RGB888).copy()


def build_placeholder(model_ref: str, seed: int):
    from PySide6.QtGui import QPixmap
    from PySide6.QtWidgets import QLabel, QMainWindow

    from engine.geometry import Rect
    from engine.models.registry import load_model
    from engine.render import Renderer
    from engine.world import World

    loaded = load_model(model_ref)
    world = World(model=loaded.ref, seed=seed, model_hash=loaded.sha256)
    (pixels,) = Renderer(loaded.model).render(world, [Rect(-320, -240, 640, 480)])
    window = QMainWindow()
    window.setWindowTitle(f"Everscape — {loaded.ref} (seed {seed})")
    label = QLabel()
    label.setPixmap(QPixmap.fromImage(array_to_qimage(pixels)))
    window.setCentralWidget(label)
    return window


def run_app(args: argparse.Namespace) -> int:
    from PySide6.QtWidgets import QApplication

    from engine.models.registry import default_model_ref

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = build_placeholder(args.model or default_model_ref(), args.seed)
    window.show()
    return app.exec()
