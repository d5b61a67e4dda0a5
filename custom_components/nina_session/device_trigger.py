"""Device triggers: session start/end, state change, image saved, guiding lost, flip, error.

What fires is decided once, in the engine (`engine.moments`, handed on as
`NinaSessionData.triggers`; the event entity fires the rare ones among them): every live
event, and after a history merge or a rebuild only the final state change, so a backfill of thousands of old events triggers no automation.

A relay per loaded entry turns those triggers into one bus event each,
`{"device_id", "entry_id", "instance", "type": <trigger type>, "data": {...}}`, on the bus
event of the logbook row that tells it: state changes as `nina_session_state_changed` (the
state sensor's row), the moments the Session event entity fires as `nina_session_moment`
(its row), frames as `nina_session_trigger` (our logbook's row). Device triggers are event
triggers on them (so they survive a reload of the entry) and the recorder keeps all three.
The relay follows config entry state changes itself, starting when an entry is loaded and
stopping as soon as it begins to unload.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from homeassistant.components.device_automation import DEVICE_TRIGGER_BASE_SCHEMA
from homeassistant.components.homeassistant.triggers import event as event_trigger
from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    ConfigEntry,
    ConfigEntryChange,
    ConfigEntryState,
)
from homeassistant.const import (
    CONF_DEVICE_ID,
    CONF_DOMAIN,
    CONF_EVENT,
    CONF_EVENT_DATA,
    CONF_PLATFORM,
    CONF_TYPE,
)
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.trigger import TriggerActionType, TriggerInfo
from homeassistant.helpers.typing import ConfigType
from homeassistant.util.hass_dict import HassKey
import voluptuous as vol

from .const import (
    DOMAIN,
    EVENT_ERROR,
    EVENT_GUIDING_LOST,
    EVENT_IMAGE_SAVED,
    EVENT_MERIDIAN_FLIP,
    EVENT_SESSION_ENDED,
    EVENT_SESSION_STARTED,
    EVENT_STATE_CHANGED,
    EVENT_TYPES,
)
from .coordinator import NinaSessionConfigEntry, NinaSessionData

#: Bus event of the triggers no entity tells, frames (described by our logbook).
EVENT_NINA_SESSION_TRIGGER: Final = "nina_session_trigger"
#: Bus event fired for every session state change (the state sensor's logbook row tells it).
EVENT_NINA_SESSION_STATE_CHANGED: Final = "nina_session_state_changed"
#: Bus event of the moments the Session event entity also fires (its state change is their
#: logbook row where Home Assistant names the event type; see logbook.py).
EVENT_NINA_SESSION_MOMENT: Final = "nina_session_moment"

TRIGGER_TYPES: Final[tuple[str, ...]] = (
    EVENT_SESSION_STARTED,
    EVENT_SESSION_ENDED,
    EVENT_STATE_CHANGED,
    EVENT_IMAGE_SAVED,
    EVENT_GUIDING_LOST,
    EVENT_MERIDIAN_FLIP,
    EVENT_ERROR,
)

TRIGGER_SCHEMA: Final = DEVICE_TRIGGER_BASE_SCHEMA.extend(
    {vol.Required(CONF_TYPE): vol.In(TRIGGER_TYPES)}
)

DATA_RELAYS: HassKey[dict[str, TriggerRelay]] = HassKey(f"{DOMAIN}_trigger_relays")


def bus_event_of(trigger_type: str) -> str:
    """Return the bus event that carries triggers of `trigger_type`."""
    if trigger_type == EVENT_STATE_CHANGED:
        return EVENT_NINA_SESSION_STATE_CHANGED
    if trigger_type in EVENT_TYPES:
        return EVENT_NINA_SESSION_MOMENT
    return EVENT_NINA_SESSION_TRIGGER


# -- relay: coordinator triggers → bus events ------------------------------------------
class TriggerRelay:
    """Fires a bus event for each trigger of one loaded entry's coordinator."""

    def __init__(self, hass: HomeAssistant, entry: NinaSessionConfigEntry) -> None:
        """Initialize the relay and start listening to the entry's coordinator."""
        self._hass = hass
        self._entry = entry
        self._coordinator = entry.runtime_data
        self._device_id: str | None = None
        # Triggers already in the current snapshot happened before we listened.
        self._seen: NinaSessionData | None = self._coordinator.data
        self._remove = self._coordinator.async_add_listener(self._handle_update)

    @callback
    def stop(self) -> None:
        """Stop listening to the coordinator."""
        self._remove()

    def _device(self) -> str | None:
        if self._device_id is None and (device := self._coordinator.device_entry()):
            self._device_id = device.id
        return self._device_id

    @callback
    def _handle_update(self) -> None:
        data = self._coordinator.data
        if data is self._seen:  # listeners called again without a new snapshot
            return
        self._seen = data
        for trigger in data.triggers:
            if trigger.event_type not in TRIGGER_TYPES:
                continue
            self._hass.bus.async_fire(
                bus_event_of(trigger.event_type),
                {
                    "device_id": self._device(),
                    "entry_id": self._entry.entry_id,
                    "instance": self._coordinator.instance_id,
                    "type": trigger.event_type,
                    "data": dict(trigger.attributes),
                },
            )


@callback
def async_setup_trigger_relay(hass: HomeAssistant) -> None:
    """Follow our config entries: a relay while each is loaded. Call once (async_setup)."""
    if DATA_RELAYS in hass.data:
        return
    relays: dict[str, TriggerRelay] = {}
    hass.data[DATA_RELAYS] = relays

    @callback
    def _entry_changed(change: ConfigEntryChange, entry: ConfigEntry) -> None:
        if entry.domain != DOMAIN:
            return
        loaded = change is not ConfigEntryChange.REMOVED and (
            entry.state is ConfigEntryState.LOADED
        )
        relay = relays.get(entry.entry_id)
        if loaded and relay is None:
            relays[entry.entry_id] = TriggerRelay(hass, entry)
        elif not loaded and relay is not None:
            relays.pop(entry.entry_id).stop()

    async_dispatcher_connect(hass, SIGNAL_CONFIG_ENTRY_CHANGED, _entry_changed)
    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        relays[entry.entry_id] = TriggerRelay(hass, entry)


# -- device automation platform --------------------------------------------------------
def _is_ours(hass: HomeAssistant, device_id: str) -> bool:
    device = dr.async_get(hass).async_get(device_id)
    if device is None:
        return False
    return any(
        (entry := hass.config_entries.async_get_entry(entry_id)) is not None
        and entry.domain == DOMAIN
        for entry_id in device.config_entries
    )


async def async_validate_trigger_config(hass: HomeAssistant, config: ConfigType) -> ConfigType:
    """Validate a trigger config (the device may be offline or not loaded yet)."""
    validated: ConfigType = TRIGGER_SCHEMA(config)
    return validated


async def async_get_triggers(hass: HomeAssistant, device_id: str) -> list[dict[str, Any]]:
    """Return the triggers a NINA instance's device offers."""
    if not _is_ours(hass, device_id):
        return []
    return [
        {
            CONF_PLATFORM: "device",
            CONF_DOMAIN: DOMAIN,
            CONF_DEVICE_ID: device_id,
            CONF_TYPE: trigger_type,
        }
        for trigger_type in TRIGGER_TYPES
    ]


async def async_attach_trigger(
    hass: HomeAssistant,
    config: ConfigType,
    action: TriggerActionType,
    trigger_info: TriggerInfo,
) -> CALLBACK_TYPE:
    """Listen for the bus events of this device and trigger type."""
    event_data: Mapping[str, str] = {
        "device_id": config[CONF_DEVICE_ID],
        "type": config[CONF_TYPE],
    }
    event_config = event_trigger.TRIGGER_SCHEMA(
        {
            CONF_PLATFORM: CONF_EVENT,
            event_trigger.CONF_EVENT_TYPE: bus_event_of(config[CONF_TYPE]),
            CONF_EVENT_DATA: dict(event_data),
        }
    )
    return await event_trigger.async_attach_trigger(
        hass, event_config, action, trigger_info, platform_type="device"
    )
