"""Config, reconfigure and options flows.

The user and reconfigure steps probe the plugin's `/version` before saving, so a typo, a
web server that is not the plugin, or a plugin too old is caught here. Setting up an entry
later never waits for NINA (see `__init__.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import ipaddress
import logging
import socket
from typing import TYPE_CHECKING, Any
import zoneinfo

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult, OptionsFlow
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import SelectSelector, SelectSelectorConfig, SelectSelectorMode
from homeassistant.util import dt as dt_util, slugify
import voluptuous as vol

from .const import (
    CONF_BACKFILL_ON_CONNECT,
    CONF_DEBUG_RECORDING,
    CONF_DEDUP_WINDOW,
    CONF_HOST,
    CONF_IDLE_GAP_MINUTES,
    CONF_INSTANCE,
    CONF_NAME,
    CONF_NINA_TIMEZONE,
    CONF_PORT,
    CONF_RETENTION_DAYS,
    CONF_TLS,
    CONF_VERIFY_TLS,
    DEFAULT_BACKFILL_ON_CONNECT,
    DEFAULT_DEBUG_RECORDING,
    DEFAULT_DEDUP_WINDOW,
    DEFAULT_IDLE_GAP_MINUTES,
    DEFAULT_PORT,
    DEFAULT_RETENTION_DAYS,
    DEFAULT_VERIFY_TLS,
    DOMAIN,
)
from .engine.client import (
    NinaApiError,
    NinaClient,
    NinaConnectionError,
    NinaNotPluginError,
    is_supported_plugin_version,
    parse_plugin_version,
)

if TYPE_CHECKING:
    from .coordinator import NinaSessionConfigEntry

_LOGGER = logging.getLogger(__name__)

#: Instance id of an entry created without a name (then `nina_2`, `nina_3`, …).
DEFAULT_INSTANCE = "nina"


def instance_unique_id(host: str, port: int) -> str:
    """One NINA instance: normalized, lower-cased `host:port` (IPv6 compressed, bracketed)."""
    value = host.strip().lower()
    bare = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        value = value.rstrip(".")
    else:
        value = f"[{address.compressed}]" if address.version == 6 else address.compressed
    return f"{value}:{port}"


async def _addresses(host: str, port: int) -> set[str]:
    """Return the IP addresses `host` resolves to (empty when it does not resolve)."""
    bare = host.strip()
    if bare.startswith("[") and bare.endswith("]"):
        bare = bare[1:-1]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(bare, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return set()
    # An IPv6 address resolves with its scope (`fe80::1%eth0`); compare the address alone.
    return {str(info[4][0]).split("%", 1)[0] for info in infos}


async def same_nina_as(
    data: Mapping[str, Any], entries: list[NinaSessionConfigEntry]
) -> NinaSessionConfigEntry | None:
    """Return the entry that reaches the same NINA by another name (a host name, an IP).

    The unique id only matches the host as typed: `localhost` and `127.0.0.1`, or a PC's name
    and its address, would be two entries with two engines and two databases of one night.
    """
    mine = await _addresses(data[CONF_HOST], data[CONF_PORT])
    if not mine:
        return None  # the probe says why it cannot be reached
    for entry in entries:
        if entry.data.get(CONF_PORT) != data[CONF_PORT] or CONF_HOST not in entry.data:
            continue
        if mine & await _addresses(entry.data[CONF_HOST], data[CONF_PORT]):
            return entry
    return None


def default_title(host: str, port: int) -> str:
    """Return the title of an entry created without a name."""
    return f"NINA {host.strip()}:{port}"


async def probe(hass: HomeAssistant, data: Mapping[str, Any]) -> str | None:
    """Ask `/version` of the plugin at `data`; the error key, or None when it is usable."""
    session = async_get_clientsession(hass, verify_ssl=data[CONF_VERIFY_TLS])
    try:
        client = NinaClient(
            session,
            data[CONF_HOST],
            data[CONF_PORT],
            tls=data[CONF_TLS],
            verify_tls=data[CONF_VERIFY_TLS],
        )
        version = await client.detect_api()  # plugin v3 or v2, whichever it offers
    except ValueError:
        return "invalid_host"
    except NinaConnectionError as err:
        _LOGGER.debug("Cannot connect to NINA: %s", err)
        return "cannot_connect"
    except (NinaNotPluginError, NinaApiError) as err:
        _LOGGER.debug("Not the NINA Advanced API plugin: %s", err)
        return "not_nina"
    except Exception:
        _LOGGER.exception("Unexpected error probing NINA")
        return "unknown"
    if not is_supported_plugin_version(parse_plugin_version(version)):
        return "unsupported_version"
    return None


def _connection_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, vol.UNDEFINED)): str,
            vol.Required(CONF_PORT, default=defaults.get(CONF_PORT, DEFAULT_PORT)): cv.port,
            vol.Required(CONF_TLS, default=defaults.get(CONF_TLS, False)): bool,
            vol.Required(
                CONF_VERIFY_TLS, default=defaults.get(CONF_VERIFY_TLS, DEFAULT_VERIFY_TLS)
            ): bool,
            vol.Optional(CONF_NAME, description={"suggested_value": defaults.get(CONF_NAME)}): str,
        }
    )


def _clean(user_input: Mapping[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {
        CONF_HOST: user_input[CONF_HOST].strip(),
        CONF_PORT: user_input[CONF_PORT],
        CONF_TLS: user_input[CONF_TLS],
        CONF_VERIFY_TLS: user_input[CONF_VERIFY_TLS],
    }
    if name := (user_input.get(CONF_NAME) or "").strip():
        data[CONF_NAME] = name
    return data


class NinaSessionConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a NINA instance (one entry per host and port)."""

    VERSION = 1

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: NinaSessionConfigEntry) -> NinaSessionOptionsFlow:
        """Create the options flow."""
        return NinaSessionOptionsFlow()

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Handle the user step: probe the plugin, then create the entry."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _clean(user_input)
            await self.async_set_unique_id(instance_unique_id(data[CONF_HOST], data[CONF_PORT]))
            self._abort_if_unique_id_configured()
            if other := await same_nina_as(data, self._async_current_entries()):
                return self._abort_same_nina(other)
            if (error := await probe(self.hass, data)) is None:
                data[CONF_INSTANCE] = self._new_instance_id(data.get(CONF_NAME))
                title = data.get(CONF_NAME) or default_title(data[CONF_HOST], data[CONF_PORT])
                return self.async_create_entry(title=title, data=data)
            errors["base"] = error
        return self.async_show_form(
            step_id="user",
            data_schema=_connection_schema(user_input or {}),
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Handle reconfiguration: probe the new address, then update and reload the entry."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _clean(user_input)
            unique_id = instance_unique_id(data[CONF_HOST], data[CONF_PORT])
            if unique_id != entry.unique_id and any(
                other.unique_id == unique_id
                for other in self._async_current_entries(include_ignore=True)
                if other.entry_id != entry.entry_id
            ):
                return self.async_abort(reason="already_configured")
            others = [e for e in self._async_current_entries() if e.entry_id != entry.entry_id]
            if other := await same_nina_as(data, others):
                return self._abort_same_nina(other)
            if (error := await probe(self.hass, data)) is None:
                data[CONF_INSTANCE] = entry.data.get(CONF_INSTANCE, entry.entry_id)
                return self.async_update_reload_and_abort(
                    entry,
                    unique_id=unique_id,
                    title=data.get(CONF_NAME) or default_title(data[CONF_HOST], data[CONF_PORT]),
                    data=data,
                )
            errors["base"] = error
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=_connection_schema(user_input or entry.data),
            errors=errors,
        )

    def _abort_same_nina(self, other: NinaSessionConfigEntry) -> ConfigFlowResult:
        return self.async_abort(
            reason="already_configured_address",
            description_placeholders={"title": other.title, "host": other.data[CONF_HOST]},
        )

    def _new_instance_id(self, name: str | None) -> str:
        """Return a slug unique among this domain's entries; fixed for the entry's lifetime."""
        base = slugify(name) if name else ""
        base = base or DEFAULT_INSTANCE
        taken = {
            entry.data.get(CONF_INSTANCE)
            for entry in self._async_current_entries(include_ignore=True)
        }
        candidate, number = base, 1
        while candidate in taken:
            number += 1
            candidate = f"{base}_{number}"
        return candidate


def _timezones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


class NinaSessionOptionsFlow(OptionsFlow):
    """History, session and recording options; saving them reloads the entry."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Manage the options; a NINA timezone Home Assistant does not know is refused."""
        errors: dict[str, str] = {}
        if user_input is not None:
            zone = user_input.get(CONF_NINA_TIMEZONE)
            if zone and await dt_util.async_get_time_zone(zone) is None:
                errors[CONF_NINA_TIMEZONE] = "invalid_timezone"
            else:
                return self.async_create_entry(data=user_input)
        options = {**self.config_entry.options, **(user_input or {})}
        zones = await self.hass.async_add_executor_job(_timezones)
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_RETENTION_DAYS,
                    default=options.get(CONF_RETENTION_DAYS, DEFAULT_RETENTION_DAYS),
                ): vol.All(vol.Coerce(int), vol.Range(min=1, max=36500)),
                vol.Required(
                    CONF_IDLE_GAP_MINUTES,
                    default=options.get(CONF_IDLE_GAP_MINUTES, DEFAULT_IDLE_GAP_MINUTES),
                ): vol.All(vol.Coerce(int), vol.Range(min=5, max=24 * 60)),
                vol.Required(
                    CONF_DEDUP_WINDOW,
                    default=options.get(CONF_DEDUP_WINDOW, DEFAULT_DEDUP_WINDOW),
                ): vol.All(vol.Coerce(float), vol.Range(min=0, max=60)),
                vol.Required(
                    CONF_BACKFILL_ON_CONNECT,
                    default=options.get(CONF_BACKFILL_ON_CONNECT, DEFAULT_BACKFILL_ON_CONNECT),
                ): bool,
                vol.Optional(
                    CONF_NINA_TIMEZONE,
                    description={"suggested_value": options.get(CONF_NINA_TIMEZONE)},
                ): SelectSelector(
                    SelectSelectorConfig(
                        options=zones, mode=SelectSelectorMode.DROPDOWN, custom_value=False
                    )
                ),
                vol.Required(
                    CONF_DEBUG_RECORDING,
                    default=options.get(CONF_DEBUG_RECORDING, DEFAULT_DEBUG_RECORDING),
                ): bool,
            }
        )
        return self.async_show_form(step_id="init", data_schema=schema, errors=errors)
