"""Setup, unload, removal and repairs of a config entry, with NINA down and up."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
import threading

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er, issue_registry as ir
from integration_helpers import coordinator_of, make_entry, wait_connected, wait_for
from pytest_homeassistant_custom_component.common import MockConfigEntry

import custom_components.nina_session as integration
from custom_components.nina_session.const import DOMAIN, ISSUE_DATABASE_UNAVAILABLE
from simulator import NinaSimulator

SetupEntry = Callable[..., Awaitable[MockConfigEntry]]

STATE = "sensor.rig_1_session_state"
CONNECTED = "binary_sensor.rig_1_connection"
FRAMES = "sensor.rig_1_frames_this_session"
FILTER = "sensor.rig_1_current_filter"
START = "sensor.rig_1_session_start"


def engine_threads() -> list[threading.Thread]:
    """Return the running database writer threads of all engines."""
    return [t for t in threading.enumerate() if t.name.startswith("nina_session_db")]


async def test_yaml_configuration_is_refused(hass: HomeAssistant) -> None:
    """Test that CONFIG_SCHEMA (module level, for hassfest) refuses YAML with HA's message."""
    assert integration.PLATFORMS == [
        "binary_sensor",
        "button",
        "event",
        "image",
        "number",
        "select",
        "sensor",
        "switch",
    ]
    assert integration.CONFIG_SCHEMA({"other": {}}) == {"other": {}}
    integration.CONFIG_SCHEMA({DOMAIN: {"host": "x"}})
    issue = ir.async_get(hass).async_get_issue("homeassistant", f"config_entry_only_{DOMAIN}")
    assert issue is not None


async def test_setup_with_nina_down_then_up(
    hass: HomeAssistant, sim: NinaSimulator, setup_entry: SetupEntry
) -> None:
    """Test that setup succeeds with NINA down; entities and device follow it coming and going."""
    await sim.set_offline(True)
    entry = await setup_entry()  # succeeds without NINA: history must be served

    entities = er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    # sensors (12 + target, goal and night end), binary sensors, event, 3 images (latest frame,
    # livestack, night report), sequence start/stop (equipment: on connect)
    assert len(entities) == 15 + 3 + 1 + 3 + 2
    assert hass.states.get(STATE).state == "disconnected"
    assert hass.states.get(CONNECTED).state == STATE_OFF
    assert hass.states.get(FRAMES).state == "0"  # history-based: shown
    assert hass.states.get(FILTER).state == STATE_UNAVAILABLE  # live reading: unavailable
    assert hass.states.get("event.rig_1_session_event") is not None
    assert hass.states.get("image.rig_1_night_report").state == STATE_UNAVAILABLE

    await sim.set_offline(False)
    await wait_connected(hass, entry)
    assert hass.states.get(STATE).state == "idle"
    assert hass.states.get(CONNECTED).state == STATE_ON
    assert hass.states.get(CONNECTED).attributes["plugin_version"] == "2.2.9.0"
    assert hass.states.get(FILTER).state == "unknown"

    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, "rig_1")})
    assert device is not None
    assert device.name == "Rig 1"
    assert device.manufacturer == "N.I.N.A."
    assert device.model == "Advanced API"
    assert device.sw_version == "2.2.9.0"  # learned after the device was created
    assert device.configuration_url == f"http://127.0.0.1:{sim.port}/v2/api"

    # NINA goes away again: back to disconnected.
    await sim.set_offline(True)
    await sim.drop_sockets(abrupt=True)
    coordinator = coordinator_of(entry)
    # Pushed by the engine as it happens: no poll.
    await wait_for(lambda: not coordinator.data.health.connected, "the coordinator to notice")
    await hass.async_block_till_done()
    assert hass.states.get(STATE).state == "disconnected"
    assert hass.states.get(CONNECTED).state == STATE_OFF


async def test_unload_stops_everything(
    hass: HomeAssistant, sim: NinaSimulator, setup_entry: SetupEntry, config_dir: Path
) -> None:
    """Test that unloading stops the engine and keeps the database; removing deletes it."""
    entry = await setup_entry()
    await wait_connected(hass, entry)
    assert engine_threads()
    assert sim.open_sockets == 1

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert not engine_threads()  # the writer thread ended: the database is closed
    await wait_for(lambda: sim.open_sockets == 0, "the socket to close")
    assert hass.states.get(STATE).state == STATE_UNAVAILABLE
    # The database survives an unload (history is the product) …
    db = config_dir / "nina_session" / f"{entry.entry_id}.db"
    assert db.exists()
    # … and goes with the entry.
    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert not db.exists()


async def test_home_assistant_stop_closes_the_engine(
    hass: HomeAssistant, sim: NinaSimulator, setup_entry: SetupEntry
) -> None:
    """Test that Home Assistant stopping stops the engine's database writer thread."""
    await setup_entry()
    assert engine_threads()
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert not engine_threads()


async def test_database_unavailable_retries_setup(
    hass: HomeAssistant, sim: NinaSimulator, config_dir: Path
) -> None:
    """Test that setup is retried, with no engine left running, when the database can't open.

    A repair issue tells the user why, and goes once the database opens.
    """
    blocker = config_dir / "nina_session"
    blocker.write_text("a file where the folder should be")
    entry = make_entry(hass, sim.port)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert not engine_threads()
    issue_id = f"{ISSUE_DATABASE_UNAVAILABLE}_{entry.entry_id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == ISSUE_DATABASE_UNAVAILABLE
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["path"] == f"{entry.entry_id}.db"
    blocker.unlink()  # the user fixed it; HA's next retry opens the database
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_repair_issue_when_nina_keeps_failing(
    hass: HomeAssistant, sim: NinaSimulator, setup_entry: SetupEntry
) -> None:
    """Test that a failing connection raises a repair issue that clears once NINA connects."""
    await sim.set_offline(True)
    entry = await setup_entry()
    coordinator = coordinator_of(entry)
    issues = ir.async_get(hass)
    issue_id = f"nina_unreachable_{entry.entry_id}"

    # The connection loop flags `failing` after 10 failed attempts in a row.
    coordinator.engine.health.failing = True
    coordinator.async_health_changed()
    issue = issues.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "nina_unreachable"
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["port"] == str(sim.port)

    await sim.set_offline(False)
    await wait_connected(hass, entry)
    assert issues.async_get_issue(DOMAIN, issue_id) is None


async def test_repair_issue_for_an_old_plugin(
    hass: HomeAssistant, sim: NinaSimulator, setup_entry: SetupEntry
) -> None:
    """Test that an unsupported plugin version raises a repair issue that clears on update."""
    sim.set_plugin_version("1.9.0.0")
    entry = await setup_entry()
    await wait_connected(hass, entry)
    issue_id = f"unsupported_plugin_version_{entry.entry_id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders == {
        "name": "Rig 1",
        "version": "1.9.0.0",
        "minimum": "2.0.0.0",
    }

    # Updated plugin, seen by the periodic /version probe: the issue clears.
    coordinator = coordinator_of(entry)
    coordinator.engine.health.plugin_version = "2.2.9.0"
    coordinator.async_health_changed()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_two_instances_side_by_side(hass: HomeAssistant, sim: NinaSimulator) -> None:
    """Test that two entries for two NINA instances get their own devices, states and databases."""
    second = NinaSimulator(host="127.0.0.1", port=0)
    await second.start()
    try:
        first_entry = make_entry(hass, sim.port)
        second_entry = make_entry(hass, second.port, name="Rig 2", instance="rig_2")
        # Setting up the integration sets up both entries.
        assert await hass.config_entries.async_setup(first_entry.entry_id)
        await hass.async_block_till_done()
        assert second_entry.state is ConfigEntryState.LOADED
        await wait_connected(hass, first_entry)
        await wait_connected(hass, second_entry)

        devices = dr.async_get(hass)
        first = devices.async_get_device(identifiers={(DOMAIN, "rig_1")})
        other = devices.async_get_device(identifiers={(DOMAIN, "rig_2")})
        assert first is not None
        assert other is not None
        assert first.id != other.id
        assert hass.states.get("sensor.rig_1_session_state").state == "idle"
        assert hass.states.get("sensor.rig_2_session_state").state == "idle"
        assert coordinator_of(first_entry).engine.config.db_path != (
            coordinator_of(second_entry).engine.config.db_path
        )
        for entry in (first_entry, second_entry):
            assert await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await second.stop()


async def test_damaged_database_is_moved_aside_with_a_repair_issue(
    hass: HomeAssistant, sim: NinaSimulator, config_dir: Path
) -> None:
    """Test that a damaged database is moved aside with a repair issue, and setup goes on."""
    entry = make_entry(hass, sim.port)
    db = config_dir / "nina_session" / f"{entry.entry_id}.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_bytes(b"not a database" * 500)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    moved = list(db.parent.glob(f"{db.name}.corrupt-*"))
    assert len(moved) == 1
    assert moved[0].read_bytes().startswith(b"not a database")  # kept, never deleted
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"database_recovered_{entry.entry_id}")
    assert issue is not None
    assert issue.translation_placeholders == {"name": entry.title, "moved_to": moved[0].name}
    await hass.config_entries.async_unload(entry.entry_id)


async def test_repair_issue_while_the_database_refuses_writes(
    hass: HomeAssistant, sim: NinaSimulator, setup_entry: SetupEntry
) -> None:
    """Test that a storage error raises a repair issue that clears when writes succeed again."""
    entry = await setup_entry()
    coordinator = coordinator_of(entry)
    pipeline = coordinator.engine.pipeline
    assert pipeline is not None
    issue_id = f"storage_failing_{entry.entry_id}"
    pipeline.writer.storage_error = "OperationalError: database or disk is full"
    coordinator.async_health_changed()
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert "disk is full" in issue.translation_placeholders["error"]
    pipeline.writer.storage_error = None  # the next write went through
    coordinator.async_health_changed()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
