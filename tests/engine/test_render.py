import numpy as np
import pytest
import torch

from engine.errors import EverscapeError
from engine.geometry import Rect
from engine.models.registry import build_random
from engine.render import Cancelled, Renderer, to_uint8
from engine.world import World


def test_to_uint8_rounds_symmetric_extremes():
    x = torch.tensor([-1.5, -1.0, 0.0, 1.0, 2.0]).view(1, 1, 1, 5).expand(1, 3, 1, 5)
    assert to_uint8(x)[0, 0, :, 0].tolist() == [0, 0, 128, 255, 255]


def test_shared_blocks_rendered_once():
    renderer = Renderer(build_random("reference", "tiny"), "cpu")
    world = World(model="reference:tiny", seed=1)
    renderer.render(world, [Rect(0, 0, 64, 64), Rect(10, 10, 20, 20), Rect(0, 0, 128, 64)])
    assert renderer.blocks_rendered == 2


class FlakyOOM(torch.nn.Module):
    """Wraps a model and fails with OOM for batches larger than 2."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.family = inner.family
        self.sizes = []

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.inner, name)

    def render_blocks(self, origins, source, styles, level=0):
        self.sizes.append(len(origins))
        if len(origins) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return self.inner.render_blocks(origins, source, styles, level)


def test_out_of_memory_halves_batch_and_result_is_unchanged():
    inner = build_random("reference", "tiny")
    world = World(model="reference:tiny", seed=4)
    rect = Rect(-100, -100, 300, 200)
    # exact=False: batched CPU forwards, the path where memory matters (GPUs batch the same way).
    (expected,) = Renderer(inner, "cpu", max_batch=2, exact=False).render(world, [rect])
    flaky = FlakyOOM(inner)
    renderer = Renderer(flaky, "cpu", max_batch=8, exact=False)
    (got,) = renderer.render(world, [rect])
    assert np.array_equal(got, expected)
    assert renderer.max_batch == 2 and 8 in flaky.sizes and 4 in flaky.sizes


def test_out_of_memory_at_batch_one_is_a_clear_error():
    class AlwaysOOM(FlakyOOM):
        def render_blocks(self, origins, source, styles, level=0):
            raise RuntimeError("CUDA out of memory. Tried to allocate 2 GiB")

    renderer = Renderer(AlwaysOOM(build_random("reference", "tiny")), "cpu", max_batch=2, exact=False)
    with pytest.raises(EverscapeError, match="out of memory"):
        renderer.render(World(model="m"), [Rect(0, 0, 10, 10)])


def test_cpu_forwards_hold_one_block_so_results_ignore_batching():
    model = FlakyOOM(build_random("reference", "tiny"))
    renderer = Renderer(model, "cpu", max_batch=7)
    renderer.render(World(model="m"), [Rect(0, 0, 256, 128)])
    assert set(model.sizes) == {1} and len(model.sizes) == 8


def test_cancel_between_batches():
    renderer = Renderer(build_random("reference", "tiny"), "cpu", max_batch=1)
    calls = []

    def cancelled():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(Cancelled):
        renderer.render(World(model="m"), [Rect(0, 0, 256, 64)], cancelled=cancelled)
    assert renderer.blocks_rendered == 2


def test_unknown_device_is_clear():
    with pytest.raises(EverscapeError):
        Renderer(build_random("reference", "tiny"), "warp-drive")


def test_gpu_batches_are_padded_to_a_fixed_size():
    """On a GPU a block's batch-mates must not change its kernels: partial batches are padded.

    The batching policy is plain list work, so it is checked here by pretending to be on CUDA.
    """
    renderer = Renderer(build_random("reference", "tiny"), "cpu", max_batch=4)
    renderer.device = torch.device("cuda")
    origins = [(64 * i, 0) for i in range(6)]
    jobs = [(origin, renderer.window(origin)) for origin in origins]
    assert renderer._next_batch(jobs, 0) == (jobs[:4], jobs[:4])
    batch, padded = renderer._next_batch(jobs, 4)
    assert batch == jobs[4:] and padded == [*jobs[4:], jobs[5], jobs[5]]
    renderer.exact = False
    assert renderer._next_batch(jobs, 4) == (jobs[4:], jobs[4:])
    # Windows of another size (an export's clipped rim regions) never share a forward pass.
    rim = [*jobs[:2], ((128, 0), Rect(128, 0, 64, 32)), *jobs[3:]]
    assert renderer._next_batch(rim, 0) == (rim[:2], rim[:2])
    assert renderer._next_batch(rim, 2) == (rim[2:3], rim[2:3])
