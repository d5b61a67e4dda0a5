"""Hold Python's cyclic garbage collector off while a large history merges.

Merging a history of a quarter million new events keeps about a million container objects
alive on the writer thread for seconds (raw items, wire events, events, rows). Python runs a
full collection each time the objects allocated since the last one reach a quarter of those
that survived it, and each pass walks all of them: passes of 100-250 ms that free nothing
(these objects are freed by reference counting when the merge drops them). A pass holds the
GIL, so Home Assistant's event loop stood still for as long (loop lag up to 250-380 ms).

The collector is process-wide: while any merge runs it is off for every thread, and it is
turned back on when the last one ends, only if it was on before (never against a caller that
turned it off itself). Cycles made meanwhile wait seconds longer to be collected; nothing else
changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
import gc
import threading

_lock = threading.Lock()
_holders = 0
_was_enabled = False


@contextmanager
def collector_deferred() -> Iterator[None]:
    """Run the body with the cyclic collector off (see the module's docstring)."""
    global _holders, _was_enabled  # noqa: PLW0603  # one collector per process, one count
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
