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

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby

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


def out_of_order(twins: Sequence[Twin]) -> list[Twin]:
    """Return the twins whose stored order contradicts history's order.

    A twin is out of order when one that history puts strictly earlier was stored later, or
    one that history puts strictly later was stored earlier. Equal history times say nothing.
    """
    ordered = sorted(twins, key=lambda twin: twin.history_ts)
    groups = [list(group) for _, group in groupby(ordered, key=lambda twin: twin.history_ts)]
    # Latest stored time among all strictly-earlier groups, earliest among strictly-later.
    before: list[float] = []
    latest = float("-inf")
    for group in groups:
        before.append(latest)
        latest = max(latest, *(twin.stored_ts for twin in group))
    after: list[float] = [float("inf")] * len(groups)
    earliest = float("inf")
    for index in range(len(groups) - 1, -1, -1):
        after[index] = earliest
        earliest = min(earliest, *(twin.stored_ts for twin in groups[index]))
    return [
        twin
        for index, group in enumerate(groups)
        for twin in group
        if before[index] > twin.stored_ts or after[index] < twin.stored_ts
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


def match_late_twins(
    history: Sequence[NinaEvent],
    live: Mapping[str, tuple[str, float]],
    window: float,
    tolerance: float,
) -> list[tuple[NinaEvent, Twin]]:
    """Pair history events that met no live twin with live events stamped late.

    A live event is stamped when our loop reads it: an event loop blocked for longer than the
    dedup window stamps it after its window. `history` are plain history events (on our clock)
    that met no live twin; `live` the stored live events (key -> fingerprint, time) that no
    history event paired with. A live event pairs with the latest unpaired history event of
    its fingerprint from `tolerance` before it up to `window` after it, latest first: the
    closest pairing, in order, one to one (a repeated event never collapses into another).
    """
    waiting: dict[str, list[NinaEvent]] = {}
    for event in history:
        if not event.exact:
            waiting.setdefault(event.fingerprint, []).append(event)
    stamped: dict[str, list[tuple[float, str]]] = {}
    for key, (fingerprint, ts) in live.items():
        if key != fingerprint and fingerprint in waiting:  # plain events only
            stamped.setdefault(fingerprint, []).append((ts, key))
    pairs: list[tuple[NinaEvent, Twin]] = []
    for fingerprint, arrivals in stamped.items():
        candidates = sorted(waiting[fingerprint], key=lambda event: event.time)
        at = len(candidates) - 1
        for ts, key in sorted(arrivals, reverse=True):
            while at >= 0 and candidates[at].time.timestamp() > ts + window:
                at -= 1  # happened after this arrival: not its twin, nor an earlier one's
            if at >= 0 and candidates[at].time.timestamp() >= ts - tolerance:
                event = candidates[at]
                pairs.append((event, Twin(key, ts, event.time.timestamp())))
                at -= 1
    return pairs
