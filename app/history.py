"""Undo and redo: a capped stack of worlds.

A :class:`~engine.world.World` is immutable, so history is just the list of worlds the user has
had, and undo moves an index. Worlds share their unchanged parts (style layouts, override tensors)
with their predecessors, so 100 steps cost little more than the edits themselves. The cap of 100 is
what InfinityGAN's sampler and InvokeAI settled on: more steps bought GC stutter for little use.

Consecutive edits with the same ``merge`` key (e.g. the notches of one wheel gesture resizing one
style centre) replace each other, so one gesture is one undo step. Qt-free: the main window turns
``can_undo``/``can_redo`` into enabled actions, and each entry's label (what the edit did) into
their text ("Undo Move style centre").
"""

from __future__ import annotations

from collections.abc import Hashable

from engine.world import World

LIMIT = 100


class History:
    def __init__(self, world: World | None = None, limit: int = LIMIT) -> None:
        self.limit = max(1, limit)
        self._worlds: list[World] = [] if world is None else [world]
        self._labels: list[str] = [""] * len(self._worlds)  # what made each world; the first: nothing
        self._index = len(self._worlds) - 1
        self._merge: Hashable | None = None

    @property
    def current(self) -> World | None:
        return self._worlds[self._index] if self._worlds else None

    def __len__(self) -> int:
        return len(self._worlds)

    def can_undo(self) -> bool:
        return self._index > 0

    def can_redo(self) -> bool:
        return self._index < len(self._worlds) - 1

    def undo_label(self) -> str | None:
        """What :meth:`undo` would take back ("Move style centre"), or None when nothing can be undone."""
        return self._labels[self._index] if self.can_undo() else None

    def redo_label(self) -> str | None:
        return self._labels[self._index + 1] if self.can_redo() else None

    def reset(self, world: World) -> None:
        """Start over from ``world`` (a new document or model): nothing to undo or redo."""
        self._worlds, self._labels, self._index, self._merge = [world], [""], 0, None

    def push(self, world: World, merge: Hashable | None = None, label: str = "Edit") -> None:
        """Record ``world`` (made by the edit ``label``) as the new current one; forgets the redo
        branch and the oldest beyond the cap."""
        if not self._worlds:
            self.reset(world)
            return
        del self._worlds[self._index + 1 :]
        del self._labels[self._index + 1 :]
        if merge is not None and merge == self._merge and self._index > 0:
            self._worlds[self._index] = world
            return
        self._worlds.append(world)
        self._labels.append(label)
        overflow = max(0, len(self._worlds) - self.limit)
        del self._worlds[:overflow]
        del self._labels[:overflow]
        self._index = len(self._worlds) - 1
        self._merge = merge

    def undo(self) -> World | None:
        """Step back; returns the world to show, or ``None`` when there is nothing to undo."""
        if not self.can_undo():
            return None
        self._index -= 1
        self._merge = None
        return self._worlds[self._index]

    def redo(self) -> World | None:
        if not self.can_redo():
            return None
        self._index += 1
        self._merge = None
        return self._worlds[self._index]
