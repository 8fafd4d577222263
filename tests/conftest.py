"""Test-wide settings: offscreen Qt, one CPU thread per worker (CI runs one xdist worker per core;
more threads than cores made training steps ~50x slower under load), deterministic torch."""

import gc
import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("EVERSCAPE_CHECKPOINTS", os.path.join(os.path.dirname(__file__), ".no-user-checkpoints"))
# Smoke-render verdicts (engine.models.smoke) go to a per-run folder, never the user's cache.
os.environ.setdefault("EVERSCAPE_CACHE", os.path.join(__import__("tempfile").mkdtemp(prefix="everscape-cache-")))

import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def cycles_are_collected_on_the_gui_thread(request):
    """In Qt tests the cycle collector runs only here, at teardown, as the app's runs only on its GUI
    thread (``app.main``: pyqtgraph's GarbageCollector): run automatically, it may run on the tile
    worker's thread and free a Qt object there, which deadlocks against the GUI thread."""
    if not {"qtbot", "qapp"} & set(request.fixturenames):
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.collect()
        gc.enable()
