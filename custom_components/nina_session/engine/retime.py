"""History corrects the times of live events: NINA's clock knows the true order.

Live events carry no time of their own (frames carry a capture time, not a save time), so they
are stamped when they arrive. Two of them swapped on the wire are stored swapped, and that
changes the fold (a guider restart before the slew that caused the pause reads as a resume).
When a backfill later reads the same events from NINA's history, with NINA's own times, the
pairs whose stored order contradicts history's are moved to history's times. Only those: the
rest keep their arrival stamps, so a backfill does not rewrite a whole night.

Pure functions; the pipeline finds the twins and applies the moves.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate

from .models import NinaEvent


@dataclass(frozen=True, slots=True)
class Twin:
    """A stored live event and its history twin."""

    key: str
    #: When we received it (our clock).
    stored_ts: float
    #: When NINA says it happened, already moved onto our clock by the measured offset.
    history_ts: float


def match_twins(
    history: Sequence[NinaEvent], live: Mapping[str, tuple[str, float]], window: float
) -> list[tuple[NinaEvent, Twin]]:
    """Pair history events (on our clock) with the stored live events they duplicate.

    `live` maps stored keys to (fingerprint, time). A frame pairs by its exact key; any other
    event with the earliest unpaired live event of the same fingerprint within `window`.
    """
    loose: dict[str, list[tuple[float, str]]] = {}
    for key, (fingerprint, ts) in live.items():
        if key != fingerprint:  # an exact key is the fingerprint itself
            loose.setdefault(fingerprint, []).append((ts, key))
    for candidates in loose.values():
        candidates.sort()
    twins: dict[str, tuple[NinaEvent, Twin]] = {}
    for event in history:
        stamp = event.time.timestamp()
        match: tuple[float, str] | None = None
        if event.exact:
            if event.key in live:
                match = (live[event.key][1], event.key)
        else:
            candidates = loose.get(event.fingerprint, [])
            at = bisect_left(candidates, (stamp - window, ""))
            while at < len(candidates) and candidates[at][1] in twins:
                at += 1
            if at < len(candidates) and candidates[at][0] <= stamp + window:
                match = candidates[at]
        if match is not None and match[1] not in twins:
            twins[match[1]] = (event, Twin(match[1], match[0], stamp))
    return list(twins.values())


class TwinOrder:
    """The order twins already paired put history and arrivals in, to check a new pair against.

    Live events arrive in the order NINA sent them, even when our loop reads them late. So a
    late copy cannot have arrived after the live twin of an event that history puts later, nor
    before the live twin of an event that history puts earlier: such a pair crosses a twin.
    """

    def __init__(self, twins: Sequence[Twin]) -> None:
        """Take the order of the twins already paired."""
        ordered = sorted(twins, key=lambda twin: twin.history_ts)
        self._history = [twin.history_ts for twin in ordered]
        arrivals = [twin.stored_ts for twin in ordered]
        #: Latest arrival among twins up to an index; earliest one from an index on.
        self._latest = list(accumulate(arrivals, max))
        self._earliest = list(accumulate(reversed(arrivals), min))[::-1]
        self._added: list[Twin] = []

    def arrived_too_late(self, history_ts: float, stored_ts: float) -> bool:
        """Return whether a twin history puts later than `history_ts` arrived before it."""
        after = bisect_right(self._history, history_ts)
        if after < len(self._earliest) and self._earliest[after] < stored_ts:
            return True
        return any(t.history_ts > history_ts and t.stored_ts < stored_ts for t in self._added)

    def arrived_too_early(self, history_ts: float, stored_ts: float) -> bool:
        """Return whether a twin history puts earlier than `history_ts` arrived after it."""
        before = bisect_left(self._history, history_ts)
        if before and self._latest[before - 1] > stored_ts:
            return True
        return any(t.history_ts < history_ts and t.stored_ts > stored_ts for t in self._added)

    def add(self, twin: Twin) -> None:
        """Take a new pair into the order (later pairs must not cross it either)."""
        self._added.append(twin)


def out_of_order(twins: Sequence[Twin]) -> list[Twin]:
    """Return the twins whose stored order contradicts history's order.

    A twin is out of order when one that history puts strictly earlier was stored later, or
    one that history puts strictly later was stored earlier. Equal history times say nothing.
    """
    order = TwinOrder(twins)
    return [
        twin
        for twin in twins
        if order.arrived_too_early(twin.history_ts, twin.stored_ts)
        or order.arrived_too_late(twin.history_ts, twin.stored_ts)
    ]


def corrected_times(twins: Sequence[Twin]) -> dict[str, float]:
    """Return new stored times (by key) for the twins stored out of history's order.

    They move to history's time plus the typical delivery delay (the median of all twins), so
    they stay on the arrival-stamp scale of their neighbours.
    """
    wrong = out_of_order(twins)
    if not wrong:
        return {}
    delays = sorted(twin.stored_ts - twin.history_ts for twin in twins)
    delay = delays[len(delays) // 2]
    return {twin.key: twin.history_ts + delay for twin in wrong}
