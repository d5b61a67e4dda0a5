"""Equipment model and client against the simulator over real sockets, and hostile answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
import contextlib
from datetime import datetime, timedelta
import logging
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.nina_session.engine.client import NinaClient, NinaConnectionError
from custom_components.nina_session.engine.equipment import (
    CAMERA,
    DEVICE_CLASSES,
    DOME,
    FILTERWHEEL,
    FLATDEVICE,
    FOCUSER,
    GUIDER,
    MOUNT,
    ROTATOR,
    SAFETYMONITOR,
    SWITCH,
    WEATHER,
    Autofocus,
    Camera,
    Dome,
    Equipment,
    FilterWheel,
    FlatDevice,
    Focuser,
    Guider,
    Mount,
    Rotator,
    SafetyMonitor,
    Switch,
    Weather,
    announced_class,
    parse_bundle,
    parse_device,
)
from custom_components.nina_session.engine.equipment_client import (
    EquipmentClient,
    EquipmentControlError,
)
from simulator import NinaSimulator
from simulator.equipment import sidereal_hours


@pytest.fixture(autouse=True)
def _loopback_sockets(request: pytest.FixtureRequest) -> None:
    """Allow sockets when the homeassistant pytest plugin (pytest-socket) blocks them."""
    with contextlib.suppress(pytest.FixtureLookupError):
        request.getfixturevalue("socket_enabled")


@pytest.fixture
async def sim() -> AsyncIterator[NinaSimulator]:
    """Run a simulator whose every device class is connected."""
    async with NinaSimulator(plugin_version="2.2.15.0") as server:
        await server.equipment.connect()
        yield server


@pytest.fixture
async def equipment(sim: NinaSimulator) -> AsyncIterator[EquipmentClient]:
    """Return an equipment client for the simulator."""
    async with aiohttp.ClientSession() as session:
        yield EquipmentClient(NinaClient(session, sim.host, sim.port))


async def test_every_device_class_is_read_from_the_bundle(
    sim: NinaSimulator, equipment: EquipmentClient
) -> None:
    """Test that the bundle gives a typed, connected reading of all eleven classes."""
    devices = await equipment.read()
    assert equipment.has_bundle is True
    assert set(devices) == set(DEVICE_CLASSES)
    model = Equipment(devices)
    assert model.connected() == frozenset(DEVICE_CLASSES)
    camera = model.get(CAMERA, Camera)
    assert camera is not None
    assert camera.label == "ZWO ASI2600MM Pro"
    assert camera.cooler_on is True
    assert isinstance(camera.temperature, float)
    assert camera.set_point == -10.0
    mount = model.get(MOUNT, Mount)
    assert mount is not None
    assert mount.at_park is True
    assert mount.side_of_pier in {"east", "west"}
    focuser = model.get(FOCUSER, Focuser)
    assert focuser is not None and focuser.position == 12000
    guider = model.get(GUIDER, Guider)
    assert guider is not None and guider.state == "Stopped"
    wheel = model.get(FILTERWHEEL, FilterWheel)
    assert wheel is not None and [f.name for f in wheel.filters][:2] == ["L", "R"]
    rotator = model.get(ROTATOR, Rotator)
    assert rotator is not None and rotator.position == 0.0
    flat = model.get(FLATDEVICE, FlatDevice)
    assert flat is not None and flat.cover_state == "Closed" and flat.max_brightness == 255
    dome = model.get(DOME, Dome)
    assert dome is not None and dome.shutter == "closed" and dome.at_park is True
    safety = model.get(SAFETYMONITOR, SafetyMonitor)
    assert safety is not None and safety.is_safe is True
    weather = model.get(WEATHER, Weather)
    assert weather is not None
    assert weather.cloud_cover is not None and weather.cloud_cover < 20
    assert weather.sky_brightness is None  # "NaN": the driver lacks it
    assert isinstance(weather.sky_quality, float)  # a number written as a string
    switch = model.get(SWITCH, Switch)
    assert switch is not None
    assert [(c.name, c.writable, c.is_boolean) for c in switch.channels] == [
        ("Power 12V", True, True),
        ("Dew heater A", True, True),
        ("Dew heater B power", True, False),
        ("Input voltage", False, False),
    ]


async def test_an_older_plugin_is_read_device_by_device(
    sim: NinaSimulator, equipment: EquipmentClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Test that without /equipment/info the per-device reads give the same model, asked once."""
    sim.equipment.bundle = False
    caplog.set_level(logging.INFO)
    devices = await equipment.read()
    assert equipment.has_bundle is False
    assert set(devices) == set(DEVICE_CLASSES)
    assert isinstance(devices[MOUNT], Mount)
    await equipment.read([MOUNT])
    lines = [r for r in caplog.records if "/equipment/info" in r.getMessage()]
    assert len(lines) == 1  # one log line, and the bundle is not asked again


async def test_a_missing_device_endpoint_is_skipped_once(
    aiohttp_server_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Test that a plugin answering 404 for a device leaves it out with one log line."""
    caplog.set_level(logging.INFO)
    async with aiohttp.ClientSession() as session:
        equipment = EquipmentClient(NinaClient(session, "127.0.0.1", aiohttp_server_port))
        first = await equipment.read([CAMERA, DOME])
        second = await equipment.read([CAMERA, DOME])
    assert set(first) == set(second) == {CAMERA}
    assert "/equipment/dome/info" in equipment.missing
    assert sum("/equipment/dome/info" in r.getMessage() for r in caplog.records) == 1


@pytest.fixture
async def aiohttp_server_port() -> AsyncIterator[int]:
    """Serve a plugin without the bundle and the dome endpoint; its camera info is hostile."""

    async def camera(request: web.Request) -> web.Response:
        body = {
            "Success": True,
            "Response": {"Connected": True, "Temperature": "NaN", "Gain": "x", "CoolerOn": 1},
        }
        return web.json_response(body)

    app = web.Application()
    app.router.add_get("/v2/api/equipment/camera/info", camera)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield runner.addresses[0][1]
    await runner.cleanup()


def test_hostile_fields_become_none() -> None:
    """Test that NaN, wrong types, missing keys and non-objects give None, never an error."""
    camera = parse_device(CAMERA, {"Connected": "yes", "Temperature": "NaN", "Gain": True})
    assert isinstance(camera, Camera)
    assert (camera.connected, camera.temperature, camera.gain) == (False, None, None)
    assert parse_device(MOUNT, [1, 2]) is None
    assert parse_device(MOUNT, None) is None
    mount = parse_device(MOUNT, {"Connected": True, "SideOfPier": "pierEast", "AtPark": "no"})
    assert isinstance(mount, Mount)
    assert (mount.side_of_pier, mount.at_park) == ("east", None)
    guider = parse_device(GUIDER, {"Connected": True, "RMSError": {"Total": "bad"}})
    assert isinstance(guider, Guider) and guider.rms_total is None
    weather = parse_device(WEATHER, {"Connected": True, "Temperature": float("inf")})
    assert isinstance(weather, Weather) and weather.temperature is None
    wheel = parse_device(FILTERWHEEL, {"AvailableFilters": [{"Name": ""}, 3, {"Name": "Ha"}]})
    assert isinstance(wheel, FilterWheel) and [f.name for f in wheel.filters] == ["Ha"]
    switch = parse_device(SWITCH, {"WritableSwitches": [{"Name": "no id"}], "ReadonlySwitches": 1})
    assert isinstance(switch, Switch) and switch.channels == ()
    assert parse_bundle("not an object") == {}
    assert set(parse_bundle({"Camera": {}, "Dome": "x", "Unknown": {}})) == {CAMERA}


def test_autofocus_report_and_events() -> None:
    """Test the last-AF report's fields and which events announce which class."""
    report = Autofocus.parse(
        {
            "Timestamp": "2026-11-24T22:10:05.1234567+01:00",
            "Filter": "L",
            "Temperature": 4.5,
            "CalculatedFocusPoint": {"Position": 12040.4, "Value": 2.1},
            "InitialFocusPoint": {"Position": 12100},
            "Duration": "00:03:41.5120000",
        }
    )
    assert report.time == datetime.fromisoformat("2026-11-24T22:10:05.123456+01:00")
    assert (report.position, report.hfr, report.initial_position) == (12040.4, 2.1, 12100.0)
    assert report.duration == pytest.approx(221.512)
    assert Autofocus.parse({"Duration": "soon"}).duration is None
    assert announced_class("MOUNT-PARKED") == MOUNT
    assert announced_class("FLAT-COVER-OPENED") == FLATDEVICE
    assert announced_class("SAFETY-CHANGED") == SAFETYMONITOR
    assert announced_class("IMAGE-SAVE") is None


async def test_readings_move_through_the_night(
    sim: NinaSimulator, equipment: EquipmentClient
) -> None:
    """Test cooling at dusk, tracking towards the flip, the dawn front and a lost device."""
    start = sim.equipment.clock()
    sim.equipment.clock = lambda: start
    before = Equipment(await equipment.read())
    await equipment.call("mount_unpark")
    # A target three hours east of the meridian now: its flip is ahead whatever the time of
    # day (a fixed RA near the antimeridian flips its hour angle from -12 h to +12 h).
    ra_hours = (sidereal_hours(start) + 3) % 24
    await equipment.call("mount_slew", {"ra": ra_hours * 15, "dec": 41.27})
    sim.equipment.clock = lambda: start + timedelta(minutes=1)
    early = Equipment(await equipment.read())
    sim.equipment.clock = lambda: start + timedelta(minutes=31)
    await sim.equipment.weather_front()
    sim.equipment.clock = lambda: start + timedelta(minutes=45)
    late = Equipment(await equipment.read())

    def camera(e: Equipment) -> Camera:
        reading = e.get(CAMERA, Camera)
        assert reading is not None and reading.temperature is not None
        return reading

    # Cooling: from the air's temperature down to the set point.
    assert camera(before).temperature > camera(early).temperature > camera(late).temperature  # type: ignore[operator]
    assert camera(late).temperature == pytest.approx(-10.0, abs=0.2)
    # Tracking: RA/Dec stay, the hour angle grows, the flip comes 30 minutes closer.
    m_early, m_late = early.get(MOUNT, Mount), late.get(MOUNT, Mount)
    assert m_early is not None and m_late is not None
    assert m_early.right_ascension == m_late.right_ascension == pytest.approx(ra_hours, 1e-4)
    assert m_early.tracking_enabled is True
    flip_early, flip_late = m_early.time_to_meridian_flip, m_late.time_to_meridian_flip
    assert flip_early is not None and flip_late is not None
    assert flip_early - flip_late == pytest.approx(44 / 60 * 1.0027, abs=0.01)
    # The front: clouds, wind, rain, and the sky unsafe.
    w_early, w_late = early.get(WEATHER, Weather), late.get(WEATHER, Weather)
    assert w_early is not None and w_late is not None
    assert (w_late.cloud_cover or 0) > 80 > (w_early.cloud_cover or 100)
    assert (w_late.wind_speed or 0) > (w_early.wind_speed or 0)
    assert (w_late.rain_rate or 0) > 0
    safety = late.get(SAFETYMONITOR, SafetyMonitor)
    assert safety is not None and safety.is_safe is False
    # A device that drops out.
    await sim.equipment.disconnect("ROTATOR")
    after = Equipment(await equipment.read())
    assert after.get(ROTATOR, Rotator) is None
    assert ROTATOR not in after.connected()
    assert ROTATOR in after.devices  # still reported, as not connected


async def test_controls_change_state_and_send_nina_events(
    sim: NinaSimulator, equipment: EquipmentClient
) -> None:
    """Test that each control call answers, changes what is read and sends NINA's event."""
    calls: list[tuple[str, dict[str, Any] | None, str | None]] = [
        ("mount_unpark", None, "MOUNT-UNPARKED"),
        ("mount_home", None, "MOUNT-HOMED"),
        ("mount_park", None, "MOUNT-PARKED"),
        ("guider_start", {"calibrate": False}, "GUIDER-START"),
        ("guider_stop", None, "GUIDER-STOP"),
        ("dome_open", None, "DOME-SHUTTER-OPENED"),
        ("dome_close", None, "DOME-SHUTTER-CLOSED"),
        ("flat_cover", {"closed": False}, "FLAT-COVER-OPENED"),
        ("flat_light", {"on": True}, "FLAT-LIGHT-TOGGLED"),
        ("flat_brightness", {"brightness": 128}, "FLAT-BRIGHTNESS-CHANGED"),
        ("filter_change", {"filterId": 4}, "FILTERWHEEL-CHANGED"),
        ("rotator_move", {"position": 90.0}, "ROTATOR-MOVED"),
        ("autofocus", {"cancel": False}, "AUTOFOCUS-FINISHED"),
        ("sequence_start", {"skipValidation": True}, "SEQUENCE-STARTING"),
        ("sequence_stop", None, "SEQUENCE-FINISHED"),
        ("camera_cool", {"temperature": -15.0, "minutes": -1}, None),
        ("camera_dew_heater", {"power": True}, None),
        ("switch_set", {"index": 1, "value": 1}, None),
        ("focuser_move", {"position": 11000}, None),
    ]
    for action, params, event in calls:
        before = len(sim.emitted)
        message = await equipment.call(action, params)
        assert message, action
        if event is not None:
            assert event in [e.name for e in sim.emitted[before:]], action
    model = Equipment(await equipment.read())
    camera, mount = model.get(CAMERA, Camera), model.get(MOUNT, Mount)
    assert camera is not None and camera.set_point == -15.0 and camera.dew_heater_on is True
    assert mount is not None and mount.at_park is True
    wheel = model.get(FILTERWHEEL, FilterWheel)
    assert wheel is not None and wheel.selected is not None and wheel.selected.name == "Ha"
    flat = model.get(FLATDEVICE, FlatDevice)
    assert flat is not None and (flat.cover_state, flat.light_on, flat.brightness) == (
        "Open",
        True,
        128,
    )
    switch = model.get(SWITCH, Switch)
    assert switch is not None and switch.channels[1].value == 1.0
    focuser = model.get(FOCUSER, Focuser)
    assert focuser is not None and focuser.position == 11000
    report = await equipment.last_autofocus()
    assert report is not None and report.position is not None and report.duration is not None
    assert ("/equipment/flatdevice/set-cover", {"closed": "false"}) in sim.equipment.calls


async def test_refused_calls_raise_with_the_plugins_reason(
    sim: NinaSimulator, equipment: EquipmentClient
) -> None:
    """Test that Success:false in an HTTP 200 answer raises, naming action and reason."""
    assert await equipment.last_autofocus() is None  # "No AF available" until the first run
    with pytest.raises(EquipmentControlError) as refused:
        await equipment.call("mount_home")  # parked
    assert (refused.value.action, refused.value.error) == ("mount_home", "Mount parked")
    assert refused.value.status_code == 409
    sim.equipment.fail_next("/equipment/dome/open", "Driver timeout", 500)
    with pytest.raises(EquipmentControlError, match="dome_open failed: Driver timeout"):
        await equipment.call("dome_open")
    await equipment.call("dome_open")  # only the next call failed
    await sim.equipment.disconnect("MOUNT")
    with pytest.raises(EquipmentControlError, match="Mount not connected"):
        await equipment.call("mount_unpark")
    with pytest.raises(EquipmentControlError, match="Sequence not found"):
        await equipment.call("sequence_load", {"sequenceName": "nope"})
    assert await equipment.sequences() == ["Deep sky LRGB", "Narrowband", "Flats"]
    await equipment.call("sequence_load", {"sequenceName": "Narrowband"})
    assert sim.equipment.loaded_sequence == "Narrowband"
    with pytest.raises(ValueError, match="unknown equipment action"):
        await equipment.call("self_destruct")
    await sim.set_offline(True)
    with pytest.raises(NinaConnectionError):
        await equipment.call("dome_close")


async def test_the_equipment_is_driven_over_http(sim: NinaSimulator) -> None:
    """Test /sim/equipment: disconnect, connect, the front, the bundle and a failing call."""
    base = f"{sim.base_url}/sim/equipment"
    async with aiohttp.ClientSession() as session:
        async with session.post(base, params={"disconnect": "dome"}) as resp:
            assert "dome" not in (await resp.json())["connected"]
        async with session.post(base, params={"connect": "DOME", "front": "1"}) as resp:
            assert "dome" in (await resp.json())["connected"]
        assert sim.equipment.state.front_since is not None
        assert sim.equipment.state.safe is False
        async with session.post(base, params={"bundle": "0", "fail": "/sequence/start"}) as resp:
            assert (await resp.json())["bundle"] is False
        equipment = EquipmentClient(NinaClient(session, sim.host, sim.port))
        with pytest.raises(EquipmentControlError, match="Unknown error"):
            await equipment.call("sequence_start")
