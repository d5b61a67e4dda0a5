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

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Final

from .folded_batch import FoldedBatch
from .fsm import SessionState
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
    for item in applied:
        transition = item.step.transition
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

    Runs once per merge over every event it applied: each step is one pass in C where it
    can be (the filter, target and last frame are read from the end, where they are found).
    `by_type`: how many of `applied` bear each name, when the caller counted them already.
    """
    recent_from, recent_until = now - RECENT_HISTORY, now + RECENT_HISTORY
    if isinstance(applied, FoldedBatch):  # read from its columns: no `Applied` per event
        recent = applied.between(recent_from, recent_until)
        events = applied.events
        causes = last_causes(applied.notable())
    else:
        recent = [item for item in applied if recent_from <= item.event.time <= recent_until]
        events = [item.event for item in applied]
        causes = last_causes(applied)
    old = (
        [event for event in events if not recent_from <= event.time <= recent_until]
        if recent
        else events
    )
    current_filter, current_target = _current_names(events)
    summary = HistorySummary(
        applied=len(applied),
        counted=len(old),
        recent_from=recent_from,
        recent_until=recent_until,
        by_type=dict(
            Counter(map(_NAME, old))
            if by_type is None
            else by_type - Counter(map(_NAME, (item.event for item in recent)))
        ),
        first=min(map(_TIME, old), default=None),
        last=max(map(_TIME, old), default=None),
        last_frame=next((event for event in reversed(events) if event.frame is not None), None),
        filter=current_filter,
        target=current_target,
        causes=causes,
    )
    return summary, recent


_NAME = attrgetter("name")
_TIME = attrgetter("time")


def _current_names(events: Sequence[NinaEvent]) -> tuple[str | None, str | None]:
    """Return the filter and target the last events naming them left current (None: none did)."""
    current_filter: str | None = None
    current_target: str | None = None
    for event in reversed(events):
        new_filter, new_target = followed(event)
        current_filter = current_filter if current_filter is not None else new_filter
        current_target = current_target if current_target is not None else new_target
        if current_filter is not None and current_target is not None:
            break
    return current_filter, current_target
