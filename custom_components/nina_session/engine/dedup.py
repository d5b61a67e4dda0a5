"""De-duplication: which events of a batch were seen before, in it or in the database.

Frames carry their own capture time, which identifies them exactly (`NinaEvent.exact`, its
`key`); any other event is the same event when its content fingerprint was already seen within
the window (default 1 s), in this batch, in the database or in the writes waiting for it. That
is what lets a live event and its history twin, or a replayed night, collapse to one.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Sequence
from datetime import timedelta
from itertools import islice
import math
from operator import attrgetter, le

from .models import NinaEvent
from .write_path import StoreWriter

#: Rows in a batch's dedup window past which asking the key index once per fingerprint is
#: cheaper than reading every row (an index lookup costs a few rows' reading).
_ROWS_PER_LOOKUP = 4


class Deduplicator:
    """Drops the events of a batch seen before (see the module's doc)."""

    def __init__(self, writer: StoreWriter, window: timedelta) -> None:
        """Look in `writer`'s store and waiting writes, `window` either way of a loose event."""
        self._writer = writer
        self._window = window.total_seconds()

    def unique(self, events: Sequence[NinaEvent], stored: bool) -> tuple[list[NinaEvent], bool]:
        """Return the events not seen before, and whether the batch came in time order.

        `stored`: whether the file holds any event. The order is noted on the way (a batch in
        order needs no sort, nor a second pass over its events to prove it: `in_time_order`).
        """
        if not events:
            return [], True
        window = self._window
        # A fresh file holds no key and no time: a first backfill asks for none of its
        # thousands of keys, nor gathers its times to count its window.
        seen_keys: set[str] = set()
        recent: dict[str, list[float]] = {}
        if stored:
            exact_keys = [event.key for event in events if event.exact]
            if exact_keys:
                seen_keys = self._writer.store.existing_keys(exact_keys)
            recent = self._stored_near(events, window)
        for event in self._writer.seen():  # not in the database yet, but already seen
            if event.exact:
                seen_keys.add(event.key)
            else:
                recent.setdefault(event.fingerprint, []).append(event.ts)
        for times in recent.values():
            times.sort()
        unique: list[NinaEvent] = []
        # Bound once: this loop runs for every event of a batch.
        keep, see, times_of = unique.append, seen_keys.add, recent.get
        # `ts` orders as `time` does (the same instant in microseconds).
        before, in_order = -math.inf, True
        for event in events:
            stamp = event.ts
            if stamp < before:
                in_order = False
            before = stamp
            if event.exact:
                key = event.key
                if key in seen_keys:
                    continue
                see(key)
            else:
                fingerprint = event.fingerprint
                near = times_of(fingerprint)
                if not near:
                    recent[fingerprint] = [stamp]
                elif stamp >= (last := near[-1]):
                    # In time order (nearly every batch) the last time is the nearest one;
                    # the same test as below, without a search and an insertion.
                    if last >= stamp - window:
                        continue
                    near.append(stamp)
                else:
                    at = bisect_left(near, stamp - window)
                    if at < len(near) and near[at] <= stamp + window:
                        continue
                    insort(near, stamp)
            keep(event)
        return unique, in_order

    def _stored_near(self, events: Sequence[NinaEvent], window: float) -> dict[str, list[float]]:
        """Return the times stored near the batch's loose events, by fingerprint."""
        loose = [event for event in events if not event.exact]
        if not loose:
            return {}
        stamps = [event.ts for event in loose]
        low, high = min(stamps) - window, max(stamps) + window
        # Counted in the time index; none stored near (a fresh file, a new night, most live
        # frames) needs neither the spans per fingerprint nor a second read.
        stored = self._writer.store.count_between(low, high)
        if not stored:
            return {}
        spans: dict[str, tuple[float, float]] = {}
        for event in loose:
            ts = event.ts
            span = spans.get(event.fingerprint)
            spans[event.fingerprint] = (
                (ts, ts) if span is None else (min(span[0], ts), max(span[1], ts))
            )
        # Reading the window's rows costs per row, asking the key index per fingerprint: a
        # batch spread over time has few rows in its window, a burst received within a
        # second has every row of the burst in it.
        if stored > _ROWS_PER_LOOKUP * len(spans):
            near = {fp: (first - window, last + window) for fp, (first, last) in spans.items()}
            found = self._writer.store.fingerprint_times(near)
            if found is not None:
                return found
        return self._writer.store.fingerprints_between(low, high)


def in_time_order(events: list[NinaEvent]) -> list[NinaEvent]:
    """Return a batch's events in time order; events sharing a time keep their arrival order.

    The fold is in time order, and only events older than the previous batches count as late
    (stored, then refolded). A batch the writer drained at once may itself be out of order (a
    receive clock stepped back, frames carrying their own time beside stamped ones): folded as
    it came, SEQUENCE-FINISHED before the night's last frame left the night imaging, and a
    rebuild said idle. The stable sort also stores them so, as the store's `ts, id` order
    reads them back. De-duplication notes on its way whether a batch came in order (nearly all
    do): only the others are checked here.
    """
    times = list(map(_time_of, events))
    if all(map(le, times, islice(times, 1, None))):
        return events
    return sorted(events, key=_time_of)


_time_of = attrgetter("time")
