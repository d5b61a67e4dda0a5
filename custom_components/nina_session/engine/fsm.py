"""Session state machine: what the observatory is doing, from the events NINA really sends.

Real rigs (Target Scheduler nights above all) often send no SEQUENCE-STARTING, stop guiding
dozens of times a night on purpose, home the mount while they wait for a target, and end the
night with an unsafe sky before dawn flats. The rules, every transition keeping its cause event
and time, and a reason where one state has several:

- **A run** goes on from SEQUENCE-STARTING, or, when that never came, from imaging work: a
  Target Scheduler target start or wait, autofocus, centering, a flip, guiding starting or a
  LIGHT frame. SEQUENCE-FINISHED ends the run, started or inferred (``idle``).
- ``imaging``: a run goes on and the rig works (work moves ``idle`` and ``waiting`` here).
- ``waiting``: TS-WAITSTART (reason ``scheduler_wait``, until its ``WaitEndTime``), or the
  mount homed or parked during a run (``mount_homed``, ``mount_parked``) and the run not going
  on within the grace period. Work ends it.
- ``paused`` during a run, counted once when entered: an unsafe sky (``unsafe``); a camera that
  disconnects or a dome shutter that closes while the mount is not at rest
  (``camera_disconnected``, ``dome_closed``: closing down after a park is no pause); a guider
  stop that nothing explains within the grace period (``guiding_lost``, paused *since the
  stop*). A guider stop is explained by what comes with it: autofocus, centering, a target
  change or wait, a flip, a park or home, the end of the run, frames or guiding restarting.
  Paused is left when every reason has cleared (to ``waiting`` in a scheduler wait), on
  a LIGHT frame, or by work when guiding was the only reason.
- ``flats``: the flat panel lit (FLAT-LIGHT-TOGGLED), or a FLAT frame; ``darks``: DARK, BIAS or
  DARKFLAT frames. The panel switched off with no run goes ``idle``.

Deferred states (the guider stop, the park) are *pending* until the grace period has passed:
the next event after it, or the live clock (`expire`), makes them real, with the time of the
stop, so a fold of the stored events and the live clock give the same history. Events that make
no sense in the current state are counted as anomalies and logged, never raised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum
import logging
from typing import Any, ClassVar

from .errors import FrameError
from .models import Frame, NinaEvent
from .timeutil import parse_nina_time

_LOGGER = logging.getLogger(__name__)

#: How long a stop of work may stay unexplained before it is a state of its own (a guider stop
#: before a slew and centering takes one to two minutes on real rigs).
DEFAULT_GRACE = timedelta(minutes=3)


class SessionState(StrEnum):
    """What the observatory is doing."""

    IDLE = "idle"
    IMAGING = "imaging"
    FLATS = "flats"
    DARKS = "darks"
    PAUSED = "paused"
    WAITING = "waiting"
    #: Not an FSM state: the view shown while NINA is unreachable.
    DISCONNECTED = "disconnected"


class Reason(StrEnum):
    """Why the machine is paused or waiting."""

    UNSAFE = "unsafe"
    GUIDING_LOST = "guiding_lost"
    CAMERA_DISCONNECTED = "camera_disconnected"
    DOME_CLOSED = "dome_closed"
    SCHEDULER_WAIT = "scheduler_wait"
    MOUNT_HOMED = "mount_homed"
    MOUNT_PARKED = "mount_parked"


FRAME_STATES = {
    "LIGHT": SessionState.IMAGING,
    "FLAT": SessionState.FLATS,
    "DARK": SessionState.DARKS,
    "BIAS": SessionState.DARKS,
    "DARKFLAT": SessionState.DARKS,
}
#: Imaging work that means a run goes on, SEQUENCE-STARTING or not (a LIGHT frame too).
RUN_WORK = frozenset(
    {
        "TS-NEWTARGETSTART", "TS-TARGETSTART", "AUTOFOCUS-STARTING", "MOUNT-CENTER",
        "MOUNT-BEFORE-FLIP", "GUIDER-START",
    }
)  # fmt: skip
#: Work that settles a pending stop (a guider stop, a park) as part of the rig's routine.
_SETTLES_PENDING = RUN_WORK | {"SEQUENCE-STARTING", "SEQUENCE-FINISHED", "TS-WAITSTART"}
#: The rig moves to a new target: a guider stop until guiding restarts is part of the slew.
_SLEWS = frozenset({"TS-NEWTARGETSTART", "TS-TARGETSTART", "MOUNT-CENTER"})
#: Pause reasons that work alone does not clear (the rig or the sky must say so).
_STICKY = frozenset({Reason.UNSAFE, Reason.CAMERA_DISCONNECTED, Reason.DOME_CLOSED})
_RUN_STATES = frozenset({SessionState.IMAGING, SessionState.WAITING})
#: States imaging work ends.
_RESTING_STATES = frozenset({SessionState.IDLE, SessionState.WAITING})
#: Calibration states imaging work ends too: darks or flats close a night, and the next
#: night's first work (an evening autofocus, a scheduler target) is no more of them. Not while
#: the flat panel is lit: that is a flat run, whatever else the rig reports.
_CALIBRATION_STATES = frozenset({SessionState.DARKS, SessionState.FLATS})
#: Equipment that must be there while imaging: event → (Equipment flag, there?, pause reason).
_EQUIPMENT_PRESENCE: dict[str, tuple[str, bool, Reason]] = {
    "CAMERA-CONNECTED": ("camera_connected", True, Reason.CAMERA_DISCONNECTED),
    "CAMERA-DISCONNECTED": ("camera_connected", False, Reason.CAMERA_DISCONNECTED),
    "DOME-SHUTTER-OPENED": ("shutter_open", True, Reason.DOME_CLOSED),
    "DOME-SHUTTER-CLOSED": ("shutter_open", False, Reason.DOME_CLOSED),
}


@dataclass(slots=True)
class Equipment:
    """What the equipment events told us; persisted with the state."""

    #: A run goes on (SEQUENCE-STARTING, or inferred from work); `sequence_started` tells which.
    sequence_running: bool = False
    sequence_started: bool = False
    safe: bool | None = None
    guiding: bool = False
    parked: bool | None = None
    panel_light: bool = False
    cover_closed: bool = False
    camera_connected: bool | None = None
    shutter_open: bool | None = None
    flipping: bool = False
    focusing: bool = False
    #: The last autofocus run ended with ERROR-AF (a repeated error line is the same failure).
    focus_error: bool = False
    #: A target change or centering since guiding last started.
    slewing: bool = False
    #: Why the mount rests during the run (a scheduler wait, homed, parked); None while working.
    resting: str | None = None
    #: When the scheduler's wait ends (ISO, UTC), during a scheduler wait.
    wait_until: str | None = None
    pause_reasons: list[str] = field(default_factory=list)
    #: A stop waiting out the grace period: {"state", "reason", "since" (ISO), "cause"}.
    pending: dict[str, str] | None = None


_EQUIPMENT_FIELDS = frozenset(f.name for f in fields(Equipment))
_EQUIPMENT_ORDER = tuple(f.name for f in fields(Equipment))


def _equipment_record(equipment: Equipment) -> dict[str, Any]:
    """Return what `asdict` gives of `equipment`, at a fraction of its recursive walk.

    Taken at every fold checkpoint and saved state; only its list and dict need copies.
    """
    record = {name: getattr(equipment, name) for name in _EQUIPMENT_ORDER}
    record["pause_reasons"] = list(equipment.pause_reasons)
    pending = equipment.pending
    record["pending"] = dict(pending) if pending is not None else None
    return record


@dataclass(frozen=True, slots=True)
class Transition:
    """A state change, and the event that caused it."""

    previous: SessionState
    state: SessionState
    time: datetime
    cause: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """What folding one event (or one clock tick) did.

    `expired` is a pending stop the event's time made real, before the event's own
    `transition`; `counts` names session counters to add one to.
    """

    transition: Transition | None = None
    expired: Transition | None = None
    counts: tuple[str, ...] = ()

    @property
    def transitions(self) -> tuple[Transition, ...]:
        """Return the state changes in the order they happened."""
        # Asked of every folded event: no generator for what is mostly an empty tuple.
        expired, transition = self.expired, self.transition
        if expired is None:
            return () if transition is None else (transition,)
        return (expired,) if transition is None else (expired, transition)


#: What folding an event that changed nothing did (most events): one shared, it is frozen.
NO_STEP = Step()

#: Read per frame: a member read from its enum class costs several times a global's read.
_IMAGING = SessionState.IMAGING

_Handler = Callable[["StateMachine", NinaEvent], "Transition | None"]
_IMAGE_SAVE = "IMAGE-SAVE"


class StateMachine:
    """Folds events into a state; deterministic, time taken from events only."""

    def __init__(self, grace: timedelta = DEFAULT_GRACE) -> None:
        """Initialize the machine idle, with nothing known of the equipment."""
        self.grace = grace
        self.state = SessionState.IDLE
        self.since: datetime | None = None
        self.cause: str | None = None
        self.reason: str | None = None
        self.equipment = Equipment()
        self.anomalies: dict[str, int] = {}
        #: State changes made so far: a batch made one when it moved (see `Pipeline._fold`).
        self.changes = 0
        self._counts: list[str] = []

    # -- persistence -------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Return the state as JSON-safe data to persist."""
        return {
            "state": self.state.value,
            "since": self.since.isoformat() if self.since else None,
            "cause": self.cause,
            "reason": self.reason,
            "equipment": _equipment_record(self.equipment),
        }

    def restore(self, snap: dict[str, Any]) -> None:
        """Restore the state from a `snapshot()` (of this or an older version)."""
        self.state = SessionState(snap["state"])
        self.since = datetime.fromisoformat(snap["since"]) if snap.get("since") else None
        self.cause, self.reason = snap.get("cause"), snap.get("reason")
        saved = snap.get("equipment", {})
        self.equipment = Equipment(**{k: v for k, v in saved.items() if k in _EQUIPMENT_FIELDS})

    # -- folding -----------------------------------------------------------------------
    def apply(self, event: NinaEvent) -> Step:
        """Fold one event; return the state changes and counts it caused."""
        eq = self.equipment
        name = event.name
        if eq.pending is None:
            frame = event.frame
            if frame is None:
                if name not in ACTS_ON:
                    return NO_STEP  # most events of a night: nothing to expire, settle or handle
            elif name == _IMAGE_SAVE and self.take_routine_frame(frame):
                return NO_STEP
        self._counts.clear()
        expired = self._expire(event.time) if eq.pending is not None else None
        if event.frame is not None or name in _SETTLES_PENDING:
            eq.pending = None
        transition = None
        handler = self._HANDLERS.get(name)
        if handler is not None:
            transition = handler(self, event)
        if name in RUN_WORK:
            transition = self._work(event) or transition
        if transition is not None:
            eq.pending = None
        return self._step(transition, expired)

    def take_routine_frame(self, frame: Frame) -> bool:
        """Take an IMAGE-SAVE's frame as `apply` would if it changes nothing; say if it did.

        It does when no stop is pending and its type keeps the state (`apply` returns
        `NO_STEP` then); otherwise nothing is taken: `apply` the event.
        """
        if self.equipment.pending is None and FRAME_STATES.get(frame.image_type) is self.state:
            self._keep_state()
            return True
        return False

    def tick(self, now: datetime) -> Step:
        """Live clock: make a pending stop real once the grace period has passed by `now`."""
        self._counts.clear()
        return self._step(None, self._expire(now))

    def _step(self, transition: Transition | None, expired: Transition | None) -> Step:
        """Return what the event or tick did; most did nothing, and share one empty `Step`."""
        if not self._counts:
            if transition is None and expired is None:
                return NO_STEP
            return Step(transition, expired)
        step = Step(transition, expired, tuple(self._counts))
        self._counts.clear()
        return step

    def _expire(self, now: datetime) -> Transition | None:
        pending = self.equipment.pending
        if pending is None:
            return None
        since = datetime.fromisoformat(pending["since"])
        if now - since <= self.grace:
            return None
        self.equipment.pending = None
        if self.state != SessionState.IMAGING:
            return None
        state = SessionState(pending["state"])
        if state == SessionState.PAUSED:
            self.equipment.pause_reasons = [pending["reason"]]
        return self._go(state, since, pending["cause"], pending["reason"])

    @property
    def deadline(self) -> datetime | None:
        """Return when a pending stop becomes real, if one is pending."""
        pending = self.equipment.pending
        if pending is None:
            return None
        return datetime.fromisoformat(pending["since"]) + self.grace

    def _go(
        self, state: SessionState, time: datetime, cause: str, reason: str | None = None
    ) -> Transition | None:
        if state == self.state:
            self.reason = reason  # e.g. waiting for the scheduler after homing: no new state
            return None
        transition = Transition(self.state, state, time, cause, reason)
        if state == SessionState.PAUSED and self.state != SessionState.PAUSED:
            self._counts.append("pauses")
        if state != SessionState.PAUSED:
            self.equipment.pause_reasons.clear()
        self.state, self.since, self.cause, self.reason = state, time, cause, reason
        self.changes += 1
        _LOGGER.debug("State %s -> %s (%s, %s)", transition.previous, state, cause, reason)
        return transition

    def _go_event(
        self, state: SessionState, event: NinaEvent, reason: str | None = None
    ) -> Transition | None:
        return self._go(state, event.time, event.name, reason)

    def _anomaly(self, kind: str, event: NinaEvent) -> None:
        self.anomalies[kind] = self.anomalies.get(kind, 0) + 1
        _LOGGER.info("Unexpected %s in state %s (%s)", event.name, self.state, kind)

    def _resume(self, event: NinaEvent) -> Transition | None:
        """Leave a pause whose reasons have all cleared."""
        eq = self.equipment
        if not eq.sequence_running:
            return self._go_event(SessionState.IDLE, event)
        if eq.resting == Reason.SCHEDULER_WAIT:  # a park for the weather ends with it
            return self._go_event(SessionState.WAITING, event, eq.resting)
        return self._go_event(SessionState.IMAGING, event)

    def _pause(self, reason: Reason, event: NinaEvent) -> Transition | None:
        eq = self.equipment
        if self.state == SessionState.PAUSED:
            if reason not in eq.pause_reasons:
                eq.pause_reasons.append(reason)
            return None
        if self.state in _RUN_STATES and eq.sequence_running:
            transition = self._go_event(SessionState.PAUSED, event, reason)
            eq.pause_reasons = [reason]
            return transition
        return None

    def _clear(self, reason: Reason, event: NinaEvent) -> Transition | None:
        eq = self.equipment
        if self.state != SessionState.PAUSED or reason not in eq.pause_reasons:
            return None
        eq.pause_reasons.remove(reason)
        return None if eq.pause_reasons else self._resume(event)

    def _defer(self, state: SessionState, reason: Reason, event: NinaEvent) -> None:
        """Wait out the grace period before `state`: the rig's routine usually explains it."""
        if self.state == SessionState.IMAGING and self.equipment.sequence_running:
            self.equipment.pending = {
                "state": state.value,
                "reason": reason.value,
                "since": event.time.isoformat(),
                "cause": event.name,
            }

    def _work(self, event: NinaEvent) -> Transition | None:
        """Imaging work: a run goes on; the rig is no longer waiting or idle."""
        eq = self.equipment
        eq.sequence_running = True
        if event.name in _SLEWS:
            eq.slewing = True
        eq.resting = None
        eq.wait_until = None
        state = self.state
        if state in _RESTING_STATES or (state in _CALIBRATION_STATES and not eq.panel_light):
            return self._go_event(SessionState.IMAGING, event)
        if self.state == SessionState.PAUSED and set(eq.pause_reasons).isdisjoint(_STICKY):
            return self._go_event(SessionState.IMAGING, event)
        return None

    # -- handlers ----------------------------------------------------------------------
    def _sequence_starting(self, event: NinaEvent) -> Transition | None:
        eq = self.equipment
        if eq.sequence_started:
            self._anomaly("sequence_restarted", event)
        eq.sequence_running = eq.sequence_started = True
        return self._go_event(SessionState.IMAGING, event)

    def _sequence_finished(self, event: NinaEvent) -> Transition | None:
        eq = self.equipment
        if not eq.sequence_running:
            self._anomaly("finished_without_start", event)
        self._focus_ended(failed=True)
        eq.sequence_running = eq.sequence_started = False
        eq.resting = eq.wait_until = None
        return self._go_event(SessionState.IDLE, event)

    def _image_saved(self, event: NinaEvent) -> Transition | None:
        if event.frame is None:
            return None
        state = FRAME_STATES.get(event.frame.image_type)
        if state is None:
            return None
        if state == self.state:
            self._keep_state()
            return None
        if state == SessionState.IMAGING:
            return self._work(event) or self._go_event(state, event)
        return self._go_event(state, event)

    def _keep_state(self) -> None:
        """Take a frame in the state it keeps (nearly every frame): no reason stands.

        A light in ``imaging`` also says the run goes on and the mount does not rest (what
        `_work` does there); nothing else changes, so `apply` takes it without a `Step`.
        """
        if self.state is _IMAGING:
            eq = self.equipment
            eq.sequence_running = True
            eq.resting = eq.wait_until = None
        self.reason = None

    def _flat_light(self, event: NinaEvent) -> Transition | None:
        eq = self.equipment
        eq.panel_light = not eq.panel_light
        if eq.panel_light:
            return self._go_event(SessionState.FLATS, event)
        if self.state == SessionState.FLATS and not eq.sequence_running:
            return self._go_event(SessionState.IDLE, event)
        return None

    def _safety(self, event: NinaEvent) -> Transition | None:
        is_safe = event.data.get("IsSafe")
        if not isinstance(is_safe, bool):
            self._anomaly("safety_without_state", event)
            return None
        self.equipment.safe = is_safe
        if is_safe:
            return self._clear(Reason.UNSAFE, event)
        self.equipment.pending = None
        return self._pause(Reason.UNSAFE, event)

    def _equipment(self, event: NinaEvent) -> Transition | None:
        """Pause when a camera or dome shutter goes away mid-run; clear it when it returns."""
        flag, present, reason = _EQUIPMENT_PRESENCE[event.name]
        setattr(self.equipment, flag, present)
        if present:
            return self._clear(reason, event)
        return self._pause_unless_resting(reason, event)

    def _pause_unless_resting(self, reason: Reason, event: NinaEvent) -> Transition | None:
        """Equipment going away mid-run pauses; after a park or home it is closing down."""
        if self.equipment.resting is not None or self.state == SessionState.WAITING:
            return None
        return self._pause(reason, event)

    def _guider_start(self, event: NinaEvent) -> Transition | None:
        eq = self.equipment
        eq.guiding = True
        eq.slewing = False
        return self._clear(Reason.GUIDING_LOST, event)

    def _guider_stop(self, event: NinaEvent) -> Transition | None:
        eq = self.equipment
        eq.guiding = False
        if not (eq.flipping or eq.focusing or eq.slewing or eq.resting):
            self._defer(SessionState.PAUSED, Reason.GUIDING_LOST, event)
        return None

    def _rest(self, event: NinaEvent) -> Transition | None:
        """Note a park or home: between targets during a run, the rig waits."""
        eq = self.equipment
        reason = Reason.MOUNT_PARKED if event.name == "MOUNT-PARKED" else Reason.MOUNT_HOMED
        eq.parked = True if event.name == "MOUNT-PARKED" else eq.parked
        if not eq.sequence_running or self.state == SessionState.WAITING:
            return None
        eq.resting = eq.resting or reason
        self._defer(SessionState.WAITING, reason, event)
        return None

    def _unparked(self, event: NinaEvent) -> Transition | None:
        """Unparking during a run is the rig going back to work (not a run of its own)."""
        eq = self.equipment
        eq.parked = False
        return self._work(event) if eq.sequence_running and eq.resting else None

    def _scheduler_wait(self, event: NinaEvent) -> Transition | None:
        eq = self.equipment
        eq.sequence_running = True
        eq.resting = Reason.SCHEDULER_WAIT
        eq.wait_until = _wait_end(event.data.get("WaitEndTime"))
        if self.state == SessionState.PAUSED:
            return None
        return self._go_event(SessionState.WAITING, event, Reason.SCHEDULER_WAIT)

    def _flip_starting(self, event: NinaEvent) -> Transition | None:
        self.equipment.flipping = True
        return None

    def _flip_done(self, event: NinaEvent) -> Transition | None:
        if not self.equipment.flipping:
            self._anomaly("flip_without_start", event)
        self.equipment.flipping = False
        return None

    def _focus_starting(self, event: NinaEvent) -> Transition | None:
        self._focus_ended(failed=True)  # a run that never finished before this one
        self.equipment.focusing = True
        self.equipment.focus_error = False
        return None

    def _focus_finished(self, event: NinaEvent) -> Transition | None:
        if not self.equipment.focusing:
            self._anomaly("autofocus_without_start", event)
        self._focus_ended(failed=False)
        return None

    def _focus_error(self, event: NinaEvent) -> Transition | None:
        """ERROR-AF: the running autofocus failed (or one whose start we never saw)."""
        eq = self.equipment
        if eq.focusing or not eq.focus_error:
            self._counts.append("autofocus_failed")
        eq.focusing, eq.focus_error = False, True
        return None

    def _focus_ended(self, *, failed: bool) -> None:
        """End the running autofocus; one that never finished counts as failed."""
        if self.equipment.focusing and failed:
            self._counts.append("autofocus_failed")
        self.equipment.focusing = False

    @staticmethod
    def _set(attribute: str, value: bool) -> _Handler:
        """Return a handler that only records an equipment flag."""

        def handler(machine: StateMachine, _event: NinaEvent) -> Transition | None:
            setattr(machine.equipment, attribute, value)
            return None

        return handler

    #: Event name → handler (called with the machine); other events change nothing.
    _HANDLERS: ClassVar[dict[str, _Handler]] = {
        "SEQUENCE-STARTING": _sequence_starting,
        "SEQUENCE-FINISHED": _sequence_finished,
        "IMAGE-SAVE": _image_saved,
        "FLAT-LIGHT-TOGGLED": _flat_light,
        "SAFETY-CHANGED": _safety,
        **dict.fromkeys(_EQUIPMENT_PRESENCE, _equipment),
        "GUIDER-START": _guider_start,
        "GUIDER-STOP": _guider_stop,
        "MOUNT-PARKED": _rest,
        "MOUNT-HOMED": _rest,
        "MOUNT-UNPARKED": _unparked,
        "TS-WAITSTART": _scheduler_wait,
        "MOUNT-BEFORE-FLIP": _flip_starting,
        "MOUNT-AFTER-FLIP": _flip_done,
        "AUTOFOCUS-STARTING": _focus_starting,
        "AUTOFOCUS-FINISHED": _focus_finished,
        "ERROR-AF": _focus_error,
        "FLAT-COVER-CLOSED": _set("cover_closed", True),
        "FLAT-COVER-OPENED": _set("cover_closed", False),
        "FLAT-DISCONNECTED": _set("panel_light", False),
        "GUIDER-DISCONNECTED": _set("guiding", False),
    }
    HANDLED: ClassVar[frozenset[str]] = frozenset(_HANDLERS)


def _wait_end(value: Any) -> str | None:
    """Return the scheduler's `WaitEndTime` as ISO UTC (it has an offset; naive is UTC)."""
    if not isinstance(value, str):
        return None
    try:
        return parse_nina_time(value, UTC).isoformat()
    except FrameError:
        return None


#: Every event the state machine acts on (the vocabulary's "state" events must be among them).
HANDLED_EVENTS = StateMachine.HANDLED | RUN_WORK
#: ... and those that settle a pending stop: no other event changes anything when none is.
ACTS_ON = HANDLED_EVENTS | _SETTLES_PENDING
