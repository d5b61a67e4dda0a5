"""Logbook: describe the `nina_session_trigger` bus events in a line each.

Session start and end, frames, guiding losses, meridian flips and errors: the moments no
entity's state tells, one row each on the NINA device's logbook. State changes are the state
sensor's own rows (Home Assistant writes one for every non-measurement entity), so they come
as `nina_session_state_changed`, which is not described. The raw `nina_session_event` (every
NINA event, thousands a night) is not described either.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from homeassistant.components.logbook import (
    LOGBOOK_ENTRY_ICON,
    LOGBOOK_ENTRY_MESSAGE,
    LOGBOOK_ENTRY_NAME,
    LazyEventPartialState,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr

from .const import (
    DOMAIN,
    EVENT_ERROR,
    EVENT_GUIDING_LOST,
    EVENT_IMAGE_SAVED,
    EVENT_MERIDIAN_FLIP,
    EVENT_SESSION_ENDED,
    EVENT_SESSION_STARTED,
    EVENT_STATE_CHANGED,
)
from .device_trigger import EVENT_NINA_SESSION_TRIGGER

type DescribeCallback = Callable[[LazyEventPartialState], dict[str, Any]]

#: The NINA event behind a state change, in an imager's words (the card has the same table).
_CAUSES: Mapping[str, str] = {
    "SEQUENCE-STARTING": "sequence started",
    "SEQUENCE-FINISHED": "sequence finished",
    "AUTOFOCUS-STARTING": "autofocus started",
    "AUTOFOCUS-FINISHED": "autofocus finished",
    "MOUNT-CENTER": "centering the target",
    "MOUNT-BEFORE-FLIP": "meridian flip",
    "MOUNT-AFTER-FLIP": "after the meridian flip",
    "MOUNT-HOMED": "mount homed",
    "MOUNT-PARKED": "mount parked",
    "GUIDER-START": "guiding started",
    "GUIDER-STOP": "guiding stopped",
    "TS-NEWTARGETSTART": "new target",
    "TS-TARGETSTART": "target started",
    "TS-WAITSTART": "scheduler waiting",
    "CAMERA-DISCONNECTED": "camera disconnected",
    "DOME-SHUTTER-CLOSED": "dome closed",
    "FLAT-LIGHT-TOGGLED": "flat panel on",
    "FLAT-BRIGHTNESS-CHANGED": "flat panel brightness set",
}
_FIRST_FRAME: Mapping[str, str] = {
    "imaging": "first light frame",
    "flats": "first flat frame",
    "darks": "first dark frame",
}
#: Logbook icon per trigger type (the event entity's icons in icons.json).
_ICONS: Mapping[str, str] = {
    EVENT_SESSION_STARTED: "mdi:weather-night",
    EVENT_SESSION_ENDED: "mdi:weather-sunset-up",
    EVENT_IMAGE_SAVED: "mdi:image-plus",
    EVENT_GUIDING_LOST: "mdi:crosshairs-question",
    EVENT_MERIDIAN_FLIP: "mdi:rotate-3d-variant",
    EVENT_ERROR: "mdi:alert-circle",
}
#: A state change row takes the icon of the state it entered (the state sensor's icons).
_STATE_ICONS: Mapping[str, str] = {
    "idle": "mdi:sleep",
    "imaging": "mdi:camera-iris",
    "flats": "mdi:lightbulb-on-outline",
    "darks": "mdi:weather-night",
    "paused": "mdi:pause-circle",
    "waiting": "mdi:timer-sand",
    "disconnected": "mdi:lan-disconnect",
}


def describe_cause(cause: str, state: str | None, reason: str | None = None) -> str:
    """Return the NINA event that moved the session to `state`, in words."""
    if cause == "IMAGE-SAVE":
        return _FIRST_FRAME.get(state or "", "frame saved")
    if cause == "SAFETY-CHANGED":
        return "sky unsafe" if state == "paused" else "sky safe"
    if cause == "GUIDER-STOP" and reason == "guiding_lost":
        return "guiding lost"
    return _CAUSES.get(cause) or cause.lower().replace("-", " ")


def trigger_icon(kind: str, data: Mapping[str, Any]) -> str:
    """Return the logbook icon of one trigger event."""
    if kind == EVENT_STATE_CHANGED:
        return _STATE_ICONS.get(str(data.get("state")), "mdi:swap-horizontal")
    return _ICONS.get(kind, "mdi:telescope")


def _hours(seconds: Any) -> str | None:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
        return None
    return f"{seconds / 3600:.1f} h"


def _frame(data: Mapping[str, Any]) -> str:
    kind = data.get("image_type") or "image"
    text = f"saved a {kind} frame"
    if data.get("target"):
        text += f" of {data['target']}"
    details = []
    if data.get("filter") and data["filter"] != "none":
        details.append(str(data["filter"]))
    exposure = data.get("exposure")
    if isinstance(exposure, int | float) and not isinstance(exposure, bool):
        details.append(f"{exposure:g} s")
    return f"{text} ({', '.join(details)})" if details else text


def describe_trigger(kind: str, data: Mapping[str, Any]) -> str:
    """Return the logbook message of one trigger event (English, like core integrations')."""
    if kind == EVENT_SESSION_STARTED:
        return f"started session {data.get('session_id')}"
    if kind == EVENT_SESSION_ENDED:
        text = f"ended session {data.get('session_id')}"
        parts = []
        if isinstance(data.get("frames"), int):
            parts.append(f"{data['frames']} frames")
        if hours := _hours(data.get("integration_seconds")):
            parts.append(f"{hours} integration")
        return f"{text}: {', '.join(parts)}" if parts else text
    if kind == EVENT_STATE_CHANGED:
        # Recorded as `nina_session_trigger` before state changes got their own bus event:
        # the logbook still reads those nights.
        state = data.get("state")
        text = f"changed from {data.get('previous')} to {state}"
        if not isinstance(cause := data.get("cause"), str) or not cause:
            return text
        reason = data.get("reason")
        words = describe_cause(cause, str(state), reason if isinstance(reason, str) else None)
        return f"{text} ({words})"
    if kind == EVENT_IMAGE_SAVED:
        return _frame(data)
    if kind == EVENT_GUIDING_LOST:
        return "lost guiding"
    if kind == EVENT_MERIDIAN_FLIP:
        return "finished a meridian flip"
    if kind == EVENT_ERROR:
        return f"reported an error ({data.get('error')})"
    return str(kind)


@callback
def async_describe_events(
    hass: HomeAssistant,
    async_describe_event: Callable[[str, str, DescribeCallback], None],
) -> None:
    """Describe the trigger events of nina_session."""

    @callback
    def _describe(event: LazyEventPartialState) -> dict[str, Any]:
        data = event.data
        name = data.get("instance") or "N.I.N.A."
        if (device_id := data.get("device_id")) and (
            device := dr.async_get(hass).async_get(device_id)
        ):
            name = device.name_by_user or device.name or name
        details = data.get("data")
        kind = str(data.get("type"))
        details = details if isinstance(details, Mapping) else {}
        return {
            LOGBOOK_ENTRY_NAME: name,
            LOGBOOK_ENTRY_MESSAGE: describe_trigger(kind, details),
            LOGBOOK_ENTRY_ICON: trigger_icon(kind, details),
        }

    async_describe_event(DOMAIN, EVENT_NINA_SESSION_TRIGGER, _describe)
