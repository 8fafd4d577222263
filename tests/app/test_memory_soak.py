"""Soak: a shipped multi-level model under the real worker, zoomed, panned and edited for a minute and a
half; resident memory stays within the memory budget + the model + a fixed overhead, and after the
window goes idle memory is handed back."""

from __future__ import annotations

import time

import pytest
from PySide6.QtWidgets import QApplication

from app.bench_memory import OVERHEAD_MIB, model_mib, rss_mib
from app.main_window import MainWindow
from app.settings import Settings
from engine.checkpoints import list_checkpoints
from engine.styles import StyleCentre, StyleLayout

SOAK_SECONDS = 90
BUDGET_MIB = 256
MODEL = "infgan-bluemarble"  # four native levels: the deepest zoom of the shipped models


@pytest.mark.slow
@pytest.mark.skipif(MODEL not in list_checkpoints(), reason=f"{MODEL} is not installed")
def test_rss_stays_within_budget_model_and_overhead(qtbot):
    start = rss_mib()
    window = MainWindow(Settings(), MODEL, 5, (0, 0, 0), persist=False)
    qtbot.addWidget(window)
    try:
        prefs = window.prefs
        prefs.memory_mib, prefs.prefetch = BUDGET_MIB, 0
        window.apply_preferences(prefs)
        window.resize(480, 320)
        window.show()
        qtbot.waitUntil(lambda: window.world is not None, timeout=120000)
        canvas, samples, frame = window.canvas, [], 0
        deepest = -canvas.plan.max_level
        end = time.monotonic() + SOAK_SECONDS
        while time.monotonic() < end:
            canvas.pan_by(-37, 11 if frame % 40 < 20 else -11)
            if frame % 25 == 0:  # down to the deepest level and back up, over and over
                going_out = (frame // 25) % (2 * -deepest) < -deepest
                canvas.zoom_by(-1 if going_out else 1)
            if frame % 60 == 30:  # an edit: a new world version
                centre = StyleCentre(frame * 8, 0, frame % 11)
                window.tools.apply(window.world.with_styles(StyleLayout.of([centre])), label="Add style centre")
            end_of_frame = time.monotonic() + 0.05
            while time.monotonic() < end_of_frame:
                QApplication.processEvents()
                time.sleep(0.005)
            samples.append(rss_mib())
            frame += 1
        weights = model_mib(window.model_info.model)
        bound = start + BUDGET_MIB + weights + OVERHEAD_MIB
        trace = ", ".join(f"{rss:.0f}" for rss in samples[:: max(1, len(samples) // 20)])
        assert max(samples) <= bound, f"peak {max(samples):.0f} MiB over {bound:.0f} (start {start:.0f}): {trace}"
        assert canvas.cache.bytes <= BUDGET_MIB * 2**20 // 2
        canvas.centre_on(0, 0, 0)
        returns = window.memory.returns
        window.tools.apply(window.world.with_seed(6), label="Change seed")  # a last burst of rendering
        qtbot.waitUntil(lambda: window.memory.returns > returns, timeout=300000)  # idle: handed back
        assert rss_mib() <= bound
    finally:
        window.close()
