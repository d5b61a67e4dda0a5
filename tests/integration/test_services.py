"""Actions: response data, entry targeting, validation and translated errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from unittest.mock import patch

from api_helpers import add_entry, engine_of, play
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError, Unauthorized
from homeassistant.helpers.service import async_get_all_descriptions
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components import nina_session as integration
from custom_components.nina_session.const import DOMAIN
from custom_components.nina_session.engine.engine import NinaEngine
from simulator import NinaSimulator


async def call(
    hass: HomeAssistant, service: str, data: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Call action `service` and return its response (none for refresh)."""
    return await hass.services.async_call(
        DOMAIN,
        service,
        data or {},
        blocking=True,
        return_response=service != "refresh",
    )


async def test_actions_are_registered_in_setup_and_described(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Test that the actions are registered with descriptions and stay after an unload."""
    for service in ("refresh", "get_session", "list_sessions", "get_stats"):
        assert hass.services.has_service(DOMAIN, service)
    descriptions = (await async_get_all_descriptions(hass))[DOMAIN]
    assert set(descriptions["list_sessions"]["fields"]) == {
        "config_entry_id", "start", "end", "limit", "offset", "full",
    }  # fmt: skip
    assert descriptions["list_sessions"]["name"] == "List sessions"
    assert descriptions["get_session"]["fields"]["config_entry_id"]["selector"] == {
        "config_entry": {"integration": DOMAIN}
    }
    # Registered for the integration, not the entry: unloading keeps them.
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    assert hass.services.has_service(DOMAIN, "get_session")


async def test_get_session_current_and_by_id(
    hass: HomeAssistant, sim: NinaSimulator, loaded_entry: MockConfigEntry
) -> None:
    """Test that get_session returns the open session or one by ID, and refuses unknown IDs."""
    await play(sim, engine_of(loaded_entry))
    session = await call(hass, "get_session")
    assert session is not None
    assert session["frames"]["total"] == 6
    assert session["targets"] == ["M 42"]
    assert session["integration_seconds"] == 720.0

    by_id = await call(hass, "get_session", {"session_id": session["id"]})
    assert by_id is not None
    assert by_id["id"] == session["id"]

    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "get_session", {"session_id": "nope"})
    assert err.value.translation_key == "session_not_found"
    assert str(err.value) == "There is no stored session with the ID nope"


async def test_get_session_without_open_session(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Test that get_session without an open session raises a translated error."""
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "get_session")
    assert err.value.translation_key == "no_active_session"
    assert str(err.value) == "No imaging session is open"


async def test_list_sessions(
    hass: HomeAssistant, sim: NinaSimulator, loaded_entry: MockConfigEntry
) -> None:
    """Test that list_sessions filters by date range and pages, and refuses a backwards range."""
    await play(sim, engine_of(loaded_entry))
    listed = await call(hass, "list_sessions")
    assert listed is not None
    assert len(listed["sessions"]) == 1
    session = listed["sessions"][0]
    day = session["start"][:10]

    within = await call(hass, "list_sessions", {"start": "2000-01-01", "end": "2999-12-31"})
    assert within == listed
    before = await call(hass, "list_sessions", {"end": "2000-01-01"})
    assert before == {"sessions": []}
    after = await call(hass, "list_sessions", {"start": "2999-01-01"})
    assert after == {"sessions": []}
    moment = await call(hass, "list_sessions", {"start": f"{day}T00:00:00+14:00"})
    assert moment == listed
    paged = await call(hass, "list_sessions", {"limit": 1, "offset": 1})
    assert paged == {"sessions": []}

    # The summary by default; the whole session, state history included, on request.
    assert "state_history" not in session
    assert session["frames"]["total"] > 0 and session["integration_seconds"] > 0
    full = await call(hass, "list_sessions", {"full": True})
    assert full is not None
    whole = full["sessions"][0]
    assert whole["state_history"]
    assert {key: whole[key] for key in session} == session

    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "list_sessions", {"start": "2026-11-30", "end": "2026-11-01"})
    assert err.value.translation_key == "invalid_range"
    assert str(err.value) == "The start of the date range is after its end"


_STRINGS = json.loads((Path(integration.__file__).parent / "strings.json").read_text())
_TRANSLATED = json.loads(
    (Path(integration.__file__).parent / "translations" / "en.json").read_text()
)
_ENTRY_BAD = [{"config_entry_id": ""}, {"config_entry_id": ["a"]}, {"config_entry_id": "x" * 300},
              {"config_entry_id": "no-such-entry"}, {"config_entry_id": 42}, {"bogus": 1}]  # fmt: skip


@pytest.mark.parametrize(
    ("service", "data"),
    [(service, data) for service in ("refresh", "get_session", "list_sessions", "get_stats")
     for data in _ENTRY_BAD]
    + [("get_session", {"session_id": ""}), ("get_session", {"session_id": {"a": 1}}),
       ("get_session", {"session_id": "s" * 1_000_000}), ("get_session", {"session_id": "nope"})]
    + [("list_sessions", data) for data in (
        {"limit": 0}, {"limit": 501}, {"limit": "ten"}, {"limit": 10**30}, {"limit": float("inf")},
        {"limit": float("nan")}, {"limit": None}, {"offset": -1}, {"offset": 10**12},
        {"offset": float("-inf")}, {"start": "soon"}, {"end": "2026-02-30"}, {"start": 12345},
        {"start": "2026-13-01"}, {"end": "9999-12-31"},
        {"start": "2026-11-30", "end": "2026-11-01"},
        {"start": ["2026-11-01"]})])  # fmt: skip
async def test_bad_action_data_is_a_translated_validation_error(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, service: str, data: dict[str, Any]
) -> None:
    """Test that every action refuses bad data with a translated ServiceValidationError."""
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, service, data)
    key = err.value.translation_key
    assert err.value.translation_domain == DOMAIN and key is not None
    assert key in _STRINGS["exceptions"] and key in _TRANSLATED["exceptions"]
    assert len(str(err.value)) < 500  # the message names the problem, not the value


async def test_get_stats(
    hass: HomeAssistant, sim: NinaSimulator, loaded_entry: MockConfigEntry
) -> None:
    """Test that get_stats returns the totals, the session state and the database path."""
    await play(sim, engine_of(loaded_entry))
    stats = await call(hass, "get_stats")
    assert stats is not None
    assert stats["totals"]["frames"] == 6
    assert stats["session"]["state"] == "idle"
    assert stats["connection"]["db"]["path"] == f"nina_session/{loaded_entry.entry_id}.db"


async def test_refresh(
    hass: HomeAssistant, sim: NinaSimulator, loaded_entry: MockConfigEntry
) -> None:
    """Test that refresh returns nothing and recomputes the session without counting twice."""
    engine = engine_of(loaded_entry)
    await play(sim, engine)
    before = await engine.session()
    assert await call(hass, "refresh") is None
    after = await engine.session()
    # A refresh recomputes from stored events: nothing is counted twice.
    assert after is not None and before is not None
    assert after["frames"] == before["frames"]


async def test_refresh_failure_is_translated(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Test that a failing refresh raises a translated HomeAssistantError."""
    with (
        patch.object(NinaEngine, "refresh", side_effect=OSError("disk gone")),
        pytest.raises(HomeAssistantError) as err,
    ):
        await call(hass, "refresh")
    assert not isinstance(err.value, ServiceValidationError)
    assert err.value.translation_key == "refresh_failed"
    assert str(err.value) == "Refreshing from N.I.N.A. failed: disk gone"


async def test_database_error_is_translated(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Test that a database error raises a translated HomeAssistantError."""
    with (
        patch.object(NinaEngine, "stats", side_effect=OSError("disk gone")),
        pytest.raises(HomeAssistantError) as err,
    ):
        await call(hass, "get_stats")
    assert err.value.translation_key == "database_error"
    assert str(err.value) == "Reading the session database failed: disk gone"


async def test_entry_targeting(
    hass: HomeAssistant, sim: NinaSimulator, loaded_entry: MockConfigEntry
) -> None:
    """Test that actions need an entry ID only with several entries, and check the one given."""
    # One entry: config_entry_id optional, and accepted.
    stats = await call(hass, "get_stats", {"config_entry_id": loaded_entry.entry_id})
    assert stats is not None

    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "get_stats", {"config_entry_id": "no-such-entry"})
    assert err.value.translation_key == "entry_not_found"
    assert str(err.value) == (
        "There is no N.I.N.A. instance with the config entry ID no-such-entry"
    )

    second = await add_entry(hass, sim, "rig2", "Rig 2")
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "get_stats")
    assert err.value.translation_key == "entry_required"
    assert str(err.value) == "Several N.I.N.A. instances are set up; choose one"
    other = await call(hass, "get_stats", {"config_entry_id": second.entry_id})
    assert other is not None
    assert other["connection"]["db"]["path"] == f"nina_session/{second.entry_id}.db"

    assert await hass.config_entries.async_unload(second.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "get_stats", {"config_entry_id": second.entry_id})
    assert err.value.translation_key == "entry_not_loaded"
    assert str(err.value) == "The N.I.N.A. instance Rig 2 is not loaded"
    # Back to one loaded entry: no id needed.
    assert await call(hass, "get_stats") is not None


async def test_no_entry_loaded(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    """Test that an action with no entry loaded raises a translated error."""
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "get_session")
    assert err.value.translation_key == "no_entry_loaded"
    assert str(err.value) == "No N.I.N.A. instance is loaded"


async def test_refresh_is_for_admins_and_reads_for_everyone(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, hass_read_only_user: Any
) -> None:
    """Test that a non-admin user's refresh call is refused; their reads answer."""
    context = Context(user_id=hass_read_only_user.id)
    with pytest.raises(Unauthorized):
        await hass.services.async_call(DOMAIN, "refresh", {}, blocking=True, context=context)
    stats = await hass.services.async_call(
        DOMAIN, "get_stats", {}, blocking=True, return_response=True, context=context
    )
    assert stats is not None and "database" in stats
