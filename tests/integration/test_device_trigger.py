"""Device triggers: listed per device, fired from live events, silent for history, reloads."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from api_helpers import engine_of, now_event, play, sync_engine
from homeassistant.components import automation
from homeassistant.components.device_automation import DeviceAutomationType
from homeassistant.core import Event, HomeAssistant, ServiceCall, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from integration_helpers import pass_the_grace, pass_the_idle_gap, wait_connected, wait_for
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_get_device_automations,
    async_mock_service,
)
import voluptuous as vol

from custom_components.nina_session import device_trigger
from custom_components.nina_session.const import DOMAIN
from custom_components.nina_session.device_trigger import (
    DATA_RELAYS,
    EVENT_NINA_SESSION_MOMENT,
    EVENT_NINA_SESSION_STATE_CHANGED,
    EVENT_NINA_SESSION_TRIGGER,
    TRIGGER_TYPES,
)
from simulator import PRESETS, NinaSimulator, generate_night


def device_id_of(hass: HomeAssistant, instance: str = "rig_1") -> str:
    """Return the device ID of NINA instance `instance`."""
    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, instance)})
    assert device is not None
    return device.id


def capture_triggers(hass: HomeAssistant) -> list[Event[Any]]:
    """Capture the bus events of every trigger type (state changes have their own)."""
    events: list[Event[Any]] = []

    @callback
    def capture(event: Event[Any]) -> None:
        events.append(event)

    for event_type in (
        EVENT_NINA_SESSION_TRIGGER,
        EVENT_NINA_SESSION_STATE_CHANGED,
        EVENT_NINA_SESSION_MOMENT,
    ):
        hass.bus.async_listen(event_type, capture)
    return events


async def setup_automations(hass: HomeAssistant, device_id: str) -> list[ServiceCall]:
    """Set up one automation per trigger type on `device_id`; return the calls they make."""
    calls = async_mock_service(hass, "test", "automation")
    assert await async_setup_component(
        hass,
        automation.DOMAIN,
        {
            automation.DOMAIN: [
                {
                    "triggers": [
                        {
                            "trigger": "device",
                            "domain": DOMAIN,
                            "device_id": device_id,
                            "type": trigger_type,
                        }
                    ],
                    "actions": [
                        {
                            "action": "test.automation",
                            "data": {
                                "type": "{{ trigger.event.data.type }}",
                                "platform": "{{ trigger.platform }}",
                                "device_id": "{{ trigger.event.data.device_id }}",
                                "data": "{{ trigger.event.data.data }}",
                            },
                        }
                    ],
                }
                for trigger_type in TRIGGER_TYPES
            ]
        },
    )
    return calls


async def test_triggers_listed_for_our_device(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Test that every trigger type is listed for the NINA device."""
    device_id = device_id_of(hass)
    triggers = await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, device_id)
    ours = [t for t in triggers if t["domain"] == DOMAIN]
    assert {t["type"] for t in ours} == set(TRIGGER_TYPES)
    for trigger in ours:
        assert trigger["device_id"] == device_id
        assert trigger["platform"] == "device"


async def test_foreign_device_has_no_triggers(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Test that another integration's device and an unknown device have no triggers."""
    other = MockConfigEntry(domain="other")
    other.add_to_hass(hass)
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=other.entry_id, identifiers={("other", "x")}
    )
    assert await device_trigger.async_get_triggers(hass, device.id) == []
    assert await device_trigger.async_get_triggers(hass, "no-such-device") == []


async def test_invalid_trigger_type(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    """Test that an unknown trigger type is refused by validation."""
    config = {"platform": "device", "domain": DOMAIN, "device_id": "x", "type": "nope"}
    with pytest.raises(vol.Invalid):
        await device_trigger.async_validate_trigger_config(hass, config)


async def test_live_night_fires_every_trigger_type(
    hass: HomeAssistant, sim: NinaSimulator, loaded_entry: MockConfigEntry
) -> None:
    """Test that a live night fires each trigger type and runs the automation attached to it."""
    engine = engine_of(loaded_entry)
    device_id = device_id_of(hass)
    calls = await setup_automations(hass, device_id)
    fired = capture_triggers(hass)

    await play(sim, engine)  # the `simple` night: 6 lights, sequence finished
    # Played at full speed, the night's own SEQUENCE-FINISHED is less than the dedup window
    # before the one below: the same event for the engine, unless a second passes.
    await asyncio.sleep(2.0)
    # Guiding stops in a running sequence and nothing explains it within the grace period.
    for name in ("SEQUENCE-STARTING", "GUIDER-START", "GUIDER-STOP"):
        await sim.emit(now_event(name))
    await sync_engine(sim, engine)
    await pass_the_grace(hass, engine)
    for name in ("MOUNT-BEFORE-FLIP", "MOUNT-AFTER-FLIP", "ERROR-AF", "SEQUENCE-FINISHED"):
        await sim.emit(now_event(name))
    await sync_engine(sim, engine)
    await pass_the_idle_gap(hass, engine)
    await hass.async_block_till_done()

    kinds = Counter(event.data["type"] for event in fired)
    assert kinds["session_started"] == 1
    assert kinds["session_ended"] == 1
    assert kinds["image_saved"] == 6
    assert kinds["meridian_flip"] == 1
    assert kinds["error"] == 1
    assert kinds["guiding_lost"] == 1
    assert kinds["state_changed"] >= 2
    assert set(kinds) <= set(TRIGGER_TYPES)
    # Each on the bus event of the logbook row that tells it: state changes (the state
    # sensor's row), the event entity's moments (its row), frames (ours).
    buses = {event.data["type"]: event.event_type for event in fired}
    assert buses == {
        "state_changed": EVENT_NINA_SESSION_STATE_CHANGED,
        "image_saved": EVENT_NINA_SESSION_TRIGGER,
        "session_started": EVENT_NINA_SESSION_MOMENT,
        "session_ended": EVENT_NINA_SESSION_MOMENT,
        "meridian_flip": EVENT_NINA_SESSION_MOMENT,
        "error": EVENT_NINA_SESSION_MOMENT,
        "guiding_lost": EVENT_NINA_SESSION_MOMENT,
    }
    assert {event.data["device_id"] for event in fired} == {device_id}
    assert {event.data["entry_id"] for event in fired} == {loaded_entry.entry_id}

    # Every bus event ran the automation of its type, as a device trigger.
    assert Counter(call.data["type"] for call in calls) == kinds
    assert {call.data["platform"] for call in calls} == {"device"}
    started = next(call for call in calls if call.data["type"] == "session_started")
    session = await engine.stored_session(started.data["data"]["session_id"])
    assert session is not None
    assert session["frames"]["total"] == 6
    saved = [call.data["data"] for call in calls if call.data["type"] == "image_saved"]
    assert {frame["filter"] for frame in saved} == {"Ha", "OIII"}
    ended = next(call for call in calls if call.data["type"] == "session_ended")
    assert ended.data["data"]["session_id"] == session["id"]


async def test_backfilled_history_fires_no_frame_triggers(
    hass: HomeAssistant,
    sim: NinaSimulator,
    setup_entry: Any,
) -> None:
    """A night NINA recorded while HA was away: merged, but no automation flood."""
    await sim.play(generate_night(PRESETS["simple"]).events, speed=0)  # nobody listening
    fired = capture_triggers(hass)
    entry = await setup_entry()
    await wait_connected(hass, entry)
    engine = engine_of(entry)

    def merged() -> bool:
        session = engine.current_session()
        return session is not None and session["frames"]["total"] == 6

    await wait_for(merged, "the backfilled night")
    await hass.async_block_till_done()
    kinds = {event.data["type"] for event in fired}
    assert kinds <= {"state_changed"}


async def test_relay_follows_the_entry(
    hass: HomeAssistant, sim: NinaSimulator, loaded_entry: MockConfigEntry
) -> None:
    """Test that the trigger relay goes with an unload and automations still fire after a reload."""
    device_id = device_id_of(hass)
    calls = await setup_automations(hass, device_id)
    assert set(hass.data[DATA_RELAYS]) == {loaded_entry.entry_id}

    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.data[DATA_RELAYS] == {}

    # Reloaded: a new engine, the same device; the automation attached before still fires.
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done()
    await wait_connected(hass, loaded_entry)
    assert set(hass.data[DATA_RELAYS]) == {loaded_entry.entry_id}
    engine = engine_of(loaded_entry)
    await sim.emit(now_event("ERROR-PLATESOLVE"))
    await sync_engine(sim, engine)
    await hass.async_block_till_done()
    assert [call.data["type"] for call in calls] == ["error"]
    assert calls[0].data["device_id"] == device_id


async def test_trigger_data_survives_idle_tick_without_result(
    hass: HomeAssistant, sim: NinaSimulator, loaded_entry: MockConfigEntry
) -> None:
    """A session closed by the idle clock (an update without events) is announced once."""
    engine = engine_of(loaded_entry)
    await play(sim, engine)
    fired = capture_triggers(hass)
    await pass_the_idle_gap(hass, engine)
    await hass.async_block_till_done()
    # The listeners are called again without a new snapshot: nothing is fired twice.
    loaded_entry.runtime_data.async_update_listeners()
    await hass.async_block_till_done()
    assert [event.data["type"] for event in fired] == ["session_ended"]
