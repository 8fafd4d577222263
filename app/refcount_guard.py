"""Keep ``True``, ``False`` and ``None`` alive despite PySide6's lost references on Python 3.11.

PySide6 6.12 drops one reference to the ``True`` it returns from every ``Signal.emit()``, and some
slot calls drop one to ``None``. Python 3.12+ makes these objects immortal, so nothing happens
there; on 3.11 their counts fall by thousands a minute (a live pyqtgraph plot emits a dozen
signals per update) until CPython aborts with "deallocating None/True". Until the binding is fixed,
the application holds a reserve of references and tops it up from a timer: memory grows by
8 bytes per lost reference (tens of MB over hours), which is the price of not crashing.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QTimer

FLOOR = 200_000  # references kept above zero; a top-up every 250 ms outruns any plausible emit rate
_reserve: list[object] = []


def needed() -> bool:
    return sys.version_info < (3, 12)  # 3.12+: immortal singletons, counts never reach zero


def top_up() -> int:
    """Add references to each singleton that fell below :data:`FLOOR`; returns how many were added."""
    added = 0
    for singleton in (True, False, None):
        missing = FLOOR - sys.getrefcount(singleton)
        if missing > 0:
            _reserve.extend([singleton] * missing)
            added += missing
    return added


def install(parent: QObject) -> QTimer | None:
    """Top up now and every 250 ms while ``parent`` (the application) lives; None where not needed."""
    if not needed():
        return None
    top_up()
    timer = QTimer(parent, interval=250)
    timer.timeout.connect(top_up)
    timer.start()
    return timer
