"""WebSocket API: one-shot reads, subscriptions (formats, coalescing, cleanup), errors."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest.mock import patch

from api_helpers import add_entry, burst_night, engine_of, now_event, play, sync_engine
from homeassistant.core import HomeAssistant
from integration_helpers import WAIT, wait_for
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import MockHAClientWebSocket, WebSocketGenerator

from custom_components.nina_session import websocket_api as ws_api
from custom_components.nina_session.engine.engine import EngineUpdate
from custom_components.nina_session.engine.timeutil import iso_z
from simulator import NinaSimulator

LEGACY_KEYS = {
    "sessionStart", "isActive", "target", "filter", "lastImage", "safe", "activity",
    "lastEquipmentChange", "flats", "darks", "events", "eventCount", "connectionStatus",
    "lastUpdate", "dataSource", "wsStatus",
}  # fmt: skip


async def receive(client: MockHAClientWebSocket) -> dict[str, Any]:
    """Return the next message for `client`; fail after `WAIT` seconds."""
    async with asyncio.timeout(WAIT):
        message: dict[str, Any] = await client.receive_json()
    return message


async def command(client: MockHAClientWebSocket, **msg: Any) -> dict[str, Any]:
    """Send a command with the next ID and return its result."""
    await client.send_json_auto_id(msg)
    return await receive(client)


async def subscribe(client: MockHAClientWebSocket, **msg: Any) -> tuple[int, dict[str, Any]]:
    """Subscribe; return the subscription id and the first (immediate) event."""
    result = await command(client, type="nina_session/subscribe", **msg)
    assert result["success"], result
    first = await receive(client)
    assert first["type"] == "event"
    assert first["id"] == result["id"]
    return result["id"], first["event"]


def subscriptions(hass: HomeAssistant) -> list[ws_api.SessionSubscription]:
    """Return every open session subscription."""
    return [sub for subs in hass.data[ws_api.DATA_SUBSCRIPTIONS].values() for sub in subs]


# -- one-shot --------------------------------------------------------------------------
async def test_session_one_shot(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    sim: NinaSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """Test that nina_session/session returns none, the open session, a stored one or not_found."""
    client = await hass_ws_client(hass)
    empty = await command(client, type="nina_session/session")
    assert empty["success"]
    assert empty["result"]["session"] is None
    assert empty["result"]["health"]["connected"] is True
    assert empty["result"]["health"]["db"]["path"] == f"nina_session/{loaded_entry.entry_id}.db"

    await play(sim, engine_of(loaded_entry))
    current = await command(client, type="nina_session/session", entry_id=loaded_entry.entry_id)
    session = current["result"]["session"]
    assert session["frames"]["total"] == 6

    stored = await command(client, type="nina_session/session", session_id=session["id"])
    assert stored["result"]["session"]["id"] == session["id"]

    unknown = await command(client, type="nina_session/session", session_id="nope")
    assert not unknown["success"]
    assert unknown["error"]["code"] == "not_found"


async def test_sessions_list(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    sim: NinaSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """Test that nina_session/sessions lists and filters sessions and refuses bad parameters."""
    await play(sim, engine_of(loaded_entry))
    client = await hass_ws_client(hass)
    listed = await command(client, type="nina_session/sessions")
    assert listed["success"]
    assert len(listed["result"]["sessions"]) == 1
    ranged = await command(
        client, type="nina_session/sessions", start="2000-01-01", end="2000-12-31", limit=10
    )
    assert ranged["result"] == {"sessions": []}

    for bad in ({"start": "whenever"}, {"limit": 0}, {"limit": 501}, {"offset": -3}):
        response = await command(client, type="nina_session/sessions", **bad)
        assert not response["success"]
        assert response["error"]["code"] == "invalid_format", bad
    backwards = await command(
        client, type="nina_session/sessions", start="2026-11-30", end="2026-11-01"
    )
    assert backwards["error"]["code"] == "invalid_format"


async def test_entry_errors(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    sim: NinaSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """Test that commands refuse unknown, ambiguous and unloaded entries."""
    client = await hass_ws_client(hass)
    for kind in ("session", "sessions", "subscribe"):
        unknown = await command(client, type=f"nina_session/{kind}", entry_id="no-such-entry")
        assert not unknown["success"]
        assert unknown["error"]["code"] == "not_found", kind

    second = await add_entry(hass, sim, "rig2", "Rig 2")
    ambiguous = await command(client, type="nina_session/session")
    assert ambiguous["error"]["code"] == "invalid_format"
    named = await command(client, type="nina_session/session", entry_id=second.entry_id)
    assert named["success"]

    assert await hass.config_entries.async_unload(second.entry_id)
    unloaded = await command(client, type="nina_session/session", entry_id=second.entry_id)
    assert unloaded["error"]["code"] == "not_loaded"
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    for kind in ("session", "sessions", "subscribe"):
        none = await command(client, type=f"nina_session/{kind}")
        assert none["error"]["code"] == "not_loaded", kind
    assert not subscriptions(hass)


async def test_subscribe_bad_format(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, loaded_entry: MockConfigEntry
) -> None:
    """Test that a subscription with an unknown format is refused and not kept."""
    client = await hass_ws_client(hass)
    response = await command(client, type="nina_session/subscribe", format="xml")
    assert response["error"]["code"] == "invalid_format"
    assert not subscriptions(hass)


# -- subscriptions ---------------------------------------------------------------------
async def test_subscribe_sends_now_then_changes_then_unsubscribes(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    sim: NinaSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """Test that a subscription sends the state now, then changes, and unsubscribing cleans up."""
    engine = engine_of(loaded_entry)
    listeners = engine.subscriber_count
    client = await hass_ws_client(hass)
    sub_id, first = await subscribe(client)
    since = engine.health.since
    assert since is not None
    assert first == {
        "type": "session",
        "entry_id": loaded_entry.entry_id,
        "format": "canonical",
        "connected": True,
        "connected_since": iso_z(since),
        "session": None,
    }
    assert engine.subscriber_count == listeners + 1

    await play(sim, engine)
    while True:  # coalesced updates, until the whole night is in
        update = (await receive(client))["event"]
        session = update["session"]
        if session is not None and session["frames"]["total"] == 6:
            break
    assert session["targets"] == ["M 42"]

    done = await command(client, type="unsubscribe_events", subscription=sub_id)
    assert done["success"]
    assert not subscriptions(hass)
    assert engine.subscriber_count == listeners


async def test_subscribe_legacy_format(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    sim: NinaSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """Test that a legacy subscription sends the legacy shape, now and after changes."""
    client = await hass_ws_client(hass)
    _, first = await subscribe(client, format="legacy")
    assert first["format"] == "legacy"
    assert set(first["session"]) == LEGACY_KEYS
    assert first["session"]["isActive"] is False

    await play(sim, engine_of(loaded_entry))
    while True:
        legacy = (await receive(client))["event"]["session"]
        if legacy["isActive"] and legacy["lastImage"]["type"] == "LIGHT":
            break
    assert set(legacy) == LEGACY_KEYS
    assert legacy["target"]["name"] == "M 42"


async def test_burst_is_coalesced(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    sim: NinaSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """A replayed burst of thousands of events gives a handful of messages."""
    engine = engine_of(loaded_entry)
    events = burst_night()
    assert len(events) >= 2000
    broadcasts = 0

    def count(_update: EngineUpdate) -> None:
        nonlocal broadcasts
        broadcasts += 1

    unsubscribe = engine.subscribe(count)
    client = await hass_ws_client(hass)
    await subscribe(client)

    await play(sim, engine, events)
    final = await engine.session()
    assert final is not None
    assert final["frames"]["total"] > 1000
    messages = 0
    while True:  # until the message with the engine's final state
        messages += 1
        if (await receive(client))["event"]["session"] == final:
            break
    unsubscribe()
    # Every message came from the coalescing timer, never one per engine update (here about
    # 3000 events in some 1200 engine updates gave some 20 messages).
    assert messages <= len(events) // 20
    assert messages < broadcasts
    await wait_for(lambda: all(sub.idle for sub in subscriptions(hass)), "no pending send")


async def test_updates_between_sends_are_one_read(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, loaded_entry: MockConfigEntry
) -> None:
    """2000 engine updates in a row arm one timer and cause one read of the engine."""
    engine = engine_of(loaded_entry)
    client = await hass_ws_client(hass)
    await subscribe(client)
    (subscription,) = subscriptions(hass)
    assert subscription.idle
    with patch.object(engine, "session", wraps=engine.session) as reads:
        for _ in range(2000):
            engine._broadcast(EngineUpdate("events"))  # noqa: SLF001
        assert not subscription.idle
        await wait_for(lambda: subscription.idle, "the coalesced send")
    assert reads.call_count == 1


async def test_connection_close_ends_subscriptions(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, loaded_entry: MockConfigEntry
) -> None:
    """Test that closing the WebSocket ends its subscriptions and their engine listeners."""
    engine = engine_of(loaded_entry)
    listeners = engine.subscriber_count
    client = await hass_ws_client(hass)
    await subscribe(client)
    await subscribe(client, format="legacy")
    assert len(subscriptions(hass)) == 2
    await client.close()
    await wait_for(lambda: not subscriptions(hass), "subscriptions closed")
    assert engine.subscriber_count == listeners


async def test_unload_ends_subscriptions(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    sim: NinaSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """Test that an unload ends subscriptions with an unloaded event; a reload allows new ones."""
    engine = engine_of(loaded_entry)
    listeners = engine.subscriber_count
    client = await hass_ws_client(hass)
    sub_id, _ = await subscribe(client)
    # A change is pending (timer armed) when the entry goes away.
    await sim.emit(now_event("SEQUENCE-STARTING"))
    await sync_engine(sim, engine)
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()

    while True:
        message = await receive(client)
        if message["event"]["type"] == "unloaded":
            break
    assert message == {
        "id": sub_id,
        "type": "event",
        "event": {"type": "unloaded", "entry_id": loaded_entry.entry_id},
    }
    assert not subscriptions(hass)
    assert engine.subscriber_count <= listeners
    # The subscription id is free again: unsubscribing it now is an error.
    gone = await command(client, type="unsubscribe_events", subscription=sub_id)
    assert not gone["success"]

    # After a reload a new subscription works against the new engine.
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done()
    _, first = await subscribe(client)
    assert first["entry_id"] == loaded_entry.entry_id


@pytest.mark.parametrize("fmt", ["canonical", "legacy"])
async def test_reload_ends_subscriptions(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    loaded_entry: MockConfigEntry,
    fmt: str,
) -> None:
    """Test that a reload ends a subscription of either format with an unloaded event."""
    client = await hass_ws_client(hass)
    await subscribe(client, format=fmt)
    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert (await receive(client))["event"]["type"] == "unloaded"
    assert not subscriptions(hass)
