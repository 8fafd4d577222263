"""Test-wide settings: offscreen Qt, one CPU thread per worker (CI runs one xdist worker per core;
more threads than cores made training steps ~50x slower under load), deterministic torch."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("EVERSCAPE_CHECKPOINTS", os.path.join(os.path.dirname(__file__), ".no-user-checkpoints"))
# Smoke-render verdicts (engine.models.smoke) go to a per-run folder, never the user's cache.
os.environ.setdefault("EVERSCAPE_CACHE", os.path.join(__import__("tempfile").mkdtemp(prefix="everscape-cache-")))

import torch

torch.set_num_threads(1)
