"""What folding a batch did, event by event, without an `Applied` object per event.

A history merge folds tens of thousands of events, and nearly all of them only name their
session: of the bench's 20,000 events about 150 change a state, open or close a session. An
`Applied` built for each was a seventh of the merge's fold (instructions), and freeing them
afterwards cost as much again. So the fold keeps two columns (the events as folded and their
session ids) and an `Applied` only for the events that did more; it reads as the sequence of
`Applied` it stands for, each item built when read, and the rows to store are made from the
columns.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

from .gradual_release import release_gradually
from .models import NinaEvent
from .sessions import Applied


class FoldedBatch(Sequence[Applied]):
    """The `Applied` of each event of a batch folded in time order (see the module).

    Read-only by convention, like `Applied`. An item read twice is two equal objects (not
    one), unless its event did more than name its session.
    """

    __slots__ = ("_notable", "events", "session_ids")

    def __init__(
        self, events: list[NinaEvent], session_ids: list[str | None], notable: dict[int, Applied]
    ) -> None:
        """Hold the events as folded (in time order) and their session ids.

        `notable`: by position, the `Applied` of the events that had a step or opened or
        closed a session.
        """
        self.events = events
        self.session_ids = session_ids
        self._notable = notable

    def __len__(self) -> int:
        """Return how many events were folded."""
        return len(self.session_ids)

    @overload
    def __getitem__(self, index: int) -> Applied: ...

    @overload
    def __getitem__(self, index: slice) -> list[Applied]: ...

    def __getitem__(self, index: int | slice) -> Applied | list[Applied]:
        """Return what folding the event at `index` did (a list for a slice)."""
        if isinstance(index, slice):
            return [self[at] for at in range(*index.indices(len(self)))]
        event, session_id = self.events[index], self.session_ids[index]
        item = self._notable.get(index if index >= 0 else index + len(self))
        return item if item is not None else Applied(event, session_id)

    def __iter__(self) -> Iterator[Applied]:
        """Return what folding each event did, in order."""
        notable = self._notable
        for index, (event, session_id) in enumerate(
            zip(self.events, self.session_ids, strict=True)
        ):
            item = notable.get(index)
            yield item if item is not None else Applied(event, session_id)

    def __eq__(self, other: object) -> bool:
        """Compare item by item with any sequence (a list of `Applied` too)."""
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(
            mine == theirs for mine, theirs in zip(self, other, strict=True)
        )

    __hash__ = None  # type: ignore[assignment]  # equal to lists, which are unhashable

    def notable(self) -> list[Applied]:
        """Return, in order, the items that had a step or opened or closed a session.

        The others have none: `NO_STEP`, nothing closed, nothing opened.
        """
        return list(self._notable.values())

    def release(self) -> None:
        """Empty the batch (its holder's last use), freeing its events a slice at a time."""
        self._notable = {}
        release_gradually(self.session_ids)
        release_gradually(self.events)
