"""Actions of nina_session: refresh, get_session, list_sessions, get_stats.

Registered once in `async_setup` (not per entry); each call targets one loaded entry by
`config_entry_id`, which may be left out when exactly one entry is loaded. Errors are
`ServiceValidationError` / `HomeAssistantError` with a translation key.

The helpers below (`resolve_entry`, `session_query`, `read_engine`, `async_refresh`,
`relative_db_path`) are shared with the HTTP views and the WebSocket API, so all three resolve
entries, validate queries and report errors the same way; they map the translation keys
to HTTP statuses and WebSocket error codes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import date, datetime, time, timedelta, tzinfo
import logging
from pathlib import PurePath
import sqlite3
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.service import async_register_admin_service
from homeassistant.util import dt as dt_util
import voluptuous as vol

from .const import DOMAIN
from .coordinator import NinaSessionConfigEntry
from .device_trigger import async_setup_trigger_relay
from .engine.client import NinaError
from .engine.engine import NinaEngine
from .engine.store import StoreError

_LOGGER = logging.getLogger(__name__)

SERVICE_REFRESH = "refresh"
SERVICE_GET_SESSION = "get_session"
SERVICE_LIST_SESSIONS = "list_sessions"
SERVICE_GET_STATS = "get_stats"

ATTR_CONFIG_ENTRY_ID = "config_entry_id"
ATTR_SESSION_ID = "session_id"
ATTR_START = "start"
ATTR_END = "end"
ATTR_LIMIT = "limit"
ATTR_OFFSET = "offset"
ATTR_FULL = "full"

#: What `list_sessions` returns of each session unless `full` is asked for: enough to pick
#: a night (and to chart totals), without the state history that makes a list of 50 heavy.
SUMMARY_KEYS = (
    "id", "instance", "start", "end", "state", "targets", "frames", "integration_seconds",
    "quality", "counts",
)  # fmt: skip

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_OFFSET = 1_000_000
MAX_ID_LENGTH = 255

#: What an engine read can raise: database trouble, or an engine stopping under us
#: (its executor refuses new work with RuntimeError).
READ_ERRORS = (StoreError, sqlite3.Error, OSError, RuntimeError)
REFRESH_ERRORS = (NinaError, TimeoutError, *READ_ERRORS)

# Validators shared by the action schemas, the views' query parsing and the WebSocket API.
ID_STRING = vol.All(cv.string, vol.Strip, vol.Length(min=1, max=MAX_ID_LENGTH))
#: A day (`2026-11-24`, the whole local day) or a moment (`2026-11-24T18:00:00+01:00`).
DATE_OR_DATETIME = vol.Any(cv.date, cv.datetime, msg="expected a date or a date and time")


def _integer(value: Any) -> int:
    """Coerce to int; an infinite float is refused like any other non-number, not raised."""
    try:
        number: int = vol.Coerce(int)(value)
    except OverflowError as err:
        raise vol.Invalid("expected a finite number") from err
    return number


LIMIT = vol.All(_integer, vol.Range(min=1, max=MAX_LIMIT))
OFFSET = vol.All(_integer, vol.Range(min=0, max=MAX_OFFSET))


class _ActionSchema(vol.Schema):
    """An action's schema: bad data is a translated `ServiceValidationError`, as HA shows."""

    def __call__(self, data: Any) -> Any:
        try:
            return super().__call__(data)  # type: ignore[no-untyped-call]
        except vol.Invalid as err:
            raise _invalid("invalid_action_data", error=str(err)) from err


_ENTRY_FIELD = {vol.Optional(ATTR_CONFIG_ENTRY_ID): ID_STRING}
REFRESH_SCHEMA = _ActionSchema(_ENTRY_FIELD)
GET_SESSION_SCHEMA = _ActionSchema({**_ENTRY_FIELD, vol.Optional(ATTR_SESSION_ID): ID_STRING})
LIST_SESSIONS_SCHEMA = _ActionSchema(
    {
        **_ENTRY_FIELD,
        vol.Optional(ATTR_START): DATE_OR_DATETIME,
        vol.Optional(ATTR_END): DATE_OR_DATETIME,
        vol.Optional(ATTR_LIMIT, default=DEFAULT_LIMIT): LIMIT,
        vol.Optional(ATTR_OFFSET, default=0): OFFSET,
        vol.Optional(ATTR_FULL, default=False): cv.boolean,
    }
)
GET_STATS_SCHEMA = _ActionSchema(_ENTRY_FIELD)


def session_summary(session: dict[str, Any]) -> dict[str, Any]:
    """Return the summary form of a canonical session: `SUMMARY_KEYS` only."""
    return {key: session[key] for key in SUMMARY_KEYS if key in session}


def _invalid(key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders or None,
    )


def _failed(key: str, **placeholders: str) -> HomeAssistantError:
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders or None,
    )


# -- shared helpers --------------------------------------------------------------------
@callback
def resolve_entry(
    hass: HomeAssistant, entry_id: str | None, *, default_first: bool = False
) -> NinaSessionConfigEntry:
    """Return the loaded entry a call targets.

    Without `entry_id` exactly one entry must be loaded, unless `default_first` (the legacy
    endpoint) takes the first loaded one.
    """
    if entry_id:
        entry = hass.config_entries.async_get_entry(entry_id)
        if entry is None or entry.domain != DOMAIN:
            raise _invalid("entry_not_found", entry_id=entry_id)
        if entry.state is not ConfigEntryState.LOADED:
            raise _invalid("entry_not_loaded", title=entry.title)
        return entry
    entries = hass.config_entries.async_loaded_entries(DOMAIN)
    if not entries:
        raise _invalid("no_entry_loaded")
    if len(entries) > 1 and not default_first:
        raise _invalid("entry_required")
    return entries[0]


def _timestamp(value: date | datetime, tz: tzinfo, *, end: bool) -> float:
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=tz)
        return moment.timestamp()
    # A whole local day: from its midnight to just before the next one.
    day = value + timedelta(days=1) if end else value
    midnight = datetime.combine(day, time.min, tzinfo=tz).timestamp()
    return midnight - 0.001 if end else midnight


def session_query(
    start: date | datetime | None,
    end: date | datetime | None,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
) -> dict[str, Any]:
    """Keyword arguments for `NinaEngine.sessions`; dates are whole days in HA's zone."""
    tz = dt_util.get_default_time_zone()
    try:
        start_ts = _timestamp(start, tz, end=False) if start is not None else None
        end_ts = _timestamp(end, tz, end=True) if end is not None else None
    except (OverflowError, ValueError, OSError) as err:  # past year 1 or 9999 in this zone
        raise _invalid("date_out_of_range") from err
    if start_ts is not None and end_ts is not None and start_ts > end_ts:
        raise _invalid("invalid_range")
    return {
        "start_ts": start_ts,
        "end_ts": end_ts,
        "limit": limit,
        "offset": offset,
        "newest_first": True,
    }


async def read_engine[T](read: Awaitable[T]) -> T:
    """Await an engine read; database trouble becomes a translated `database_error`."""
    try:
        return await read
    except READ_ERRORS as err:
        _LOGGER.warning("Reading the session database failed: %s", err)
        raise _failed("database_error", error=str(err) or type(err).__name__) from err


async def read_session(
    entry: NinaSessionConfigEntry, session_id: str | None
) -> dict[str, Any] | None:
    """Return a stored session by id (error when unknown), else the open session (or None)."""
    engine = entry.runtime_data.engine
    if session_id:
        session = await read_engine(engine.stored_session(session_id))
        if session is None:
            raise _invalid("session_not_found", session_id=session_id)
        return session
    return await read_engine(engine.session())


async def async_refresh(engine: NinaEngine) -> None:
    """Re-sync an engine with NINA (coalesced by the engine); failures are translated."""
    try:
        await engine.refresh()
    except REFRESH_ERRORS as err:
        _LOGGER.warning("Refresh failed: %s", err)
        raise _failed("refresh_failed", error=str(err) or type(err).__name__) from err
    except asyncio.CancelledError as err:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        # The engine stopped (entry unloading) and cancelled the shared refresh.
        raise _failed("refresh_failed", error="engine stopped") from err


def relative_db_path(hass: HomeAssistant, engine: NinaEngine) -> str:
    """Return the database file relative to the HA config dir, as health and stats report it."""
    path = PurePath(engine.config.db_path)
    try:
        return path.relative_to(hass.config.config_dir).as_posix()
    except ValueError:
        return path.name


# -- actions ---------------------------------------------------------------------------
async def _async_refresh(call: ServiceCall) -> None:
    entry = resolve_entry(call.hass, call.data.get(ATTR_CONFIG_ENTRY_ID))
    await async_refresh(entry.runtime_data.engine)


async def _async_get_session(call: ServiceCall) -> ServiceResponse:
    entry = resolve_entry(call.hass, call.data.get(ATTR_CONFIG_ENTRY_ID))
    session = await read_session(entry, call.data.get(ATTR_SESSION_ID))
    if session is None:
        raise _invalid("no_active_session")
    return session


async def _async_list_sessions(call: ServiceCall) -> ServiceResponse:
    entry = resolve_entry(call.hass, call.data.get(ATTR_CONFIG_ENTRY_ID))
    query = session_query(
        call.data.get(ATTR_START),
        call.data.get(ATTR_END),
        call.data[ATTR_LIMIT],
        call.data[ATTR_OFFSET],
    )
    sessions = await read_engine(entry.runtime_data.engine.sessions(**query))
    if not call.data[ATTR_FULL]:
        sessions = [session_summary(session) for session in sessions]
    response: dict[str, Any] = {"sessions": sessions}
    return response


async def _async_get_stats(call: ServiceCall) -> ServiceResponse:
    entry = resolve_entry(call.hass, call.data.get(ATTR_CONFIG_ENTRY_ID))
    engine = entry.runtime_data.engine
    return await read_engine(engine.stats(relative_db_path(call.hass, engine)))


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions (once, from `async_setup`) and the device-trigger relay."""
    # Admins only: a refresh reads NINA's whole history and refolds every session.
    async_register_admin_service(hass, DOMAIN, SERVICE_REFRESH, _async_refresh, REFRESH_SCHEMA)
    hass.services.async_register(
        DOMAIN,
        SERVICE_GET_SESSION,
        _async_get_session,
        schema=GET_SESSION_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_LIST_SESSIONS,
        _async_list_sessions,
        schema=LIST_SESSIONS_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_GET_STATS,
        _async_get_stats,
        schema=GET_STATS_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    # Device triggers need a relay per loaded entry (coordinator triggers → bus events);
    # it is started here, with the other once-per-run glue of `async_setup`.
    async_setup_trigger_relay(hass)
