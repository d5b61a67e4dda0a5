"""Render the unified session in the legacy session-state format older widgets read.

Mapping (legacy key ← our data):

- ``sessionStart`` ← session ``start``; ``isActive`` ← a session is open;
- ``target`` ← the latest TS-TARGETSTART/TS-NEWTARGETSTART (name, project, coordinates,
  rotation, startedAt, targetEndTime, isExpired against `now`), else the current frame target;
- ``filter.name`` ← current filter; ``lastImage`` ← the latest frame of the session;
- ``safe`` ← the latest SAFETY-CHANGED; ``activity`` ← FSM state and its ``since``;
- ``lastEquipmentChange`` ← latest *-CONNECTED/*-DISCONNECTED event;
- ``flats`` ← state ``flats``, current filter, latest FLAT-BRIGHTNESS-CHANGED, FLAT count;
- ``darks`` ← state ``darks``, last dark exposure, DARK+BIAS frames grouped by exposure;
- ``events`` ← the five newest stored events; ``eventCount`` ← stored events;
- ``connectionStatus``/``wsStatus`` ← connection health; ``dataSource`` is ``"nina_session"``.

With no open session the same keys come back with empty values (``isActive`` false,
``target`` null, …), but safety, filter and connection are still filled: the original's empty
placeholder hid them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .models import Frame, NinaEvent
from .timeutil import iso_z, parse_nina_time

_EQUIPMENT_SUFFIXES = ("-CONNECTED", "-DISCONNECTED")


@dataclass(frozen=True, slots=True)
class LegacyInputs:
    """What the legacy shape needs beyond the canonical session JSON."""

    session: Mapping[str, Any] | None
    state: str
    state_since: datetime | None
    current_filter: str | None
    target_event: NinaEvent | None
    safety_event: NinaEvent | None
    equipment_event: NinaEvent | None
    brightness_event: NinaEvent | None
    last_frame: Frame | None
    #: The session's DARK and BIAS frames, in order.
    darks: Sequence[Frame]
    recent_events: Sequence[NinaEvent]
    event_count: int
    connected: bool
    reconnects: int
    last_message_at: datetime | None


def is_equipment_change(name: str) -> bool:
    """Return whether event `name` is a device connecting or disconnecting."""
    return name.endswith(_EQUIPMENT_SUFFIXES)


def _target(inputs: LegacyInputs, now: datetime) -> dict[str, Any] | None:
    event = inputs.target_event
    session = inputs.session
    if event is not None and session is not None:
        data = event.data
        end_text = data.get("TargetEndTime")
        end = None
        if isinstance(end_text, str):
            try:  # Target Scheduler writes UTC without an offset
                end = parse_nina_time(end_text, UTC)
            except ValueError:
                end = None
        return {
            "name": data.get("TargetName"),
            "project": data.get("ProjectName"),
            "coordinates": _coordinates(data.get("Coordinates")),
            "rotation": data.get("Rotation"),
            "startedAt": iso_z(event.time),
            "targetEndTime": iso_z(end),
            "isExpired": bool(end is not None and end < now),
        }
    name = (session or {}).get("current", {}).get("target")
    if not name:
        return None
    return {"name": name, "project": None, "coordinates": None, "rotation": None,
            "startedAt": None, "targetEndTime": None, "isExpired": False}  # fmt: skip


def _coordinates(value: Any) -> dict[str, Any] | None:
    """Return the target's coordinates, or None when history's placeholders hid them."""
    if not isinstance(value, Mapping):
        return None
    known = {key: item for key, item in value.items() if item is not None}
    if not all(isinstance(known.get(key), int | float) for key in ("RA", "Dec")):
        return None
    return known


def _last_image(frame: Frame | None, session: Mapping[str, Any] | None) -> dict[str, Any]:
    if frame is None:
        return dict.fromkeys(
            ("type", "filter", "exposureTime", "temperature", "hfr", "stars", "rms", "timestamp")
        )
    return {
        "type": frame.image_type,
        "filter": frame.filter,
        "exposureTime": frame.exposure,
        "temperature": frame.temperature,
        "hfr": frame.hfr,
        "stars": frame.stars,
        "rms": frame.guiding_rms,
        "timestamp": (session or {}).get("current", {}).get("last_image_at"),
    }


def _event(event: NinaEvent | None) -> dict[str, Any] | None:
    if event is None:
        return None
    return {"type": event.name, "time": iso_z(event.time), "data": event.data}


def to_legacy(inputs: LegacyInputs, now: datetime) -> dict[str, Any]:
    """Return the legacy session-state object."""
    session = inputs.session
    active = session is not None
    by_type = (session or {}).get("frames", {}).get("by_type", {})
    darks = inputs.darks
    groups: dict[str, int] = {}
    for frame in darks:
        key = f"{frame.exposure:g}" if frame.exposure is not None else "unknown"
        groups[key] = groups.get(key, 0) + 1
    safety = inputs.safety_event
    brightness = inputs.brightness_event
    return {
        "sessionStart": (session or {}).get("start"),
        "isActive": active,
        "target": _target(inputs, now),
        "filter": {"name": inputs.current_filter},
        "lastImage": _last_image(inputs.last_frame, session),
        "safe": {
            "isSafe": safety.data.get("IsSafe") if safety else None,
            "time": iso_z(safety.time) if safety else None,
        },
        "activity": {
            "subsystem": "sequence" if inputs.state != "idle" else None,
            "state": inputs.state,
            "since": iso_z(inputs.state_since),
        },
        "lastEquipmentChange": _event(inputs.equipment_event),
        "flats": {
            "isActive": inputs.state == "flats",
            "filter": inputs.current_filter if inputs.state == "flats" else None,
            "brightness": brightness.data.get("New") if brightness else None,
            "imageCount": by_type.get("FLAT", 0),
        },
        "darks": {
            "isActive": inputs.state == "darks",
            "currentExposureTime": darks[-1].exposure if darks else None,
            "exposureGroups": groups,
            "totalImages": len(darks),
        },
        "events": [_event(event) for event in inputs.recent_events[:5]],
        "eventCount": inputs.event_count,
        "connectionStatus": "connected" if inputs.connected else "disconnected",
        "lastUpdate": iso_z(now),
        "dataSource": "nina_session",
        "wsStatus": {
            "isConnected": inputs.connected,
            "reconnectAttempts": inputs.reconnects,
            "lastHeartbeat": iso_z(inputs.last_message_at),
        },
    }
