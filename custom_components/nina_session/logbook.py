"""Logbook: describe the `nina_session_trigger` bus events in a line each.

Session start and end, state changes (with their cause), frames, guiding losses, meridian
flips and errors: the night's story on the NINA device's logbook. The raw
`nina_session_event` (every NINA event, thousands a night) is deliberately not described.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from homeassistant.components.logbook.const import LOGBOOK_ENTRY_MESSAGE, LOGBOOK_ENTRY_NAME
from homeassistant.components.logbook.models import LazyEventPartialState
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
        text = f"changed from {data.get('previous')} to {data.get('state')}"
        return f"{text} ({data['cause']})" if data.get("cause") else text
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
        return {
            LOGBOOK_ENTRY_NAME: name,
            LOGBOOK_ENTRY_MESSAGE: describe_trigger(
                str(data.get("type")), details if isinstance(details, Mapping) else {}
            ),
        }

    async_describe_event(DOMAIN, EVENT_NINA_SESSION_TRIGGER, _describe)
