"""Config entry diagnostics: settings (redacted), connection health, session, counters."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.core import HomeAssistant

from .const import CONF_HOST
from .coordinator import NinaSessionConfigEntry
from .engine.reports import clock_view

#: Keys whose values identify the user's network or observatory.
TO_REDACT = {CONF_HOST, "unique_id", "configuration_url"}


def _scrub(value: Any, secrets: tuple[str, ...]) -> Any:
    """Replace the host inside free text (error messages carry URLs, titles the host)."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {key: _scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, secrets) for item in value]
    return value


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: NinaSessionConfigEntry
) -> dict[str, Any]:
    """Diagnostics of one NINA instance."""
    coordinator = entry.runtime_data
    engine = coordinator.engine
    host = engine.client.host
    secrets = tuple(dict.fromkeys(item for item in (host, host.lower()) if item))
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
                "anomalies": pipeline.view.anomalies if pipeline else {},
                "clock": clock_view(pipeline) if pipeline else {},
                "session": engine.current_session(),
            },
            secrets,
        ),
        TO_REDACT,
    )
