"""The simulated observatory's equipment: readings that move, and control calls.

Serves what christian-photo/ninaAPI 2.2.15 serves: the `/equipment/info` bundle, the
per-device `/equipment/<device>/info`, `/equipment/focuser/last-af`, the sequence list and
the control calls (all GET with query parameters). Readings follow the clock: the camera
cools down towards its set point once connected (dusk) and warms up when told to; the mount
tracks its target, so its hour angle grows and the time to the meridian flip counts down;
the air cools through the night, and a weather front (`weather_front`) brings cloud, wind
and rain at dawn. Devices connect and disconnect with their events (`connect`,
`disconnect`). A control call changes the state and sends the events NINA sends for it, and
refuses as the plugin does (HTTP 200, `Success: false`, its messages); `fail_next` makes the
next call of an endpoint fail that way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
import math
from typing import Any

from aiohttp import web

from simulator.events import JsonDict, SimEvent
from simulator.night import CATALOG

Emit = Callable[[SimEvent], Awaitable[None]]
Reply = Callable[[JsonDict], web.Response]
#: A control call's answer: the plugin's message, or (error, status code).
type Answer = str | tuple[str, int]

LATITUDE = 50.0
LONGITUDE = 8.0
#: Camera cooling and warming: an exponential approach with this time constant (seconds).
COOLING_TAU = 60.0
#: Where a parked mount points: the pole.
PARK_DEC = 90.0

# Event prefix (as in X-CONNECTED) → device path segment.
PREFIXES = {
    "CAMERA": "camera",
    "MOUNT": "mount",
    "FOCUSER": "focuser",
    "GUIDER": "guider",
    "FILTERWHEEL": "filterwheel",
    "ROTATOR": "rotator",
    "FLAT": "flatdevice",
    "DOME": "dome",
    "SAFETY": "safetymonitor",
    "WEATHER": "weather",
    "SWITCH": "switch",
}
BUNDLE_KEYS = {
    "camera": "Camera",
    "dome": "Dome",
    "filterwheel": "FilterWheel",
    "flatdevice": "FlatDevice",
    "focuser": "Focuser",
    "guider": "Guider",
    "mount": "Mount",
    "rotator": "Rotator",
    "safetymonitor": "SafetyMonitor",
    "switch": "Switch",
    "weather": "WeatherData",
}
NAMES = {
    "camera": "ZWO ASI2600MM Pro",
    "mount": "EQ6-R Pro",
    "focuser": "ZWO EAF",
    "guider": "PHD2",
    "filterwheel": "ZWO EFW",
    "rotator": "Pegasus Falcon",
    "flatdevice": "Flip-Flat",
    "dome": "Roll-off roof",
    "safetymonitor": "Cloud sensor",
    "weather": "Observing conditions",
    "switch": "Pegasus Powerbox",
}
FILTERS = ("L", "R", "G", "B", "Ha", "OIII", "SII")
TRACKING_MODES = ("Siderial", "Lunar", "Solar", "King", "Custom", "Stopped")


def _error(message: str, code: int) -> JsonDict:
    return {"Response": "", "Error": message, "StatusCode": code, "Success": False, "Type": "API"}


def _ok(response: Any) -> JsonDict:
    return {"Response": response, "Error": "", "StatusCode": 200, "Success": True, "Type": "API"}


def sidereal_hours(when: datetime) -> float:
    """Local mean sidereal time at LONGITUDE, in hours."""
    days = (when.astimezone(UTC) - datetime(2000, 1, 1, 12, tzinfo=UTC)).total_seconds() / 86400
    return (18.697374558 + 24.06570982441908 * days + LONGITUDE / 15) % 24


def _alt_az(ha_hours: float, dec: float) -> tuple[float, float]:
    ha, d, lat = (math.radians(x) for x in (ha_hours * 15, dec, LATITUDE))
    sin_alt = math.sin(d) * math.sin(lat) + math.cos(d) * math.cos(lat) * math.cos(ha)
    alt = math.asin(max(-1.0, min(1.0, sin_alt)))
    az = math.atan2(-math.cos(d) * math.sin(ha), math.sin(d) - math.sin(lat) * sin_alt)
    return math.degrees(alt), math.degrees(az) % 360


def _approach(start: float, goal: float, since: datetime | None, now: datetime) -> float:
    if since is None:
        return goal
    elapsed = max(0.0, (now - since).total_seconds())
    return goal + (start - goal) * math.exp(-elapsed / COOLING_TAU)


@dataclass
class SimEquipmentState:
    """What the equipment is doing; readings are computed from it and the clock."""

    connected: set[str] = field(default_factory=set)  # device path segments
    # camera
    set_point: float = -10.0
    cooler_on: bool = False
    cool_from: float = 15.0  # temperature when cooling/warming started
    cool_since: datetime | None = None
    dew_heater: bool = False
    exposing: bool = False
    # mount
    parked: bool = True
    ra: float = 0.0  # hours
    dec: float = PARK_DEC
    tracking_mode: int = 0
    homed: bool = False
    #: Parked by MOUNT-PARKED (a user, a shutdown): frames no longer move the mount; only an
    #: unpark or a scheduler slew does. The mount parked since power-on is not held.
    park_held: bool = False
    # others
    filter: str | None = None
    filter_id: int | None = None
    guiding: bool = False
    safe: bool = True
    cover_open: bool = False
    light_on: bool = False
    brightness: int = 0
    focus_position: int = 12000
    rotator_position: float = 0.0
    shutter_open: bool = False
    dome_parked: bool = True
    switches: list[float] = field(default_factory=lambda: [1.0, 0.0, 50.0])
    front_since: datetime | None = None
    autofocus: JsonDict | None = None


class SimEquipment:
    """Equipment of a `NinaSimulator`: its state, readings, REST routes and control calls."""

    def __init__(self, emit: Emit, reply: Reply, tz: tzinfo) -> None:
        """Follow and emit events through `emit`; answer REST through `reply` (the server's)."""
        self._emit = emit
        self._reply = reply
        self.tz = tz
        self.clock: Callable[[], datetime] = lambda: datetime.now(self.tz)
        self.state = SimEquipmentState()
        #: Serve `/equipment/info` (plugin 2.2.15+); False: only the per-device reads.
        self.bundle = True
        self.sequences = ["Deep sky LRGB", "Narrowband", "Flats"]
        self.loaded_sequence: str | None = None
        self.sequence_running: Callable[[], bool] = lambda: False
        self.calls: list[tuple[str, dict[str, str]]] = []
        self._fail: dict[str, tuple[str, int]] = {}
        self._controls: dict[str, Callable[[dict[str, str]], Awaitable[Answer]]] = {
            "/equipment/mount/park": self._mount_park,
            "/equipment/mount/unpark": self._mount_unpark,
            "/equipment/mount/home": self._mount_home,
            "/equipment/mount/slew": self._mount_slew,
            "/equipment/mount/slew/stop": self._mount_stop_slew,
            "/equipment/mount/tracking": self._mount_tracking,
            "/sequence/start": self._sequence_start,
            "/sequence/stop": self._sequence_stop,
            "/sequence/reset": self._sequence_reset,
            "/sequence/load": self._sequence_load,
            "/equipment/focuser/auto-focus": self._autofocus,
            "/equipment/focuser/move": self._focuser_move,
            "/equipment/camera/abort-exposure": self._camera_abort,
            "/equipment/camera/cool": self._camera_cool,
            "/equipment/camera/warm": self._camera_warm,
            "/equipment/camera/dew-heater": self._camera_dew_heater,
            "/equipment/guider/start": self._guider_start,
            "/equipment/guider/stop": self._guider_stop,
            "/equipment/dome/open": self._dome_open,
            "/equipment/dome/close": self._dome_close,
            "/equipment/dome/stop": self._dome_stop,
            "/equipment/dome/park": self._dome_park,
            "/equipment/dome/home": self._dome_home,
            "/equipment/flatdevice/set-light": self._flat_light,
            "/equipment/flatdevice/set-cover": self._flat_cover,
            "/equipment/flatdevice/set-brightness": self._flat_brightness,
            "/equipment/switch/set": self._switch_set,
            "/equipment/filterwheel/change-filter": self._filter_change,
            "/equipment/rotator/move": self._rotator_move,
        }

    # ------------------------------------------------------------------ driving
    async def connect(self, *prefixes: str) -> None:
        """Connect devices (`"DOME"`, `"WEATHER"`, ...) the way NINA does: X-CONNECTED."""
        for prefix in prefixes or tuple(PREFIXES):
            await self._emit(self._event(f"{prefix}-CONNECTED"))

    async def disconnect(self, prefix: str) -> None:
        """Drop a device out (USB cable, driver crash): X-DISCONNECTED."""
        await self._emit(self._event(f"{prefix}-DISCONNECTED"))

    async def weather_front(self) -> None:
        """Bring a front (dawn): cloud, wind and rain build up; the sky turns unsafe."""
        self.state.front_since = self.clock()
        if self.state.safe and "safetymonitor" in self.state.connected:
            await self._emit(self._event("SAFETY-CHANGED", {"IsSafe": False}))

    async def act(self, path: str, **query: str) -> Answer:
        """Do what a control call does, as NINA's own UI would (no REST call, same events)."""
        return await self._controls[path](query)

    def fail_next(self, path: str, message: str = "Unknown error", code: int = 500) -> None:
        """Answer the next call of `path` (e.g. `/equipment/mount/park`) with an error."""
        self._fail[path] = (message, code)

    def restart(self) -> None:
        """NINA restarted: devices disconnected; what hardware keeps (park, filter) stays."""
        old = self.state
        self.state = SimEquipmentState(
            filter=old.filter, filter_id=old.filter_id, parked=old.parked,
            park_held=old.park_held,
            cover_open=old.cover_open, shutter_open=old.shutter_open,
        )  # fmt: skip

    def _event(self, name: str, data: JsonDict | None = None) -> SimEvent:
        return SimEvent(self.clock(), name, data or {})

    # ------------------------------------------------------------------ following events
    def follow(self, ev: SimEvent) -> None:
        """Follow an emitted event (from a night or from a control call)."""
        st, name, data = self.state, ev.name, ev.data
        prefix, _, what = name.partition("-")
        device = PREFIXES.get(prefix)
        now = self.clock()
        if device is not None and what == "CONNECTED":
            st.connected.add(device)
            if device == "camera":  # NINA's cooling at connect: dusk
                st.cooler_on, st.cool_from, st.cool_since = True, self._ambient(now), now
        elif device is not None and what == "DISCONNECTED":
            st.connected.discard(device)
            if device == "guider":
                st.guiding = False
        elif name == "FILTERWHEEL-CHANGED" and isinstance(data.get("New"), dict):
            st.filter, st.filter_id = data["New"].get("Name"), data["New"].get("Id")
        elif name in {"MOUNT-PARKED", "MOUNT-UNPARKED"}:
            st.parked, st.homed = name == "MOUNT-PARKED", False
            st.park_held = st.parked
            if st.parked:
                st.dec = PARK_DEC
        elif name == "MOUNT-HOMED":
            st.homed = True
        elif name in {"GUIDER-START", "GUIDER-STOP"}:
            st.guiding = name == "GUIDER-START"
        elif name == "SAFETY-CHANGED":
            st.safe = bool(data.get("IsSafe"))
        elif name in {"FLAT-COVER-OPENED", "FLAT-COVER-CLOSED"}:
            st.cover_open = name == "FLAT-COVER-OPENED"
        elif name == "FLAT-LIGHT-TOGGLED":
            st.light_on = not st.light_on
        elif name == "FLAT-BRIGHTNESS-CHANGED":
            st.brightness = int(data.get("New") or 0)
        elif name in {"DOME-SHUTTER-OPENED", "DOME-SHUTTER-CLOSED"}:
            st.shutter_open = name == "DOME-SHUTTER-OPENED"
        elif name == "DOME-PARKED":
            st.dome_parked = True
        elif name == "AUTOFOCUS-POINT-ADDED":
            st.focus_position = int(data.get("Position") or st.focus_position)
        elif name == "AUTOFOCUS-FINISHED":
            st.autofocus = self._af_report(now)
        elif name in {"TS-TARGETSTART", "TS-NEWTARGETSTART"}:
            coords = data.get("Coordinates")
            if isinstance(coords, dict) and isinstance(coords.get("RA"), int | float):
                self._point(float(coords["RA"]), float(coords.get("Dec") or 0.0))
        elif name == "IMAGE-SAVE" and isinstance(data.get("ImageStatistics"), dict):
            stats = data["ImageStatistics"]
            st.filter = stats.get("Filter") or st.filter
            light = stats.get("ImageType") == "LIGHT" and stats.get("TargetName") in CATALOG
            if light and not st.park_held:
                self._point(*CATALOG[stats["TargetName"]])

    def _point(self, ra: float, dec: float) -> None:
        st = self.state
        st.ra, st.dec, st.parked, st.homed, st.park_held = ra % 24, dec, False, False, False

    # ------------------------------------------------------------------ readings
    def _ambient(self, now: datetime) -> float:
        """Air temperature: warmest at 15:00, coolest at 03:00 local; a front cools it."""
        hour = now.astimezone(self.tz).hour + now.minute / 60
        return 8.0 + 5.0 * math.cos(2 * math.pi * (hour - 15) / 24) - 2.0 * self._front(now)

    def _front(self, now: datetime) -> float:
        """How far the weather front has come: 0 (clear) to 1, over 10 minutes."""
        since = self.state.front_since
        if since is None:
            return 0.0
        return min(1.0, max(0.0, (now - since).total_seconds() / 600))

    def _device(self, device: str, **fields: Any) -> JsonDict:
        name = NAMES[device]
        return {
            "Connected": device in self.state.connected,
            "Name": name,
            "DisplayName": name,
            "Description": f"Simulated {name}",
            "DriverInfo": "nina_session simulator",
            "DriverVersion": "1.0",
            "DeviceId": f"sim.{device}",
            **fields,
        }

    def info(self, device: str) -> JsonDict:
        """Return `/equipment/<device>/info` as the plugin writes it now."""
        return getattr(self, f"_info_{device}")(self.clock())  # type: ignore[no-any-return]

    def all_info(self) -> JsonDict:
        """Return the `/equipment/info` bundle."""
        return {key: self.info(device) for device, key in BUNDLE_KEYS.items()}

    def _info_camera(self, now: datetime) -> JsonDict:
        st = self.state
        goal = st.set_point if st.cooler_on else self._ambient(now)
        temp = round(_approach(st.cool_from, goal, st.cool_since, now), 1)
        on = "camera" in st.connected
        power = 0.0
        if st.cooler_on:
            power = min(100.0, max(0.0, 25 + 2.5 * (self._ambient(now) - temp)))
            power = round(power + 50 * math.exp(-abs(temp - st.set_point)), 1)
        return self._device(
            "camera",
            Temperature=temp if on else "NaN",
            TemperatureSetPoint=st.set_point,
            TargetTemp=st.set_point,
            AtTargetTemp=temp == st.set_point,
            CoolerOn=st.cooler_on and on,
            CoolerPower=min(power, 100.0) if on else "NaN",
            CanSetTemperature=True,
            HasDewHeater=True,
            DewHeaterOn=st.dew_heater,
            Gain=100,
            Offset=50,
            IsExposing=on and self.sequence_running(),
            CameraState="Exposing" if on and self.sequence_running() else "Idle",
            Battery=-1,
            PixelSize=3.76,
            XSize=6248,
            YSize=4176,
        )

    def _info_mount(self, now: datetime) -> JsonDict:
        st = self.state
        lst = sidereal_hours(now)
        ra = (lst - 6) % 24 if st.parked else st.ra
        ha = (lst - ra + 12) % 24 - 12  # hours west of the meridian, -12..12
        alt, az = _alt_az(ha, st.dec)
        tracking = not st.parked and st.tracking_mode != 5
        return self._device(
            "mount",
            RightAscension=round(ra, 5),
            Declination=round(st.dec, 4),
            Altitude=round(alt, 3),
            Azimuth=round(az, 3),
            SiderealTime=round(lst, 5),
            TimeToMeridianFlip=round(-ha, 4) if tracking else 0,
            SideOfPier="pierWest" if ha < 0 else "pierEast",
            TrackingEnabled=tracking,
            TrackingMode=TRACKING_MODES[st.tracking_mode] if tracking else "Stopped",
            AtPark=st.parked,
            AtHome=st.homed,
            Slewing=False,
            CanPark=True,
            CanFindHome=True,
            SiteLatitude=LATITUDE,
            SiteLongitude=LONGITUDE,
        )

    def _info_focuser(self, now: datetime) -> JsonDict:
        st = self.state
        return self._device(
            "focuser",
            Position=st.focus_position,
            Temperature=round(self._ambient(now) - 0.5, 2),
            IsMoving=False,
            TempComp=False,
            StepSize=1,
        )

    def _info_guider(self, now: datetime) -> JsonDict:
        st = self.state
        wobble = 0.1 * math.sin(now.timestamp() / 30)
        ra, dec = (0.45 + wobble, 0.38 - wobble) if st.guiding else (0.0, 0.0)
        total = math.hypot(ra, dec)

        def rms(arcsec: float) -> JsonDict:
            return {"Pixel": round(arcsec / 1.2, 3), "Arcseconds": round(arcsec, 3)}

        return self._device(
            "guider",
            State="Guiding" if st.guiding else "Stopped",
            PixelScale=1.2,
            RMSError={
                "RA": rms(ra),
                "Dec": rms(dec),
                "Total": rms(total),
                "PeakRA": rms(ra * 3),
                "PeakDec": rms(dec * 3),
            },
            CanClearCalibration=True,
        )

    def _info_filterwheel(self, now: datetime) -> JsonDict:
        st = self.state
        selected = {"Name": st.filter, "Id": st.filter_id} if st.filter else None
        return self._device(
            "filterwheel",
            IsMoving=False,
            SelectedFilter=selected,
            AvailableFilters=[{"Name": f, "Id": i} for i, f in enumerate(FILTERS)],
        )

    def _info_rotator(self, now: datetime) -> JsonDict:
        position = self.state.rotator_position
        return self._device(
            "rotator",
            Position=position,
            MechanicalPosition=position,
            IsMoving=False,
            Reverse=False,
            CanReverse=True,
        )

    def _info_flatdevice(self, now: datetime) -> JsonDict:
        st = self.state
        return self._device(
            "flatdevice",
            CoverState="Open" if st.cover_open else "Closed",
            LightOn=st.light_on,
            Brightness=st.brightness,
            MinBrightness=0,
            MaxBrightness=255,
            SupportsOpenClose=True,
            SupportsOnOff=True,
        )

    def _info_dome(self, now: datetime) -> JsonDict:
        st = self.state
        return self._device(
            "dome",
            ShutterStatus="ShutterOpen" if st.shutter_open else "ShutterClosed",
            Azimuth=0 if st.dome_parked else 180,
            AtPark=st.dome_parked,
            AtHome=False,
            Slewing=False,
            IsFollowing=False,
            CanSetShutter=True,
            CanPark=True,
            CanFindHome=True,
        )

    def _info_safetymonitor(self, now: datetime) -> JsonDict:
        return self._device("safetymonitor", IsSafe=self.state.safe)

    def _info_weather(self, now: datetime) -> JsonDict:
        front = self._front(now)
        temp = round(self._ambient(now), 2)
        humidity = round(min(100.0, 70 + 25 * front + 5 * math.sin(now.timestamp() / 600)))
        return self._device(
            "weather",
            Temperature=temp,
            Humidity=humidity,
            DewPoint=round(temp - (100 - humidity) / 5, 2),
            Pressure=round(1015 - 8 * front),
            CloudCover=round(5 + 90 * front),
            RainRate=str(round(2.5 * max(0.0, front - 0.5) * 2, 2)),
            SkyBrightness="NaN",
            SkyQuality=str(round(21.2 - 3 * front, 2)),
            SkyTemperature=str(round(-20 + 18 * front, 1)),
            StarFWHM="NaN",
            WindSpeed=round(1.5 + 9 * front, 1),
            WindGust=str(round(3 + 14 * front, 1)),
            WindDirection=round(240 + 30 * front),
            AveragePeriod=0,
        )

    def _info_switch(self, now: datetime) -> JsonDict:
        values = self.state.switches
        writable = [
            {"Id": 0, "Name": "Power 12V", "Description": "Main power", "Value": values[0],
             "Minimum": 0, "Maximum": 1, "StepSize": 1, "TargetValue": values[0]},
            {"Id": 1, "Name": "Dew heater A", "Description": "Dew heater", "Value": values[1],
             "Minimum": 0, "Maximum": 1, "StepSize": 1, "TargetValue": values[1]},
            {"Id": 2, "Name": "Dew heater B power", "Description": "PWM", "Value": values[2],
             "Minimum": 0, "Maximum": 100, "StepSize": 1, "TargetValue": values[2]},
        ]  # fmt: skip
        readonly = [
            {"Id": 3, "Name": "Input voltage", "Description": "Volts", "Value": 12.6},
        ]
        return self._device("switch", WritableSwitches=writable, ReadonlySwitches=readonly)

    def _af_report(self, now: datetime) -> JsonDict:
        st = self.state
        return {
            "Version": 1,
            "Filter": st.filter or "L",
            "AutoFocuserName": "NINA",
            "StarDetectorName": "NINA",
            "Timestamp": now.astimezone(self.tz).isoformat(timespec="microseconds") + "0",
            "Temperature": round(self._ambient(now) - 0.5, 2),
            "Method": "STARHFR",
            "Fitting": "TRENDHYPERBOLIC",
            "InitialFocusPoint": {"Position": st.focus_position + 40, "Value": 3.1, "Error": 0},
            "CalculatedFocusPoint": {"Position": st.focus_position, "Value": 2.05, "Error": 0},
            "PreviousFocusPoint": {"Position": st.focus_position + 40, "Value": 2.4, "Error": 0},
            "MeasurePoints": [],
            "Duration": "00:03:41.5120000",
        }

    # ------------------------------------------------------------------ REST
    def routes(self) -> list[web.RouteDef]:
        """Return the v2 routes of the equipment (reads and control calls)."""
        return [
            web.get("/v2/api/equipment/info", self._bundle_info),
            web.get("/v2/api/equipment/focuser/last-af", self._last_af),
            web.get("/v2/api/equipment/{device}/info", self._device_info),
            web.get("/v2/api/sequence/list-available", self._sequence_list),
            web.post("/sim/equipment", self._sim),
            *(web.get(f"/v2/api{path}", self._control) for path in self._controls),
        ]

    async def _sim(self, request: web.Request) -> web.Response:
        """Drive the equipment from a shell (or a demo).

        connect=DOME,WEATHER (empty: all), disconnect=X, front=1, bundle=0|1,
        fail=<path>[&message=..&code=..].
        """
        query = request.query
        if "connect" in query:
            names = [n for n in query["connect"].upper().split(",") if n in PREFIXES]
            await self.connect(*names) if names else await self.connect()
        if query.get("disconnect", "").upper() in PREFIXES:
            await self.disconnect(query["disconnect"].upper())
        if query.get("front") == "1":
            await self.weather_front()
        if "bundle" in query:
            self.bundle = query["bundle"] == "1"
        if "fail" in query:
            self.fail_next(query["fail"], query.get("message", "Unknown error"),
                           int(query.get("code", "500")))  # fmt: skip
        connected = sorted(self.state.connected)
        return web.json_response({"ok": True, "connected": connected, "bundle": self.bundle})

    async def _bundle_info(self, request: web.Request) -> web.Response:
        if not self.bundle:
            raise web.HTTPNotFound
        return self._reply(_ok(self.all_info()))

    async def _device_info(self, request: web.Request) -> web.Response:
        device = request.match_info["device"].lower()
        if device not in BUNDLE_KEYS:
            raise web.HTTPNotFound
        return self._reply(_ok(self.info(device)))

    async def _last_af(self, request: web.Request) -> web.Response:
        if self.state.autofocus is None:
            return self._reply(_error("No AF available", 500))
        return self._reply(_ok(self.state.autofocus))

    async def _sequence_list(self, request: web.Request) -> web.Response:
        return self._reply(_ok(list(self.sequences)))

    async def _control(self, request: web.Request) -> web.Response:
        path = request.path.removeprefix("/v2/api")
        query = dict(request.query)
        self.calls.append((path, query))
        if path in self._fail:
            return self._reply(_error(*self._fail.pop(path)))
        try:
            answer = await self._controls[path](query)
        except (KeyError, ValueError):
            return self._reply(_error("Unknown error", 500))  # the plugin's catch-all
        if isinstance(answer, tuple):
            return self._reply(_error(*answer))
        return self._reply(_ok(answer))

    # ------------------------------------------------------------------ control calls
    def _needs(self, device: str, label: str) -> tuple[str, int] | None:
        if device not in self.state.connected:
            return (f"{label} not connected", 409)
        return None

    async def _say(self, name: str, data: JsonDict | None = None) -> None:
        await self._emit(self._event(name, data))

    async def _mount_park(self, q: dict[str, str]) -> Answer:
        if refused := self._needs("mount", "Mount"):
            return refused
        if self.state.parked:
            return "Mount already parked"
        await self._say("MOUNT-PARKED")
        return "Parking"

    async def _mount_unpark(self, q: dict[str, str]) -> Answer:
        if refused := self._needs("mount", "Mount"):
            return refused
        if not self.state.parked:
            return "Mount not parked"
        self.state.dec = 0.0
        await self._say("MOUNT-UNPARKED")
        return "Unparking"

    async def _mount_home(self, q: dict[str, str]) -> Answer:
        if refused := self._needs("mount", "Mount"):
            return refused
        if self.state.parked:
            return ("Mount parked", 409)
        await self._say("MOUNT-HOMED")
        return "Homing"

    async def _mount_slew(self, q: dict[str, str]) -> Answer:
        if refused := self._needs("mount", "Mount"):
            return refused
        if self.state.parked:
            return ("Mount parked", 409)
        self._point(float(q["ra"]) / 15, float(q["dec"]))
        if q.get("center", "").lower() == "true":
            await self._say("MOUNT-CENTER")
        return "Slew finished" if q.get("waitForResult", "").lower() == "true" else "Slew started"

    async def _mount_stop_slew(self, q: dict[str, str]) -> Answer:
        return self._needs("mount", "Mount") or "Stopped slew"

    async def _mount_tracking(self, q: dict[str, str]) -> Answer:
        if refused := self._needs("mount", "Mount"):
            return refused
        if self.state.parked:
            return ("Mount parked", 409)
        mode = int(q["mode"])
        if not 0 <= mode < len(TRACKING_MODES):
            return ("Invalid tracking mode", 400)
        self.state.tracking_mode = mode
        return "Tracking mode changed"

    async def _sequence_start(self, q: dict[str, str]) -> Answer:
        if self.sequence_running():
            return ("Sequence is already running", 409)
        await self._say("SEQUENCE-STARTING")
        return "Sequence started"

    async def _sequence_stop(self, q: dict[str, str]) -> Answer:
        if self.sequence_running():
            await self._say("SEQUENCE-FINISHED")
        return "Sequence stopped"

    async def _sequence_reset(self, q: dict[str, str]) -> Answer:
        return "Sequence reset"

    async def _sequence_load(self, q: dict[str, str]) -> Answer:
        if self.sequence_running():
            return ("Sequence is already running", 400)
        name = q["sequenceName"]
        if name not in self.sequences:
            return ("Sequence not found", 400)
        self.loaded_sequence = name
        return "Sequence updated"

    async def _autofocus(self, q: dict[str, str]) -> Answer:
        if refused := self._needs("focuser", "Focuser"):
            return refused
        if q.get("cancel", "").lower() == "true":
            return "Autofocus canceled"
        await self._say("AUTOFOCUS-STARTING")
        base = self.state.focus_position
        for step, hfr in zip(range(-2, 3), (3.4, 2.6, 2.05, 2.5, 3.3), strict=True):
            await self._say("AUTOFOCUS-POINT-ADDED", {"Position": base + 20 * step, "HFR": hfr})
        await self._say("AUTOFOCUS-POINT-ADDED", {"Position": base, "HFR": 2.05})
        await self._say("AUTOFOCUS-FINISHED")
        return "Autofocus started"

    async def _focuser_move(self, q: dict[str, str]) -> Answer:
        if refused := self._needs("focuser", "Focuser"):
            return refused
        self.state.focus_position = int(q["position"])
        return "Move started"

    async def _camera_abort(self, q: dict[str, str]) -> Answer:
        if refused := self._needs("camera", "Camera"):
            return refused
        return "Exposure aborted" if self.sequence_running() else "Camera not exposing"

    def _cooling(self, cooler_on: bool, set_point: float | None = None) -> None:
        st, now = self.state, self.clock()
        st.cool_from = self._info_camera(now)["Temperature"]
        st.cool_since, st.cooler_on = now, cooler_on
        if set_point is not None:
            st.set_point = set_point

    async def _camera_cool(self, q: dict[str, str]) -> Answer:
        if refused := self._needs("camera", "Camera"):
            return refused
        if q.get("cancel", "").lower() == "true":
            return "Cooling canceled"
        self._cooling(True, float(q["temperature"]))
        return "Cooling started"

    async def _camera_warm(self, q: dict[str, str]) -> Answer:
        if refused := self._needs("camera", "Camera"):
            return refused
        if q.get("cancel", "").lower() == "true":
            return "Warming canceled"
        self._cooling(False)
        return "Warming started"

    async def _camera_dew_heater(self, q: dict[str, str]) -> Answer:
        if refused := self._needs("camera", "Camera"):
            return refused
        self.state.dew_heater = q["power"].lower() == "true"
        return "Dew heater set"

    async def _guider_start(self, q: dict[str, str]) -> Answer:
        if refused := self._needs("guider", "Guider"):
            return refused
        await self._say("GUIDER-START")
        return "Guiding started"

    async def _guider_stop(self, q: dict[str, str]) -> Answer:
        if refused := self._needs("guider", "Guider"):
            return refused
        await self._say("GUIDER-STOP")
        return "Guiding stopped"

    async def _dome_shutter(self, q: dict[str, str], open_it: bool) -> Answer:
        if refused := self._needs("dome", "Dome"):
            return refused
        if self.state.shutter_open == open_it:
            return "Shutter already open" if open_it else "Shutter already closed"
        self.state.dome_parked = self.state.dome_parked and not open_it
        await self._say("DOME-SHUTTER-OPENED" if open_it else "DOME-SHUTTER-CLOSED")
        return "Shutter opening" if open_it else "Shutter closing"

    async def _dome_open(self, q: dict[str, str]) -> Answer:
        return await self._dome_shutter(q, True)

    async def _dome_close(self, q: dict[str, str]) -> Answer:
        return await self._dome_shutter(q, False)

    async def _dome_stop(self, q: dict[str, str]) -> Answer:
        if refused := self._needs("dome", "Dome"):
            return refused
        await self._say("DOME-STOPPED")
        return "Movement stopped"

    async def _dome_park(self, q: dict[str, str]) -> Answer:
        if refused := self._needs("dome", "Dome"):
            return (refused[0], 400)  # the plugin says 400 here
        if self.state.dome_parked:
            return "Dome already parked"
        await self._say("DOME-PARKED")
        return "Parking"

    async def _dome_home(self, q: dict[str, str]) -> Answer:
        if refused := self._needs("dome", "Dome"):
            return (refused[0], 400)
        self.state.dome_parked = False
        await self._say("DOME-HOMED")
        return "Homing"

    async def _flat_light(self, q: dict[str, str]) -> Answer:
        if refused := self._needs("flatdevice", "Flatdevice"):
            return refused
        if self.state.light_on != (q["on"].lower() == "true"):
            await self._say("FLAT-LIGHT-TOGGLED")
        return "Flatdevice light set"

    async def _flat_cover(self, q: dict[str, str]) -> Answer:
        if refused := self._needs("flatdevice", "Flatdevice"):
            return refused
        closed = q["closed"].lower() == "true"
        if self.state.cover_open == closed:
            await self._say("FLAT-COVER-CLOSED" if closed else "FLAT-COVER-OPENED")
        return "Flatdevice cover set"

    async def _flat_brightness(self, q: dict[str, str]) -> Answer:
        if refused := self._needs("flatdevice", "Flatdevice"):
            return refused
        new = int(q["brightness"])
        await self._say("FLAT-BRIGHTNESS-CHANGED", {"Previous": self.state.brightness, "New": new})
        return "Flatdevice brightness set"

    async def _switch_set(self, q: dict[str, str]) -> Answer:
        if refused := self._needs("switch", "Switch"):
            return refused
        self.state.switches[int(q["index"])] = float(q["value"])
        return "Switch value updated"

    async def _filter_change(self, q: dict[str, str]) -> Answer:
        if refused := self._needs("filterwheel", "Filter wheel"):
            return refused
        filter_id = int(q["filterId"])
        if not 0 <= filter_id < len(FILTERS):
            return ("Filter not available", 409)
        previous = {"Name": self.state.filter or "", "Id": self.state.filter_id or 0}
        new = {"Name": FILTERS[filter_id], "Id": filter_id}
        await self._say("FILTERWHEEL-CHANGED", {"Previous": previous, "New": new})
        return "Filter changed"

    async def _rotator_move(self, q: dict[str, str]) -> Answer:
        if refused := self._needs("rotator", "Rotator"):
            return refused
        old, new = self.state.rotator_position, float(q["position"]) % 360
        self.state.rotator_position = new
        await self._say("ROTATOR-MOVED", {"From": old, "To": new})
        return "Rotator move started"
