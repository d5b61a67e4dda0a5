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
from typing import Final

from .fsm import SessionState
from .models import NinaEvent
from .moments import last_causes
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


def summarize(applied: Sequence[Applied], now: datetime) -> tuple[HistorySummary, list[Applied]]:
    """Return the summary of a history merge's events and its recent ones (see the module)."""
    recent_from, recent_until = now - RECENT_HISTORY, now + RECENT_HISTORY
    recent: list[Applied] = []
    by_type: Counter[str] = Counter()
    first: datetime | None = None
    last: datetime | None = None
    last_frame: NinaEvent | None = None
    current_filter: str | None = None
    current_target: str | None = None
    for item in applied:
        event = item.event
        if recent_from <= event.time <= recent_until:
            recent.append(item)
        else:
            by_type[event.name] += 1
            first = event.time if first is None or event.time < first else first
            last = event.time if last is None or event.time > last else last
        new_filter, new_target = followed(event)
        if event.frame is not None:
            last_frame = event
        current_filter = new_filter if new_filter is not None else current_filter
        current_target = new_target if new_target is not None else current_target
    summary = HistorySummary(
        applied=len(applied),
        counted=len(applied) - len(recent),
        recent_from=recent_from,
        recent_until=recent_until,
        by_type=dict(by_type),
        first=first,
        last=last,
        last_frame=last_frame,
        filter=current_filter,
        target=current_target,
        causes=last_causes(applied),
    )
    return summary, recent
