"""The event entity's harder cases.

A session closed by the idle clock, guiding lost after the grace period (and excused when the
sequence winds down), errors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, HomeAssistant
from integration_helpers import (
    coordinator_of,
    pass_the_grace,
    pass_the_idle_gap,
    play_live,
    wait_connected,
)
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from simulator import NinaSimulator, SimEvent, preset_night

SetupEntry = Callable[..., Awaitable[MockConfigEntry]]
EVENT_ENTITY = "event.rig_1_session_event"


def fired(events: list[Event[Any]]) -> list[dict[str, Any]]:
    """Attributes of every trigger of the event entity, in order."""
    result = []
    for event in events:
        old, new = event.data["old_state"], event.data["new_state"]
        if event.data["entity_id"] != EVENT_ENTITY or old is None or new is None:
            continue
        if (old.state, old.attributes) != (new.state, new.attributes):
            result.append(dict(new.attributes))
    return result


async def test_guiding_lost_after_grace_and_errors(
    hass: HomeAssistant, sim: NinaSimulator, setup_entry: SetupEntry
) -> None:
    """Test that guiding lost fires only after the grace period, and that an error is fired."""
    night = preset_night("simple").events
    stop = [ev.name for ev in night].index("GUIDER-STOP")
    entry = await setup_entry()
    await wait_connected(hass, entry)
    changes = async_capture_events(hass, EVENT_STATE_CHANGED)
    await play_live(hass, entry, sim, night[: stop + 1])  # guiding stops mid-sequence, nothing else
    assert [t["event_type"] for t in fired(changes)].count("guiding_lost") == 0

    await pass_the_grace(hass, coordinator_of(entry).engine)
    lost = [t for t in fired(changes) if t["event_type"] == "guiding_lost"]
    assert len(lost) == 1
    assert lost[0]["state"] == "paused"

    error = SimEvent(time=night[stop].time + timedelta(seconds=5), name="ERROR-PLATESOLVE")
    await play_live(hass, entry, sim, [error])
    last = hass.states.get(EVENT_ENTITY)
    assert last is not None
    assert last.attributes["event_type"] == "error"
    assert last.attributes["error"] == "ERROR-PLATESOLVE"


async def test_guiding_stop_at_sequence_end_is_not_lost(
    hass: HomeAssistant, sim: NinaSimulator, setup_entry: SetupEntry
) -> None:
    """Test that guiding stopping as the sequence finishes does not fire guiding lost."""
    entry = await setup_entry()
    await wait_connected(hass, entry)
    changes = async_capture_events(hass, EVENT_STATE_CHANGED)
    await play_live(hass, entry, sim, preset_night("simple").events)
    await pass_the_grace(hass, coordinator_of(entry).engine)
    assert "guiding_lost" not in [t["event_type"] for t in fired(changes)]


async def test_session_closed_by_the_idle_clock(
    hass: HomeAssistant, sim: NinaSimulator, setup_entry: SetupEntry
) -> None:
    """Test that a session closed by the idle clock fires session_ended and resets the frames."""
    entry = await setup_entry()
    await wait_connected(hass, entry)
    await play_live(hass, entry, sim, preset_night("simple").events)
    coordinator = coordinator_of(entry)
    session = coordinator.data.session
    assert session is not None
    changes = async_capture_events(hass, EVENT_STATE_CHANGED)

    await pass_the_idle_gap(hass, coordinator.engine)

    ended = fired(changes)
    assert [t["event_type"] for t in ended] == ["session_ended"]
    assert ended[0]["session_id"] == session["id"]
    assert ended[0]["frames"] == 6
    stored = await coordinator.engine.stored_session(session["id"])
    assert stored is not None and stored["end"] is not None
    assert ended[0]["end"] == stored["end"]  # the idle clock's end, as stored
    frames = hass.states.get("sensor.rig_1_frames_this_session")
    assert frames is not None
    assert frames.state == "0"  # the next session starts from zero (a meter reset)
