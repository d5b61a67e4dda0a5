"""Admin-only actions that send NINA a value: load a sequence, cool the camera, slew.

Everything without a value (park, start the sequence, ...) is a button. Each action targets
one loaded entry (`config_entry_id`, optional with one entry) and raises a translated
`HomeAssistantError` naming what NINA refused.
"""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.service import async_register_admin_service
import voluptuous as vol

from .const import DOMAIN
from .services import ATTR_CONFIG_ENTRY_ID, ID_STRING, _ActionSchema as ActionSchema, resolve_entry

SERVICE_LOAD_SEQUENCE = "load_sequence"
SERVICE_COOL_CAMERA = "cool_camera"
SERVICE_SLEW = "slew"

ATTR_SEQUENCE = "sequence"
ATTR_TEMPERATURE = "temperature"
ATTR_MINUTES = "minutes"
ATTR_RA = "ra"
ATTR_DEC = "dec"
ATTR_CENTER = "center"

_ENTRY_FIELD: dict[vol.Marker, Any] = {vol.Optional(ATTR_CONFIG_ENTRY_ID): ID_STRING}
LOAD_SEQUENCE_SCHEMA = ActionSchema(
    {**_ENTRY_FIELD, vol.Required(ATTR_SEQUENCE): vol.All(cv.string, vol.Strip, vol.Length(1, 255))}
)
COOL_CAMERA_SCHEMA = ActionSchema(
    {
        **_ENTRY_FIELD,
        vol.Required(ATTR_TEMPERATURE): vol.All(vol.Coerce(float), vol.Range(min=-60, max=40)),
        # NINA's cooling duration: -1 takes the profile's.
        vol.Optional(ATTR_MINUTES, default=-1): vol.All(
            vol.Coerce(float), vol.Range(min=-1, max=120)
        ),
    }
)
SLEW_SCHEMA = ActionSchema(
    {
        **_ENTRY_FIELD,
        vol.Required(ATTR_RA): vol.All(vol.Coerce(float), vol.Range(min=0, max=360)),
        vol.Required(ATTR_DEC): vol.All(vol.Coerce(float), vol.Range(min=-90, max=90)),
        vol.Optional(ATTR_CENTER, default=False): cv.boolean,
    }
)


async def _async_load_sequence(call: ServiceCall) -> None:
    entry = resolve_entry(call.hass, call.data.get(ATTR_CONFIG_ENTRY_ID))
    await entry.runtime_data.equipment.async_control(
        "sequence_load", {"sequenceName": call.data[ATTR_SEQUENCE]}, reread="camera"
    )


async def _async_cool_camera(call: ServiceCall) -> None:
    entry = resolve_entry(call.hass, call.data.get(ATTR_CONFIG_ENTRY_ID))
    params = {"temperature": call.data[ATTR_TEMPERATURE], "minutes": call.data[ATTR_MINUTES]}
    await entry.runtime_data.equipment.async_control("camera_cool", params, reread="camera")


async def _async_slew(call: ServiceCall) -> None:
    entry = resolve_entry(call.hass, call.data.get(ATTR_CONFIG_ENTRY_ID))
    params = {
        "ra": call.data[ATTR_RA],
        "dec": call.data[ATTR_DEC],
        "center": call.data[ATTR_CENTER],
        "waitForResult": False,  # a slew and centering take minutes: do not hold the action
    }
    await entry.runtime_data.equipment.async_control("mount_slew", params, reread="mount")


@callback
def async_setup_equipment_services(hass: HomeAssistant) -> None:
    """Register the equipment actions, for admins only (they move and cool hardware)."""
    async_register_admin_service(
        hass, DOMAIN, SERVICE_LOAD_SEQUENCE, _async_load_sequence, LOAD_SEQUENCE_SCHEMA
    )
    async_register_admin_service(
        hass, DOMAIN, SERVICE_COOL_CAMERA, _async_cool_camera, COOL_CAMERA_SCHEMA
    )
    async_register_admin_service(hass, DOMAIN, SERVICE_SLEW, _async_slew, SLEW_SCHEMA)
