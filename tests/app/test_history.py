"""Undo/redo history: a capped stack of worlds with gesture merging."""

from __future__ import annotations

from app.history import LIMIT, History
from engine.world import World


def test_push_undo_redo_and_branching():
    start = World("m", 1)
    history = History(start)
    assert not history.can_undo() and not history.can_redo()
    a = start.with_seed(2)
    b = a.with_seed(3)
    history.push(a)
    history.push(b)
    assert history.undo() is a and history.undo() is start and history.undo() is None
    assert history.redo() is a and history.current is a
    c = a.with_seed(9)
    history.push(c)  # a new branch forgets the redo one
    assert not history.can_redo() and history.current is c
    assert history.undo() is a


def test_cap_and_reset():
    world = World("m", 0)
    history = History(world)
    for i in range(LIMIT + 20):
        world = world.with_seed(i + 1)
        history.push(world)
    assert len(history) == LIMIT
    steps = 0
    while history.undo() is not None:
        steps += 1
    assert steps == LIMIT - 1 and history.current.seed == 21
    history.reset(World("other", 5))
    assert len(history) == 1 and not history.can_undo()


def test_merge_makes_one_gesture_one_step():
    start = World("m", 0)
    history = History(start)
    w1 = start.with_seed(1)
    w2 = w1.with_seed(2)
    w3 = w2.with_seed(3)
    history.push(w1, merge="width")
    history.push(w2, merge="width")
    history.push(w3, merge="other")
    assert len(history) == 3 and history.undo() is w2 and history.undo() is start
    history.redo()
    history.push(w3, merge="width")  # after an undo/redo, merging starts afresh
    assert history.undo() is w2


def test_labels_follow_their_worlds_through_merge_cap_and_branching():
    world = World("m", 0)
    history = History(world, limit=3)
    assert history.undo_label() is None and history.redo_label() is None
    for i in range(5):
        world = world.with_seed(i + 1)
        history.push(world, label=f"step {i}")
    assert history.undo_label() == "step 4"
    history.push(world.with_seed(50), merge="w", label="width")
    history.push(world.with_seed(51), merge="w", label="width")  # one gesture: one entry
    assert history.undo_label() == "width"
    history.undo()
    assert (history.undo_label(), history.redo_label()) == ("step 4", "width")
    history.undo()  # the cap kept the three newest: step 3's world is now the oldest
    assert history.undo_label() is None and history.redo_label() == "step 4"
    history.push(world.with_seed(99), label="seed")
    assert history.undo_label() == "seed" and history.redo_label() is None
