import torch

from engine.fields import CHUNK, FieldPatch, FieldStore, LatentSource
from engine.geometry import Rect


def test_values_independent_of_read_order_and_window():
    store = FieldStore()
    big = store.read(7, "z", 3, Rect(-70, -10, 150, 90))
    again = FieldStore().read(7, "z", 3, Rect(-70 + 41, -10 + 13, 50, 60))
    assert torch.equal(big[:, 13:73, 41:91], again)


def test_far_from_origin_and_distinct():
    store = FieldStore()
    far = 10**12 // 3
    a = store.read(1, "z", 2, Rect(far, -far, 5, 5))
    b = store.read(1, "z", 2, Rect(far + CHUNK, -far, 5, 5))
    c = store.read(2, "z", 2, Rect(far, -far, 5, 5))
    d = store.read(1, "noise", 2, Rect(far, -far, 5, 5))
    assert not torch.equal(a, b) and not torch.equal(a, c) and not torch.equal(a, d)
    assert torch.equal(a, FieldStore().read(1, "z", 2, Rect(far, -far, 5, 5)))


def test_statistics_are_standard_normal():
    values = FieldStore().read(0, "z", 4, Rect(0, 0, 128, 128))
    assert abs(values.mean().item()) < 0.02 and abs(values.std().item() - 1) < 0.02


def test_cache_is_bounded():
    store = FieldStore(max_bytes=3 * CHUNK * CHUNK * 4)
    for i in range(10):
        store.chunk(0, "z", 1, i, 0)
    assert store._bytes <= store.max_bytes


def test_overrides_apply_only_inside_their_cells():
    patch = FieldPatch("z", Rect(2, 3, 4, 2), torch.full((2, 2, 4), 9.0))
    plain = LatentSource(5).read_cpu("z", 2, Rect(0, 0, 10, 10))
    edited = LatentSource(5, [patch]).read_cpu("z", 2, Rect(0, 0, 10, 10))
    mask = torch.zeros(10, 10, dtype=torch.bool)
    mask[3:5, 2:6] = True
    assert torch.all(edited[:, mask] == 9.0)
    assert torch.equal(edited[:, ~mask], plain[:, ~mask])
    other = LatentSource(5, [patch]).read_cpu("noise", 2, Rect(0, 0, 10, 10))
    assert torch.equal(other, LatentSource(5).read_cpu("noise", 2, Rect(0, 0, 10, 10)))


def test_vectors_are_keyed():
    src = LatentSource(0)
    assert torch.equal(src.vector("s", 3, 8), LatentSource(99).vector("s", 3, 8))
    assert not torch.equal(src.vector("s", 3, 8), src.vector("s", 4, 8))
