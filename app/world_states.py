"""Which worlds render the same pixels: the identity the canvas keys its tiles by.

A world's ``version`` is no such identity: undo then a different edit makes a second world with the
version of the one it replaced, and a project opened later starts again at 0. What decides a
world's pixels is its model (reference and checkpoint hash), seed, style layout and overrides, so a
*state* is a number given to each class of worlds equal in those. Overrides hold tensors and are
compared by identity (an edit shares its predecessors' patches, so undo and redo return the very
same ones); layouts are small immutable data and compared by value, so moving a style centre and
moving it back returns to the first state and its cached tiles.

States live as long as one of their worlds does (weak references: the registry never keeps a
world alive); :meth:`WorldStates.live` tells the canvas which cached tiles can still be shown.
"""

from __future__ import annotations

import weakref
from collections.abc import Collection, Sequence

from app.session import Damage
from app.tile_cache import TileCache
from app.tiles import LevelPlan, TileKey
from engine.geometry import Rect
from engine.world import World


def same_pixels(a: World, b: World) -> bool:
    """Whether ``a`` and ``b`` render identical pixels because they agree in all that decides them."""
    if a is b:
        return True
    if (a.model, a.model_hash, a.seed) != (b.model, b.model_hash, b.seed) or len(a.overrides) != len(b.overrides):
        return False
    if any(p is not q for p, q in zip(a.overrides, b.overrides, strict=True)):
        return False
    return a.styles is b.styles or a.styles == b.styles


class WorldStates:
    """Gives every world the number of its pixel-identity class (see the module docstring)."""

    def __init__(self) -> None:
        self._members: dict[int, list[weakref.ref[World]]] = {}
        self._next = 1

    def state_of(self, world: World) -> int:
        """The state of ``world``: the one of an equal live world, else a new number."""
        match = None
        for state, refs in self._members.items():
            alive = [w for ref in refs if (w := ref()) is not None]
            if any(w is world for w in alive):
                return state
            if match is None and alive and same_pixels(alive[0], world):
                match = state
        if match is None:
            match, self._next = self._next, self._next + 1
            self._members[match] = []
        self._members[match].append(weakref.ref(world))
        return match

    def live(self) -> set[int]:
        """States with a world still alive (forgets the others)."""
        for state in [s for s, refs in self._members.items() if all(ref() is None for ref in refs)]:
            del self._members[state]
        return set(self._members)

    def forget(self) -> None:
        """Start over (another generator: equal worlds no longer mean equal pixels). Numbers are
        never reused, so a late tile of a forgotten state can never be taken for a new one's."""
        self._members.clear()


def share_undamaged_tiles(cache: TileCache, plan: LevelPlan, old: int, new: int, damage: Damage) -> None:
    """Let state ``new`` share every cached tile of state ``old`` that lies outside ``damage`` (where
    the edit may have changed pixels); a level damaged "anywhere" shares nothing."""
    regions: dict[int, Sequence[Rect] | None] = {}
    for key in cache.key_list():
        if key.state != old:
            continue
        rect, base, _ = plan.render_rect(key)
        if base not in regions:
            regions[base] = damage(base)
        rects = regions[base]
        if rects is None:
            return  # this level changed anywhere: nothing carries over
        shared = TileKey(new, key.level, key.tx, key.ty)
        if shared not in cache and not any(rect.intersection(r) is not None for r in rects):
            cache.alias(shared, key)


def drop_tiles_of_dead_states(cache: TileCache, live: Collection[int]) -> None:
    """Forget tiles of states no world has any more (they could never be shown again)."""
    for key in cache.key_list():
        if key.state not in live:
            cache.pop(key)
