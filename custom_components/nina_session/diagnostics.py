"""Config entry diagnostics: settings (redacted), connection health, session, counters."""

from __future__ import annotations

from dataclasses import asdict
import ipaddress
import re
from typing import Any

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.core import HomeAssistant

from .const import CONF_HOST
from .coordinator import NinaSessionConfigEntry
from .engine.reports import clock_view
from .equipment import EquipmentCoordinator

#: Keys whose values identify the user's network or observatory.
TO_REDACT = {CONF_HOST, "unique_id", "configuration_url"}

#: Address-shaped words in error text; each is checked with `ipaddress` before it goes.
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")
_IPV6 = re.compile(
    r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}"
    r"(?:(?<=:)(?:\d{1,3}\.){3}\d{1,3})?(?:%[\w.-]+)?(?![\w:])"
)


def _host_forms(host: str) -> tuple[str, ...]:
    """Return the spellings of the host that may appear in text, longest first.

    An IP address typed by the user shows up in its short form in URLs and errors (a full
    IPv6 address is shortened), so every standard spelling of it is redacted.
    """
    forms = {host, host.lower()}
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        forms |= {address.compressed, address.exploded, str(address)}
    return tuple(sorted((form for form in forms if form), key=len, reverse=True))


def _redact_addresses(text: str) -> str:
    """Replace every IP address in error text.

    The host resolves to addresses the user never typed, and connection errors name them
    (`Connect call failed ('192.168.1.20', 1888)`).
    """

    def replace(match: re.Match[str]) -> str:
        try:
            ipaddress.ip_address(match.group(0).split("%", 1)[0])
        except ValueError:
            return match.group(0)  # a time (18:02:11), a version, not an address
        return REDACTED

    return _IPV4.sub(replace, _IPV6.sub(replace, text))


def _scrub(value: Any, secrets: tuple[str, ...], key: str = "") -> Any:
    """Replace the host inside free text (error messages carry URLs, titles the host).

    Error texts lose every IP address too (the resolved ones); other text keeps them, as a
    plugin version such as 2.2.9.0 has an address's shape.
    """
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return _redact_addresses(value) if "error" in key else value
    if isinstance(value, dict):
        return {name: _scrub(item, secrets, str(name)) for name, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, secrets, key) for item in value]
    return value


def _equipment(equipment: EquipmentCoordinator) -> dict[str, Any]:
    """Return what the equipment reads report, and which endpoints this plugin lacks."""
    return {
        "bundle": equipment.client.has_bundle,
        "missing_endpoints": sorted(equipment.client.missing),
        "devices": {name: asdict(device) for name, device in equipment.data.devices.items()},
    }


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: NinaSessionConfigEntry
) -> dict[str, Any]:
    """Diagnostics of one NINA instance."""
    coordinator = entry.runtime_data
    engine = coordinator.engine
    host = engine.client.host
    secrets = _host_forms(host)
    data = coordinator.data
    health = await engine.health_json()
    pipeline = engine.pipeline
    return async_redact_data(
        _scrub(
            {
                "entry": {
                    "title": entry.title,
                    "unique_id": entry.unique_id,
                    "data": dict(entry.data),
                    "options": dict(entry.options),
                },
                "instance_id": coordinator.instance_id,
                "health": health,
                "counters": engine.health.events.as_dict(detailed=True),
                "state": data.state.value,
                "fsm_state": data.fsm_state.value,
                "equipment": {
                    "sequence_running": data.sequence_running,
                    "guiding": data.guiding,
                    "safe": data.safe,
                },
                "equipment_devices": _equipment(coordinator.equipment),
                "anomalies": pipeline.view.anomalies if pipeline else {},
                "clock": clock_view(pipeline) if pipeline else {},
                "session": engine.current_session(),
            },
            secrets,
        ),
        TO_REDACT,
    )
