"""Numbers: cooler set point, flat brightness, focuser and rotator position, switch ranges.

Setting a value sends it at once; nothing is sent on setup, reload or restore. Focuser and
rotator positions move hardware: created disabled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
)
from homeassistant.const import DEGREE, UnitOfTemperature
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import NinaSessionConfigEntry
from .engine.equipment import Camera, Device, FlatDevice, Focuser, Rotator, Switch, SwitchChannel
from .engine.equipment_client import ParamValue
from .equipment import EquipmentCoordinator
from .equipment_entity import (
    EquipmentControlEntity,
    EquipmentEntityDescription,
    add_equipment_entities,
    reading,
)

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class EquipmentNumberEntityDescription(NumberEntityDescription, EquipmentEntityDescription):
    """A number: its value from the reading, the action and the parameters it sends."""

    value_fn: Callable[[Device], float | None]
    action: str
    params_fn: Callable[[float], dict[str, ParamValue]]
    #: The device's own limits, where it reports them (flat panels).
    range_fn: Callable[[Device], tuple[int | None, int | None] | None] | None = None


EQUIPMENT_NUMBERS: tuple[EquipmentNumberEntityDescription, ...] = (
    EquipmentNumberEntityDescription(
        key="cooler_set_point",
        translation_key="cooler_set_point",
        equipment="camera",
        device_class=NumberDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        native_min_value=-50,
        native_max_value=30,
        native_step=0.5,
        mode=NumberMode.BOX,
        value_fn=reading(Camera, lambda c: c.set_point),
        action="camera_cool",  # NINA cools to the new set point over the profile's duration
        params_fn=lambda value: {"temperature": value, "minutes": -1},
    ),
    EquipmentNumberEntityDescription(
        key="flat_brightness",
        translation_key="flat_brightness",
        equipment="flatdevice",
        native_min_value=0,
        native_max_value=255,
        native_step=1,
        mode=NumberMode.SLIDER,
        value_fn=reading(FlatDevice, lambda f: f.brightness),
        action="flat_brightness",
        params_fn=lambda value: {"brightness": int(value)},
        range_fn=reading(FlatDevice, lambda f: (f.min_brightness, f.max_brightness)),
    ),
    EquipmentNumberEntityDescription(
        key="focuser_target",
        translation_key="focuser_target",
        equipment="focuser",
        native_min_value=0,
        native_max_value=1_000_000,
        native_step=1,
        mode=NumberMode.BOX,
        entity_registry_enabled_default=False,
        value_fn=reading(Focuser, lambda f: f.position),
        action="focuser_move",
        params_fn=lambda value: {"position": int(value)},
    ),
    EquipmentNumberEntityDescription(
        key="rotator_target",
        translation_key="rotator_target",
        equipment="rotator",
        native_unit_of_measurement=DEGREE,
        native_min_value=0,
        native_max_value=360,
        native_step=0.1,
        mode=NumberMode.BOX,
        entity_registry_enabled_default=False,
        value_fn=reading(Rotator, lambda r: r.position),
        action="rotator_move",
        params_fn=lambda value: {"position": value},
    ),
)


class EquipmentNumber(EquipmentControlEntity, NumberEntity):
    """A number described by an `EquipmentNumberEntityDescription`."""

    entity_description: EquipmentNumberEntityDescription

    def _range(self) -> tuple[int | None, int | None]:
        device, range_fn = self.device, self.entity_description.range_fn
        limits = range_fn(device) if device is not None and range_fn is not None else None
        return limits or (None, None)

    @property
    def native_min_value(self) -> float:
        """Return the device's minimum where it reports one."""
        low = self._range()[0]
        return low if low is not None else super().native_min_value

    @property
    def native_max_value(self) -> float:
        """Return the device's maximum where it reports one."""
        high = self._range()[1]
        return high if high is not None else super().native_max_value

    @property
    def native_value(self) -> float | None:
        """Return the value NINA reports."""
        device = self.device
        return self.entity_description.value_fn(device) if device is not None else None

    async def async_set_native_value(self, value: float) -> None:
        """Send the value; a refusal raises a translated error."""
        description = self.entity_description
        await self._control(description.action, description.params_fn(value))


SWITCH_CHANNEL = EquipmentNumberEntityDescription(
    key="channel",
    equipment="switch",
    mode=NumberMode.BOX,
    value_fn=lambda _d: None,
    action="switch_set",
    params_fn=lambda value: {"value": value},
)


class SwitchChannelNumber(EquipmentControlEntity, NumberEntity):
    """A channel of a switch hub with a range (a PWM dew heater, an adjustable output)."""

    entity_description: EquipmentNumberEntityDescription

    def __init__(self, coordinator: EquipmentCoordinator, channel: SwitchChannel) -> None:
        """Initialize the channel's number with the name and range the hub gives it."""
        super().__init__(coordinator, SWITCH_CHANNEL, f"channel_{channel.id}")
        self._channel_id = channel.id
        self._attr_name = channel.name
        self._attr_native_min_value = channel.minimum if channel.minimum is not None else 0
        self._attr_native_max_value = channel.maximum if channel.maximum is not None else 100
        self._attr_native_step = channel.step or 1

    @property
    def native_value(self) -> float | None:
        """Return the channel's value."""
        device = self.device
        if not isinstance(device, Switch):
            return None
        channel = next((c for c in device.channels if c.id == self._channel_id), None)
        return channel.value if channel is not None else None

    async def async_set_native_value(self, value: float) -> None:
        """Set the channel; a refusal raises a translated error."""
        await self._control("switch_set", {"index": self._channel_id, "value": value})


def _make(coordinator: EquipmentCoordinator, device_class: str) -> Iterable[Entity]:
    entities: list[Entity] = [
        EquipmentNumber(coordinator, d) for d in EQUIPMENT_NUMBERS if d.equipment == device_class
    ]
    hub = coordinator.data.devices.get(device_class)
    if isinstance(hub, Switch):
        entities += [
            SwitchChannelNumber(coordinator, c)
            for c in hub.channels
            if c.writable and not c.is_boolean
        ]
    return entities


async def async_setup_entry(
    hass: HomeAssistant,
    entry: NinaSessionConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up each class's numbers as it connects."""
    add_equipment_entities(entry, async_add_entities, _make)
