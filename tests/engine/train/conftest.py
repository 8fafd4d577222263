"""Training tests run torch single-threaded.

Measured on the 2-core CI box under load: a training step with 2 intra-op threads took ~50x
longer than with 1 (OpenMP threads waiting on each other while the cores are busy), which made
these tests take minutes instead of seconds. Backward passes on tiny tensors gain nothing from
threads anyway.
"""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
