"""Test-wide settings: offscreen Qt, one CPU thread per worker, deterministic torch."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("EVERSCAPE_CHECKPOINTS", os.path.join(os.path.dirname(__file__), ".no-user-checkpoints"))

import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
