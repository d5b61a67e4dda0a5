"""Sessions: one night's work, its statistics, and the tracker that opens and closes them.

Rules (deterministic, times from events only):

- A session opens when the rig's work begins: SEQUENCE-STARTING, a Target Scheduler target
  start, autofocus, centering, guiding starting, or a frame (not a SNAPSHOT), whichever comes
  first when no session is open (equipment connecting or the sky reported safe is not work), so
  the evening's autofocus and calibration-only nights belong to a session.
- Every event while a session is open belongs to it; calibration frames taken after
  SEQUENCE-FINISHED therefore count for the night they finish.
- Activity is a *work* event (frames, sequence, autofocus, guiding, mount motion, flat panel,
  Target Scheduler) or any event while the state is not ``idle`` (a three-hour cloud pause
  inside a running sequence is still the same night's work).
- It closes when activity resumes more than the idle gap (default 2 h) after the last
  activity while idle, or when work begins that belongs to another observing night (local
  date of the evening, noon to noon in NINA's timezone). Its end is its last activity. A
  live clock may also close it once it has been idle that long
  (`SessionTracker.tick`), which gives the same result a later event would.
- Counts: every autofocus run that started (failed ones also under ``autofocus_failed``),
  dithers, meridian flips, pauses (each entered once; see `fsm`), errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta, tzinfo
from typing import Any

from .fsm import (
    ACTS_ON,
    DEFAULT_GRACE,
    NO_STEP,
    RUN_WORK,
    SessionState,
    StateMachine,
    Step,
    Transition,
)
from .models import Frame, NinaEvent
from .normalize import IMAGE_SAVE
from .timeutil import iso_z, night_end, night_of
from .vocabulary import ERROR_EVENTS

#: Work that opens a session when none is open (besides frames that are not snapshots): what
#: starts a run in the state machine, so a night and its run begin together.
_OPENS = RUN_WORK | {"SEQUENCE-STARTING"}
_WORK_PREFIXES = ("IMAGE-SAVE", "SEQUENCE-", "AUTOFOCUS-", "GUIDER-", "TS-", "FLAT-LIGHT")
_WORK_EVENTS = {"MOUNT-BEFORE-FLIP", "MOUNT-AFTER-FLIP", "MOUNT-CENTER", "FLAT-BRIGHTNESS-CHANGED"}
_COUNTED = {"GUIDER-DITHER": "dithers", "AUTOFOCUS-STARTING": "autofocus_runs",
            "MOUNT-AFTER-FLIP": "meridian_flips"}  # fmt: skip
#: Read per event: a member read from its enum class costs several times a global's read.
_IDLE = SessionState.IDLE
COUNTERS = ("dithers", "autofocus_runs", "autofocus_failed", "meridian_flips", "pauses", "errors")


@dataclass(frozen=True, slots=True)
class EventKind:
    """What the tracker makes of an event by its name, looked up once per name (`kind_of`).

    A frame's own type decides `work` and `opens` instead (see `SessionTracker.apply`).
    """

    #: Work (see the module's rules): it moves a session's last activity, and may end one.
    work: bool
    #: Opens a session when none is open (always work too).
    opens: bool
    #: The session counter it adds one to, if any.
    counter: str | None
    #: A Target Scheduler event: its `TargetName` is the session's target.
    names_target: bool
    #: A session counts something of it besides its activity (frames aside).
    counted: bool
    #: The state machine ignores it unless a stop is pending (see `StateMachine.apply`).
    machine_ignores: bool
    #: Outside a frame, it can only move the open session's activity and add to a counter
    #: while the machine is not idle and no stop is pending: it opens nothing, names no
    #: target, the machine ignores it, and as work it could end a session only while idle.
    passive: bool


#: Event name → its kind, for the names seen (a night names a few dozen; a dict read is a
#: fraction of an `lru_cache` call, paid per event).
_KINDS: dict[str, EventKind] = {}
#: Names kept in `_KINDS`: past it (a stream of made-up names), a kind is computed each time.
_KINDS_KEPT = 1024


def kind_of(name: str) -> EventKind:
    """Return what the tracker makes of events named `name` (frames aside)."""
    kind = _KINDS.get(name)
    if kind is not None:
        return kind
    opens = name in _OPENS
    work = opens or name in _WORK_EVENTS or name.startswith(_WORK_PREFIXES)
    counter = _COUNTED.get(name) or ("errors" if name in ERROR_EVENTS else None)
    names_target = name.startswith("TS-")
    counted = counter is not None or names_target
    ignored = name not in ACTS_ON
    passive = ignored and not opens and not names_target
    kind = EventKind(work, opens, counter, names_target, counted, ignored, passive)
    if len(_KINDS) < _KINDS_KEPT:
        _KINDS[name] = kind
    return kind


@dataclass(slots=True)
class _Mean:
    total: float = 0.0
    count: int = 0

    @property
    def value(self) -> float | None:
        return round(self.total / self.count, 3) if self.count else None


@dataclass(slots=True)
class Session:
    """Statistics of one session; `to_json` gives the canonical session JSON."""

    id: str
    instance: str
    start: datetime
    night: str
    end: datetime | None = None
    last_work: datetime | None = None
    targets: list[str] = field(default_factory=list)
    by_type: dict[str, int] = field(default_factory=dict)
    by_filter: dict[str, list[float]] = field(default_factory=dict)
    hfr_last: float | None = None
    stars_last: int | None = None
    rms_last: float | None = None
    hfr: _Mean = field(default_factory=_Mean)
    rms: _Mean = field(default_factory=_Mean)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    current: dict[str, Any] = field(default_factory=dict)
    last_image_at: datetime | None = None
    state_history: list[dict[str, Any]] = field(default_factory=list)
    #: When this observing night ends (next local noon); kept so frames need no tz math.
    night_ends: datetime | None = None

    def add(self, event: NinaEvent, step: Step, kind: EventKind) -> None:
        """Count one event of `kind` (its activity and frame the tracker records)."""
        if kind.counter is not None:
            self.count(kind.counter)
        if kind.names_target:
            target = event.data.get("TargetName")
            if isinstance(target, str) and target.strip():
                self._target(target.strip())
                self.current["target"] = target.strip()
        if step is not NO_STEP:
            self.add_step(step)

    def add_step(self, step: Step) -> None:
        """Record what the state machine did: its counts and its state changes."""
        for counter in step.counts:
            self.count(counter)
        for transition in step.transitions:
            if transition.state != transition.previous:
                self.state_history.append(history_entry(transition))

    def count(self, counter: str) -> None:
        """Add one to `counter` (sessions stored before a counter existed lack it)."""
        self.counts[counter] = self.counts.get(counter, 0) + 1

    def _target(self, name: str) -> None:
        if name not in self.targets:
            self.targets.append(name)

    def add_frame(self, frame: Frame, time: datetime) -> None:
        """Count a frame saved at `time`: by type, and a light's filter, target and quality."""
        image_type, current = frame.image_type, self.current
        self.by_type[image_type] = self.by_type.get(image_type, 0) + 1
        # Item by item: `update(filter=...)` built a dict of keywords per frame.
        current["filter"] = frame.filter
        current["image_type"] = image_type
        current["exposure"] = frame.exposure
        self.last_image_at = time
        if image_type != "LIGHT":
            return
        if frame.target:
            self._target(frame.target)
            current["target"] = frame.target
        slot = self.by_filter.get(frame.filter)
        if slot is None:  # not `setdefault`: it built a new list per light to throw away
            slot = self.by_filter[frame.filter] = [0, 0.0]
        slot[0] += 1
        slot[1] += frame.exposure or 0.0  # a light of unknown exposure adds no integration
        # Each reading's last value and mean under one test (a call per mean cost as much as
        # the rest of a light).
        if (hfr := frame.hfr) is not None:
            self.hfr_last = hfr
            self.hfr.total += hfr
            self.hfr.count += 1
        if (rms := frame.guiding_rms) is not None:
            self.rms_last = rms
            self.rms.total += rms
            self.rms.count += 1
        if frame.stars is not None:
            self.stars_last = frame.stars

    @property
    def integration_seconds(self) -> float:
        """Return the LIGHT exposure time over all filters, in seconds."""
        return round(sum(seconds for _, seconds in self.by_filter.values()), 3)

    def to_json(self, state: SessionState, fsm: StateMachine | None = None) -> dict[str, Any]:
        """Return the canonical session JSON, showing `state` (and `fsm`'s why, when open)."""
        return {
            "id": self.id,
            "instance": self.instance,
            "start": iso_z(self.start),
            "end": iso_z(self.end),
            "state": state.value,
            "state_detail": state_detail(fsm),
            "current": {
                **{
                    key: self.current.get(key)
                    for key in ("target", "filter", "image_type", "exposure")
                },
                "last_image_at": iso_z(self.last_image_at),
            },
            "targets": list(self.targets),
            "frames": {
                "total": sum(self.by_type.values()),
                "by_type": dict(self.by_type),
                "by_filter": {
                    name: {"count": int(count), "seconds": round(seconds, 3)}
                    for name, (count, seconds) in self.by_filter.items()
                },
            },
            "integration_seconds": self.integration_seconds,
            "quality": {
                "hfr_last": self.hfr_last,
                "hfr_mean": self.hfr.value,
                "stars_last": self.stars_last,
                "guiding_rms_last": self.rms_last,
                "guiding_rms_mean": self.rms.value,
            },
            "counts": {**dict.fromkeys(COUNTERS, 0), **self.counts},
            "state_history": list(self.state_history),
        }


def history_entry(transition: Transition) -> dict[str, Any]:
    """Return a state history entry: the state, since when, its cause event and reason."""
    return {
        "state": transition.state.value,
        "since": iso_z(transition.time),
        "cause": transition.cause,
        "reason": transition.reason,
    }


def state_detail(fsm: StateMachine | None) -> dict[str, Any]:
    """Why the machine is in its state: since when, the cause event, the reason, a wait's end."""
    if fsm is None:
        return {"since": None, "cause": None, "reason": None, "wait_until": None}
    until = fsm.equipment.wait_until if fsm.state == SessionState.WAITING else None
    return {
        "since": iso_z(fsm.since),
        "cause": fsm.cause,
        "reason": fsm.reason,
        "wait_until": iso_z(datetime.fromisoformat(until)) if until else None,
    }


#: Persisted fields: everything but caches and the state history (the store keeps that in
#: rows of its own, appended as it grows: a record stays the same size all night).
_RECORD_FIELDS = tuple(
    f.name for f in fields(Session) if f.name not in ("night_ends", "state_history")
)


#: Not frozen, though read-only by convention: one is built per event applied alone, and per
#: item read of a batch's fold (`folded_batch`), and a frozen dataclass's `__init__` (a call
#: per field) cost four times a plain one's.
@dataclass(slots=True)
class Applied:
    """What folding one event did."""

    event: NinaEvent
    session_id: str | None
    #: NO_STEP also for an event folded outside the tracker (stored to be refolded).
    step: Step = NO_STEP
    closed: Session | None = None
    opened: Session | None = None

    @property
    def transition(self) -> Transition | None:
        """Return the state change the event itself caused, if any."""
        return self.step.transition

    @property
    def transitions(self) -> tuple[Transition, ...]:
        """Return every state change folding the event made, in order (see `Step`)."""
        return self.step.transitions


#: `Applied`'s fields in order: the event as folded, its session id, step, closed, opened.
Folded = tuple[NinaEvent, str | None, Step, Session | None, Session | None]


class SessionTracker:
    """State machine plus session bookkeeping; fold events in time order."""

    def __init__(
        self, instance: str, tz: tzinfo, idle_gap: timedelta, grace: timedelta = DEFAULT_GRACE
    ) -> None:
        """Initialize an idle tracker with no open session."""
        self.instance = instance
        self.tz = tz
        self.idle_gap = idle_gap
        self.fsm = StateMachine(grace)
        self.open: Session | None = None
        self.last_time: datetime | None = None
        self._opened_or_closed = 0

    @property
    def changes(self) -> int:
        """Return how many state changes, sessions opened and closed the tracker made.

        A batch whose fold left it as it was changed nothing the saved state must follow.
        """
        return self.fsm.changes + self._opened_or_closed

    def apply(self, event: NinaEvent) -> Applied:
        """Fold one event: close, open or update the session; return what it did.

        `Applied.event` is the event as folded: a frame whose type nothing told is read in
        context first (see `_in_context`).
        """
        return Applied(*self.fold_one(event))

    def fold_one(self, event: NinaEvent) -> Folded:
        """Fold one event as `apply` does; return what it did as `Applied`'s fields.

        A tuple, for a batch's fold (`fold_checkpoints`): an `Applied` per event cost a tenth
        of a history merge's fold, and only a few events in a night do more than name their
        session (see `folded_batch`).
        """
        kind = _KINDS.get(event.name) or kind_of(event.name)
        frame = event.frame
        fsm = self.fsm
        session = self.open
        if (
            frame is None
            and kind.passive
            and session is not None
            and fsm.state is not _IDLE
            and fsm.equipment.pending is None
        ):
            # Most of a night's events (IMAGE-PREPARED, dithers, autofocus points): what the
            # general path below does for them, without its tests that cannot pass.
            time = event.time
            last = session.last_work
            if last is None or time > last:
                session.last_work = time
            if kind.counter is not None:
                session.count(kind.counter)
            last = self.last_time
            if last is None or time > last:
                self.last_time = time
            return event, session.id, NO_STEP, None, None
        if (
            frame is not None
            and session is not None
            and event.name == IMAGE_SAVE
            and "image_type" not in frame.inferred
            and event.time < (session.night_ends or self._night_ends(session))
            and fsm.take_routine_frame(frame)
        ):
            # Nearly every frame of a night: one its session's night holds, in the state its
            # type keeps (`take_routine_frame`). What the general path below does for it
            # (work that closes nothing and opens nothing, no step), without its calls.
            time = event.time
            last = session.last_work
            if last is None or time > last:
                session.last_work = time
            session.add_frame(frame, time)
            last = self.last_time
            if last is None or time > last:
                self.last_time = time
            return event, session.id, NO_STEP, None, None
        work, opens, time = kind.work, kind.opens, event.time
        if frame is not None:
            if "image_type" in frame.inferred:  # nothing told its type: read it in context
                frame = self._in_context(frame)
                if frame is not event.frame:
                    event = replace(event, frame=frame)
            work = opens = frame.image_type != "SNAPSHOT"  # a frame is work, a snapshot not
        closed = None
        active = work or fsm.state is not _IDLE
        # Only work ends a session: what is not (IMAGE-PREPARED, nearly half a night's events)
        # cannot be past the idle gap while idle, nor open the next night.
        if session is not None and work and self._ends_before(session, time, opens):
            closed = self._close(session)
        if frame is None and kind.machine_ignores and fsm.equipment.pending is None:
            step = NO_STEP  # what `fsm.apply` returns then, without a call per such event
        else:
            step = fsm.apply(event)
        opened = None
        if self.open is None and opens:
            opened = self.open = self._new_session(event)
            self._opened_or_closed += 1
            if step.transition is None:  # already in this state (flat panel lit before)
                opened.state_history.append(
                    history_entry(Transition(fsm.state, fsm.state, time, event.name, fsm.reason))
                )
        session = self.open
        if session is not None:
            last = session.last_work  # activity: work, or any event while not idle
            if active and (last is None or time > last):
                session.last_work = time
            if frame is not None:
                session.add_frame(frame, time)
            if step is not NO_STEP or kind.counted:
                session.add(event, step, kind)
        last = self.last_time
        if last is None or time > last:
            self.last_time = time
        return event, session.id if session else None, step, closed, opened

    def _in_context(self, frame: Frame) -> Frame:
        """Read a frame of unknown type saved while the flat panel is lit as a flat."""
        if not self.fsm.equipment.panel_light or frame.image_type == "FLAT":
            return frame
        return replace(frame, image_type="FLAT")

    def tick(self, now: datetime) -> tuple[Step, Session | None]:
        """Live clock: make a stop past its grace period a state, close a session gone idle."""
        return self.expire(now), self.close_if_idle(now)

    def expire(self, now: datetime) -> Step:
        """Make a stop past its grace period by `now` a state (see `StateMachine.tick`)."""
        step = self.fsm.tick(now)
        if self.open is not None:
            self.open.add_step(step)
        return step

    def close_if_idle(self, now: datetime) -> Session | None:
        """Close the open session once it has been idle for the gap on a live clock."""
        session = self.open
        if session is None or self.fsm.state != SessionState.IDLE:
            return None
        if now - (session.last_work or session.start) > self.idle_gap:
            return self._close(session)
        return None

    def close(self) -> Session | None:
        """Close the open session, if any (one that had ended before a refold)."""
        return self._close(self.open) if self.open is not None else None

    def _ends_before(self, session: Session, time: datetime, opens: bool) -> bool:
        """Whether work at `time` (work that `opens` a session, or not) ends `session` first.

        `opens` is positional: this is asked of every frame, and a keyword costs per call.
        """
        last = session.last_work or session.start
        if self.fsm.state is _IDLE and time - last > self.idle_gap:
            return True
        return opens and time >= self._night_ends(session)

    def _night_ends(self, session: Session) -> datetime:
        """Return when `session`'s observing night ends (kept on it: asked of every frame)."""
        ends = session.night_ends
        if ends is None:
            ends = session.night_ends = night_end(session.night, self.tz)
        return ends

    def _close(self, session: Session) -> Session:
        session.end = session.last_work or session.start
        self.open = None
        self._opened_or_closed += 1
        return session

    def _new_session(self, event: NinaEvent) -> Session:
        start_id = iso_z(event.time)
        return Session(
            id=f"{start_id}-{self.instance}",
            instance=self.instance,
            start=event.time,
            night=night_of(event.time, self.tz),
        )

    def current_json(self) -> dict[str, Any] | None:
        """Return the open session's canonical JSON, or None."""
        return self.open.to_json(self.fsm.state, self.fsm) if self.open else None


_TIMES = ("start", "end", "last_work", "last_image_at")


def session_to_record(session: Session) -> dict[str, Any]:
    """Everything needed to continue a session after a restart (JSON-safe).

    Built by hand rather than with dataclasses.asdict: this runs on every batch, and the
    record is encoded at once, so it needs no deep copies.
    """
    record: dict[str, Any] = {
        name: getattr(session, name) for name in _RECORD_FIELDS if name not in _TIMES
    }
    for name in _TIMES:
        value = getattr(session, name)
        record[name] = value.isoformat() if value is not None else None
    record["hfr"] = {"total": session.hfr.total, "count": session.hfr.count}
    record["rms"] = {"total": session.rms.total, "count": session.rms.count}
    return record


def session_from_record(record: dict[str, Any]) -> Session:
    """Rebuild a session from `session_to_record` (its state history is the caller's to add).

    Records saved before the history had rows of its own carry it: it is taken.
    """
    values = {name: record[name] for name in _RECORD_FIELDS if name in record}
    values["state_history"] = list(record.get("state_history", []))
    for name in _TIMES:
        if values.get(name) is not None:
            values[name] = datetime.fromisoformat(values[name])
    values["hfr"] = _Mean(**record["hfr"])
    values["rms"] = _Mean(**record["rms"])
    return Session(**values)


def tracker_snapshot(tracker: SessionTracker) -> dict[str, Any]:
    """Return the tracker's state as JSON-safe data to persist."""
    return {
        "fsm": tracker.fsm.snapshot(),
        "open": session_to_record(tracker.open) if tracker.open else None,
        "last_time": tracker.last_time.isoformat() if tracker.last_time else None,
    }


def restore_tracker(tracker: SessionTracker, snap: dict[str, Any]) -> None:
    """Restore a tracker from `tracker_snapshot`."""
    tracker.fsm.restore(snap["fsm"])
    tracker.open = session_from_record(snap["open"]) if snap.get("open") else None
    last = snap.get("last_time")
    tracker.last_time = datetime.fromisoformat(last) if last else None
