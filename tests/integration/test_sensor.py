"""A night played by the simulator, seen through everything the integration offers.

The sensors, the event entity, the bus events and the latest-frame image.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT, EVENT_STATE_CHANGED, STATE_OFF, STATE_ON
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import entity_registry as er
from integration_helpers import coordinator_of, enable_entity, play_live, wait_connected, wait_for
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.nina_session.const import EVENT_NINA_SESSION
from custom_components.nina_session.device_trigger import EVENT_NINA_SESSION_STATE_CHANGED
from custom_components.nina_session.snapshot import NinaSessionData
from simulator import THUMBNAIL_JPEG, Night, NinaSimulator, preset_night

SetupEntry = Callable[..., Awaitable[MockConfigEntry]]
EVENT_ENTITY = "event.rig_1_session_event"


@pytest.fixture
def night() -> Night:
    """Return the `simple` preset night."""
    return preset_night("simple")


def state(hass: HomeAssistant, entity_id: str) -> str:
    """Return the state of `entity_id`, which must exist."""
    current = hass.states.get(entity_id)
    assert current is not None, entity_id
    return current.state


def fired_types(events: list[Event[Any]]) -> list[str]:
    """Event types the event entity fired, in order.

    Its state is the trigger time in milliseconds, so triggers of one batch may share it;
    a trigger is a change of state or attributes while available.
    """
    fired = []
    for event in events:
        old, new = event.data["old_state"], event.data["new_state"]
        if event.data["entity_id"] != EVENT_ENTITY or new is None or old is None:
            continue
        if "unavailable" in (old.state, new.state) or new.state == "unknown":
            continue
        if (old.state, old.attributes) != (new.state, new.attributes):
            fired.append(new.attributes["event_type"])
    return fired


async def test_a_live_night(
    hass: HomeAssistant, sim: NinaSimulator, setup_entry: SetupEntry, night: Night
) -> None:
    """Test that a live night shows in sensors, bus events and the event entity as played."""
    enable_entity(hass, "sensor.rig_1_last_image_saved")
    entry = await setup_entry()
    await wait_connected(hass, entry)
    changes = async_capture_events(hass, EVENT_STATE_CHANGED)
    state_changed = async_capture_events(hass, EVENT_NINA_SESSION_STATE_CHANGED)
    bus = await play_live(hass, entry, sim, night.events)
    truth = night.truth

    # Sensors: the night's end state and its totals.
    assert state(hass, "sensor.rig_1_session_state") == "idle"  # SEQUENCE-FINISHED
    assert state(hass, "sensor.rig_1_frames_this_session") == str(
        sum(truth.frames_by_type.values())
    )
    integration = hass.states.get("sensor.rig_1_integration_time_this_session")
    assert integration is not None
    # Minutes, exact: hours as a float lost a minute in the frontend (8h 20m showed 8h 19m).
    assert integration.attributes[ATTR_UNIT_OF_MEASUREMENT] == "min"
    seconds = sum(truth.light_seconds_by_filter.values())
    assert float(integration.state) == seconds / 60
    assert integration.attributes["by_filter"] == truth.light_seconds_by_filter
    frames = hass.states.get("sensor.rig_1_frames_this_session")
    assert frames is not None
    assert frames.attributes["by_type"] == truth.frames_by_type
    assert state(hass, "sensor.rig_1_current_target") == "M 42"
    assert state(hass, "sensor.rig_1_current_filter") == "OIII"
    assert state(hass, "sensor.rig_1_last_exposure") == "120"  # not "120.0"
    last_image = night.events[[e.name for e in night.events].index("IMAGE-SAVE") :]
    stats = [e for e in last_image if e.name == "IMAGE-SAVE"][-1].data["ImageStatistics"]
    assert float(state(hass, "sensor.rig_1_last_hfr")) == pytest.approx(stats["HFR"])
    assert int(state(hass, "sensor.rig_1_last_star_count")) == stats["Stars"]
    assert state(hass, "sensor.rig_1_guiding_rms") not in ("unknown", "unavailable")
    assert state(hass, "sensor.rig_1_session_start") not in ("unknown", "unavailable")
    assert state(hass, "sensor.rig_1_last_image_saved") not in ("unknown", "unavailable")
    assert state(hass, "binary_sensor.rig_1_sequence_running") == STATE_OFF
    assert state(hass, "binary_sensor.rig_1_guiding") == STATE_OFF

    # The state sensor went idle → imaging (…) → idle. (A batch of frames gives one state
    # write, so the short pause as guiding stops at the end may not show here.)
    session_states = [
        event.data["new_state"].state
        for event in changes
        if event.data["entity_id"] == "sensor.rig_1_session_state"
        and event.data["old_state"] is not None
        and event.data["old_state"].state != event.data["new_state"].state
    ]
    # Under load the whole night can land in one batch, so the sensor may only show the end;
    # the session's own history has every step.
    assert not session_states or session_states[-1] == "idle"
    stored = coordinator_of(entry).engine.current_session()
    assert stored is not None
    steps = [step["state"] for step in stored["state_history"]]
    assert steps[0] == "imaging"
    assert steps[-1] == "idle"

    # Bus events: one per applied NINA event, in order, with the session they belong to.
    duplicates = coordinator_of(entry).engine.health.events.duplicates
    assert len(bus) + duplicates == len(night.events)
    if not duplicates:
        assert [event.data["type"] for event in bus] == [e.name for e in night.events]
    session_id = coordinator_of(entry).data.session
    assert session_id is not None
    first = bus[0].data
    assert set(first) == {"entry_id", "instance", "type", "time", "data", "session_id", "source"}
    assert first["entry_id"] == entry.entry_id
    assert first["instance"] == "rig_1"
    assert first["session_id"] is None  # equipment connecting before the sequence
    assert bus[-1].data["session_id"] == session_id["id"]
    assert bus[-1].data["source"] == "live"

    # The event entity: the rare happenings once each, the sequence's own guiding stop
    # excused; frames and state changes are not its (each fire is a logbook row).
    autofocus = truth.autofocus_runs - truth.autofocus_failed
    assert fired_types(changes) == ["session_started"] + ["autofocus_finished"] * autofocus
    # imaging, idle: the guider stop and park as the sequence ends are no pause or wait
    assert [event.data["data"]["state"] for event in state_changed] == ["imaging", "idle"]


async def test_latest_frame_image(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    sim: NinaSimulator,
    setup_entry: SetupEntry,
    night: Night,
) -> None:
    """Test that the latest-frame image serves the thumbnail once a frame is saved."""
    enable_entity(hass, "image.rig_1_latest_frame")
    entry = await setup_entry()
    await wait_connected(hass, entry)
    assert state(hass, "image.rig_1_latest_frame") == "unavailable"  # no frame yet
    await play_live(hass, entry, sim, night.events)
    await hass.async_block_till_done()
    assert state(hass, "image.rig_1_latest_frame") not in ("unknown", "unavailable")
    client = await hass_client()
    response = await client.get("/api/image_proxy/image.rig_1_latest_frame")
    assert response.status == 200
    assert response.content_type == "image/jpeg"
    assert await response.read() == THUMBNAIL_JPEG


async def test_latest_frame_moves_only_for_a_new_picture(
    hass: HomeAssistant, sim: NinaSimulator, setup_entry: SetupEntry, night: Night
) -> None:
    """Test that fetching the same picture again (IMAGE-PREPARED, IMAGE-SAVE) keeps its time.

    The image's state is its picture's time: each new time is a logbook row and makes the
    frontend load the picture again. The simulator serves one picture for every frame.
    """
    enable_entity(hass, "image.rig_1_latest_frame")
    entry = await setup_entry()
    await wait_connected(hass, entry)
    changes = async_capture_events(hass, EVENT_STATE_CHANGED)
    for event in night.events:  # one at a time, as a rig sends them: a fetch for each
        await play_live(hass, entry, sim, [event])
        await hass.async_block_till_done()
    times = {
        change.data["new_state"].state
        for change in changes
        if change.data["entity_id"] == "image.rig_1_latest_frame"
        and change.data["new_state"] is not None
        and change.data["new_state"].state not in ("unknown", "unavailable")
    }
    assert len(times) == 1, times


async def test_per_frame_entities_are_disabled_by_default(
    hass: HomeAssistant, sim: NinaSimulator, setup_entry: SetupEntry
) -> None:
    """Test that the latest frame and the last image time start disabled (logbook rows)."""
    await setup_entry()
    registry = er.async_get(hass)
    for entity_id in ("image.rig_1_latest_frame", "sensor.rig_1_last_image_saved"):
        item = registry.async_get(entity_id)
        assert item is not None, entity_id
        assert item.disabled_by is er.RegistryEntryDisabler.INTEGRATION
        assert hass.states.get(entity_id) is None


async def test_backfill_fires_only_the_final_state(
    hass: HomeAssistant, sim: NinaSimulator, setup_entry: SetupEntry, night: Night
) -> None:
    """A night that happened while HA was away arrives as history: one state change."""
    # Stop halfway through: imaging, the sequence still running.
    cut = [e.name for e in night.events].index("FILTERWHEEL-CHANGED")
    await sim.play(night.events[:cut], speed=0)
    # Listen before the setup: the backfill may be applied while setup_entry waits.
    changes = async_capture_events(hass, EVENT_STATE_CHANGED)
    bus = async_capture_events(hass, EVENT_NINA_SESSION)
    state_changed = async_capture_events(hass, EVENT_NINA_SESSION_STATE_CHANGED)
    entry = await setup_entry()
    await wait_connected(hass, entry)
    await wait_for(lambda: len(bus) >= cut, "the backfill")
    await hass.async_block_till_done()

    assert {event.data["source"] for event in bus} == {"history"}
    assert state(hass, "sensor.rig_1_session_state") == "imaging"
    assert state(hass, "sensor.rig_1_frames_this_session") == "3"
    assert state(hass, "binary_sensor.rig_1_sequence_running") == STATE_ON
    assert state(hass, "binary_sensor.rig_1_guiding") == STATE_ON
    assert fired_types(changes) == []  # no session_started for a night already under way
    assert [event.data["data"]["previous"] for event in state_changed] == ["idle"]
    assert state_changed[0].data["data"]["state"] == "imaging"

    # History survives a restart of the entry while NINA is off.
    await sim.set_offline(True)
    await sim.drop_sockets(abrupt=True)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert state(hass, "sensor.rig_1_session_state") == "disconnected"
    assert state(hass, "sensor.rig_1_frames_this_session") == "3"
    assert state(hass, "sensor.rig_1_session_start") not in ("unknown", "unavailable")


async def test_sensor_entities_and_recorder_exclusions(
    hass: HomeAssistant, sim: NinaSimulator, setup_entry: SetupEntry
) -> None:
    """Test the entity set, the state sensor's options and the diagnostic connection sensor."""
    entry = await setup_entry()
    registry = er.async_get(hass)
    unique_ids = {
        item.unique_id for item in er.async_entries_for_config_entry(registry, entry.entry_id)
    }
    assert {
        "rig_1_session_state",
        "rig_1_current_target",
        "rig_1_current_filter",
        "rig_1_session_frames",
        "rig_1_integration_time",
        "rig_1_last_exposure",
        "rig_1_last_hfr",
        "rig_1_last_star_count",
        "rig_1_guiding_rms",
        "rig_1_camera_temperature",
        "rig_1_session_start",
        "rig_1_last_image_saved",
        "rig_1_connected",
        "rig_1_sequence_running",
        "rig_1_guiding",
        "rig_1_session_event",
        "rig_1_latest_frame",
        "rig_1_sequence_start",
        "rig_1_sequence_stop",
        "rig_1_target_integration",
        "rig_1_target_goal_progress",
        "rig_1_night_end",
        "rig_1_night_report",
        "rig_1_livestack",
    } == unique_ids
    enum = hass.states.get("sensor.rig_1_session_state")
    assert enum is not None
    assert enum.attributes["options"] == [
        "idle",
        "imaging",
        "flats",
        "darks",
        "paused",
        "waiting",
        "disconnected",
    ]
    connected = registry.async_get("binary_sensor.rig_1_connection")
    assert connected is not None
    assert connected.entity_category == "diagnostic"
    data: NinaSessionData = coordinator_of(entry).data
    assert data.triggers == ()
