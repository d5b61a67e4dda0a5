"""HTTP views over a real simulator: auth, shapes, parameters, errors, registration."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any
from unittest.mock import patch

from aiohttp.test_utils import TestClient
from api_helpers import add_entry, engine_of, play
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.nina_session import views
from custom_components.nina_session.engine.engine import NinaEngine
from simulator import NinaSimulator

GET_URLS = (
    "/api/nina_session/session",
    "/api/nina_session/sessions",
    "/api/nina_session/stats",
    "/api/nina_session/health",
    "/api/nina/session-state",
)

LEGACY_KEYS = {
    "sessionStart", "isActive", "target", "filter", "lastImage", "safe", "activity",
    "lastEquipmentChange", "flats", "darks", "events", "eventCount", "connectionStatus",
    "lastUpdate", "dataSource", "wsStatus",
}  # fmt: skip
LEGACY_NESTED = {
    "filter": {"name"},
    "lastImage": {"type", "filter", "exposureTime", "temperature", "hfr", "stars", "rms",
                  "timestamp"},
    "safe": {"isSafe", "time"},
    "activity": {"subsystem", "state", "since"},
    "flats": {"isActive", "filter", "brightness", "imageCount"},
    "darks": {"isActive", "currentExposureTime", "exposureGroups", "totalImages"},
    "wsStatus": {"isConnected", "reconnectAttempts", "lastHeartbeat"},
}  # fmt: skip
TARGET_KEYS = {"name", "project", "coordinates", "rotation", "startedAt", "targetEndTime",
               "isExpired"}  # fmt: skip


def assert_error(body: dict[str, Any], code: str) -> None:
    """Assert `body` is a JSON error with `code`, a message and a UTC timestamp."""
    assert set(body) == {"error", "message", "timestamp"}
    assert body["error"] == code
    assert body["message"]
    assert body["timestamp"].endswith("Z")


def assert_legacy_shape(body: dict[str, Any]) -> None:
    """Assert `body` has the legacy session-state shape, nested keys included."""
    assert set(body) == LEGACY_KEYS
    for key, keys in LEGACY_NESTED.items():
        assert set(body[key]) == keys, key
    assert body["target"] is None or set(body["target"]) == TARGET_KEYS
    assert isinstance(body["events"], list)
    assert len(body["events"]) <= 5
    assert body["dataSource"] == "nina_session"


@pytest.fixture
async def client(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, loaded_entry: MockConfigEntry
) -> TestClient:
    """Return an authenticated HTTP client, with one entry loaded."""
    return await hass_client()


# -- auth ------------------------------------------------------------------------------
@pytest.mark.parametrize("url", GET_URLS)
async def test_get_views_need_auth(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    loaded_entry: MockConfigEntry,
    url: str,
) -> None:
    """Test that every GET view refuses a request without authentication."""
    anonymous = await hass_client_no_auth()
    response = await anonymous.get(url)
    assert response.status == HTTPStatus.UNAUTHORIZED


async def test_refresh_needs_auth(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    loaded_entry: MockConfigEntry,
) -> None:
    """Test that the refresh view refuses a request without authentication."""
    anonymous = await hass_client_no_auth()
    response = await anonymous.post("/api/nina_session/refresh")
    assert response.status == HTTPStatus.UNAUTHORIZED


@pytest.mark.parametrize("url", [u for u in GET_URLS if u != "/api/nina_session/session"])
async def test_get_views_answer_with_auth(client: TestClient, url: str) -> None:
    """Test that the GET views answer JSON to an authenticated request."""
    response = await client.get(url)
    assert response.status == HTTPStatus.OK
    assert response.content_type == "application/json"


# -- session ---------------------------------------------------------------------------
async def test_session_404_when_none_open(client: TestClient) -> None:
    """Test that the session view answers 404 no_session when no session is open."""
    response = await client.get("/api/nina_session/session")
    assert response.status == HTTPStatus.NOT_FOUND
    assert_error(await response.json(), "no_session")


async def test_session_current_and_stored(
    client: TestClient, sim: NinaSimulator, loaded_entry: MockConfigEntry
) -> None:
    """Test that the session view returns the open session, a stored one by ID, or a 404."""
    await play(sim, engine_of(loaded_entry))

    response = await client.get("/api/nina_session/session")
    assert response.status == HTTPStatus.OK
    session = await response.json()
    assert session["instance"] == "rig_1"
    assert session["id"].endswith("-rig_1")
    assert session["start"].endswith("Z")
    assert session["frames"]["total"] == 6
    assert session["frames"]["by_filter"].keys() == {"Ha", "OIII"}
    assert session["integration_seconds"] == 6 * 120.0

    stored = await client.get("/api/nina_session/session", params={"session_id": session["id"]})
    assert stored.status == HTTPStatus.OK
    assert (await stored.json())["id"] == session["id"]

    unknown = await client.get("/api/nina_session/session", params={"session_id": "nope"})
    assert unknown.status == HTTPStatus.NOT_FOUND
    assert_error(await unknown.json(), "session_not_found")


async def test_sessions_list_and_range(
    client: TestClient, sim: NinaSimulator, loaded_entry: MockConfigEntry
) -> None:
    """Test that the sessions view lists sessions and honours the date range and paging."""
    await play(sim, engine_of(loaded_entry))
    response = await client.get("/api/nina_session/sessions")
    assert response.status == HTTPStatus.OK
    sessions = (await response.json())["sessions"]
    assert len(sessions) == 1
    before = await client.get("/api/nina_session/sessions", params={"end": "2001-01-01"})
    assert (await before.json())["sessions"] == []
    paged = await client.get("/api/nina_session/sessions", params={"limit": "1", "offset": "1"})
    assert (await paged.json())["sessions"] == []


# -- stats, health ---------------------------------------------------------------------
async def test_stats_shape(
    hass: HomeAssistant, client: TestClient, sim: NinaSimulator, loaded_entry: MockConfigEntry
) -> None:
    """Test that the stats view has every section, the totals and the database path."""
    await play(sim, engine_of(loaded_entry))
    response = await client.get("/api/nina_session/stats")
    stats = await response.json()
    assert set(stats) >= {"database", "session", "connection", "events", "totals", "system"}
    assert stats["totals"]["frames"] == 6
    assert stats["connection"]["db"]["path"] == f"nina_session/{loaded_entry.entry_id}.db"


async def test_health_db_path_is_relative(
    client: TestClient, loaded_entry: MockConfigEntry
) -> None:
    """Test that the health view has every key and a database path relative to the config dir."""
    response = await client.get("/api/nina_session/health")
    health = await response.json()
    assert health["connected"] is True
    assert set(health) >= {
        "connected", "since", "last_event_at", "reconnects", "consecutive_failures",
        "last_error", "last_error_at", "current_error", "plugin_version", "events", "db",
        "clock",
    }  # fmt: skip
    assert health["current_error"] is None  # connected: no current error
    assert health["clock"]["offset_measured"] in (True, False)
    assert set(health["clock"]) == {
        "nina_offset_seconds",
        "offset_measured",
        "late_events",
        "rebuilds",
    }
    assert health["db"]["path"] == f"nina_session/{loaded_entry.entry_id}.db"
    assert not health["db"]["path"].startswith("/")
    assert set(health["budgets"]) == {"queue", "backlog", "pending_writes", "history"}
    assert {"error", "write_failures", "pending_events", "recoveries"} <= set(health["db"])


# -- legacy ----------------------------------------------------------------------------
async def test_legacy_keys_without_session(client: TestClient) -> None:
    """Test that the legacy view has the legacy shape and no active session before a night."""
    response = await client.get("/api/nina/session-state")
    assert response.status == HTTPStatus.OK
    body = await response.json()
    assert_legacy_shape(body)
    assert body["isActive"] is False
    assert body["sessionStart"] is None
    assert body["target"] is None
    assert body["connectionStatus"] == "connected"


async def test_legacy_keys_with_active_session(
    client: TestClient, sim: NinaSimulator, loaded_entry: MockConfigEntry
) -> None:
    """Test that the legacy view shows the active session's target, last image and events."""
    await play(sim, engine_of(loaded_entry))
    response = await client.get("/api/nina/session-state")
    body = await response.json()
    assert_legacy_shape(body)
    assert body["isActive"] is True
    assert body["sessionStart"].endswith("Z")
    assert body["target"]["name"] == "M 42"
    assert body["lastImage"]["type"] == "LIGHT"
    assert body["eventCount"] > 0


async def test_legacy_defaults_to_first_entry_and_takes_entry_id(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    sim: NinaSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """Test that the legacy view defaults to the first of two entries; canonical views need one."""
    second = await add_entry(hass, sim, "rig2", "Rig 2")
    client = await hass_client()

    response = await client.get("/api/nina/session-state")
    assert response.status == HTTPStatus.OK
    assert_legacy_shape(await response.json())
    chosen = await client.get("/api/nina/session-state", params={"entry_id": second.entry_id})
    assert chosen.status == HTTPStatus.OK

    # The canonical routes want a choice when several entries are loaded.
    ambiguous = await client.get("/api/nina_session/health")
    assert ambiguous.status == HTTPStatus.BAD_REQUEST
    assert_error(await ambiguous.json(), "entry_required")
    named = await client.get("/api/nina_session/health", params={"entry_id": second.entry_id})
    assert named.status == HTTPStatus.OK
    assert (await named.json())["db"]["path"] == f"nina_session/{second.entry_id}.db"
    assert await hass.config_entries.async_unload(second.entry_id)


# -- errors ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/api/nina_session/sessions", {"limit": "0"}),
        ("/api/nina_session/sessions", {"limit": "501"}),
        ("/api/nina_session/sessions", {"limit": "ten"}),
        ("/api/nina_session/sessions", {"offset": "-1"}),
        ("/api/nina_session/sessions", {"start": "yesterday"}),
        ("/api/nina_session/sessions", {"start": "2026-13-45"}),
        ("/api/nina_session/sessions", {"start": "2026-11-30", "end": "2026-11-01"}),
        ("/api/nina_session/session", {"session_id": ""}),
        ("/api/nina_session/session", {"session_id": "x" * 300}),
        ("/api/nina_session/stats", {"entry_id": ""}),
        ("/api/nina/session-state", {"entry_id": "   "}),
    ],
)
async def test_bad_params_are_400(client: TestClient, url: str, params: dict[str, str]) -> None:
    """Test that invalid query parameters answer 400 bad_request."""
    response = await client.get(url, params=params)
    assert response.status == HTTPStatus.BAD_REQUEST
    assert_error(await response.json(), "bad_request")


async def test_repeated_param_is_400(client: TestClient) -> None:
    """Test that a query parameter given twice answers 400 bad_request."""
    response = await client.get("/api/nina_session/sessions?limit=1&limit=2")
    assert response.status == HTTPStatus.BAD_REQUEST
    assert_error(await response.json(), "bad_request")


@pytest.mark.parametrize("url", GET_URLS)
async def test_unknown_entry_is_404(client: TestClient, url: str) -> None:
    """Test that an unknown entry ID answers 404 unknown_entry."""
    response = await client.get(url, params={"entry_id": "no-such-entry"})
    assert response.status == HTTPStatus.NOT_FOUND
    assert_error(await response.json(), "unknown_entry")


@pytest.mark.parametrize("url", GET_URLS)
async def test_no_entry_loaded_is_503(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    sim: NinaSimulator,
    loaded_entry: MockConfigEntry,
    url: str,
) -> None:
    """Test that every view answers 503 not_loaded when no entry is loaded."""
    client = await hass_client()
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    response = await client.get(url)
    assert response.status == HTTPStatus.SERVICE_UNAVAILABLE
    assert_error(await response.json(), "not_loaded")
    named = await client.get(url, params={"entry_id": loaded_entry.entry_id})
    assert named.status == HTTPStatus.SERVICE_UNAVAILABLE
    assert_error(await named.json(), "not_loaded")


async def test_database_error_is_json_500(
    client: TestClient, loaded_entry: MockConfigEntry
) -> None:
    """Test that a database error answers a JSON 500 and leaves the connection up."""
    engine = engine_of(loaded_entry)
    with patch.object(NinaEngine, "stats", side_effect=OSError("disk gone")):
        response = await client.get("/api/nina_session/stats")
    assert response.status == HTTPStatus.INTERNAL_SERVER_ERROR
    assert_error(await response.json(), "database_error")
    assert engine.health.connected


# -- refresh ---------------------------------------------------------------------------
async def test_refresh_returns_result(
    client: TestClient, sim: NinaSimulator, loaded_entry: MockConfigEntry
) -> None:
    """Test that a refresh answers with the refreshed session and health."""
    await play(sim, engine_of(loaded_entry))
    response = await client.post("/api/nina_session/refresh")
    assert response.status == HTTPStatus.OK
    body = await response.json()
    assert body["result"] == "refreshed"
    assert body["session"]["frames"]["total"] == 6
    assert body["health"]["connected"] is True


async def test_refresh_entry_in_body_and_unknown_entry(
    client: TestClient, loaded_entry: MockConfigEntry
) -> None:
    """Test that refresh takes the entry ID from a JSON body, refusing unknown IDs and bad JSON."""
    response = await client.post(
        "/api/nina_session/refresh", json={"entry_id": loaded_entry.entry_id}
    )
    assert response.status == HTTPStatus.OK
    unknown = await client.post("/api/nina_session/refresh", json={"entry_id": "nope"})
    assert unknown.status == HTTPStatus.NOT_FOUND
    assert_error(await unknown.json(), "unknown_entry")
    bad = await client.post(
        "/api/nina_session/refresh", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert bad.status == HTTPStatus.BAD_REQUEST
    assert_error(await bad.json(), "bad_request")


async def test_refresh_answers_202_when_slow(
    hass: HomeAssistant, client: TestClient, loaded_entry: MockConfigEntry
) -> None:
    """Test that refresh answers 202 accepted when it takes longer than the wait."""
    engine = engine_of(loaded_entry)
    with patch.object(views, "REFRESH_WAIT", 0):
        response = await client.post("/api/nina_session/refresh")
    assert response.status == HTTPStatus.ACCEPTED
    assert (await response.json())["result"] == "accepted"
    # The refresh goes on in the background and finishes.
    await engine.refresh()
    await hass.async_block_till_done()


async def test_refresh_failure_is_json(client: TestClient, loaded_entry: MockConfigEntry) -> None:
    """Test that a failing refresh answers a JSON 500 refresh_failed."""
    with patch.object(NinaEngine, "refresh", side_effect=OSError("disk gone")):
        response = await client.post("/api/nina_session/refresh")
    assert response.status == HTTPStatus.INTERNAL_SERVER_ERROR
    assert_error(await response.json(), "refresh_failed")


# -- registration ----------------------------------------------------------------------
async def test_views_registered_once_across_reloads(
    hass: HomeAssistant, client: TestClient, loaded_entry: MockConfigEntry
) -> None:
    """Test that reloads and repeated registration add no view again; the views still answer."""
    with patch.object(hass.http, "register_view") as register:
        assert await hass.config_entries.async_reload(loaded_entry.entry_id)
        await hass.async_block_till_done()
        views.async_register_views(hass)
    register.assert_not_called()
    response = await client.get("/api/nina_session/health")
    assert response.status == HTTPStatus.OK


async def test_refresh_is_for_admins_and_reads_for_everyone(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_read_only_access_token: str,
    loaded_entry: MockConfigEntry,
) -> None:
    """Test that a non-admin user may read every view but not POST a refresh."""
    user = await hass_client(hass_read_only_access_token)
    response = await user.post("/api/nina_session/refresh")
    assert response.status == HTTPStatus.UNAUTHORIZED
    for url in GET_URLS:
        assert (await user.get(url)).status in (HTTPStatus.OK, HTTPStatus.NOT_FOUND), url
