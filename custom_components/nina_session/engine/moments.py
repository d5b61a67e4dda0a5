"""The moments of a night that automations hear, read from what the pipeline did.

A moment is a session starting or ending, the state changing, a frame saved, an autofocus run,
a meridian flip, guiding lost or an error, with its details. Home Assistant turns them into
device triggers, the event entity's events and the logbook; which engine result is which
moment is session semantics, so it is decided here and nowhere else.

Moments are told only for what happens now: live events and the clock's tick. A history merge
or a rebuild replays the past, so `Moments.after_merge` tells at most one state change, from
the state last told to the state the merge left.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from .fsm import Reason, SessionState
from .history_summary import last_causes
from .timeutil import iso_z
from .vocabulary import ERROR_EVENTS

if TYPE_CHECKING:  # the package's const module reads the names below without the pipeline
    from .batch_result import BatchResult
    from .fsm import Transition
    from .sessions import Applied, Session

SESSION_STARTED: Final = "session_started"
SESSION_ENDED: Final = "session_ended"
STATE_CHANGED: Final = "state_changed"
IMAGE_SAVED: Final = "image_saved"
AUTOFOCUS_FINISHED: Final = "autofocus_finished"
MERIDIAN_FLIP: Final = "meridian_flip"
GUIDING_LOST: Final = "guiding_lost"
ERROR: Final = "error"


@dataclass(frozen=True, slots=True)
class Moment:
    """One moment of the night: its type (the constants above) and its details."""

    event_type: str
    attributes: Mapping[str, Any]


def session_ended(session: Session) -> Moment:
    """Return the moment a session closed, with what it produced."""
    return Moment(
        SESSION_ENDED,
        {
            "session_id": session.id,
            "start": iso_z(session.start),
            "end": iso_z(session.end),
            "frames": sum(session.by_type.values()),
            "integration_seconds": session.integration_seconds,
        },
    )


class Moments:
    """Finds the moments in each update; remembers the state last told, so each is told once."""

    def __init__(self, told: SessionState | None = None) -> None:
        """Start with `told` as the state automations last heard of (None: nothing yet)."""
        self.told = told

    def live(self, item: Applied) -> list[Moment]:
        """Return the moments of one live event, in the order they happened."""
        event = item.event
        moments: list[Moment] = []
        if item.closed is not None:
            moments.append(session_ended(item.closed))
        if item.opened is not None:
            moments.append(
                Moment(
                    SESSION_STARTED,
                    {"session_id": item.opened.id, "start": iso_z(item.opened.start)},
                )
            )
        moments.extend(self.state_changes(item.transitions))
        if (frame := event.frame) is not None:
            moments.append(
                Moment(
                    IMAGE_SAVED,
                    {
                        "image_type": frame.image_type,
                        "filter": frame.filter,
                        "exposure": frame.exposure,
                        "target": frame.target,
                        "hfr": frame.hfr,
                        "stars": frame.stars,
                        "guiding_rms": frame.guiding_rms,
                        "filename": frame.filename,
                    },
                )
            )
        # With when NINA said it: the plugin sends these mostly without data, and two alike
        # fired within the event entity's millisecond (a batch after a stall) would be one
        # state in Home Assistant, so automations on the entity would run once.
        when = {"time": iso_z(event.time)}
        if event.name == "AUTOFOCUS-FINISHED":
            moments.append(Moment(AUTOFOCUS_FINISHED, {**event.data, **when}))
        elif event.name == "MOUNT-AFTER-FLIP":
            moments.append(Moment(MERIDIAN_FLIP, {**event.data, **when}))
        elif event.name in ERROR_EVENTS:
            moments.append(Moment(ERROR, {"error": event.name, "data": dict(event.data), **when}))
        return moments

    def ticked(self, result: BatchResult) -> list[Moment]:
        """Return the moments of a tick: a guider stop past its grace, sessions idle closed."""
        moments: list[Moment] = []
        if result.ticked is not None:
            moments.extend(self.state_changes(result.ticked.transitions))
        moments.extend(session_ended(session) for session in result.closed)
        return moments

    def state_changes(self, transitions: Sequence[Transition]) -> list[Moment]:
        """Return `state_changed` for each change of state, `guiding_lost` for a lost guider.

        A guider stop is lost when the FSM made it a pause with the reason guiding_lost: once
        nothing explained the stop within its grace period (engine.fsm).
        """
        moments: list[Moment] = []
        for transition in transitions:
            if transition.state == transition.previous:
                continue
            self.told = transition.state
            since = iso_z(transition.time)
            moments.append(
                Moment(
                    STATE_CHANGED,
                    {
                        "previous": transition.previous.value,
                        "state": transition.state.value,
                        "cause": transition.cause,
                        "reason": transition.reason,
                        "since": since,
                    },
                )
            )
            if transition.reason == Reason.GUIDING_LOST:
                moments.append(
                    Moment(GUIDING_LOST, {"since": since, "state": transition.state.value})
                )
        return moments

    def after_merge(self, state: SessionState, result: BatchResult | None) -> list[Moment]:
        """Return, after a history merge or a rebuild, one `state_changed` if the state moved."""
        previous, self.told = self.told, state
        if previous is None or previous == state:
            return []
        cause = None
        if result is not None:
            summary = result.summary
            causes = summary.causes if summary is not None else last_causes(result.applied)
            cause = causes.get(state)
        return [
            Moment(
                STATE_CHANGED,
                {
                    "previous": previous.value,
                    "state": state.value,
                    "cause": cause,
                    "reason": None,
                    "since": None,
                },
            )
        ]
