"""Targets, night reports, goals and frame quality: actions, WebSocket commands and a view.

- Action `nina_session.get_targets` {config_entry_id?, start?, end?} → `{"targets": [...]}`
  (engine.targets: per target and filter frames, seconds, nights, HFR; goals with progress).
- Action `nina_session.get_night_report` {config_entry_id?, session_id?} → the night report
  (default: the latest finished night).
- Action `nina_session.set_target_goal` {config_entry_id?, target, filter, hours} (0 removes).
- WebSocket `nina_session/targets` {entry_id?, start?, end?}, `nina_session/night_report`
  {entry_id?, session_id?} and `nina_session/quality` {entry_id?, session_id?, hfr_ratio?,
  stars_ratio?, rms_limit?} → each light's HFR, stars, RMS, temperature and ADU with flags.
- `GET /api/nina_session/targets[?entry_id=][&start=][&end=]`.

Entries, dates and errors are resolved as the other actions and views do (services.py).
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web
from homeassistant.components.websocket_api import async_register_command
from homeassistant.components.websocket_api.connection import ActiveConnection
from homeassistant.components.websocket_api.decorators import async_response, websocket_command
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util.hass_dict import HassKey
import voluptuous as vol

from .const import DOMAIN
from .coordinator import NinaSessionConfigEntry
from .engine.quality import RejectRules
from .insight import Insight, insight_of
from .services import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_END,
    ATTR_SESSION_ID,
    ATTR_START,
    DATE_OR_DATETIME,
    ID_STRING,
    _ActionSchema as ActionSchema,
    _invalid as invalid,
    read_engine,
    resolve_entry,
    session_query,
)
from .views import API_BASE, ATTR_ENTRY_ID, _GetView
from .websocket_api import _send_error as send_error

SERVICE_GET_TARGETS: Final = "get_targets"
SERVICE_GET_NIGHT_REPORT: Final = "get_night_report"
SERVICE_SET_TARGET_GOAL: Final = "set_target_goal"
ATTR_TARGET: Final = "target"
ATTR_FILTER: Final = "filter"
ATTR_HOURS: Final = "hours"
_RULES: Final = ("hfr_ratio", "stars_ratio", "rms_limit")

DATA_REGISTERED: HassKey[bool] = HassKey(f"{DOMAIN}_insight_api")

_ENTRY_FIELD: dict[str | vol.Marker, Any] = {vol.Optional(ATTR_CONFIG_ENTRY_ID): ID_STRING}
_RANGE: dict[str | vol.Marker, Any] = {
    vol.Optional(ATTR_START): DATE_OR_DATETIME,
    vol.Optional(ATTR_END): DATE_OR_DATETIME,
}
GET_TARGETS_SCHEMA = ActionSchema({**_ENTRY_FIELD, **_RANGE})
GET_NIGHT_REPORT_SCHEMA = ActionSchema({**_ENTRY_FIELD, vol.Optional(ATTR_SESSION_ID): ID_STRING})
SET_TARGET_GOAL_SCHEMA = ActionSchema(
    {
        **_ENTRY_FIELD,
        vol.Required(ATTR_TARGET): ID_STRING,
        vol.Required(ATTR_FILTER): ID_STRING,
        vol.Required(ATTR_HOURS): vol.All(vol.Coerce(float), vol.Range(min=0, max=10_000)),
    }
)
_RULE_FIELDS: dict[str | vol.Marker, Any] = {
    vol.Optional("hfr_ratio"): vol.All(vol.Coerce(float), vol.Range(min=1, max=10)),
    vol.Optional("stars_ratio"): vol.All(vol.Coerce(float), vol.Range(min=0, max=1)),
    vol.Optional("rms_limit"): vol.All(vol.Coerce(float), vol.Range(min=0, max=100)),
}


async def _insight(hass: HomeAssistant, entry: NinaSessionConfigEntry) -> Insight:
    insight = insight_of(hass, entry)
    await insight.async_load()  # the goals, after a restart
    return insight


async def targets_answer(
    hass: HomeAssistant, entry_id: str | None, start: Any, end: Any
) -> dict[str, Any]:
    """Return the targets of an entry over a date range (actions, WebSocket and view)."""
    entry = resolve_entry(hass, entry_id)
    query = session_query(start, end)
    insight = await _insight(hass, entry)
    return await read_engine(insight.async_targets(query["start_ts"], query["end_ts"]))


async def report_answer(
    hass: HomeAssistant, entry_id: str | None, session_id: str | None
) -> dict[str, Any]:
    """Return a stored session's night report (default: the latest finished night)."""
    entry = resolve_entry(hass, entry_id)
    insight = await _insight(hass, entry)
    report = await read_engine(insight.async_report(session_id))
    if report is None:
        if session_id:
            raise invalid("session_not_found", session_id=session_id)
        raise invalid("no_finished_night")
    return report


# -- actions ---------------------------------------------------------------------------
async def _async_get_targets(call: ServiceCall) -> ServiceResponse:
    data = call.data
    return await targets_answer(
        call.hass, data.get(ATTR_CONFIG_ENTRY_ID), data.get(ATTR_START), data.get(ATTR_END)
    )


async def _async_get_night_report(call: ServiceCall) -> ServiceResponse:
    data = call.data
    return await report_answer(call.hass, data.get(ATTR_CONFIG_ENTRY_ID), data.get(ATTR_SESSION_ID))


async def _async_set_target_goal(call: ServiceCall) -> None:
    data = call.data
    entry = resolve_entry(call.hass, data.get(ATTR_CONFIG_ENTRY_ID))
    insight = await _insight(call.hass, entry)
    await insight.async_set_goal(data[ATTR_TARGET], data[ATTR_FILTER], data[ATTR_HOURS] * 3600)


# -- WebSocket -------------------------------------------------------------------------
@websocket_command(
    {vol.Required("type"): f"{DOMAIN}/targets", vol.Optional(ATTR_ENTRY_ID): ID_STRING, **_RANGE}
)
@async_response
async def ws_targets(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Send the targets across nights."""
    try:
        answer = await targets_answer(
            hass, msg.get(ATTR_ENTRY_ID), msg.get(ATTR_START), msg.get(ATTR_END)
        )
    except HomeAssistantError as err:
        send_error(connection, msg["id"], err)
        return
    connection.send_result(msg["id"], answer)


@websocket_command(
    {
        vol.Required("type"): f"{DOMAIN}/night_report",
        vol.Optional(ATTR_ENTRY_ID): ID_STRING,
        vol.Optional(ATTR_SESSION_ID): ID_STRING,
    }
)
@async_response
async def ws_night_report(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Send a night's report."""
    try:
        answer = await report_answer(hass, msg.get(ATTR_ENTRY_ID), msg.get(ATTR_SESSION_ID))
    except HomeAssistantError as err:
        send_error(connection, msg["id"], err)
        return
    connection.send_result(msg["id"], answer)


@websocket_command(
    {
        vol.Required("type"): f"{DOMAIN}/quality",
        vol.Optional(ATTR_ENTRY_ID): ID_STRING,
        vol.Optional(ATTR_SESSION_ID): ID_STRING,
        **_RULE_FIELDS,
    }
)
@async_response
async def ws_quality(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Send each light of a session (default: the open one) with the frames to reject."""
    rules = RejectRules(**{key: msg[key] for key in _RULES if key in msg})
    try:
        entry = resolve_entry(hass, msg.get(ATTR_ENTRY_ID))
        insight = insight_of(hass, entry)
        answer = await read_engine(insight.async_quality(msg.get(ATTR_SESSION_ID), rules))
        if answer is None:
            raise invalid("session_not_found", session_id=msg.get(ATTR_SESSION_ID) or "")
    except HomeAssistantError as err:
        send_error(connection, msg["id"], err)
        return
    connection.send_result(msg["id"], answer)


# -- view ------------------------------------------------------------------------------
class TargetsView(_GetView):
    """`GET /api/nina_session/targets[?entry_id=][&start=][&end=]`: targets across nights."""

    url = f"{API_BASE}/targets"
    name = f"api:{DOMAIN}:targets"
    schema = vol.Schema({vol.Optional(ATTR_ENTRY_ID): ID_STRING, **_RANGE}, extra=vol.REMOVE_EXTRA)

    async def handle(
        self,
        hass: HomeAssistant,
        entry: NinaSessionConfigEntry,
        params: dict[str, Any],
        request: web.Request,
    ) -> web.Response:
        """Answer the targets of the entry over the range."""
        return self.json(
            await targets_answer(hass, entry.entry_id, params.get(ATTR_START), params.get(ATTR_END))
        )


@callback
def async_setup_insight_api(hass: HomeAssistant) -> None:
    """Register the actions, WebSocket commands and the view once per Home Assistant run."""
    if hass.data.get(DATA_REGISTERED):
        return
    hass.data[DATA_REGISTERED] = True
    hass.services.async_register(
        DOMAIN,
        SERVICE_GET_TARGETS,
        _async_get_targets,
        schema=GET_TARGETS_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_GET_NIGHT_REPORT,
        _async_get_night_report,
        schema=GET_NIGHT_REPORT_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(
        DOMAIN, SERVICE_SET_TARGET_GOAL, _async_set_target_goal, schema=SET_TARGET_GOAL_SCHEMA
    )
    for command in (ws_targets, ws_night_report, ws_quality):
        async_register_command(hass, command)
    hass.http.register_view(TargetsView())
