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

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby


@dataclass(frozen=True, slots=True)
class Twin:
    """A stored live event and its history twin."""

    key: str
    #: When we received it (our clock).
    stored_ts: float
    #: When NINA says it happened, already moved onto our clock by the measured offset.
    history_ts: float


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
