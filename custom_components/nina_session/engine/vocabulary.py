"""Every event name the Advanced API plugin can send, and what each one does for us.

The plugin (christian-photo/ninaAPI 2.2.15.0) sends 68 event names on `/v2/socket`; this table
knows all of them, so an event we ignore is ignored on purpose and a name missing here is news.
Each name has one role, the strongest thing it does:

- ``state``: moves the session state machine (opens a session, starts or ends a run, waiting,
  paused, flats, darks);
- ``counter``: counted in the session (dithers, autofocus runs and failures, flips, errors);
- ``context``: teaches the normalizer or the equipment picture something (filter, panel light,
  cover, guiding, a new rendering) that later events are read against;
- ``legacy``: only feeds a field of the legacy session-state view (`lastEquipmentChange`,
  `flats.brightness`);
- ``ignored``: does nothing, for the reason given.

Names not in this table still pass through the pipeline as generic events (never rejected);
`EventCounters` counts them by name and logs each once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from .wire import MESSAGE_EVENT


class Role(StrEnum):
    """What an event name does for the session tracker."""

    STATE = "state"
    COUNTER = "counter"
    CONTEXT = "context"
    LEGACY = "legacy"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class Term:
    """One known event name: its role and, for an ignored one, why."""

    role: Role
    why: str = ""


_S, _C, _X, _L = Role.STATE, Role.COUNTER, Role.CONTEXT, Role.LEGACY
_DEVICE_LINK = Term(_L, "lastEquipmentChange in the legacy view")


def _ignored(why: str) -> Term:
    return Term(Role.IGNORED, why)


#: The plugin's 2.2.15.0 names (WebSocketV2.SendAndAddEvent calls plus the three TS-* topics).
PLUGIN_EVENTS: Final[Mapping[str, Term]] = MappingProxyType(
    {
        "API-CAPTURE-FINISHED": _ignored("a capture asked for over REST; its frame is IMAGE-SAVE"),
        "AUTOFOCUS-FINISHED": Term(_C, "closes the run: no autofocus_failed for it"),
        "AUTOFOCUS-POINT-ADDED": Term(_X, "an autofocus run is in progress"),
        "AUTOFOCUS-STARTING": Term(_S, "work: opens, infers a run, explains a guider stop"),
        "CAMERA-CONNECTED": Term(_S, "clears a camera-lost pause"),
        "CAMERA-DISCONNECTED": Term(_S, "pauses a run"),
        "CAMERA-DOWNLOAD-TIMEOUT": Term(_C, "errors"),
        "DOME-CONNECTED": _DEVICE_LINK,
        "DOME-DISCONNECTED": _DEVICE_LINK,
        "DOME-HOMED": _ignored("dome motion; only the shutter matters to imaging"),
        "DOME-PARKED": _ignored("dome motion; only the shutter matters to imaging"),
        "DOME-SHUTTER-CLOSED": Term(_S, "pauses a run"),
        "DOME-SHUTTER-OPENED": Term(_S, "clears a shutter pause"),
        "DOME-SLEWED": _ignored("dome motion; only the shutter matters to imaging"),
        "DOME-STOPPED": _ignored("dome motion (from NINA's log); only the shutter matters"),
        "DOME-SYNCED": _ignored("dome motion; only the shutter matters to imaging"),
        "ERROR-AF": Term(_C, "errors and autofocus_failed"),
        "ERROR-PLATESOLVE": Term(_C, "errors"),
        "FILTERWHEEL-CHANGED": Term(_X, "the current filter (Previous == New is no change)"),
        "FILTERWHEEL-CONNECTED": _DEVICE_LINK,
        "FILTERWHEEL-DISCONNECTED": _DEVICE_LINK,
        "FLAT-BRIGHTNESS-CHANGED": Term(_L, "flats.brightness in the legacy view"),
        "FLAT-CONNECTED": _DEVICE_LINK,
        "FLAT-COVER-CLOSED": Term(_X, "the panel cover is closed"),
        "FLAT-COVER-OPENED": Term(_X, "the panel cover is open"),
        "FLAT-DISCONNECTED": Term(_X, "a panel that is gone is not lit"),
        "FLAT-LIGHT-TOGGLED": Term(_S, "panel on: flats; off with no run: idle"),
        "FOCUSER-CONNECTED": _DEVICE_LINK,
        "FOCUSER-DISCONNECTED": _DEVICE_LINK,
        "FOCUSER-USER-FOCUSED": _ignored("a focuser moved by hand in NINA's UI"),
        "GUIDER-CONNECTED": _DEVICE_LINK,
        "GUIDER-DISCONNECTED": Term(_X, "a guider that is gone is not guiding"),
        "GUIDER-DITHER": Term(_C, "dithers"),
        "GUIDER-START": Term(_S, "work: infers a run, leaves waiting, clears a guiding pause"),
        "GUIDER-STOP": Term(_S, "pauses a run unless explained within the grace period"),
        "IMAGE-PREPARED": Term(_X, "a new rendering exists: the picture is fetched again"),
        "IMAGE-SAVE": Term(_S, "a frame: work, and its type moves imaging/flats/darks"),
        "MOUNT-AFTER-FLIP": Term(_C, "meridian_flips"),
        "MOUNT-BEFORE-FLIP": Term(_S, "explains a guider stop"),
        "MOUNT-CENTER": Term(_S, "work (from NINA's log): infers a run, leaves waiting"),
        "MOUNT-CONNECTED": _DEVICE_LINK,
        "MOUNT-DISCONNECTED": _DEVICE_LINK,
        "MOUNT-HOMED": Term(_S, "waiting while a run goes on"),
        "MOUNT-PARKED": Term(_S, "waiting while a run goes on"),
        "MOUNT-UNPARKED": Term(_S, "leaves waiting"),
        "PROFILE-ADDED": _ignored("NINA profile management"),
        "PROFILE-CHANGED": _ignored("NINA profile management"),
        "PROFILE-REMOVED": _ignored("NINA profile management"),
        "ROTATOR-CONNECTED": _DEVICE_LINK,
        "ROTATOR-DISCONNECTED": _DEVICE_LINK,
        "ROTATOR-MOVED": _ignored("framing angle; no bearing on the session"),
        "ROTATOR-MOVED-MECHANICAL": _ignored("framing angle; no bearing on the session"),
        "ROTATOR-SYNCED": _ignored("framing angle; no bearing on the session"),
        "SAFETY-CHANGED": Term(_S, "unsafe pauses a run, safe clears it"),
        "SAFETY-CONNECTED": _DEVICE_LINK,
        "SAFETY-DISCONNECTED": _DEVICE_LINK,
        "SEQUENCE-ENTITY-FAILED": Term(_C, "errors"),
        "SEQUENCE-FINISHED": Term(_S, "ends the run: idle"),
        "SEQUENCE-STARTING": Term(_S, "work: opens a session, starts a run"),
        "STACK-STATUS": _ignored("Livestack plugin's preview stack, not captured frames"),
        "STACK-UPDATED": _ignored("Livestack plugin's preview stack, not captured frames"),
        "SWITCH-CONNECTED": _DEVICE_LINK,
        "SWITCH-DISCONNECTED": _DEVICE_LINK,
        "TS-NEWTARGETSTART": Term(_S, "work: a new target, infers a run, leaves waiting"),
        "TS-TARGETSTART": Term(_S, "work: a plan cycle, infers a run, leaves waiting"),
        "TS-WAITSTART": Term(_S, "waiting until WaitEndTime"),
        "WEATHER-CONNECTED": _DEVICE_LINK,
        "WEATHER-DISCONNECTED": _DEVICE_LINK,
    }
)

#: Names we give to things that are not 2.2.15 event names: socket messages whose `Response`
#: is plain text (wire.MESSAGE_EVENT), and the two Target Scheduler topics only plugin v3
#: forwards (the v3 adapter names them in the v2 style).
OTHER_EVENTS: Final[Mapping[str, Term]] = MappingProxyType(
    {
        MESSAGE_EVENT: _ignored("text from a sequence's 'send WebSocket event' instruction"),
        "TS-TARGETCOMPLETE": _ignored("v3 only: a target's plans are done; the run goes on"),
        "TS-CONTAINERSTOPPED": _ignored("v3 only: TS container ended; SEQUENCE-FINISHED ends"),
    }
)

VOCABULARY: Final[Mapping[str, Term]] = MappingProxyType({**PLUGIN_EVENTS, **OTHER_EVENTS})

#: The night's errors: what the session counts as `errors`, what fires the `error` moment and
#: what the night report lists. One set, so the three always agree.
ERROR_EVENTS: Final = frozenset(
    {"ERROR-AF", "ERROR-PLATESOLVE", "SEQUENCE-ENTITY-FAILED", "CAMERA-DOWNLOAD-TIMEOUT"}
)


def role_of(name: str) -> Role | None:
    """Return the role of event `name`, or None for a name we do not know."""
    term = VOCABULARY.get(name)
    return term.role if term else None


def is_known(name: str) -> bool:
    """Return whether event `name` is in the vocabulary."""
    return name in VOCABULARY
