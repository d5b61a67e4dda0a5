"""Free a large merge's objects a slice at a time, so the event loop gets the GIL in between.

Dropping the last reference to a list of a quarter million events frees them all in one C
call: the interpreter cannot hand the GIL to another thread until it returns. For a history
merge's events that is 70-200 ms per list, during which Home Assistant's event loop stood
still, on the writer thread as much as on the loop. Emptying the list from its end a slice at
a time frees as much, with a chance to switch threads after every slice.
"""

from __future__ import annotations

from typing import Any, Final

#: Items freed per slice: a few milliseconds of work for an event and what it holds.
SLICE: Final = 4096


def release_gradually(items: list[Any]) -> None:
    """Empty `items` (the caller's last use of it), freeing its items a slice at a time.

    Items still referenced elsewhere are not freed, only their reference from the list.
    """
    while items:
        del items[-SLICE:]
