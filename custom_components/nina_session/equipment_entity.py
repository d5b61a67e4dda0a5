"""Base of the equipment entities: one HA device per equipment class, under the NINA device.

A class's entities are added when it first connects (dynamic devices) and are unavailable
while it, or NINA, is disconnected. Each platform declares descriptions with `equipment`
(the device class) and a function of that class's reading; `add_equipment_entities` wires
a platform's descriptions to the coordinator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import NinaSessionConfigEntry
from .engine.equipment import Device
from .engine.equipment_client import ParamValue
from .equipment import EquipmentCoordinator

_D = TypeVar("_D", bound=Device)
_T = TypeVar("_T")

#: The model name of each class's device (NINA's own words for them).
CLASS_MODELS = {
    "camera": "Camera",
    "mount": "Mount",
    "focuser": "Focuser",
    "guider": "Guider",
    "filterwheel": "Filter wheel",
    "rotator": "Rotator",
    "flatdevice": "Flat panel",
    "dome": "Dome",
    "safetymonitor": "Safety monitor",
    "weather": "Weather",
    "switch": "Switch",
}


def reading(kind: type[_D], fn: Callable[[_D], _T]) -> Callable[[Device], _T | None]:
    """Return `fn` of a reading of type `kind`; None for another type."""

    def read(device: Device) -> _T | None:
        return fn(device) if isinstance(device, kind) else None

    return read


@dataclass(frozen=True, kw_only=True)
class EquipmentEntityDescription(EntityDescription):
    """What every equipment description adds: the device class it belongs to."""

    equipment: str


class EquipmentEntity(CoordinatorEntity[EquipmentCoordinator]):
    """An entity of one equipment class's device."""

    _attr_has_entity_name = True
    entity_description: EquipmentEntityDescription

    def __init__(
        self,
        coordinator: EquipmentCoordinator,
        description: EquipmentEntityDescription,
        key: str | None = None,
    ) -> None:
        """Initialize the entity; `key` overrides the description's (switch channels)."""
        super().__init__(coordinator)
        self.entity_description = description
        equipment = description.equipment
        self._attr_unique_id = f"{coordinator.instance_id}_{equipment}_{key or description.key}"
        device = coordinator.data.devices.get(equipment)
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, f"{coordinator.instance_id}_{equipment}")},
            name=(device.label if device else None) or CLASS_MODELS[equipment],
            model=CLASS_MODELS[equipment],
            sw_version=device.driver_version if device else None,
            via_device=(DOMAIN, coordinator.instance_id),
        )

    @property
    def device(self) -> Device | None:
        """Return this class's reading while it and NINA are connected."""
        return self.coordinator.device(self.entity_description.equipment)

    @property
    def available(self) -> bool:
        """Return whether NINA and this device class are connected."""
        return super().available and self.device is not None


class EquipmentControlEntity(EquipmentEntity):
    """An entity that acts on its device through the plugin; refusals raise translated."""

    async def _control(self, action: str, params: Mapping[str, ParamValue] | None = None) -> None:
        await self.coordinator.async_control(
            action, params, reread=self.entity_description.equipment
        )


def add_equipment_entities(
    entry: NinaSessionConfigEntry,
    add: Callable[[Iterable[Entity]], None],
    make: Callable[[EquipmentCoordinator, str], Iterable[Entity]],
) -> None:
    """Add a platform's entities of each class now connected, and of each that connects later.

    `make(coordinator, device_class)` returns the entities of one class.
    """
    coordinator = entry.runtime_data.equipment

    @callback
    def _class_connected(device_class: str) -> None:
        add(make(coordinator, device_class))

    for device_class in sorted(coordinator.known_classes):
        _class_connected(device_class)
    entry.async_on_unload(coordinator.async_add_class_listener(_class_connected))


def described(
    descriptions: Iterable[Any], factory: Callable[[EquipmentCoordinator, Any], Entity]
) -> Callable[[EquipmentCoordinator, str], list[Entity]]:
    """Return a `make` for `add_equipment_entities`: one entity per description of the class."""

    def make(coordinator: EquipmentCoordinator, device_class: str) -> list[Entity]:
        return [factory(coordinator, d) for d in descriptions if d.equipment == device_class]

    return make
