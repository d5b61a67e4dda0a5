"""WebSocket API: the session once, a live subscription, and the stored sessions.

- `nina_session/session` {entry_id?, session_id?} → `{"session": <canonical JSON or null>,
  "health": <health JSON>}`.
- `nina_session/subscribe` {entry_id?, format?: "canonical" | "legacy"} → a result, at once an
  event with the current session, then one after engine changes. Events are
  `{"type": "session", "entry_id", "format", "connected", "connected_since", "session"}`
  (`connected_since`: when the link took its current state, ISO UTC: the card says since
  when NINA is unreachable); when the entry unloads a
  last `{"type": "unloaded", "entry_id"}` is sent and the subscription ends.
- `nina_session/sessions` {entry_id?, start?, end?, limit?, offset?} → `{"sessions": [...]}`.

Errors: `not_found` (unknown entry or session), `not_loaded` (entry not loaded, none loaded),
`invalid_format` (bad parameters, or no entry named while several are loaded).

A subscription never slows the engine down: the engine's callback only arms a timer, and at
most one message is built and sent per `COALESCE_SECONDS`, so a backfill of thousands of
events yields a handful of messages. Sending never blocks (`send_message` queues); a client
that cannot keep up is disconnected by Home Assistant's own queue limit, which ends its
subscriptions through `connection.subscriptions`. Subscriptions also end on
`unsubscribe_events`, on connection close and when their entry begins to unload.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Final

from homeassistant.components.websocket_api import (
    ERR_HOME_ASSISTANT_ERROR,
    ERR_INVALID_FORMAT,
    ERR_NOT_FOUND,
    ActiveConnection,
    async_register_command,
    async_response,
    websocket_command,
)
from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    ConfigEntry,
    ConfigEntryChange,
    ConfigEntryState,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.util.hass_dict import HassKey
import voluptuous as vol

from .const import DOMAIN
from .coordinator import NinaSessionConfigEntry
from .engine.engine import EngineUpdate
from .engine.timeutil import iso_z
from .services import (
    ATTR_END,
    ATTR_LIMIT,
    ATTR_OFFSET,
    ATTR_SESSION_ID,
    ATTR_START,
    DATE_OR_DATETIME,
    DEFAULT_LIMIT,
    ID_STRING,
    LIMIT,
    OFFSET,
    read_engine,
    read_session,
    relative_db_path,
    resolve_entry,
    session_query,
)

_LOGGER = logging.getLogger(__name__)

ATTR_ENTRY_ID: Final = "entry_id"
ATTR_FORMAT: Final = "format"
FORMAT_CANONICAL: Final = "canonical"
FORMAT_LEGACY: Final = "legacy"
#: Least time between two messages of one subscription.
COALESCE_SECONDS: Final = 0.25

ERR_NOT_LOADED: Final = "not_loaded"

#: Translation key of a raised error → WebSocket error code.
_ERROR_CODES: Final[dict[str | None, str]] = {
    "entry_not_found": ERR_NOT_FOUND,
    "session_not_found": ERR_NOT_FOUND,
    "no_entry_loaded": ERR_NOT_LOADED,
    "entry_not_loaded": ERR_NOT_LOADED,
    "entry_required": ERR_INVALID_FORMAT,
    "invalid_range": ERR_INVALID_FORMAT,
}

DATA_SUBSCRIPTIONS: HassKey[dict[str, set[SessionSubscription]]] = HassKey(
    f"{DOMAIN}_ws_subscriptions"
)


def _send_error(connection: ActiveConnection, msg_id: int, err: Exception) -> None:
    key = err.translation_key if isinstance(err, HomeAssistantError) else None
    code = _ERROR_CODES.get(key, ERR_HOME_ASSISTANT_ERROR)
    connection.send_error(msg_id, code, str(err))


# -- one-shot commands -----------------------------------------------------------------
@websocket_command(
    {
        vol.Required("type"): f"{DOMAIN}/session",
        vol.Optional(ATTR_ENTRY_ID): ID_STRING,
        vol.Optional(ATTR_SESSION_ID): ID_STRING,
    }
)
@async_response
async def ws_session(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Send the canonical session (open, or stored by id) and the health of an entry."""
    try:
        entry = resolve_entry(hass, msg.get(ATTR_ENTRY_ID))
        engine = entry.runtime_data.engine
        session = await read_session(entry, msg.get(ATTR_SESSION_ID))
        health = await read_engine(engine.health_json(relative_db_path(hass, engine)))
    except HomeAssistantError as err:
        _send_error(connection, msg["id"], err)
        return
    connection.send_result(msg["id"], {"session": session, "health": health})


@websocket_command(
    {
        vol.Required("type"): f"{DOMAIN}/sessions",
        vol.Optional(ATTR_ENTRY_ID): ID_STRING,
        vol.Optional(ATTR_START): DATE_OR_DATETIME,
        vol.Optional(ATTR_END): DATE_OR_DATETIME,
        vol.Optional(ATTR_LIMIT, default=DEFAULT_LIMIT): LIMIT,
        vol.Optional(ATTR_OFFSET, default=0): OFFSET,
    }
)
@async_response
async def ws_sessions(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Send the stored sessions, newest first."""
    try:
        entry = resolve_entry(hass, msg.get(ATTR_ENTRY_ID))
        query = session_query(
            msg.get(ATTR_START), msg.get(ATTR_END), msg[ATTR_LIMIT], msg[ATTR_OFFSET]
        )
        sessions = await read_engine(entry.runtime_data.engine.sessions(**query))
    except HomeAssistantError as err:
        _send_error(connection, msg["id"], err)
        return
    connection.send_result(msg["id"], {"sessions": sessions})


# -- subscription ----------------------------------------------------------------------
class SessionSubscription:
    """One client's live view of one entry, coalesced to a message per `COALESCE_SECONDS`."""

    def __init__(
        self,
        hass: HomeAssistant,
        connection: ActiveConnection,
        msg_id: int,
        entry: NinaSessionConfigEntry,
        fmt: str,
    ) -> None:
        """Initialize the subscription and start following the entry's engine."""
        self._hass = hass
        self._connection = connection
        self._msg_id = msg_id
        self._entry_id = entry.entry_id
        self._engine = entry.runtime_data.engine
        self._format = fmt
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending = False
        self._closed = False
        self._last: dict[str, Any] | None = None
        self._unsubscribe_engine = self._engine.subscribe(self._on_update)
        hass.data[DATA_SUBSCRIPTIONS].setdefault(self._entry_id, set()).add(self)

    @property
    def idle(self) -> bool:
        """No timer armed and no message being built."""
        return self._timer is None and self._task is None

    # -- engine side: cheap, never blocks ----------------------------------------------
    @callback
    def _on_update(self, _update: EngineUpdate) -> None:
        if self._closed:
            return
        self._pending = True
        if self._timer is None and self._task is None:
            self._timer = self._hass.loop.call_later(COALESCE_SECONDS, self._flush)

    @callback
    def _flush(self) -> None:
        self._timer = None
        if self._closed:
            return
        self._pending = False
        self._task = self._hass.async_create_background_task(
            self._send_update(), f"{DOMAIN} websocket update", eager_start=False
        )

    async def _send_update(self) -> None:
        try:
            await self.send_current()
        finally:
            self._task = None
            if self._pending and not self._closed:
                self._timer = self._hass.loop.call_later(COALESCE_SECONDS, self._flush)

    # -- messages ----------------------------------------------------------------------
    async def send_current(self) -> None:
        """Build the message from the engine's current state and send it if it changed."""
        try:
            if self._format == FORMAT_LEGACY:
                session: dict[str, Any] | None = await read_engine(self._engine.legacy())
            else:
                session = await read_engine(self._engine.session())
        except HomeAssistantError:
            # The engine is going away (entry unloading) or its database failed; the
            # unload (or the next update) decides what happens to this subscription.
            return
        if self._closed:
            return
        message = {
            "type": "session",
            "entry_id": self._entry_id,
            "format": self._format,
            "connected": self._engine.health.connected,
            "connected_since": iso_z(self._engine.health.since),
            "session": session,
        }
        comparable = _without_clock(message)
        if comparable == self._last:
            return
        self._last = comparable
        self._connection.send_event(self._msg_id, message)

    @callback
    def close(self) -> None:
        """Stop for good: engine callback, timer and a running send; idempotent."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(ValueError):
            self._unsubscribe_engine()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None:
            self._task.cancel()
            self._task = None
        subscriptions = self._hass.data[DATA_SUBSCRIPTIONS].get(self._entry_id)
        if subscriptions is not None:
            subscriptions.discard(self)
            if not subscriptions:
                del self._hass.data[DATA_SUBSCRIPTIONS][self._entry_id]

    @callback
    def end_unloaded(self) -> None:
        """End the subscription because the entry is unloading, and tell the client."""
        if self._closed:
            return
        self.close()
        self._connection.subscriptions.pop(self._msg_id, None)
        self._connection.send_event(self._msg_id, {"type": "unloaded", "entry_id": self._entry_id})


def _without_clock(message: dict[str, Any]) -> dict[str, Any]:
    """Return the message minus the legacy `lastUpdate` clock, to skip unchanged messages."""
    session = message.get("session")
    if message["format"] == FORMAT_LEGACY and isinstance(session, dict):
        return {**message, "session": {k: v for k, v in session.items() if k != "lastUpdate"}}
    return message


@websocket_command(
    {
        vol.Required("type"): f"{DOMAIN}/subscribe",
        vol.Optional(ATTR_ENTRY_ID): ID_STRING,
        vol.Optional(ATTR_FORMAT, default=FORMAT_CANONICAL): vol.In(
            [FORMAT_CANONICAL, FORMAT_LEGACY]
        ),
    }
)
@async_response
async def ws_subscribe(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Subscribe to an entry's session: now, then after every (coalesced) change."""
    try:
        entry = resolve_entry(hass, msg.get(ATTR_ENTRY_ID))
    except HomeAssistantError as err:
        _send_error(connection, msg["id"], err)
        return
    subscription = SessionSubscription(hass, connection, msg["id"], entry, msg[ATTR_FORMAT])
    connection.subscriptions[msg["id"]] = subscription.close
    connection.send_result(msg["id"])
    await subscription.send_current()


# -- registration ----------------------------------------------------------------------
@callback
def async_register_websocket(hass: HomeAssistant) -> None:
    """Register the commands and the unload watch; once per Home Assistant run."""
    if DATA_SUBSCRIPTIONS in hass.data:
        return
    hass.data[DATA_SUBSCRIPTIONS] = {}
    async_register_command(hass, ws_session)
    async_register_command(hass, ws_sessions)
    async_register_command(hass, ws_subscribe)

    @callback
    def _entry_changed(change: ConfigEntryChange, entry: ConfigEntry) -> None:
        if entry.domain != DOMAIN or (
            change is not ConfigEntryChange.REMOVED and entry.state is ConfigEntryState.LOADED
        ):
            return
        for subscription in list(hass.data[DATA_SUBSCRIPTIONS].get(entry.entry_id, ())):
            subscription.end_unloaded()

    async_dispatcher_connect(hass, SIGNAL_CONFIG_ENTRY_CHANGED, _entry_changed)


@callback
def active_subscriptions(hass: HomeAssistant, entry_id: str | None = None) -> int:
    """How many subscriptions are open (for an entry, or in all); diagnostics and tests."""
    registry = hass.data.get(DATA_SUBSCRIPTIONS, {})
    if entry_id is not None:
        return len(registry.get(entry_id, ()))
    return sum(len(subscriptions) for subscriptions in registry.values())
