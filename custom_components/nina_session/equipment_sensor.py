"""Equipment sensors: one description per reading, grouped by device class.

What can also be set (cooler set point, flat brightness) is a number entity instead.

Readings people watch during a night are enabled; the rest (raw coordinates, peaks, driver
states) are created disabled. Read-only channels of a switch hub become sensors too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
import logging
import re

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    DEGREE,
    LIGHT_LUX,
    PERCENTAGE,
    EntityCategory,
    UnitOfPressure,
    UnitOfSpeed,
    UnitOfTemperature,
    UnitOfTime,
    UnitOfVolumetricFlux,
)
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .coordinator import NinaSessionConfigEntry
from .engine.equipment import (
    Autofocus,
    Camera,
    Device,
    Dome,
    FilterWheel,
    FlatDevice,
    Focuser,
    Guider,
    Mount,
    Rotator,
    Switch,
    Weather,
)
from .equipment import EquipmentCoordinator
from .equipment_entity import (
    EquipmentEntity,
    EquipmentEntityDescription,
    add_equipment_entities,
    reading,
)

_LOGGER = logging.getLogger(__name__)

UNIT_ARCSEC = "arcsec"
UNIT_SKY_QUALITY = "mag/arcsec²"
UNIT_HOURS_ANGLE = "h"

GUIDER_STATES = ["looping", "lost_lock", "guiding", "stopped", "calibrating", "paused"]
PIER_SIDES = ["east", "west", "unknown"]
COVER_STATES = ["unknown", "neither_open_nor_closed", "closed", "open", "error", "not_present"]
SHUTTER_STATES = ["none", "open", "closed", "opening", "closing", "error"]


def _snake(value: str | None) -> str | None:
    """NINA's enum names to HA state keys: `LostLock` → `lost_lock`."""
    if value is None:
        return None
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", value).lower()


@dataclass(frozen=True, kw_only=True)
class EquipmentSensorEntityDescription(SensorEntityDescription, EquipmentEntityDescription):
    """A sensor of one equipment class: a value of its reading, or of the last autofocus."""

    value_fn: Callable[[Device], StateType | datetime] = lambda _device: None
    autofocus_fn: Callable[[Autofocus], StateType | datetime] | None = None


def _temperature(
    key: str, equipment: str, fn: Callable[[Device], StateType], *, enabled: bool = True
) -> EquipmentSensorEntityDescription:
    return EquipmentSensorEntityDescription(
        key=key,
        translation_key=key,
        equipment=equipment,
        device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        entity_registry_enabled_default=enabled,
        value_fn=fn,
    )


def _angle(
    key: str, equipment: str, fn: Callable[[Device], StateType], *, enabled: bool = False
) -> EquipmentSensorEntityDescription:
    return EquipmentSensorEntityDescription(
        key=key,
        translation_key=key,
        equipment=equipment,
        native_unit_of_measurement=DEGREE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        entity_registry_enabled_default=enabled,
        value_fn=fn,
    )


def _rms(
    key: str, fn: Callable[[Guider], float | None], *, enabled: bool
) -> EquipmentSensorEntityDescription:
    return EquipmentSensorEntityDescription(
        key=key,
        translation_key=key,
        equipment="guider",
        native_unit_of_measurement=UNIT_ARCSEC,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        entity_registry_enabled_default=enabled,
        value_fn=reading(Guider, fn),
    )


def _time_to_flip(mount: Mount) -> float | None:
    hours = mount.time_to_meridian_flip
    return round(hours * 60, 1) if hours is not None and mount.tracking_enabled else None


EQUIPMENT_SENSORS: tuple[EquipmentSensorEntityDescription, ...] = (
    # Camera
    _temperature("cooler_temperature", "camera", reading(Camera, lambda c: c.temperature)),
    EquipmentSensorEntityDescription(
        key="cooler_power",
        translation_key="cooler_power",
        equipment="camera",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=reading(Camera, lambda c: c.cooler_power),
    ),
    EquipmentSensorEntityDescription(
        key="camera_state",
        translation_key="camera_state",
        equipment="camera",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=reading(Camera, lambda c: c.state),
    ),
    EquipmentSensorEntityDescription(
        key="camera_gain",
        translation_key="camera_gain",
        equipment="camera",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=reading(Camera, lambda c: c.gain),
    ),
    EquipmentSensorEntityDescription(
        key="camera_offset",
        translation_key="camera_offset",
        equipment="camera",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=reading(Camera, lambda c: c.offset),
    ),
    # Mount
    EquipmentSensorEntityDescription(
        key="time_to_meridian_flip",
        translation_key="time_to_meridian_flip",
        equipment="mount",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MINUTES,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=reading(Mount, _time_to_flip),
    ),
    EquipmentSensorEntityDescription(
        key="side_of_pier",
        translation_key="side_of_pier",
        equipment="mount",
        device_class=SensorDeviceClass.ENUM,
        options=PIER_SIDES,
        value_fn=reading(Mount, lambda m: m.side_of_pier),
    ),
    _angle("mount_altitude", "mount", reading(Mount, lambda m: m.altitude), enabled=True),
    _angle("mount_azimuth", "mount", reading(Mount, lambda m: m.azimuth), enabled=True),
    _angle("declination", "mount", reading(Mount, lambda m: m.declination)),
    EquipmentSensorEntityDescription(
        key="right_ascension",
        translation_key="right_ascension",
        equipment="mount",
        native_unit_of_measurement=UNIT_HOURS_ANGLE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=4,
        entity_registry_enabled_default=False,
        value_fn=reading(Mount, lambda m: m.right_ascension),
    ),
    EquipmentSensorEntityDescription(
        key="sidereal_time",
        translation_key="sidereal_time",
        equipment="mount",
        native_unit_of_measurement=UNIT_HOURS_ANGLE,
        suggested_display_precision=4,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=reading(Mount, lambda m: m.sidereal_time),
    ),
    # Focuser and the last autofocus
    EquipmentSensorEntityDescription(
        key="focuser_position",
        translation_key="focuser_position",
        equipment="focuser",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=reading(Focuser, lambda f: f.position),
    ),
    _temperature("focuser_temperature", "focuser", reading(Focuser, lambda f: f.temperature)),
    EquipmentSensorEntityDescription(
        key="last_autofocus",
        translation_key="last_autofocus",
        equipment="focuser",
        device_class=SensorDeviceClass.TIMESTAMP,
        autofocus_fn=lambda af: af.time,
    ),
    EquipmentSensorEntityDescription(
        key="last_autofocus_position",
        translation_key="last_autofocus_position",
        equipment="focuser",
        suggested_display_precision=0,
        autofocus_fn=lambda af: af.position,
    ),
    EquipmentSensorEntityDescription(
        key="last_autofocus_hfr",
        translation_key="last_autofocus_hfr",
        equipment="focuser",
        suggested_display_precision=2,
        autofocus_fn=lambda af: af.hfr,
    ),
    EquipmentSensorEntityDescription(
        key="last_autofocus_filter",
        translation_key="last_autofocus_filter",
        equipment="focuser",
        entity_registry_enabled_default=False,
        autofocus_fn=lambda af: af.filter,
    ),
    EquipmentSensorEntityDescription(
        key="last_autofocus_temperature",
        translation_key="last_autofocus_temperature",
        equipment="focuser",
        device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        entity_registry_enabled_default=False,
        autofocus_fn=lambda af: af.temperature,
    ),
    EquipmentSensorEntityDescription(
        key="last_autofocus_duration",
        translation_key="last_autofocus_duration",
        equipment="focuser",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        entity_registry_enabled_default=False,
        autofocus_fn=lambda af: af.duration,
    ),
    # Guider
    EquipmentSensorEntityDescription(
        key="guider_state",
        translation_key="guider_state",
        equipment="guider",
        device_class=SensorDeviceClass.ENUM,
        options=GUIDER_STATES,
        value_fn=reading(Guider, lambda g: _snake(g.state)),
    ),
    _rms("guiding_rms_total", lambda g: g.rms_total, enabled=True),
    _rms("guiding_rms_ra", lambda g: g.rms_ra, enabled=True),
    _rms("guiding_rms_dec", lambda g: g.rms_dec, enabled=True),
    _rms("guiding_peak_ra", lambda g: g.peak_ra, enabled=False),
    _rms("guiding_peak_dec", lambda g: g.peak_dec, enabled=False),
    # Filter wheel
    EquipmentSensorEntityDescription(
        key="selected_filter",
        translation_key="selected_filter",
        equipment="filterwheel",
        value_fn=reading(FilterWheel, lambda w: w.selected.name if w.selected else None),
    ),
    # Rotator
    _angle("rotator_position", "rotator", reading(Rotator, lambda r: r.position), enabled=True),
    _angle(
        "rotator_mechanical_position", "rotator", reading(Rotator, lambda r: r.mechanical_position)
    ),
    # Flat panel
    EquipmentSensorEntityDescription(
        key="flat_cover",
        translation_key="flat_cover",
        equipment="flatdevice",
        device_class=SensorDeviceClass.ENUM,
        options=COVER_STATES,
        value_fn=reading(FlatDevice, lambda f: _snake(f.cover_state)),
    ),
    # Dome
    EquipmentSensorEntityDescription(
        key="dome_shutter",
        translation_key="dome_shutter",
        equipment="dome",
        device_class=SensorDeviceClass.ENUM,
        options=SHUTTER_STATES,
        value_fn=reading(Dome, lambda d: d.shutter),
    ),
    _angle("dome_azimuth", "dome", reading(Dome, lambda d: d.azimuth)),
    # Weather
    _temperature("weather_temperature", "weather", reading(Weather, lambda w: w.temperature)),
    EquipmentSensorEntityDescription(
        key="humidity",
        translation_key="humidity",
        equipment="weather",
        device_class=SensorDeviceClass.HUMIDITY,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=reading(Weather, lambda w: w.humidity),
    ),
    _temperature("dew_point", "weather", reading(Weather, lambda w: w.dew_point)),
    EquipmentSensorEntityDescription(
        key="pressure",
        translation_key="pressure",
        equipment="weather",
        device_class=SensorDeviceClass.ATMOSPHERIC_PRESSURE,
        native_unit_of_measurement=UnitOfPressure.HPA,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=reading(Weather, lambda w: w.pressure),
    ),
    EquipmentSensorEntityDescription(
        key="cloud_cover",
        translation_key="cloud_cover",
        equipment="weather",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=reading(Weather, lambda w: w.cloud_cover),
    ),
    EquipmentSensorEntityDescription(
        key="rain_rate",
        translation_key="rain_rate",
        equipment="weather",
        device_class=SensorDeviceClass.PRECIPITATION_INTENSITY,
        native_unit_of_measurement=UnitOfVolumetricFlux.MILLIMETERS_PER_HOUR,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=reading(Weather, lambda w: w.rain_rate),
    ),
    EquipmentSensorEntityDescription(
        key="sky_quality",
        translation_key="sky_quality",
        equipment="weather",
        native_unit_of_measurement=UNIT_SKY_QUALITY,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        value_fn=reading(Weather, lambda w: w.sky_quality),
    ),
    _temperature("sky_temperature", "weather", reading(Weather, lambda w: w.sky_temperature)),
    EquipmentSensorEntityDescription(
        key="sky_brightness",
        translation_key="sky_brightness",
        equipment="weather",
        device_class=SensorDeviceClass.ILLUMINANCE,
        native_unit_of_measurement=LIGHT_LUX,
        state_class=SensorStateClass.MEASUREMENT,
        entity_registry_enabled_default=False,
        value_fn=reading(Weather, lambda w: w.sky_brightness),
    ),
    EquipmentSensorEntityDescription(
        key="star_fwhm",
        translation_key="star_fwhm",
        equipment="weather",
        native_unit_of_measurement=UNIT_ARCSEC,
        state_class=SensorStateClass.MEASUREMENT,
        entity_registry_enabled_default=False,
        value_fn=reading(Weather, lambda w: w.star_fwhm),
    ),
    EquipmentSensorEntityDescription(
        key="wind_speed",
        translation_key="wind_speed",
        equipment="weather",
        device_class=SensorDeviceClass.WIND_SPEED,
        native_unit_of_measurement=UnitOfSpeed.METERS_PER_SECOND,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=reading(Weather, lambda w: w.wind_speed),
    ),
    EquipmentSensorEntityDescription(
        key="wind_gust",
        translation_key="wind_gust",
        equipment="weather",
        device_class=SensorDeviceClass.WIND_SPEED,
        native_unit_of_measurement=UnitOfSpeed.METERS_PER_SECOND,
        state_class=SensorStateClass.MEASUREMENT,
        entity_registry_enabled_default=False,
        value_fn=reading(Weather, lambda w: w.wind_gust),
    ),
    EquipmentSensorEntityDescription(
        key="wind_direction",
        translation_key="wind_direction",
        equipment="weather",
        native_unit_of_measurement=DEGREE,
        entity_registry_enabled_default=False,
        value_fn=reading(Weather, lambda w: w.wind_direction),
    ),
)


class EquipmentSensor(EquipmentEntity, SensorEntity):
    """A sensor described by an `EquipmentSensorEntityDescription`."""

    entity_description: EquipmentSensorEntityDescription

    @property
    def native_value(self) -> StateType | datetime:
        """Return the described value of the reading (or of the last autofocus)."""
        description = self.entity_description
        if description.autofocus_fn is not None:
            report = self.coordinator.data.autofocus
            return description.autofocus_fn(report) if report is not None else None
        device = self.device
        value = description.value_fn(device) if device is not None else None
        if description.options is not None and value not in description.options:
            if value is not None:
                _LOGGER.debug("%s: unknown state %r", self.entity_id, value)
            return None
        return value


class SwitchChannelSensor(EquipmentEntity, SensorEntity):
    """A read-only channel of a switch hub (a voltage, a current, a sensor), by its name."""

    entity_description: EquipmentSensorEntityDescription

    def __init__(self, coordinator: EquipmentCoordinator, channel_id: int, name: str) -> None:
        """Initialize the channel's sensor; it keeps the name the hub gives it."""
        super().__init__(coordinator, SWITCH_CHANNEL, f"channel_{channel_id}")
        self._channel_id = channel_id
        self._attr_name = name

    @property
    def native_value(self) -> float | None:
        """Return the channel's value."""
        device = self.device
        if not isinstance(device, Switch):
            return None
        channel = next((c for c in device.channels if c.id == self._channel_id), None)
        return channel.value if channel is not None else None


SWITCH_CHANNEL = EquipmentSensorEntityDescription(
    key="channel", equipment="switch", state_class=SensorStateClass.MEASUREMENT
)


def _make(coordinator: EquipmentCoordinator, device_class: str) -> Iterable[Entity]:
    entities: list[Entity] = [
        EquipmentSensor(coordinator, d) for d in EQUIPMENT_SENSORS if d.equipment == device_class
    ]
    switch = coordinator.data.devices.get(device_class)
    if isinstance(switch, Switch):
        entities += [
            SwitchChannelSensor(coordinator, c.id, c.name)
            for c in switch.channels
            if not c.writable
        ]
    return entities


def async_setup_equipment_sensors(
    entry: NinaSessionConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the equipment sensors of each class as it connects."""
    add_equipment_entities(entry, async_add_entities, _make)
