"""Equipment in Home Assistant against the simulator: devices, readings, controls, actions.

Every device class and every control goes over the real socket and REST API of the
simulator (`simulator/equipment.py`), through a real config entry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    ATTR_DEVICE_CLASS,
    ATTR_UNIT_OF_MEASUREMENT,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
)
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError, Unauthorized
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
from integration_helpers import coordinator_of, wait_connected, wait_for
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components import nina_session as integration
from custom_components.nina_session.const import DOMAIN
from custom_components.nina_session.engine.equipment import DEVICE_CLASSES
from custom_components.nina_session.equipment import POLL_INTERVAL
from simulator import NinaSimulator

SetupEntry = Callable[..., Awaitable[MockConfigEntry]]
INSTANCE = "rig_1"


def entity_id(hass: HomeAssistant, platform: str, key: str) -> str:
    """Return the entity id of an equipment entity by its unique id `<instance>_<key>`."""
    found = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{INSTANCE}_{key}")
    assert found is not None, f"{platform} {key}"
    return found


def state(hass: HomeAssistant, platform: str, key: str) -> str:
    """Return the state of an equipment entity."""
    current = hass.states.get(entity_id(hass, platform, key))
    assert current is not None, key
    return current.state


def attrs(hass: HomeAssistant, platform: str, key: str) -> dict[str, Any]:
    """Return the attributes of an equipment entity."""
    current = hass.states.get(entity_id(hass, platform, key))
    assert current is not None, key
    return dict(current.attributes)


async def settle(hass: HomeAssistant, check: Callable[[], bool], what: str) -> None:
    """Wait for `check` while letting HA run the coordinator's reads."""

    def done() -> bool:
        try:
            return check()
        except AssertionError:
            return False

    await wait_for(done, what)
    await hass.async_block_till_done()


async def enable_all(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Enable every entity created disabled (moving hardware, rare readings), then reload."""
    registry = er.async_get(hass)
    for item in er.async_entries_for_config_entry(registry, entry.entry_id):
        if item.disabled_by is er.RegistryEntryDisabler.INTEGRATION:
            registry.async_update_entity(item.entity_id, disabled_by=None)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await wait_connected(hass, entry)


@pytest.fixture
async def rig(hass: HomeAssistant, sim: NinaSimulator, setup_entry: SetupEntry) -> MockConfigEntry:
    """Return an entry against a simulator whose eleven device classes are all connected."""
    sim.set_plugin_version("2.2.15.0")
    await sim.equipment.connect()
    entry = await setup_entry()
    await wait_connected(hass, entry)
    equipment = coordinator_of(entry).equipment
    await settle(hass, lambda: equipment.known_classes == set(DEVICE_CLASSES), "all classes")
    return entry


async def test_one_device_per_class_with_its_readings(
    hass: HomeAssistant, sim: NinaSimulator, rig: MockConfigEntry
) -> None:
    """Test each class's device (via the NINA device, named from the equipment) and readings."""
    devices = dr.async_get(hass)
    nina = devices.async_get_device(identifiers={(DOMAIN, INSTANCE)})
    assert nina is not None
    camera = devices.async_get_device(identifiers={(DOMAIN, f"{INSTANCE}_camera")})
    assert camera is not None
    assert camera.name == "ZWO ASI2600MM Pro"
    assert camera.via_device_id == nina.id
    for device_class in DEVICE_CLASSES:
        device = devices.async_get_device(identifiers={(DOMAIN, f"{INSTANCE}_{device_class}")})
        assert device is not None and device.via_device_id == nina.id, device_class

    # Camera: cooling from the air's temperature towards -10 °C.
    temperature = float(state(hass, "sensor", "camera_cooler_temperature"))
    assert -10.0 <= temperature <= 20.0
    assert attrs(hass, "sensor", "camera_cooler_temperature")[ATTR_DEVICE_CLASS] == "temperature"
    assert float(state(hass, "sensor", "camera_cooler_power")) >= 0
    assert state(hass, "switch", "camera_cooler") == STATE_ON
    assert float(state(hass, "number", "camera_cooler_set_point")) == -10.0
    # Mount: parked at start.
    assert state(hass, "binary_sensor", "mount_parked") == STATE_ON
    assert state(hass, "sensor", "mount_side_of_pier") in {"east", "west"}
    assert attrs(hass, "sensor", "mount_time_to_meridian_flip")[ATTR_UNIT_OF_MEASUREMENT] == "min"
    # Focuser, guider, filter wheel, rotator, flat panel, dome.
    assert state(hass, "sensor", "focuser_focuser_position") == "12000"
    assert state(hass, "sensor", "focuser_last_autofocus") == "unknown"  # none yet
    assert state(hass, "sensor", "guider_guider_state") == "stopped"
    assert state(hass, "sensor", "rotator_rotator_position") == "0.0"
    assert state(hass, "sensor", "flatdevice_flat_cover") == "closed"
    assert state(hass, "switch", "flatdevice_flat_light") == STATE_OFF
    assert state(hass, "sensor", "dome_dome_shutter") == "closed"
    # Safety: HA's safety class is on when unsafe.
    assert state(hass, "binary_sensor", "safetymonitor_safety") == STATE_OFF
    assert attrs(hass, "binary_sensor", "safetymonitor_safety")[ATTR_DEVICE_CLASS] == "safety"
    # Weather, with device classes and units.
    assert float(state(hass, "sensor", "weather_cloud_cover")) < 20
    assert attrs(hass, "sensor", "weather_wind_speed")[ATTR_DEVICE_CLASS] == "wind_speed"
    assert attrs(hass, "sensor", "weather_pressure")[ATTR_UNIT_OF_MEASUREMENT] == "hPa"
    assert attrs(hass, "sensor", "weather_rain_rate")[ATTR_DEVICE_CLASS] == (
        "precipitation_intensity"
    )
    # Switch hub: channels by their own names.
    assert state(hass, "switch", "switch_channel_0") == STATE_ON
    assert state(hass, "number", "switch_channel_2") == "50.0"
    assert state(hass, "sensor", "switch_channel_3") == "12.6"
    # Rarely used readings and hardware-moving controls are created disabled.
    registry = er.async_get(hass)
    for platform, key in [
        ("sensor", "mount_right_ascension"),
        ("sensor", "weather_sky_brightness"),
        ("button", "mount_mount_unpark"),
        ("button", "dome_dome_open"),
        ("button", "flatdevice_flat_cover_open"),
        ("number", "focuser_focuser_target"),
        ("switch", "mount_tracking"),
        ("select", "filterwheel_filter"),
    ]:
        item = registry.async_get(entity_id(hass, platform, key))
        assert item is not None and item.disabled_by is er.RegistryEntryDisabler.INTEGRATION, key


async def test_events_and_polls_update_readings(
    hass: HomeAssistant, sim: NinaSimulator, rig: MockConfigEntry
) -> None:
    """Test that announcing events re-read their class and that polls move the rest."""
    # An event NINA sends (the mount unparked at the observatory, not from HA).
    await sim.equipment.act("/equipment/mount/unpark")  # from NINA's own UI
    await settle(
        hass, lambda: state(hass, "binary_sensor", "mount_parked") == STATE_OFF, "unparked"
    )
    # A front arrives: SAFETY-CHANGED says so at once.
    await sim.equipment.weather_front()
    await settle(
        hass, lambda: state(hass, "binary_sensor", "safetymonitor_safety") == STATE_ON, "unsafe"
    )
    # Weather has no event: the next poll reads it.
    start = sim.equipment.clock()
    sim.equipment.clock = lambda: start + timedelta(minutes=15)
    async_fire_time_changed(hass, dt_util.utcnow() + POLL_INTERVAL + timedelta(seconds=1))
    await settle(
        hass, lambda: float(state(hass, "sensor", "weather_cloud_cover")) > 80, "the front"
    )


async def test_classes_come_and_go(
    hass: HomeAssistant, sim: NinaSimulator, setup_entry: SetupEntry
) -> None:
    """Test entities appear when a class connects and are unavailable when it disconnects."""
    entry = await setup_entry()
    await wait_connected(hass, entry)
    registry = er.async_get(hass)
    assert registry.async_get_entity_id("sensor", DOMAIN, f"{INSTANCE}_dome_dome_shutter") is None
    await sim.equipment.connect("DOME")
    await settle(hass, lambda: state(hass, "sensor", "dome_dome_shutter") == "closed", "dome")
    await sim.equipment.disconnect("DOME")
    await settle(
        hass, lambda: state(hass, "sensor", "dome_dome_shutter") == STATE_UNAVAILABLE, "gone"
    )
    await sim.equipment.connect("DOME")
    await settle(hass, lambda: state(hass, "sensor", "dome_dome_shutter") == "closed", "back")
    await sim.set_offline(True)
    await settle(
        hass,
        lambda: state(hass, "sensor", "dome_dome_shutter") == STATE_UNAVAILABLE,
        "NINA gone",
    )


async def test_an_older_plugin_and_a_missing_endpoint(
    hass: HomeAssistant,
    sim: NinaSimulator,
    setup_entry: SetupEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Test per-device reads without the bundle, and one log line for a missing endpoint."""
    caplog.set_level(logging.INFO)
    sim.equipment.bundle = False
    await sim.equipment.connect("MOUNT", "WEATHER")
    entry = await setup_entry()
    await wait_connected(hass, entry)
    await settle(hass, lambda: state(hass, "binary_sensor", "mount_parked") == STATE_ON, "mount")
    assert float(state(hass, "sensor", "weather_humidity")) > 0
    assert sum("/equipment/info" in r.getMessage() for r in caplog.records) == 1
    assert entry.state is ConfigEntryState.LOADED


async def test_every_control_reaches_nina(
    hass: HomeAssistant, sim: NinaSimulator, rig: MockConfigEntry
) -> None:
    """Test each button, switch, number and select against the simulator."""
    await enable_all(hass, rig)
    equipment = coordinator_of(rig).equipment
    await settle(hass, lambda: equipment.known_classes == set(DEVICE_CLASSES), "classes again")
    # Setup, reload and the restored states sent NINA nothing: only presses below do.
    assert sim.equipment.calls == []

    async def press(key: str) -> None:
        await hass.services.async_call(
            "button", "press", {"entity_id": entity_id(hass, "button", key)}, blocking=True
        )

    sent = sim.equipment.calls
    for key, path in [
        ("mount_mount_unpark", "/equipment/mount/unpark"),
        ("mount_mount_home", "/equipment/mount/home"),
        ("mount_mount_stop_slew", "/equipment/mount/slew/stop"),
        ("mount_mount_park", "/equipment/mount/park"),
        ("focuser_autofocus", "/equipment/focuser/auto-focus"),
        ("camera_abort_exposure", "/equipment/camera/abort-exposure"),
        ("guider_guiding_start", "/equipment/guider/start"),
        ("guider_guiding_stop", "/equipment/guider/stop"),
        ("dome_dome_open", "/equipment/dome/open"),
        ("dome_dome_stop", "/equipment/dome/stop"),
        ("dome_dome_close", "/equipment/dome/close"),
        ("dome_dome_park", "/equipment/dome/park"),
        ("flatdevice_flat_cover_open", "/equipment/flatdevice/set-cover"),
        ("flatdevice_flat_cover_close", "/equipment/flatdevice/set-cover"),
        ("sequence_start", "/sequence/start"),
        ("sequence_stop", "/sequence/stop"),
    ]:
        await press(key)
        assert sent[-1][0] == path, key
    assert ("/equipment/guider/start", {"calibrate": "false"}) in sent
    names = [e.name for e in sim.emitted]
    for event in ("MOUNT-UNPARKED", "MOUNT-HOMED", "MOUNT-PARKED", "AUTOFOCUS-FINISHED",
                  "DOME-SHUTTER-OPENED", "DOME-SHUTTER-CLOSED", "FLAT-COVER-OPENED",
                  "FLAT-COVER-CLOSED", "SEQUENCE-STARTING"):  # fmt: skip
        assert event in names, event
    # The autofocus report is read after AUTOFOCUS-FINISHED.
    await settle(
        hass,
        lambda: state(hass, "sensor", "focuser_last_autofocus_position") == "12000.0",
        "last autofocus",
    )

    async def switch(key: str, on: bool) -> None:
        service = "turn_on" if on else "turn_off"
        await hass.services.async_call(
            "switch", service, {"entity_id": entity_id(hass, "switch", key)}, blocking=True
        )

    await switch("camera_cooler", False)
    assert sent[-1][0] == "/equipment/camera/warm"
    await settle(hass, lambda: state(hass, "switch", "camera_cooler") == STATE_OFF, "warming")
    await switch("camera_cooler", True)
    assert sent[-1] == ("/equipment/camera/cool", {"temperature": "-10", "minutes": "-1"})
    await switch("camera_dew_heater", True)
    await settle(hass, lambda: state(hass, "switch", "camera_dew_heater") == STATE_ON, "dew")
    await switch("flatdevice_flat_light", True)
    await settle(hass, lambda: state(hass, "switch", "flatdevice_flat_light") == STATE_ON, "lit")
    await press("mount_mount_unpark")
    await switch("mount_tracking", False)
    assert sent[-1] == ("/equipment/mount/tracking", {"mode": "5"})
    await switch("switch_channel_1", True)
    assert sent[-1] == ("/equipment/switch/set", {"index": "1", "value": "1"})
    await settle(hass, lambda: state(hass, "switch", "switch_channel_1") == STATE_ON, "channel")

    async def number(key: str, value: float) -> None:
        await hass.services.async_call(
            "number",
            "set_value",
            {"entity_id": entity_id(hass, "number", key), "value": value},
            blocking=True,
        )

    await number("camera_cooler_set_point", -15)
    await settle(
        hass, lambda: float(state(hass, "number", "camera_cooler_set_point")) == -15, "set point"
    )
    await number("flatdevice_flat_brightness", 200)
    await settle(
        hass, lambda: state(hass, "number", "flatdevice_flat_brightness") == "200", "brightness"
    )
    assert attrs(hass, "number", "flatdevice_flat_brightness")["max"] == 255
    await number("focuser_focuser_target", 11000)
    await settle(hass, lambda: state(hass, "sensor", "focuser_focuser_position") == "11000", "af")
    await number("rotator_rotator_target", 90)
    await settle(hass, lambda: state(hass, "sensor", "rotator_rotator_position") == "90.0", "rot")
    await number("switch_channel_2", 75)
    assert sent[-1] == ("/equipment/switch/set", {"index": "2", "value": "75"})

    select = entity_id(hass, "select", "filterwheel_filter")
    assert attrs(hass, "select", "filterwheel_filter")["options"][:3] == ["L", "R", "G"]
    await hass.services.async_call(
        "select", "select_option", {"entity_id": select, "option": "OIII"}, blocking=True
    )
    await settle(hass, lambda: state(hass, "sensor", "filterwheel_selected_filter") == "OIII", "f")
    with pytest.raises(ServiceValidationError):  # not among the wheel's filters
        await hass.services.async_call(
            "select", "select_option", {"entity_id": select, "option": "Clear"}, blocking=True
        )


async def test_refusals_are_translated_errors(
    hass: HomeAssistant, sim: NinaSimulator, rig: MockConfigEntry
) -> None:
    """Test that Success:false (HTTP 200) becomes a HomeAssistantError saying what failed."""
    park = entity_id(hass, "button", "mount_mount_park")
    sim.equipment.fail_next("/equipment/mount/park", "Driver did not respond", 500)
    with pytest.raises(HomeAssistantError) as refused:
        await hass.services.async_call("button", "press", {"entity_id": park}, blocking=True)
    assert refused.value.translation_key == "control_refused"
    assert refused.value.translation_placeholders == {
        "action": "mount_park",
        "error": "Driver did not respond",
    }
    assert "Driver did not respond" in str(refused.value)
    await sim.equipment.disconnect("GUIDER")
    await sim.equipment.connect("GUIDER")  # back, but NINA refuses while parked:
    with pytest.raises(HomeAssistantError, match="Mount parked"):
        await hass.services.async_call(DOMAIN, "slew", {"ra": 10.68, "dec": 41.27}, blocking=True)


async def test_actions_need_an_admin_and_reach_nina(
    hass: HomeAssistant, sim: NinaSimulator, rig: MockConfigEntry, hass_read_only_user: Any
) -> None:
    """Test load_sequence, cool_camera and slew: admin only, checked by NINA's answer."""
    with pytest.raises(Unauthorized):
        await hass.services.async_call(
            DOMAIN,
            "cool_camera",
            {"temperature": -5},
            blocking=True,
            context=Context(user_id=hass_read_only_user.id),
        )
    await hass.services.async_call(DOMAIN, "cool_camera", {"temperature": -5}, blocking=True)
    await settle(
        hass, lambda: float(state(hass, "number", "camera_cooler_set_point")) == -5, "cooling"
    )
    await hass.services.async_call(
        DOMAIN, "load_sequence", {"sequence": "Narrowband"}, blocking=True
    )
    assert sim.equipment.loaded_sequence == "Narrowband"
    with pytest.raises(HomeAssistantError, match="Sequence not found"):
        await hass.services.async_call(DOMAIN, "load_sequence", {"sequence": "x"}, blocking=True)
    await sim.equipment.act("/equipment/mount/unpark")
    await hass.services.async_call(
        DOMAIN, "slew", {"ra": 10.68, "dec": 41.27, "center": True}, blocking=True
    )
    assert sim.equipment.calls[-1] == (
        "/equipment/mount/slew",
        {"ra": "10.68", "dec": "41.27", "center": "true", "waitForResult": "false"},
    )
    await settle(hass, lambda: float(state(hass, "sensor", "mount_mount_altitude")) != 0, "slewed")
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(DOMAIN, "slew", {"ra": 400, "dec": 0}, blocking=True)


async def test_a_nina_restart_is_read_again(
    hass: HomeAssistant, sim: NinaSimulator, rig: MockConfigEntry
) -> None:
    """Test that a reconnect re-reads everything: equipment NINA lost in a restart goes away."""
    engine = coordinator_of(rig).engine
    reconnects = engine.health.reconnects
    await sim.restart()  # NINA comes back with no device connected, and says nothing of it
    await settle(hass, lambda: engine.health.reconnects > reconnects, "the reconnect")
    await settle(
        hass,
        lambda: state(hass, "sensor", "camera_cooler_temperature") == STATE_UNAVAILABLE,
        "the camera gone",
    )
    await sim.equipment.connect("CAMERA")
    await settle(
        hass,
        lambda: state(hass, "sensor", "camera_cooler_temperature") != STATE_UNAVAILABLE,
        "the camera back",
    )


async def test_a_stale_equipment_device_can_be_deleted(
    hass: HomeAssistant, sim: NinaSimulator, rig: MockConfigEntry
) -> None:
    """Test that only equipment devices not connected can be deleted by the user."""
    devices = dr.async_get(hass)

    def device(suffix: str) -> dr.DeviceEntry:
        found = devices.async_get_device(identifiers={(DOMAIN, f"{INSTANCE}{suffix}")})
        assert found is not None
        return found

    await sim.equipment.disconnect("ROTATOR")
    await settle(
        hass,
        lambda: state(hass, "sensor", "rotator_rotator_position") == STATE_UNAVAILABLE,
        "rotator gone",
    )
    assert await integration.async_remove_config_entry_device(hass, rig, device("_rotator"))
    assert not await integration.async_remove_config_entry_device(hass, rig, device("_camera"))
    assert not await integration.async_remove_config_entry_device(hass, rig, device(""))


async def test_diagnostics_show_the_equipment(
    hass: HomeAssistant,
    sim: NinaSimulator,
    rig: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    """Test that diagnostics hold each class's reading and how the plugin was read."""
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, rig)
    equipment = diagnostics["equipment_devices"]
    assert equipment["bundle"] is True
    assert equipment["missing_endpoints"] == []
    assert set(equipment["devices"]) == set(DEVICE_CLASSES)
    assert equipment["devices"]["camera"]["name"] == "ZWO ASI2600MM Pro"
    assert equipment["devices"]["camera"]["set_point"] == -10.0
