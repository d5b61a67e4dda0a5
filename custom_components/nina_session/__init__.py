"""NINA Session: N.I.N.A. imaging sessions in Home Assistant.

This module imports nothing from Home Assistant when it is imported. The engine package
(`custom_components.nina_session.engine`) is used without Home Assistant by its tests and by
the replay/listen CLI, and importing it runs this file first. So HA modules are imported
only under TYPE_CHECKING or inside the setup functions, `PLATFORMS` is a list of plain
strings, and `CONFIG_SCHEMA` is assigned at module level (hassfest reads it there without
running the file) to a function that imports HA's validator when HA calls it.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .const import (
    CONF_BACKFILL_ON_CONNECT,
    CONF_DEBUG_RECORDING,
    CONF_DEDUP_WINDOW,
    CONF_HOST,
    CONF_IDLE_GAP_MINUTES,
    CONF_INSTANCE,
    CONF_NINA_TIMEZONE,
    CONF_PORT,
    CONF_TLS,
    CONF_VERIFY_TLS,
    DEFAULT_BACKFILL_ON_CONNECT,
    DEFAULT_DEBUG_RECORDING,
    DEFAULT_DEDUP_WINDOW,
    DEFAULT_IDLE_GAP_MINUTES,
    DOMAIN,
    ISSUE_DATABASE_UNAVAILABLE,
    STORAGE_DIR,
)

if TYPE_CHECKING:
    from types import ModuleType

    from homeassistant.core import Event, HomeAssistant
    from homeassistant.helpers.device_registry import DeviceEntry
    from homeassistant.helpers.typing import ConfigType

    from .coordinator import NinaSessionConfigEntry
    from .engine.engine import EngineConfig

PLATFORMS: list[str] = [
    "binary_sensor",
    "button",
    "event",
    "image",
    "number",
    "select",
    "sensor",
    "switch",
]

#: Modules of the actions/HTTP/WebSocket/card glue and the function each registers with,
#: once for all entries.
_GLOBAL_SETUP: tuple[tuple[str, str], ...] = (
    ("services", "async_setup_services"),
    ("equipment_services", "async_setup_equipment_services"),
    ("views", "async_register_views"),
    ("websocket_api", "async_register_websocket"),
    ("frontend", "async_register_frontend"),
    ("insight_api", "async_setup_insight_api"),
    ("frames", "async_register_frames_views"),
)


def _config_entry_only(config: dict[str, Any]) -> dict[str, Any]:
    """Refuse YAML configuration: HA's `cv.config_entry_only_config_schema`, imported on use.

    Only Home Assistant calls it, so HA is loaded by then; importing the package is not.
    """
    from homeassistant.helpers import config_validation as cv

    validated: dict[str, Any] = cv.config_entry_only_config_schema(DOMAIN)(config)
    return validated


CONFIG_SCHEMA = _config_entry_only


def _import_global_modules() -> list[tuple[ModuleType, str]]:
    """Import (in an executor) those of the glue modules that exist."""
    found = []
    for module_name, function in _GLOBAL_SETUP:
        qualified = f"{__name__}.{module_name}"
        if importlib.util.find_spec(qualified) is not None:
            found.append((importlib.import_module(qualified), function))
    return found


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register actions, HTTP views, WebSocket commands and the card once for all entries."""
    for module, function in await hass.async_add_import_executor_job(_import_global_modules):
        getattr(module, function)(hass)
    return True


def storage_path(hass: HomeAssistant, entry_id: str, suffix: str) -> Path:
    """`<config>/nina_session/<entry_id><suffix>`: the entry's database or recording."""
    return Path(hass.config.path(STORAGE_DIR, f"{entry_id}{suffix}"))


async def _engine_config(hass: HomeAssistant, entry: NinaSessionConfigEntry) -> EngineConfig:
    from datetime import timedelta

    from homeassistant.util import dt as dt_util

    from .engine.engine import EngineConfig
    from .engine.pipeline import PipelineOptions

    data, options = entry.data, entry.options
    zone_name = options.get(CONF_NINA_TIMEZONE)
    zone = await dt_util.async_get_time_zone(zone_name) if zone_name else None
    recording = options.get(CONF_DEBUG_RECORDING, DEFAULT_DEBUG_RECORDING)
    return EngineConfig(
        host=data[CONF_HOST],
        port=data[CONF_PORT],
        tls=data[CONF_TLS],
        verify_tls=data[CONF_VERIFY_TLS],
        db_path=storage_path(hass, entry.entry_id, ".db"),
        options=PipelineOptions(
            instance=data.get(CONF_INSTANCE, entry.entry_id),
            tz=zone or dt_util.get_default_time_zone(),
            idle_gap=timedelta(
                minutes=options.get(CONF_IDLE_GAP_MINUTES, DEFAULT_IDLE_GAP_MINUTES)
            ),
            dedup_window=timedelta(seconds=options.get(CONF_DEDUP_WINDOW, DEFAULT_DEDUP_WINDOW)),
        ),
        backfill_on_connect=options.get(CONF_BACKFILL_ON_CONNECT, DEFAULT_BACKFILL_ON_CONNECT),
        record_path=storage_path(hass, entry.entry_id, "-recording.jsonl") if recording else None,
    )


async def async_setup_entry(hass: HomeAssistant, entry: NinaSessionConfigEntry) -> bool:
    """Start the engine and the entities; never waits for NINA (history works without it)."""
    from homeassistant.const import EVENT_HOMEASSISTANT_STOP
    from homeassistant.exceptions import ConfigEntryError, ConfigEntryNotReady
    from homeassistant.helpers import issue_registry as ir
    from homeassistant.helpers.aiohttp_client import async_get_clientsession

    from .coordinator import NinaSessionCoordinator
    from .engine.engine import NinaEngine
    from .engine.store import StoreError
    from .repair_issues import create_repair_issue, delete_repair_issue

    config = await _engine_config(hass, entry)
    try:
        engine = NinaEngine(config, async_get_clientsession(hass, verify_ssl=config.verify_tls))
    except ValueError as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="invalid_connection",
            translation_placeholders={"error": str(err)},
        ) from err
    coordinator = NinaSessionCoordinator(
        hass, entry, engine, entry.data.get(CONF_INSTANCE, entry.entry_id)
    )
    try:
        await coordinator.async_start()
    except (StoreError, OSError) as err:
        await coordinator.async_stop()
        # Raised while setup retries: the user must act (a full disk, a read-only folder);
        # HA's retry alone shows only on the integrations page.
        create_repair_issue(
            hass,
            entry,
            ISSUE_DATABASE_UNAVAILABLE,
            ir.IssueSeverity.ERROR,
            {"path": config.db_path.name, "error": str(err)},
        )
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="database_unavailable",
            translation_placeholders={"error": str(err)},
        ) from err
    delete_repair_issue(hass, entry, ISSUE_DATABASE_UNAVAILABLE)
    entry.runtime_data = coordinator

    async def _async_stop_engine(_event: Event) -> None:
        # Config entries are not unloaded when HA stops: close the socket and the DB here.
        await coordinator.async_stop()

    entry.async_on_unload(hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, _async_stop_engine))
    options_at_setup = dict(entry.options)

    async def _async_entry_updated(hass: HomeAssistant, entry: NinaSessionConfigEntry) -> None:
        # Options change → reload. (Reconfigure reloads by itself; a rename needs nothing.)
        if dict(entry.options) != options_at_setup:
            hass.config_entries.async_schedule_reload(entry.entry_id)

    entry.async_on_unload(entry.add_update_listener(_async_entry_updated))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    await coordinator.async_connect()
    return True


async def async_unload_entry(hass: HomeAssistant, entry: NinaSessionConfigEntry) -> bool:
    """Remove the entities, then stop the engine: socket closed, database closed."""
    if unload_ok := await hass.config_entries.async_unload_platforms(entry, PLATFORMS):
        await entry.runtime_data.async_stop()
    return unload_ok


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: NinaSessionConfigEntry, device: DeviceEntry
) -> bool:
    """Let the user delete an equipment device that is not connected (the NINA one stays)."""
    coordinator = entry.runtime_data
    connected = {
        (DOMAIN, f"{coordinator.instance_id}_{device_class}")
        for device_class in coordinator.equipment.data.connected()
    }
    return (DOMAIN, coordinator.instance_id) not in device.identifiers and not (
        device.identifiers & connected
    )


def _remove_files(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


async def async_remove_entry(hass: HomeAssistant, entry: NinaSessionConfigEntry) -> None:
    """Delete the entry's session database and debug recording with the entry."""
    suffixes = (".db", ".db-wal", ".db-shm", "-recording.jsonl")
    paths = [storage_path(hass, entry.entry_id, suffix) for suffix in suffixes]
    await hass.async_add_executor_job(_remove_files, paths)
