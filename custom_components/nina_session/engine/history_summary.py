"""A history merge as the event loop is told it: a summary, and only its recent events.

A backfill can apply a quarter of a million events at once (a week of NINA's history read on
the first start). Handing every one to the event loop made Home Assistant walk them all there
(bus events, last frame, filter, target) and free them there: the loop stood still for about
200 ms, and the recorder kept one bus event per event of nights long past.

What the loop needs of a merge is what it left (the last frame, filter and target it named,
why the state is what it is) and how much it brought. So the writer thread folds the merge's
events into a `HistorySummary` and hands on, one by one, only the events recent enough to
matter as events: those of the last `RECENT_HISTORY`, which a short disconnect or the periodic
history read (every 15 minutes) brought back and which an automation would have heard live.
An event as far ahead of our clock is recent too; one further ahead is a clock gone wrong (NINA's
not measured yet), counted with the old ones rather than flooding the bus.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain, islice
from operator import attrgetter
from typing import Final

from .folded_batch import FoldedBatch
from .fsm import NO_STEP, SessionState
from .models import NinaEvent
from .normalize import filter_change
from .sessions import Applied

#: History events at most this far from now (event time, on our clock) are told one by one, as
#: live ones are; the others are only counted. Equal to the periodic history read's interval:
#: what that read repairs while connected is always told as events.
RECENT_HISTORY: Final = timedelta(minutes=15)

#: Events that name the target being imaged (Target Scheduler).
TARGET_EVENTS: Final = frozenset({"TS-TARGETSTART", "TS-NEWTARGETSTART"})


def followed(event: NinaEvent) -> tuple[str | None, str | None]:
    """Return the filter and the target `event` says are current now (None: it says nothing)."""
    new_filter: str | None = None
    new_target: str | None = None
    if event.name == "FILTERWHEEL-CHANGED":
        new_filter = filter_change(event.data)
    elif event.name in TARGET_EVENTS:
        name = event.data.get("TargetName")
        new_target = name.strip() if isinstance(name, str) and name.strip() else None
    frame = event.frame
    if frame is not None:
        new_filter = frame.filter
        if frame.image_type == "LIGHT" and frame.target:
            new_target = frame.target
    return new_filter, new_target


def last_causes(applied: Sequence[Applied]) -> dict[SessionState, str]:
    """Return, for each state the events moved into, the cause of the last such move.

    A merge tells one state change (`Moments.after_merge`): its cause is read here.
    """
    causes: dict[SessionState, str] = {}
    # Most events change nothing and share one step: a comprehension's slot reads pass over
    # them faster than a loop (or `attrgetter` in C) does.
    for step in [item.step for item in applied if item.step is not NO_STEP]:
        transition = step.transition
        if transition is not None:
            causes[transition.state] = transition.cause
    return causes


@dataclass(frozen=True, slots=True)
class HistorySummary:
    """What one history merge applied, in sum (the events told one by one are not in it).

    The counts and the time range cover the `counted` events only, those outside the recent
    window and so not handed on one by one; `applied` counts all. The last frame, filter,
    target and causes are what the whole merge left.
    """

    #: Every event the merge applied (told one by one or counted here).
    applied: int
    #: Events outside [`recent_from`, `recent_until`]: counted here, not handed on.
    counted: int
    recent_from: datetime
    recent_until: datetime
    by_type: Mapping[str, int] = field(default_factory=dict)
    first: datetime | None = None
    last: datetime | None = None
    #: The last event with a frame, and the filter and target the merge left current.
    last_frame: NinaEvent | None = None
    filter: str | None = None
    target: str | None = None
    #: Why the state is what it is: the cause of the last move into each state.
    causes: Mapping[SessionState, str] = field(default_factory=dict)


def summarize(
    applied: Sequence[Applied], now: datetime, by_type: Counter[str] | None = None
) -> tuple[HistorySummary, list[Applied]]:
    """Return the summary of a history merge's events and its recent ones (see the module).

    `applied` is in time order, as every batch applies its events (`BatchResult.applied`):
    the recent events are one run of it, found by bisection, and the others lie before and
    after that run. What is read from the end (the filter, target and last frame) is found
    there. `by_type`: how many of `applied` bear each name, when the caller counted them.
    """
    recent_from, recent_until = now - RECENT_HISTORY, now + RECENT_HISTORY
    # `ts` orders as `time` does (the same instant in microseconds) and compares faster.
    start = bisect_left(applied, recent_from.timestamp(), key=_EVENT_TS)
    end = bisect_right(applied, recent_until.timestamp(), start, key=_EVENT_TS)
    recent = list(applied[start:end])
    # The first and last of the events outside the recent run, in time order.
    ends = [applied[at].event.time for at in (0, start - 1) if start]
    ends += [applied[at].event.time for at in (end, -1) if end < len(applied)]
    if by_type is None:
        old = chain(islice(applied, start), islice(applied, end, None))
        counted = Counter([item.event.name for item in old])
    else:
        counted = by_type - Counter([item.event.name for item in recent])
    current_filter, current_target = _current_names(applied)
    summary = HistorySummary(
        applied=len(applied),
        counted=len(applied) - len(recent),
        recent_from=recent_from,
        recent_until=recent_until,
        by_type=dict(counted),
        first=ends[0] if ends else None,
        last=ends[-1] if ends else None,
        last_frame=next(
            (item.event for item in reversed(applied) if item.event.frame is not None), None
        ),
        filter=current_filter,
        target=current_target,
        # A batch's fold keeps whole only the items with a step (see `folded_batch`).
        causes=last_causes(applied.notable() if isinstance(applied, FoldedBatch) else applied),
    )
    return summary, recent


_EVENT_TS = attrgetter("event.ts")


def _current_names(applied: Sequence[Applied]) -> tuple[str | None, str | None]:
    """Return the filter and target the last events naming them left current (None: none did)."""
    current_filter: str | None = None
    current_target: str | None = None
    for item in reversed(applied):
        new_filter, new_target = followed(item.event)
        current_filter = current_filter if current_filter is not None else new_filter
        current_target = current_target if current_target is not None else new_target
        if current_filter is not None and current_target is not None:
            break
    return current_filter, current_target
