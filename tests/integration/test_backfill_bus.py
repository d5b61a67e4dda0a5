"""What a backfill puts on Home Assistant's bus: automations never hear a night long past.

A history merge fires one `nina_session_backfilled` for its older events (counts by type,
time range) and one `nina_session_event` each only for the events of the last minutes (missed
during a short disconnect), as they would have been heard live.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable

from homeassistant.core import HomeAssistant
from integration_helpers import coordinator_of, wait_connected, wait_for
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.nina_session.const import EVENT_BACKFILLED, EVENT_NINA_SESSION
from custom_components.nina_session.device_trigger import (
    EVENT_NINA_SESSION_STATE_CHANGED,
    EVENT_NINA_SESSION_TRIGGER,
)
from custom_components.nina_session.engine.timeutil import iso_z
from simulator import NinaSimulator, SimEvent, preset_night

SetupEntry = Callable[..., Awaitable[MockConfigEntry]]


def state(hass: HomeAssistant, entity_id: str) -> str:
    """Return the state of `entity_id`, which must exist."""
    current = hass.states.get(entity_id)
    assert current is not None, entity_id
    return current.state


async def test_a_night_long_past_fires_one_summary_and_no_event(
    hass: HomeAssistant, sim: NinaSimulator, setup_entry: SetupEntry
) -> None:
    """A night from days ago, read as history: one summary bus event, no trigger, no event."""
    night = preset_night("simple")
    await sim.play(night.events, speed=0, rebase=False)  # at its own dates, days ago
    backfilled = async_capture_events(hass, EVENT_BACKFILLED)
    per_event = async_capture_events(hass, EVENT_NINA_SESSION)
    triggers = async_capture_events(hass, EVENT_NINA_SESSION_TRIGGER)
    state_changes = async_capture_events(hass, EVENT_NINA_SESSION_STATE_CHANGED)
    entry = await setup_entry()
    await wait_connected(hass, entry)
    await wait_for(lambda: bool(backfilled), "the backfill")
    await hass.async_block_till_done()

    assert per_event == []
    assert triggers == state_changes == []
    [summary] = backfilled
    device = coordinator_of(entry).device_entry()
    assert device is not None
    assert summary.data == {
        "device_id": device.id,  # the device's logbook tells it
        "entry_id": entry.entry_id,
        "instance": "rig_1",
        "source": "history",
        "events": len(night.events),
        "by_type": dict(Counter(event.name for event in night.events)),
        "start": iso_z(night.start),
        "end": iso_z(night.end),
        "recent_from": summary.data["recent_from"],
        "recent_until": summary.data["recent_until"],
        "recent_events": 0,
        "sessions_closed": 0,
    }
    # What the night left still reaches the entities.
    last_save = [event for event in night.events if event.name == "IMAGE-SAVE"][-1]
    statistics = last_save.data["ImageStatistics"]
    assert state(hass, "sensor.rig_1_current_filter") == statistics["Filter"]
    assert state(hass, "sensor.rig_1_current_target") == statistics["TargetName"]
    last_frame = coordinator_of(entry).data.last_frame
    assert last_frame is not None
    assert last_frame.time == last_save.time


async def test_events_missed_in_a_short_disconnect_fire_one_by_one(
    hass: HomeAssistant, sim: NinaSimulator, setup_entry: SetupEntry
) -> None:
    """Events of the last minutes come one by one (source history); the night before in sum."""
    night = preset_night("simple")
    await sim.play(night.events, speed=0, rebase=False)
    entry = await setup_entry()
    await wait_connected(hass, entry)
    engine = coordinator_of(entry).engine
    await wait_for(lambda: engine.health.history.reads >= 1, "the first backfill")
    await hass.async_block_till_done()

    # NINA goes on while the link is down; the reconnect's history read brings it back.
    await sim.set_offline(True)
    await wait_for(lambda: not engine.health.connected, "the lost connection")
    missed = [
        SimEvent(night.start, "GUIDER-DITHER"),
        SimEvent(night.start, "MOUNT-CENTER"),
        SimEvent(night.start, "GUIDER-DITHER"),
    ]
    await sim.play(missed, speed=0)  # stamped now
    per_event = async_capture_events(hass, EVENT_NINA_SESSION)
    backfilled = async_capture_events(hass, EVENT_BACKFILLED)
    await sim.set_offline(False)
    await wait_connected(hass, entry)
    await wait_for(lambda: len(per_event) >= len(missed), "the missed events")
    await hass.async_block_till_done()

    assert [event.data["type"] for event in per_event] == [event.name for event in missed]
    assert {event.data["source"] for event in per_event} == {"history"}
    assert backfilled == []  # nothing old was new
