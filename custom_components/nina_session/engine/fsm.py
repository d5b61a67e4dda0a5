"""Session state machine: what the observatory is doing, from the events NINA really sends.

States and what moves them (every transition records its cause event and the event's time):

- ``imaging``: SEQUENCE-STARTING, a LIGHT frame, or resuming from ``paused``.
- ``flats``: FLAT-LIGHT-TOGGLED switching the panel on, or a FLAT frame. (A flat panel merely
  *connecting* at dusk is not flats: the original system got that wrong.)
- ``darks``: a DARK, BIAS or DARKFLAT frame.
- ``paused``: while imaging in a running sequence, the safety monitor reports unsafe, guiding
  stops outside an autofocus run or meridian flip, or the mount parks. A guiding pause that
  an autofocus, flip or slew to a target (MOUNT-CENTER, TS-TARGETSTART) then explains ends
  there without counting. It is left when every
  reason has cleared (safe again, GUIDER-START, MOUNT-UNPARKED), when frames arrive again, or
  when the sequence finishes.
- ``idle``: SEQUENCE-FINISHED, the panel switched off with no sequence running.

A pause is counted once when it is *resumed* or when it was caused by an unsafe sky. Guiding
that stops as the sequence winds down (stop guiding, park, SEQUENCE-FINISHED) is therefore
shown as a short ``paused`` but not counted as an interruption. Events that make no sense in
the current state (SEQUENCE-FINISHED with no sequence, MOUNT-AFTER-FLIP without a flip) are
counted as anomalies and logged, never raised.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
import logging
from typing import Any, ClassVar

from .models import NinaEvent

_LOGGER = logging.getLogger(__name__)


class SessionState(StrEnum):
    """What the observatory is doing."""

    IDLE = "idle"
    IMAGING = "imaging"
    FLATS = "flats"
    DARKS = "darks"
    PAUSED = "paused"
    #: Not an FSM state: the view shown while NINA is unreachable.
    DISCONNECTED = "disconnected"


FRAME_STATES = {
    "LIGHT": SessionState.IMAGING,
    "FLAT": SessionState.FLATS,
    "DARK": SessionState.DARKS,
    "BIAS": SessionState.DARKS,
    "DARKFLAT": SessionState.DARKS,
}
_WORKING = {SessionState.IMAGING, SessionState.FLATS, SessionState.DARKS}
# NINA stops guiding on purpose before these (flip, autofocus, slewing to a new target); a
# guiding pause they explain is not an interruption.
_EXPLAINS_GUIDER_STOP = {
    "MOUNT-BEFORE-FLIP", "AUTOFOCUS-STARTING", "MOUNT-CENTER", "TS-TARGETSTART",
    "TS-NEWTARGETSTART",
}  # fmt: skip


@dataclass(slots=True)
class Equipment:
    """What the equipment events told us; persisted with the state."""

    sequence_running: bool = False
    safe: bool | None = None
    guiding: bool = False
    parked: bool | None = None
    panel_light: bool = False
    cover_closed: bool = False
    flipping: bool = False
    focusing: bool = False
    pause_reasons: list[str] = field(default_factory=list)
    pause_counted: bool = False


@dataclass(frozen=True, slots=True)
class Transition:
    """A state change, or a pause counted in place, and the event that caused it."""

    previous: SessionState
    state: SessionState
    time: datetime
    cause: str
    #: True when this transition completes a pause that counts as an interruption.
    counts_pause: bool = False


def _set(attribute: str, value: bool) -> Any:
    """Return a handler that only records an equipment flag."""

    def handler(machine: StateMachine, _event: NinaEvent) -> Transition | None:
        setattr(machine.equipment, attribute, value)
        return None

    return handler


class StateMachine:
    """Folds events into a state; deterministic, time taken from events only."""

    def __init__(self) -> None:
        """Initialize the machine idle, with nothing known of the equipment."""
        self.state = SessionState.IDLE
        self.since: datetime | None = None
        self.equipment = Equipment()
        self.anomalies: dict[str, int] = {}

    # -- persistence -------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Return the state as JSON-safe data to persist."""
        return {
            "state": self.state.value,
            "since": self.since.isoformat() if self.since else None,
            "equipment": asdict(self.equipment),
        }

    def restore(self, snap: dict[str, Any]) -> None:
        """Restore the state from a `snapshot()`."""
        self.state = SessionState(snap["state"])
        self.since = datetime.fromisoformat(snap["since"]) if snap.get("since") else None
        self.equipment = Equipment(**snap.get("equipment", {}))

    # -- folding -----------------------------------------------------------------------
    def apply(self, event: NinaEvent) -> Transition | None:
        """Fold one event; return the transition it caused, if any."""
        handler = self._HANDLERS.get(event.name)
        return handler(self, event) if handler else None

    def _go(self, state: SessionState, event: NinaEvent) -> Transition | None:
        if state == self.state:
            return None
        eq = self.equipment
        counts_pause = False
        if self.state == SessionState.PAUSED:
            resumed = state in _WORKING and event.name not in _EXPLAINS_GUIDER_STOP
            counts_pause = resumed and not eq.pause_counted
            eq.pause_reasons.clear()
        elif state == SessionState.PAUSED:
            eq.pause_counted = "unsafe" in eq.pause_reasons
            counts_pause = eq.pause_counted
        transition = Transition(self.state, state, event.time, event.name, counts_pause)
        self.state, self.since = state, event.time
        _LOGGER.debug("State %s -> %s (%s)", transition.previous, state, event.name)
        return transition

    def _anomaly(self, kind: str, event: NinaEvent) -> None:
        self.anomalies[kind] = self.anomalies.get(kind, 0) + 1
        _LOGGER.info("Unexpected %s in state %s (%s)", event.name, self.state, kind)

    def _resume_state(self) -> SessionState:
        return SessionState.IMAGING if self.equipment.sequence_running else SessionState.IDLE

    def _pause(self, reason: str, event: NinaEvent) -> Transition | None:
        eq = self.equipment
        if self.state == SessionState.IMAGING and eq.sequence_running:
            eq.pause_reasons = [reason]
            return self._go(SessionState.PAUSED, event)
        if self.state == SessionState.PAUSED and reason not in eq.pause_reasons:
            eq.pause_reasons.append(reason)
            if reason == "unsafe":
                eq.pause_counted = True
                return Transition(self.state, self.state, event.time, event.name, True)
        return None

    def _clear(self, reason: str, event: NinaEvent) -> Transition | None:
        eq = self.equipment
        if self.state != SessionState.PAUSED or reason not in eq.pause_reasons:
            return None
        eq.pause_reasons.remove(reason)
        return None if eq.pause_reasons else self._go(self._resume_state(), event)

    def _sequence_starting(self, event: NinaEvent) -> Transition | None:
        if self.equipment.sequence_running:
            self._anomaly("sequence_restarted", event)
        self.equipment.sequence_running = True
        return self._go(SessionState.IMAGING, event)

    def _sequence_finished(self, event: NinaEvent) -> Transition | None:
        if not self.equipment.sequence_running:
            self._anomaly("finished_without_start", event)
        self.equipment.sequence_running = False
        return self._go(SessionState.IDLE, event)

    def _image_saved(self, event: NinaEvent) -> Transition | None:
        if event.frame is None:
            return None
        state = FRAME_STATES.get(event.frame.image_type)
        return self._go(state, event) if state else None

    def _flat_light(self, event: NinaEvent) -> Transition | None:
        eq = self.equipment
        eq.panel_light = not eq.panel_light
        if eq.panel_light:
            return self._go(SessionState.FLATS, event)
        if self.state == SessionState.FLATS and not eq.sequence_running:
            return self._go(SessionState.IDLE, event)
        return None

    def _safety(self, event: NinaEvent) -> Transition | None:
        is_safe = event.data.get("IsSafe")
        if not isinstance(is_safe, bool):
            self._anomaly("safety_without_state", event)
            return None
        self.equipment.safe = is_safe
        return self._clear("unsafe", event) if is_safe else self._pause("unsafe", event)

    def _guider_start(self, event: NinaEvent) -> Transition | None:
        self.equipment.guiding = True
        return self._clear("guiding", event)

    def _guider_stop(self, event: NinaEvent) -> Transition | None:
        eq = self.equipment
        eq.guiding = False
        if eq.flipping or eq.focusing:
            return None
        return self._pause("guiding", event)

    def _parked(self, event: NinaEvent) -> Transition | None:
        self.equipment.parked = True
        return self._pause("parked", event)

    def _unparked(self, event: NinaEvent) -> Transition | None:
        self.equipment.parked = False
        return self._clear("parked", event)

    def _explains_guider_stop(self, event: NinaEvent) -> Transition | None:
        """Start a flip, autofocus or slew: a guiding pause just before it was part of it."""
        eq = self.equipment
        if event.name == "MOUNT-BEFORE-FLIP":
            eq.flipping = True
        elif event.name == "AUTOFOCUS-STARTING":
            eq.focusing = True
        if self.state == SessionState.PAUSED and eq.pause_reasons == ["guiding"]:
            return self._go(SessionState.IMAGING, event)
        return None

    def _flip_done(self, event: NinaEvent) -> Transition | None:
        if not self.equipment.flipping:
            self._anomaly("flip_without_start", event)
        self.equipment.flipping = False
        return None

    def _focus_done(self, event: NinaEvent) -> Transition | None:
        if not self.equipment.focusing and event.name == "AUTOFOCUS-FINISHED":
            self._anomaly("autofocus_without_start", event)
        self.equipment.focusing = False
        return None

    #: Event name → handler (called with the machine); other events change nothing.
    _HANDLERS: ClassVar[dict[str, Any]] = {
        "SEQUENCE-STARTING": _sequence_starting,
        "SEQUENCE-FINISHED": _sequence_finished,
        "IMAGE-SAVE": _image_saved,
        "FLAT-LIGHT-TOGGLED": _flat_light,
        "SAFETY-CHANGED": _safety,
        "GUIDER-START": _guider_start,
        "GUIDER-STOP": _guider_stop,
        "MOUNT-PARKED": _parked,
        "MOUNT-UNPARKED": _unparked,
        "MOUNT-BEFORE-FLIP": _explains_guider_stop,
        "AUTOFOCUS-STARTING": _explains_guider_stop,
        "MOUNT-CENTER": _explains_guider_stop,
        "TS-TARGETSTART": _explains_guider_stop,
        "TS-NEWTARGETSTART": _explains_guider_stop,
        "MOUNT-AFTER-FLIP": _flip_done,
        "AUTOFOCUS-FINISHED": _focus_done,
        "ERROR-AF": _focus_done,
        "FLAT-COVER-CLOSED": _set("cover_closed", True),
        "FLAT-COVER-OPENED": _set("cover_closed", False),
        "FLAT-DISCONNECTED": _set("panel_light", False),
        "GUIDER-DISCONNECTED": _set("guiding", False),
    }
