"""Logbook: one row per moment of a night on the NINA device's logbook, each told once.

Every entity that is not a measurement gets a row per state change from Home Assistant
itself, so we describe only what no entity's row tells:
- frames (`nina_session_trigger`): ours, in words ("saved a LIGHT frame of M 31 (Ha, 300 s)");
- state changes (`nina_session_state_changed`): the Session state sensor's row; not described;
- session start and end, lost guiding, flips, errors (`nina_session_moment`): the Session
  event entity's row, which names the event type (translated) from Home Assistant 2026.8 on.
  Older releases print every event entity's row as "detected an event", so there we still
  describe the moment beside it: the only row that says what happened.
- a history merge's older events (`nina_session_backfilled`): what HA missed, in one row (after
  a restart, the night so far).
The raw `nina_session_event` (every NINA event, thousands a night) is not described.
Rows recorded before moments had their own bus event stay described as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from homeassistant.components.logbook import (
    LOGBOOK_ENTRY_ICON,
    LOGBOOK_ENTRY_MESSAGE,
    LOGBOOK_ENTRY_NAME,
    LazyEventPartialState,
)
from homeassistant.const import MAJOR_VERSION, MINOR_VERSION
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr

from .cause_words import cause_words, translated_cause_words
from .const import (
    DOMAIN,
    EVENT_BACKFILLED,
    EVENT_ERROR,
    EVENT_GUIDING_LOST,
    EVENT_IMAGE_SAVED,
    EVENT_MERIDIAN_FLIP,
    EVENT_SESSION_ENDED,
    EVENT_SESSION_STARTED,
    EVENT_STATE_CHANGED,
)
from .device_trigger import EVENT_NINA_SESSION_MOMENT, EVENT_NINA_SESSION_TRIGGER

type DescribeCallback = Callable[[LazyEventPartialState], dict[str, Any]]

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


def describe_trigger(
    kind: str, data: Mapping[str, Any], words: Mapping[str, str] | None = None
) -> str:
    """Return the logbook message of one trigger event (English, like core integrations').

    `words`: the cause words of strings.json by key (`cause_words.translated_cause_words`).
    """
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
        told = cause_words(
            words or {}, cause, str(state), reason if isinstance(reason, str) else None
        )
        return f"{text} ({told})"
    if kind == EVENT_IMAGE_SAVED:
        return _frame(data)
    if kind == EVENT_GUIDING_LOST:
        return "lost guiding"
    if kind == EVENT_MERIDIAN_FLIP:
        return "finished a meridian flip"
    if kind == EVENT_ERROR:
        return f"reported an error ({data.get('error')})"
    return str(kind)


def describe_backfill(data: Mapping[str, Any]) -> str:
    """Return the logbook message of a history merge's older events (`EVENT_BACKFILLED`)."""
    events = data.get("events")
    count = events if isinstance(events, int) and not isinstance(events, bool) else 0
    text = f"caught up on {count:,} {'event' if count == 1 else 'events'} from NINA's history"
    by_type = data.get("by_type")
    frames = by_type.get("IMAGE-SAVE") if isinstance(by_type, Mapping) else None
    if isinstance(frames, int) and not isinstance(frames, bool) and frames > 0:
        text += f" ({frames:,} {'frame' if frames == 1 else 'frames'})"
    return text


#: The first Home Assistant whose logbook names an event entity's event type (core #174808,
#: frontend #52863, merged June 2026): from it on, the Session event entity's row tells a moment.
EVENT_TYPES_IN_LOGBOOK_SINCE: Final = (2026, 8)
#: The Home Assistant release this runs on.
HA_RELEASE: Final = (MAJOR_VERSION, MINOR_VERSION)


def entity_row_names_moments(version: tuple[int, int]) -> bool:
    """Return whether the Session event entity's own logbook row says which moment it was.

    Before that, the row reads "detected an event" for every moment, so ours (with the
    session, frames, error) stays beside it; from then on ours would say it twice.
    """
    return version >= EVENT_TYPES_IN_LOGBOOK_SINCE


def _device_name(hass: HomeAssistant, data: Mapping[str, Any]) -> str:
    """Return the name of the device a bus event names, else its instance's."""
    name = data.get("instance") or "N.I.N.A."
    if (device_id := data.get("device_id")) and (device := dr.async_get(hass).async_get(device_id)):
        return device.name_by_user or device.name or str(name)
    return str(name)


@callback
def async_describe_events(
    hass: HomeAssistant,
    async_describe_event: Callable[[str, str, DescribeCallback], None],
    *,
    version: tuple[int, int] | None = None,
) -> None:
    """Describe nina_session's bus events: frames, history merges, moments on older releases."""

    @callback
    def _describe(event: LazyEventPartialState) -> dict[str, Any]:
        data = event.data
        name = _device_name(hass, data)
        details = data.get("data")
        kind = str(data.get("type"))
        details = details if isinstance(details, Mapping) else {}
        words = translated_cause_words(hass) if kind == EVENT_STATE_CHANGED else None
        return {
            LOGBOOK_ENTRY_NAME: name,
            LOGBOOK_ENTRY_MESSAGE: describe_trigger(kind, details, words),
            LOGBOOK_ENTRY_ICON: trigger_icon(kind, details),
        }

    @callback
    def _describe_backfill(event: LazyEventPartialState) -> dict[str, Any]:
        return {
            LOGBOOK_ENTRY_NAME: _device_name(hass, event.data),
            LOGBOOK_ENTRY_MESSAGE: describe_backfill(event.data),
            LOGBOOK_ENTRY_ICON: "mdi:history",
        }

    async_describe_event(DOMAIN, EVENT_NINA_SESSION_TRIGGER, _describe)
    async_describe_event(DOMAIN, EVENT_BACKFILLED, _describe_backfill)
    if not entity_row_names_moments(version or HA_RELEASE):
        async_describe_event(DOMAIN, EVENT_NINA_SESSION_MOMENT, _describe)
