"""What NINA's equipment reports, read defensively from the plugin's answers.

The shapes are those of christian-photo/ninaAPI 2.2.15 (`/equipment/info` and the
per-device `/equipment/<device>/info`, `/equipment/focuser/last-af`), which serialise NINA's
own device-info classes. Any field may be missing (older plugins, drivers that lack a
capability), `"NaN"` (REST writes a missing reading as a string) or of another type: each
becomes None, never an error. A device class absent from the answer is None as a whole.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
import logging
import math
import re
from typing import Any, Final, TypeVar

_LOGGER = logging.getLogger(__name__)

#: Device classes: their path segment in `/equipment/<device>/info`.
CAMERA: Final = "camera"
MOUNT: Final = "mount"
FOCUSER: Final = "focuser"
GUIDER: Final = "guider"
FILTERWHEEL: Final = "filterwheel"
ROTATOR: Final = "rotator"
FLATDEVICE: Final = "flatdevice"
DOME: Final = "dome"
SAFETYMONITOR: Final = "safetymonitor"
WEATHER: Final = "weather"
SWITCH: Final = "switch"
DEVICE_CLASSES: Final[tuple[str, ...]] = (
    CAMERA, MOUNT, FOCUSER, GUIDER, FILTERWHEEL, ROTATOR,
    FLATDEVICE, DOME, SAFETYMONITOR, WEATHER, SWITCH,
)  # fmt: skip

#: The key of each device class in the `/equipment/info` bundle.
BUNDLE_KEYS: Final[Mapping[str, str]] = {
    CAMERA: "Camera",
    MOUNT: "Mount",
    FOCUSER: "Focuser",
    GUIDER: "Guider",
    FILTERWHEEL: "FilterWheel",
    ROTATOR: "Rotator",
    FLATDEVICE: "FlatDevice",
    DOME: "Dome",
    SAFETYMONITOR: "SafetyMonitor",
    WEATHER: "WeatherData",
    SWITCH: "Switch",
}

#: Event name prefixes (`<PREFIX>-CONNECTED`, `-PARKED`, ...) and the class they announce.
_EVENT_PREFIXES: Final[Mapping[str, str]] = {
    "CAMERA": CAMERA,
    "MOUNT": MOUNT,
    "FOCUSER": FOCUSER,
    "GUIDER": GUIDER,
    "FILTERWHEEL": FILTERWHEEL,
    "ROTATOR": ROTATOR,
    "FLAT": FLATDEVICE,
    "DOME": DOME,
    "SAFETY": SAFETYMONITOR,
    "WEATHER": WEATHER,
    "SWITCH": SWITCH,
}
#: Events after which the last autofocus report changed.
AUTOFOCUS_DONE_EVENTS: Final = frozenset({"AUTOFOCUS-FINISHED"})

#: Classes whose readings move without any event (temperatures, positions, weather):
#: they are polled while connected; the others change only with an event.
POLLED_CLASSES: Final = frozenset({CAMERA, MOUNT, FOCUSER, GUIDER, ROTATOR, WEATHER, DOME})


def announced_class(event_name: str) -> str | None:
    """Return the device class an event says has changed (`MOUNT-PARKED` → mount), if any."""
    prefix, _, _ = event_name.partition("-")
    return _EVENT_PREFIXES.get(prefix)


# -- defensive field readers -------------------------------------------------------------


def _float(raw: Mapping[str, Any], key: str) -> float | None:
    value = raw.get(key)
    if isinstance(value, str):  # REST writes NaN as "NaN"; some readings are strings
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _int(raw: Mapping[str, Any], key: str) -> int | None:
    value = _float(raw, key)
    return int(value) if value is not None else None


def _bool(raw: Mapping[str, Any], key: str) -> bool | None:
    value = raw.get(key)
    return value if isinstance(value, bool) else None


def _str(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def _obj(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key)
    return value if isinstance(value, Mapping) else {}


_TIMESPAN_RE: Final = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$")


def _timespan_seconds(raw: Mapping[str, Any], key: str) -> float | None:
    """.NET TimeSpan text (`[d.]hh:mm:ss[.fffffff]`) → seconds."""
    text = _str(raw, key)
    match = _TIMESPAN_RE.match(text) if text else None
    if match is None:
        return None
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _time(raw: Mapping[str, Any], key: str) -> datetime | None:
    text = _str(raw, key)
    if text is None:
        return None
    # .NET writes up to 7 fractional digits; Python takes 6.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


# -- the model ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Device:
    """What every device class reports: whether it is connected and what it is."""

    connected: bool = False
    name: str | None = None
    display_name: str | None = None
    driver_version: str | None = None
    device_id: str | None = None

    @staticmethod
    def base(raw: Mapping[str, Any]) -> dict[str, Any]:
        """Return the common fields of a device-info object."""
        return {
            "connected": _bool(raw, "Connected") is True,
            "name": _str(raw, "Name"),
            "display_name": _str(raw, "DisplayName"),
            "driver_version": _str(raw, "DriverVersion"),
            "device_id": _str(raw, "DeviceId"),
        }

    @property
    def label(self) -> str | None:
        """Return the name to show: the display name, else the driver's name."""
        return self.display_name or self.name


@dataclass(frozen=True, slots=True, kw_only=True)
class Camera(Device):
    """A camera: cooler, sensor settings, exposure."""

    temperature: float | None = None
    set_point: float | None = None
    cooler_on: bool | None = None
    cooler_power: float | None = None
    can_set_temperature: bool | None = None
    at_target_temp: bool | None = None
    has_dew_heater: bool | None = None
    dew_heater_on: bool | None = None
    gain: int | None = None
    offset: int | None = None
    is_exposing: bool | None = None
    state: str | None = None
    battery: int | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Camera:
        """Read `CameraInfoResponse`."""
        return cls(
            **cls.base(raw),
            temperature=_float(raw, "Temperature"),
            set_point=_float(raw, "TemperatureSetPoint"),
            cooler_on=_bool(raw, "CoolerOn"),
            cooler_power=_float(raw, "CoolerPower"),
            can_set_temperature=_bool(raw, "CanSetTemperature"),
            at_target_temp=_bool(raw, "AtTargetTemp"),
            has_dew_heater=_bool(raw, "HasDewHeater"),
            dew_heater_on=_bool(raw, "DewHeaterOn"),
            gain=_int(raw, "Gain"),
            offset=_int(raw, "Offset"),
            is_exposing=_bool(raw, "IsExposing"),
            state=_str(raw, "CameraState"),
            battery=_int(raw, "Battery"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Mount(Device):
    """A mount: position, pier side, meridian flip, park and tracking."""

    right_ascension: float | None = None  # hours
    declination: float | None = None  # degrees
    altitude: float | None = None
    azimuth: float | None = None
    sidereal_time: float | None = None  # hours
    #: Hours until NINA's meridian flip (negative: past it).
    time_to_meridian_flip: float | None = None
    side_of_pier: str | None = None
    tracking_enabled: bool | None = None
    tracking_mode: str | None = None
    at_park: bool | None = None
    at_home: bool | None = None
    slewing: bool | None = None
    can_park: bool | None = None
    can_find_home: bool | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Mount:
        """Read `MountInfo` (NINA's TelescopeInfo plus TrackingMode)."""
        pier = _str(raw, "SideOfPier")
        return cls(
            **cls.base(raw),
            right_ascension=_float(raw, "RightAscension"),
            declination=_float(raw, "Declination"),
            altitude=_float(raw, "Altitude"),
            azimuth=_float(raw, "Azimuth"),
            sidereal_time=_float(raw, "SiderealTime"),
            time_to_meridian_flip=_float(raw, "TimeToMeridianFlip"),
            # pierEast / pierWest / pierUnknown → east / west / unknown
            side_of_pier=pier.removeprefix("pier").lower() if pier else None,
            tracking_enabled=_bool(raw, "TrackingEnabled"),
            tracking_mode=_str(raw, "TrackingMode"),
            at_park=_bool(raw, "AtPark"),
            at_home=_bool(raw, "AtHome"),
            slewing=_bool(raw, "Slewing"),
            can_park=_bool(raw, "CanPark"),
            can_find_home=_bool(raw, "CanFindHome"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Focuser(Device):
    """A focuser: position and temperature."""

    position: int | None = None
    temperature: float | None = None
    is_moving: bool | None = None
    temp_comp: bool | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Focuser:
        """Read NINA's FocuserInfo."""
        return cls(
            **cls.base(raw),
            position=_int(raw, "Position"),
            temperature=_float(raw, "Temperature"),
            is_moving=_bool(raw, "IsMoving"),
            temp_comp=_bool(raw, "TempComp"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Guider(Device):
    """A guider (PHD2 and others): state and RMS error in arcseconds."""

    state: str | None = None
    rms_ra: float | None = None
    rms_dec: float | None = None
    rms_total: float | None = None
    peak_ra: float | None = None
    peak_dec: float | None = None
    pixel_scale: float | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Guider:
        """Read `GuideInfo` (RMSError: {RA, Dec, Total, PeakRA, PeakDec: {Pixel, Arcseconds}})."""
        rms = _obj(raw, "RMSError")

        def arcsec(key: str) -> float | None:
            return _float(_obj(rms, key), "Arcseconds")

        return cls(
            **cls.base(raw),
            state=_str(raw, "State"),
            rms_ra=arcsec("RA"),
            rms_dec=arcsec("Dec"),
            rms_total=arcsec("Total"),
            peak_ra=arcsec("PeakRA"),
            peak_dec=arcsec("PeakDec"),
            pixel_scale=_float(raw, "PixelScale"),
        )


@dataclass(frozen=True, slots=True)
class Filter:
    """A filter of the wheel: its name and position (`Id`)."""

    name: str
    id: int | None


def _filter(raw: Any) -> Filter | None:
    if not isinstance(raw, Mapping):
        return None
    name = _str(raw, "Name")
    return Filter(name, _int(raw, "Id")) if name is not None else None


@dataclass(frozen=True, slots=True, kw_only=True)
class FilterWheel(Device):
    """A filter wheel: the selected filter and the profile's filters."""

    selected: Filter | None = None
    filters: tuple[Filter, ...] = ()
    is_moving: bool | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> FilterWheel:
        """Read `FWInfo`."""
        available = raw.get("AvailableFilters")
        items = available if isinstance(available, list) else []
        return cls(
            **cls.base(raw),
            selected=_filter(raw.get("SelectedFilter")),
            filters=tuple(f for f in map(_filter, items) if f is not None),
            is_moving=_bool(raw, "IsMoving"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Rotator(Device):
    """A rotator: sky and mechanical angle."""

    position: float | None = None
    mechanical_position: float | None = None
    is_moving: bool | None = None
    reverse: bool | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Rotator:
        """Read NINA's RotatorInfo."""
        return cls(
            **cls.base(raw),
            position=_float(raw, "Position"),
            mechanical_position=_float(raw, "MechanicalPosition"),
            is_moving=_bool(raw, "IsMoving"),
            reverse=_bool(raw, "Reverse"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class FlatDevice(Device):
    """A flat panel, maybe with a cover (flip-flat)."""

    cover_state: str | None = None
    light_on: bool | None = None
    brightness: int | None = None
    min_brightness: int | None = None
    max_brightness: int | None = None
    supports_open_close: bool | None = None
    supports_on_off: bool | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> FlatDevice:
        """Read NINA's FlatDeviceInfo."""
        return cls(
            **cls.base(raw),
            cover_state=_str(raw, "CoverState"),
            light_on=_bool(raw, "LightOn"),
            brightness=_int(raw, "Brightness"),
            min_brightness=_int(raw, "MinBrightness"),
            max_brightness=_int(raw, "MaxBrightness"),
            supports_open_close=_bool(raw, "SupportsOpenClose"),
            supports_on_off=_bool(raw, "SupportsOnOff"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Dome(Device):
    """A dome or roll-off roof: shutter, azimuth, park."""

    #: ShutterOpen / ShutterClosed / ShutterOpening / ShutterClosing / ShutterError /
    #: ShutterNone, lower-cased without the prefix (`open`, `closed`, ...).
    shutter: str | None = None
    azimuth: float | None = None
    at_park: bool | None = None
    at_home: bool | None = None
    slewing: bool | None = None
    following: bool | None = None
    can_set_shutter: bool | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Dome:
        """Read `ExtendedDomeInfo`."""
        shutter = _str(raw, "ShutterStatus")
        return cls(
            **cls.base(raw),
            shutter=shutter.removeprefix("Shutter").lower() if shutter else None,
            azimuth=_float(raw, "Azimuth"),
            at_park=_bool(raw, "AtPark"),
            at_home=_bool(raw, "AtHome"),
            slewing=_bool(raw, "Slewing"),
            following=_bool(raw, "IsFollowing"),
            can_set_shutter=_bool(raw, "CanSetShutter"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SafetyMonitor(Device):
    """A safety monitor: is it safe to open."""

    is_safe: bool | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> SafetyMonitor:
        """Read NINA's SafetyMonitorInfo."""
        return cls(**cls.base(raw), is_safe=_bool(raw, "IsSafe"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Weather(Device):
    """An observing-conditions device; a reading its driver lacks is NaN, so None."""

    temperature: float | None = None
    humidity: float | None = None
    dew_point: float | None = None
    pressure: float | None = None  # hPa
    cloud_cover: float | None = None  # %
    rain_rate: float | None = None  # mm/h
    sky_brightness: float | None = None  # lux
    sky_quality: float | None = None  # mag/arcsec²
    sky_temperature: float | None = None
    star_fwhm: float | None = None  # arcsec
    wind_speed: float | None = None  # m/s
    wind_gust: float | None = None  # m/s
    wind_direction: float | None = None  # degrees

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Weather:
        """Read NINA's WeatherDataInfo."""
        return cls(
            **cls.base(raw),
            temperature=_float(raw, "Temperature"),
            humidity=_float(raw, "Humidity"),
            dew_point=_float(raw, "DewPoint"),
            pressure=_float(raw, "Pressure"),
            cloud_cover=_float(raw, "CloudCover"),
            rain_rate=_float(raw, "RainRate"),
            sky_brightness=_float(raw, "SkyBrightness"),
            sky_quality=_float(raw, "SkyQuality"),
            sky_temperature=_float(raw, "SkyTemperature"),
            star_fwhm=_float(raw, "StarFWHM"),
            wind_speed=_float(raw, "WindSpeed"),
            wind_gust=_float(raw, "WindGust"),
            wind_direction=_float(raw, "WindDirection"),
        )


@dataclass(frozen=True, slots=True)
class SwitchChannel:
    """One channel of a switch hub (ASCOM Switch): a power port, a dew heater, a sensor."""

    id: int
    name: str
    value: float | None
    writable: bool
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    description: str | None = None

    @property
    def is_boolean(self) -> bool:
        """Return whether the channel is an on/off switch (range 0..1 in steps of 1)."""
        return self.minimum == 0 and self.maximum == 1 and self.step in (1, None)


def _channel(raw: Any, writable: bool) -> SwitchChannel | None:
    if not isinstance(raw, Mapping):
        return None
    channel_id, name = _int(raw, "Id"), _str(raw, "Name")
    if channel_id is None or name is None:
        return None
    return SwitchChannel(
        id=channel_id,
        name=name,
        value=_float(raw, "Value"),
        writable=writable,
        minimum=_float(raw, "Minimum"),
        maximum=_float(raw, "Maximum"),
        step=_float(raw, "StepSize"),
        description=_str(raw, "Description"),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Switch(Device):
    """A switch hub: writable channels (power, dew heaters) and read-only ones (sensors)."""

    channels: tuple[SwitchChannel, ...] = ()

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Switch:
        """Read NINA's SwitchInfo (`WritableSwitches`, `ReadonlySwitches`)."""
        channels: list[SwitchChannel] = []
        for key, writable in (("WritableSwitches", True), ("ReadonlySwitches", False)):
            items = raw.get(key)
            for item in items if isinstance(items, list) else []:
                channel = _channel(item, writable)
                if channel is not None:
                    channels.append(channel)
        return cls(**cls.base(raw), channels=tuple(channels))


@dataclass(frozen=True, slots=True)
class Autofocus:
    """NINA's report of the last successful autofocus run (`/equipment/focuser/last-af`)."""

    time: datetime | None = None
    filter: str | None = None
    temperature: float | None = None
    position: float | None = None
    hfr: float | None = None
    initial_position: float | None = None
    duration: float | None = None  # seconds
    method: str | None = None
    fitting: str | None = None
    auto_focuser: str | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Autofocus:
        """Read an AutoFocusReport."""
        calculated = _obj(raw, "CalculatedFocusPoint")
        return cls(
            time=_time(raw, "Timestamp"),
            filter=_str(raw, "Filter"),
            temperature=_float(raw, "Temperature"),
            position=_float(calculated, "Position"),
            hfr=_float(calculated, "Value"),
            initial_position=_float(_obj(raw, "InitialFocusPoint"), "Position"),
            duration=_timespan_seconds(raw, "Duration"),
            method=_str(raw, "Method"),
            fitting=_str(raw, "Fitting"),
            auto_focuser=_str(raw, "AutoFocuserName"),
        )


_D = TypeVar("_D", bound=Device)

PARSERS: Final[Mapping[str, Callable[[Mapping[str, Any]], Device]]] = {
    CAMERA: Camera.parse,
    MOUNT: Mount.parse,
    FOCUSER: Focuser.parse,
    GUIDER: Guider.parse,
    FILTERWHEEL: FilterWheel.parse,
    ROTATOR: Rotator.parse,
    FLATDEVICE: FlatDevice.parse,
    DOME: Dome.parse,
    SAFETYMONITOR: SafetyMonitor.parse,
    WEATHER: Weather.parse,
    SWITCH: Switch.parse,
}


def parse_device(device_class: str, raw: Any) -> Device | None:
    """Return the reading of one device class; None (and a debug line) for a non-object."""
    if not isinstance(raw, Mapping):
        if raw is not None:
            _LOGGER.debug("%s info is not an object: %.80r", device_class, raw)
        return None
    return PARSERS[device_class](raw)


@dataclass(frozen=True, slots=True)
class Equipment:
    """Every device class NINA reported, and the last autofocus; replaced, never mutated."""

    devices: Mapping[str, Device] = field(default_factory=dict)
    autofocus: Autofocus | None = None

    def get(self, device_class: str, kind: type[_D]) -> _D | None:
        """Return the reading of `device_class` if it is connected and of type `kind`."""
        device = self.devices.get(device_class)
        return device if isinstance(device, kind) and device.connected else None

    def connected(self) -> frozenset[str]:
        """Return the device classes that are connected."""
        return frozenset(name for name, device in self.devices.items() if device.connected)

    def merged(self, devices: Mapping[str, Device]) -> Equipment:
        """Return a copy with `devices` replacing the readings of their classes."""
        return Equipment({**self.devices, **devices}, self.autofocus)

    def with_autofocus(self, autofocus: Autofocus | None) -> Equipment:
        """Return a copy with another last autofocus."""
        return Equipment(self.devices, autofocus)


def parse_bundle(payload: Any) -> dict[str, Device]:
    """Read the `/equipment/info` bundle: the classes present in it, parsed."""
    if not isinstance(payload, Mapping):
        _LOGGER.debug("equipment info is not an object: %.80r", payload)
        return {}
    devices: dict[str, Device] = {}
    for device_class, key in BUNDLE_KEYS.items():
        device = parse_device(device_class, payload.get(key))
        if device is not None:
            devices[device_class] = device
    return devices
