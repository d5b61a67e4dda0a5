"""Late live copies: one NINA event stored twice because our loop read its live copy late.

A live event is stamped when our loop reads it; blocked for longer than the dedup window, the
loop stamps it after that window, and it no longer meets its history twin there. One rule pairs
them, whichever copy is stored first (`is_late_copy`): a live event stamped at `t` and a plain
history event of the same content at `h` (on our clock) are copies of one event when
`t - tolerance <= h <= t + window`, one to one: a history event has at most one live copy. The
history rows that already had theirs are `LateCopies.claimed`, shared by both directions:

- live claims history (`LateCopies.drop_late`): a live batch drops the copies whose history row
  the backfill stored first;
- history claims live (`match_late_twins`): a history read pairs its events with live events
  stored late; the pipeline drops the new history copy, or the live row if history was first.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
import logging

from .models import NinaEvent, Source
from .normalize import has_nested
from .retime import Twin, TwinOrder
from .store import Store

_LOGGER = logging.getLogger(__name__)


def is_late_copy(history_ts: float, live_ts: float, window: float, tolerance: float) -> bool:
    """Return whether a live event at `live_ts` may be a copy of a history one at `history_ts`.

    Read up to `tolerance` late, or inside the dedup window either way.
    """
    return live_ts - tolerance <= history_ts <= live_ts + window


class LateCopies:
    """History rows stored after the socket opened, and which of them had their live copy."""

    def __init__(self, store: Store, window: float, tolerance: float) -> None:
        """Look in `store` for copies within `window` / `tolerance` seconds (see module)."""
        self.store = store
        self.window = window
        self.tolerance = tolerance
        #: When the socket last opened (our clock), the latest time of a plain history event
        #: stored from after it (live batches look for late copies only up to it), and the
        #: history rows whose live copy has arrived since.
        self.live_since: float | None = None
        self.history_after_open: float | None = None
        self.claimed: set[str] = set()

    def socket_opened(self, at: float) -> None:
        """Note that the socket (re)opened at `at`: NINA sends live everything from now on."""
        self.live_since = at
        self.history_after_open = None
        self.claimed.clear()

    def note_history(self, stored: Sequence[NinaEvent]) -> None:
        """Remember how late the plain history events stored from after the socket opened go."""
        if self.live_since is None:
            return
        start = self.live_since - self.window
        times = [e.time.timestamp() for e in stored if not e.exact and e.time.timestamp() >= start]
        if times and self.history_after_open is not None:
            times.append(self.history_after_open)
        if times:
            self.history_after_open = max(times)

    def drop_late(
        self, events: Sequence[NinaEvent], unique: list[NinaEvent], measured: bool
    ) -> list[NinaEvent]:
        """Drop live events read late whose history copy the backfill stored first.

        An event NINA sent after the socket opened is in the history read just after; if our
        loop reads its live copy more than the dedup window late, the copy misses that window.
        Every such history row gets exactly one live copy, in order: each live event claims
        the earliest unclaimed history row of its content from after the socket opened, first
        inside the twin window (its on-time copy: dropped here when a dedup window smaller than
        the twin window let it through), else, if it met no
        twin at all, the earliest older one that `is_late_copy` allows (dropped). Only on a
        `measured` clock: before that, history times are NINA's and "after the socket opened"
        cannot be told. What this cannot pair, the next history read does (`match_late_twins`).
        """
        plain = [event for event in events if not event.exact]
        latest = self.history_after_open
        if not plain or latest is None or self.live_since is None or not measured:
            return unique
        window, tolerance = self.window, self.tolerance
        stamps = [event.time.timestamp() for event in plain]
        if min(stamps) - tolerance > latest:
            return unique  # past every such row: the live path skips the query from now on
        start = max(self.live_since - window, min(stamps) - tolerance)
        waiting: dict[str, list[tuple[float, str]]] = {}
        for key, (fingerprint, ts) in self.store.times_from(
            Source.HISTORY, start, max(stamps) + window
        ).items():
            if key not in self.claimed:
                waiting.setdefault(fingerprint, []).append((ts, key))
        if not waiting:
            return unique
        for rows in waiting.values():
            rows.sort()
        new = {id(event) for event in unique}
        late: set[int] = set()
        for event in plain:
            ts = event.time.timestamp()
            rows = waiting.get(event.fingerprint, [])
            on_time = next((row for row in rows if abs(row[0] - ts) <= window), None)
            if on_time is not None:
                rows.remove(on_time)
                self.claimed.add(on_time[1])
                # Its history copy, within the twin window but past a smaller dedup window
                # (0 merges nothing): a copy all the same.
                if id(event) in new:
                    late.add(id(event))
            elif id(event) in new and not has_nested(event.data):
                # An event with nested objects cannot be told from another of its kind in a
                # history that hides them (placeholders): a different filter change whose live
                # copy was lost would pass for this one's late copy, and one of them be lost.
                # Here they get no late pairing (a late copy is dropped by the next history
                # read's pairing, which weighs the order of the twins around it).
                older = next(
                    (r for r in rows if r[0] < ts and is_late_copy(r[0], ts, window, tolerance)),
                    None,
                )
                if older is not None:
                    rows.remove(older)
                    self.claimed.add(older[1])
                    late.add(id(event))
        if not late:
            return unique
        _LOGGER.debug("%d live events were read late; their history copy is stored", len(late))
        return [event for event in unique if id(event) not in late]

    def stored_alone(self, seen: Sequence[NinaEvent], met: set[int]) -> list[NinaEvent]:
        """Plain history events stored as history that met no live twin, and never had one.

        A row whose live copy was already taken (`claimed`) has had its one copy.
        """
        alone = [
            event
            for event in seen
            if not event.exact and id(event) not in met and event.key not in self.claimed
        ]
        if not alone:
            return []
        stored = self.store.times_for_keys([event.key for event in alone], Source.HISTORY)
        return [event for event in alone if event.key in stored]


def match_late_twins(
    history: Sequence[NinaEvent],
    live: Mapping[str, tuple[str, float]],
    window: float,
    tolerance: float,
    twins: Sequence[Twin] = (),
) -> list[tuple[NinaEvent, Twin]]:
    """Pair history events that met no live twin with live events stamped late.

    `history` are plain history events (on our clock) that met no live twin; `live` the stored
    live events (key -> fingerprint, time) that no history event paired with; `twins` the pairs
    already made. A live event pairs with the latest unpaired history event of its fingerprint
    that `is_late_copy` allows, latest first: the closest pairing, in order, one to one (a
    repeated event never collapses into another).

    Pairs that keep the order of the twins (see `TwinOrder`) come first: the same content recurs
    (an IMAGE-PREPARED per frame), and a live event that arrived after history was read is not
    the late copy of an earlier one whose frames arrived after it. What is left pairs as
    above regardless: NINA itself may send an event late, after one it did later.
    """
    waiting: dict[str, list[NinaEvent]] = {}
    for event in history:
        if not event.exact:
            waiting.setdefault(event.fingerprint, []).append(event)
    stamped: dict[str, list[tuple[float, str]]] = {}
    for key, (fingerprint, ts) in live.items():
        if key != fingerprint and fingerprint in waiting:  # plain events only
            stamped.setdefault(fingerprint, []).append((ts, key))
    order = TwinOrder(twins)
    pairs: list[tuple[NinaEvent, Twin]] = []
    for fingerprint, arrivals in stamped.items():
        candidates = sorted(waiting[fingerprint], key=lambda event: event.time)
        arrivals.sort(reverse=True)
        pairs += _pair_latest_first(candidates, arrivals, window, tolerance, order)
        pairs += _pair_latest_first(candidates, arrivals, window, tolerance, None)
    return pairs


def _pair_latest_first(
    candidates: list[NinaEvent],
    arrivals: list[tuple[float, str]],
    window: float,
    tolerance: float,
    order: TwinOrder | None,
) -> list[tuple[NinaEvent, Twin]]:
    """Pair arrivals (latest first) with candidates (by time); both lose what pairs.

    With `order`, only pairs that cross no twin are made, and each joins the order.
    """
    pairs: list[tuple[NinaEvent, Twin]] = []
    for ts, key in list(arrivals):
        # Candidates after this arrival are not its twin (nor an earlier arrival's).
        end = bisect_right(candidates, ts + window, key=lambda event: event.time.timestamp())
        for at in range(end - 1, -1, -1):
            stamp = candidates[at].time.timestamp()
            if not is_late_copy(stamp, ts, window, tolerance):
                break  # older still (the bisect left out the ones after the rule's window)
            if order is not None:
                if order.arrived_too_late(stamp, ts):
                    break  # an earlier history event is further still
                if order.arrived_too_early(stamp, ts):
                    continue
            twin = Twin(key, ts, stamp)
            pairs.append((candidates.pop(at), twin))
            arrivals.remove((ts, key))
            if order is not None:
                order.add(twin)
            break
    return pairs
