"""Test-wide settings: offscreen Qt, one CPU thread per worker (CI runs one xdist worker per core;
more threads than cores made training steps ~50x slower under load), deterministic torch."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("EVERSCAPE_CHECKPOINTS", os.path.join(os.path.dirname(__file__), ".no-user-checkpoints"))

import torch

torch.set_num_threads(1)
