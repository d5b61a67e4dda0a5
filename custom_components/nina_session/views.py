"""HTTP views: the session, history, stats, health and refresh API, plus the legacy route.

All views need Home Assistant authentication (a bearer token or a signed path). Errors are
`{"error": <code>, "message": <text>, "timestamp": <ISO UTC Z>}`: 400 for bad parameters,
404 for an unknown entry or session, 503 when no entry is loaded. A bad parameter is never
a 500.

`?entry_id=` chooses the entry; it may be left out when one entry is loaded (the legacy
route takes the first loaded entry then).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from http import HTTPStatus
import logging
from typing import Any, Final

from aiohttp import web
from homeassistant.components.http import require_admin
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.http import KEY_HASS, HomeAssistantView
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey
import voluptuous as vol

from .const import DOMAIN
from .coordinator import NinaSessionConfigEntry
from .engine.engine import NinaEngine
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
    async_refresh,
    read_engine,
    read_session,
    relative_db_path,
    resolve_entry,
    session_query,
)

_LOGGER = logging.getLogger(__name__)

API_BASE: Final = f"/api/{DOMAIN}"
LEGACY_URL: Final = "/api/nina/session-state"
ATTR_ENTRY_ID: Final = "entry_id"
#: How long POST /refresh waits before answering 202 (the refresh goes on regardless).
REFRESH_WAIT: Final = 10.0

DATA_VIEWS_REGISTERED: HassKey[bool] = HassKey(f"{DOMAIN}_views_registered")

#: Translation key of a raised error → (HTTP status, error code).
_ERRORS: Final[dict[str | None, tuple[HTTPStatus, str]]] = {
    "no_entry_loaded": (HTTPStatus.SERVICE_UNAVAILABLE, "not_loaded"),
    "entry_not_loaded": (HTTPStatus.SERVICE_UNAVAILABLE, "not_loaded"),
    "entry_not_found": (HTTPStatus.NOT_FOUND, "unknown_entry"),
    "entry_required": (HTTPStatus.BAD_REQUEST, "entry_required"),
    "session_not_found": (HTTPStatus.NOT_FOUND, "session_not_found"),
    "no_active_session": (HTTPStatus.NOT_FOUND, "no_session"),
    "invalid_range": (HTTPStatus.BAD_REQUEST, "bad_request"),
    "database_error": (HTTPStatus.INTERNAL_SERVER_ERROR, "database_error"),
    "refresh_failed": (HTTPStatus.INTERNAL_SERVER_ERROR, "refresh_failed"),
}

_ENTRY = {vol.Optional(ATTR_ENTRY_ID): ID_STRING}


def error_response(status: HTTPStatus, code: str, message: str) -> web.Response:
    """Return an error response with the error JSON of design.md."""
    body = {"error": code, "message": message, "timestamp": iso_z(dt_util.utcnow())}
    return HomeAssistantView.json(body, status)


class _ApiError(Exception):
    def __init__(self, status: HTTPStatus, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _params(
    request: web.Request, schema: vol.Schema, extra: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Return the validated query parameters; unknown ones are ignored, repeated ones refused."""
    query = request.query
    for key in query:
        if len(query.getall(key)) > 1:
            raise _ApiError(HTTPStatus.BAD_REQUEST, "bad_request", f"'{key}' given twice")
    try:
        params: dict[str, Any] = schema({**(extra or {}), **query})
    except vol.Invalid as err:
        raise _ApiError(HTTPStatus.BAD_REQUEST, "bad_request", str(err)) from err
    return params


class _NinaView(HomeAssistantView):
    """Shared plumbing: parameters, entry lookup, error mapping."""

    requires_auth = True
    schema: vol.Schema = vol.Schema(_ENTRY, extra=vol.REMOVE_EXTRA)
    #: The legacy route answers for the first loaded entry when none is named.
    default_first = False

    async def _answer(
        self, request: web.Request, extra: Mapping[str, Any] | None = None
    ) -> web.Response:
        hass = request.app[KEY_HASS]
        try:
            params = _params(request, self.schema, extra)
            entry = resolve_entry(hass, params.get(ATTR_ENTRY_ID), default_first=self.default_first)
            return await self.handle(hass, entry, params, request)
        except _ApiError as err:
            return error_response(err.status, err.code, err.message)
        except HomeAssistantError as err:
            status, code = _ERRORS.get(
                err.translation_key, (HTTPStatus.INTERNAL_SERVER_ERROR, "error")
            )
            return error_response(status, code, str(err))

    async def handle(
        self,
        hass: HomeAssistant,
        entry: NinaSessionConfigEntry,
        params: dict[str, Any],
        request: web.Request,
    ) -> web.Response:
        raise NotImplementedError


class _GetView(_NinaView):
    async def get(self, request: web.Request) -> web.Response:
        return await self._answer(request)


class SessionView(_GetView):
    """`GET /api/nina_session/session[?entry_id=][&session_id=]`: canonical session JSON."""

    url = f"{API_BASE}/session"
    name = f"api:{DOMAIN}:session"
    schema = vol.Schema(
        {**_ENTRY, vol.Optional(ATTR_SESSION_ID): ID_STRING}, extra=vol.REMOVE_EXTRA
    )

    async def handle(
        self,
        hass: HomeAssistant,
        entry: NinaSessionConfigEntry,
        params: dict[str, Any],
        request: web.Request,
    ) -> web.Response:
        """Answer the open session, or the stored one `session_id` names."""
        session = await read_session(entry, params.get(ATTR_SESSION_ID))
        if session is None:
            return error_response(HTTPStatus.NOT_FOUND, "no_session", "No imaging session is open")
        return self.json(session)


class SessionsView(_GetView):
    """`GET /api/nina_session/sessions[?start=][&end=][&limit=][&offset=]`: stored sessions."""

    url = f"{API_BASE}/sessions"
    name = f"api:{DOMAIN}:sessions"
    schema = vol.Schema(
        {
            **_ENTRY,
            vol.Optional(ATTR_START): DATE_OR_DATETIME,
            vol.Optional(ATTR_END): DATE_OR_DATETIME,
            vol.Optional(ATTR_LIMIT, default=DEFAULT_LIMIT): LIMIT,
            vol.Optional(ATTR_OFFSET, default=0): OFFSET,
        },
        extra=vol.REMOVE_EXTRA,
    )

    async def handle(
        self,
        hass: HomeAssistant,
        entry: NinaSessionConfigEntry,
        params: dict[str, Any],
        request: web.Request,
    ) -> web.Response:
        """Answer the stored sessions that start in the range, one page of them."""
        query = session_query(
            params.get(ATTR_START), params.get(ATTR_END), params[ATTR_LIMIT], params[ATTR_OFFSET]
        )
        sessions = await read_engine(entry.runtime_data.engine.sessions(**query))
        return self.json({"sessions": sessions})


class StatsView(_GetView):
    """`GET /api/nina_session/stats`: the stats JSON."""

    url = f"{API_BASE}/stats"
    name = f"api:{DOMAIN}:stats"

    async def handle(
        self,
        hass: HomeAssistant,
        entry: NinaSessionConfigEntry,
        params: dict[str, Any],
        request: web.Request,
    ) -> web.Response:
        """Answer the stats JSON."""
        engine = entry.runtime_data.engine
        return self.json(await read_engine(engine.stats(relative_db_path(hass, engine))))


class HealthView(_GetView):
    """`GET /api/nina_session/health`: the health JSON."""

    url = f"{API_BASE}/health"
    name = f"api:{DOMAIN}:health"

    async def handle(
        self,
        hass: HomeAssistant,
        entry: NinaSessionConfigEntry,
        params: dict[str, Any],
        request: web.Request,
    ) -> web.Response:
        """Answer the health JSON."""
        engine = entry.runtime_data.engine
        return self.json(await read_engine(engine.health_json(relative_db_path(hass, engine))))


class LegacySessionStateView(_GetView):
    """`GET /api/nina/session-state`: the legacy session-state object older widgets read."""

    url = LEGACY_URL
    name = "api:nina:session-state"
    default_first = True

    async def handle(
        self,
        hass: HomeAssistant,
        entry: NinaSessionConfigEntry,
        params: dict[str, Any],
        request: web.Request,
    ) -> web.Response:
        """Answer the legacy session-state object."""
        return self.json(await read_engine(entry.runtime_data.engine.legacy()))


class RefreshView(_NinaView):
    """`POST /api/nina_session/refresh[?entry_id=]`: re-sync with NINA.

    200 with the session and health when the refresh finished within `REFRESH_WAIT`, 202
    when it goes on in the background. `entry_id` may also come in a JSON body. Admins only
    (401 otherwise): a refresh reads NINA's whole history and refolds every session.
    """

    url = f"{API_BASE}/refresh"
    name = f"api:{DOMAIN}:refresh"

    @require_admin
    async def post(self, request: web.Request) -> web.Response:
        """Refresh the entry named in the query string or the JSON body."""
        body: Any = {}
        if request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                return error_response(HTTPStatus.BAD_REQUEST, "bad_request", "Invalid JSON body")
            if not isinstance(body, dict):
                return error_response(
                    HTTPStatus.BAD_REQUEST, "bad_request", "The body must be a JSON object"
                )
        # The query string wins over the body.
        return await self._answer(request, body)

    async def handle(
        self,
        hass: HomeAssistant,
        entry: NinaSessionConfigEntry,
        params: dict[str, Any],
        request: web.Request,
    ) -> web.Response:
        """Run a refresh; answer its outcome, or 202 if it outlasts `REFRESH_WAIT`."""
        engine = entry.runtime_data.engine
        task = entry.async_create_background_task(
            hass, _refresh_outcome(engine), f"{DOMAIN} refresh {entry.entry_id}"
        )
        done, _ = await asyncio.wait({task}, timeout=REFRESH_WAIT)
        if not done:
            return self.json(
                {"result": "accepted", "message": "The refresh continues in the background"},
                HTTPStatus.ACCEPTED,
            )
        if (error := task.result()) is not None:
            status, code = _ERRORS["refresh_failed"]
            return error_response(status, code, str(error))
        return self.json(
            {
                "result": "refreshed",
                "session": await read_engine(engine.session()),
                "health": await read_engine(engine.health_json(relative_db_path(hass, engine))),
            }
        )


async def _refresh_outcome(engine: NinaEngine) -> HomeAssistantError | None:
    """Run a refresh; its failure is returned (and already logged), never left unretrieved."""
    try:
        await async_refresh(engine)
    except HomeAssistantError as err:
        return err
    return None


VIEWS: Final = (
    SessionView,
    SessionsView,
    StatsView,
    HealthView,
    RefreshView,
    LegacySessionStateView,
)


@callback
def async_register_views(hass: HomeAssistant) -> None:
    """Register the views once per Home Assistant run (entries reload, routes stay)."""
    if hass.data.get(DATA_VIEWS_REGISTERED):
        return
    hass.data[DATA_VIEWS_REGISTERED] = True
    for view in VIEWS:
        hass.http.register_view(view())
