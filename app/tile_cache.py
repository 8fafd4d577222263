"""The canvas's tile cache: an LRU map bounded by bytes, whose images several keys may share."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


class _Entry:
    """One cached image and its size, held by one or more keys (states whose pixels agree)."""

    __slots__ = ("holders", "nbytes", "value")

    def __init__(self, value: Any, nbytes: int) -> None:
        self.value, self.nbytes, self.holders = value, nbytes, 0


class TileCache:
    """Least-recently-used map bounded by the bytes of what it holds (never above ``budget``).

    Several keys may share one image (:meth:`alias`): an edit leaves most tiles as they were, and
    those tiles then belong to both world states. A shared image counts once towards the budget
    and its bytes are released when its last key goes.
    """

    def __init__(self, budget: int) -> None:
        self.budget = int(budget)
        self._items: OrderedDict[Hashable, _Entry] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def get(self, key: Hashable) -> Any | None:
        entry = self._items.get(key)
        if entry is None:
            return None
        self._items.move_to_end(key)
        return entry.value

    def put(self, key: Hashable, value: Any, nbytes: int) -> None:
        """Insert (or replace), then evict the least recently used until within budget."""
        self.pop(key)
        if nbytes > self.budget:
            return
        self._hold(key, _Entry(value, nbytes))

    def alias(self, key: Hashable, source: Hashable) -> bool:
        """Make ``key`` show ``source``'s image (shared, counted once); False if ``source`` is absent."""
        entry = self._items.get(source)
        if entry is None:
            return False
        if self._items.get(key) is not entry:
            self.pop(key)
            self._hold(key, entry)
        return True

    def _hold(self, key: Hashable, entry: _Entry) -> None:
        self._items[key] = entry
        entry.holders += 1
        if entry.holders == 1:
            self.bytes += entry.nbytes
        self._evict()

    def _release(self, entry: _Entry) -> None:
        entry.holders -= 1
        if entry.holders == 0:
            self.bytes -= entry.nbytes

    def _evict(self) -> None:
        while self.bytes > self.budget and self._items:
            _, entry = self._items.popitem(last=False)
            self._release(entry)

    def pop(self, key: Hashable) -> None:
        entry = self._items.pop(key, None)
        if entry is not None:
            self._release(entry)

    def set_budget(self, budget: int) -> None:
        self.budget = int(budget)
        self._evict()

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0

    def counted_bytes(self) -> int:
        """The bytes of the distinct images held, recounted (what :attr:`bytes` must equal)."""
        return sum({id(entry): entry.nbytes for entry in self._items.values()}.values())

    def key_list(self) -> list[Hashable]:
        return list(self._items)
