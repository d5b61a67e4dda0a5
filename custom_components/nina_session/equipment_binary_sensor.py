"""Equipment binary sensors: safety, park, tracking, slewing, ...

What can also be switched (cooler, flat light) is a switch entity instead.

The safety monitor is a `safety` binary sensor: on means unsafe, as HA defines it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import NinaSessionConfigEntry
from .engine.equipment import Camera, Device, Dome, Focuser, Mount, SafetyMonitor
from .equipment_entity import (
    EquipmentEntity,
    EquipmentEntityDescription,
    add_equipment_entities,
    described,
    reading,
)


@dataclass(frozen=True, kw_only=True)
class EquipmentBinarySensorEntityDescription(
    BinarySensorEntityDescription, EquipmentEntityDescription
):
    """A binary sensor of one equipment class."""

    is_on_fn: Callable[[Device], bool | None]


def _unsafe(monitor: SafetyMonitor) -> bool | None:
    return None if monitor.is_safe is None else not monitor.is_safe


EQUIPMENT_BINARY_SENSORS: tuple[EquipmentBinarySensorEntityDescription, ...] = (
    EquipmentBinarySensorEntityDescription(
        key="safety",
        translation_key="safety",
        equipment="safetymonitor",
        device_class=BinarySensorDeviceClass.SAFETY,
        is_on_fn=reading(SafetyMonitor, _unsafe),
    ),
    EquipmentBinarySensorEntityDescription(
        key="exposing",
        translation_key="exposing",
        equipment="camera",
        device_class=BinarySensorDeviceClass.RUNNING,
        entity_registry_enabled_default=False,
        is_on_fn=reading(Camera, lambda c: c.is_exposing),
    ),
    EquipmentBinarySensorEntityDescription(
        key="parked",
        translation_key="parked",
        equipment="mount",
        is_on_fn=reading(Mount, lambda m: m.at_park),
    ),
    EquipmentBinarySensorEntityDescription(
        key="tracking",
        translation_key="tracking",
        equipment="mount",
        device_class=BinarySensorDeviceClass.RUNNING,
        is_on_fn=reading(Mount, lambda m: m.tracking_enabled),
    ),
    EquipmentBinarySensorEntityDescription(
        key="at_home",
        translation_key="at_home",
        equipment="mount",
        entity_registry_enabled_default=False,
        is_on_fn=reading(Mount, lambda m: m.at_home),
    ),
    EquipmentBinarySensorEntityDescription(
        key="slewing",
        translation_key="slewing",
        equipment="mount",
        device_class=BinarySensorDeviceClass.MOVING,
        entity_registry_enabled_default=False,
        is_on_fn=reading(Mount, lambda m: m.slewing),
    ),
    EquipmentBinarySensorEntityDescription(
        key="focuser_moving",
        translation_key="focuser_moving",
        equipment="focuser",
        device_class=BinarySensorDeviceClass.MOVING,
        entity_registry_enabled_default=False,
        is_on_fn=reading(Focuser, lambda f: f.is_moving),
    ),
    EquipmentBinarySensorEntityDescription(
        key="dome_parked",
        translation_key="dome_parked",
        equipment="dome",
        entity_registry_enabled_default=False,
        is_on_fn=reading(Dome, lambda d: d.at_park),
    ),
)


class EquipmentBinarySensor(EquipmentEntity, BinarySensorEntity):
    """A binary sensor described by an `EquipmentBinarySensorEntityDescription`."""

    entity_description: EquipmentBinarySensorEntityDescription

    @property
    def is_on(self) -> bool | None:
        """Return the described state of the reading."""
        device = self.device
        return self.entity_description.is_on_fn(device) if device is not None else None


def async_setup_equipment_binary_sensors(
    entry: NinaSessionConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the equipment binary sensors of each class as it connects."""
    add_equipment_entities(
        entry, async_add_entities, described(EQUIPMENT_BINARY_SENSORS, EquipmentBinarySensor)
    )
