"""Switches: camera cooler and dew heater, flat panel light, mount tracking, switch channels.

A switch acts only when the user turns it: its state is always read from NINA, never
restored or re-sent on reload. Tracking starts the mount's motors: created disabled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import NinaSessionConfigEntry
from .engine.equipment import Camera, Device, FlatDevice, Mount, Switch
from .engine.equipment_client import ParamValue
from .equipment import EquipmentCoordinator
from .equipment_entity import (
    EquipmentControlEntity,
    EquipmentEntityDescription,
    add_equipment_entities,
    reading,
)

PARALLEL_UPDATES = 1

#: Set point used when the cooler is switched on before NINA reported one.
DEFAULT_SET_POINT = -10.0


@dataclass(frozen=True, kw_only=True)
class EquipmentSwitchEntityDescription(SwitchEntityDescription, EquipmentEntityDescription):
    """A switch: its state from the reading, and the action (with parameters) per direction."""

    is_on_fn: Callable[[Device], bool | None]
    on: Callable[[Device], tuple[str, Mapping[str, ParamValue]]]
    off: Callable[[Device], tuple[str, Mapping[str, ParamValue]]]
    available_fn: Callable[[Device], bool | None] = lambda _device: True


def _cool(device: Device) -> tuple[str, Mapping[str, ParamValue]]:
    set_point = device.set_point if isinstance(device, Camera) else None
    temperature = DEFAULT_SET_POINT if set_point is None else set_point
    return "camera_cool", {"temperature": temperature, "minutes": -1}


EQUIPMENT_SWITCHES: tuple[EquipmentSwitchEntityDescription, ...] = (
    EquipmentSwitchEntityDescription(
        key="cooler",
        translation_key="cooler",
        equipment="camera",
        is_on_fn=reading(Camera, lambda c: c.cooler_on),
        on=_cool,
        off=lambda _d: ("camera_warm", {"minutes": -1}),
        available_fn=reading(Camera, lambda c: c.can_set_temperature is not False),
    ),
    EquipmentSwitchEntityDescription(
        key="dew_heater",
        translation_key="dew_heater",
        equipment="camera",
        is_on_fn=reading(Camera, lambda c: c.dew_heater_on),
        on=lambda _d: ("camera_dew_heater", {"power": True}),
        off=lambda _d: ("camera_dew_heater", {"power": False}),
        available_fn=reading(Camera, lambda c: c.has_dew_heater is True),
    ),
    EquipmentSwitchEntityDescription(
        key="flat_light",
        translation_key="flat_light",
        equipment="flatdevice",
        is_on_fn=reading(FlatDevice, lambda f: f.light_on),
        on=lambda _d: ("flat_light", {"on": True}),
        off=lambda _d: ("flat_light", {"on": False}),
    ),
    EquipmentSwitchEntityDescription(
        key="tracking",
        translation_key="tracking",
        equipment="mount",
        entity_registry_enabled_default=False,
        is_on_fn=reading(Mount, lambda m: m.tracking_enabled),
        on=lambda _d: ("mount_tracking", {"mode": 0}),  # sidereal
        off=lambda _d: ("mount_tracking", {"mode": 5}),  # stopped
    ),
)


class EquipmentSwitch(EquipmentControlEntity, SwitchEntity):
    """A switch described by an `EquipmentSwitchEntityDescription`."""

    entity_description: EquipmentSwitchEntityDescription

    @property
    def available(self) -> bool:
        """Return whether the device is connected and has what the switch controls."""
        device = self.device
        if not super().available or device is None:
            return False
        return bool(self.entity_description.available_fn(device))

    @property
    def is_on(self) -> bool | None:
        """Return the state NINA reports."""
        device = self.device
        return self.entity_description.is_on_fn(device) if device is not None else None

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Run the description's on action."""
        await self._switch(self.entity_description.on)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Run the description's off action."""
        await self._switch(self.entity_description.off)

    async def _switch(
        self, action: Callable[[Device], tuple[str, Mapping[str, ParamValue]]]
    ) -> None:
        device = self.device
        if device is None:
            return
        name, params = action(device)
        await self._control(name, params)


SWITCH_CHANNEL = EquipmentSwitchEntityDescription(
    key="channel",
    equipment="switch",
    is_on_fn=lambda _d: None,
    on=lambda _d: ("switch_set", {}),
    off=lambda _d: ("switch_set", {}),
)


class SwitchChannelSwitch(EquipmentControlEntity, SwitchEntity):
    """An on/off channel of a switch hub (a power port, a dew heater), by its name."""

    entity_description: EquipmentSwitchEntityDescription

    def __init__(self, coordinator: EquipmentCoordinator, channel_id: int, name: str) -> None:
        """Initialize the channel's switch; it keeps the name the hub gives it."""
        super().__init__(coordinator, SWITCH_CHANNEL, f"channel_{channel_id}")
        self._channel_id = channel_id
        self._attr_name = name

    @property
    def is_on(self) -> bool | None:
        """Return whether the channel is on (value 1)."""
        device = self.device
        if not isinstance(device, Switch):
            return None
        channel = next((c for c in device.channels if c.id == self._channel_id), None)
        return None if channel is None or channel.value is None else channel.value >= 1

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Set the channel to 1."""
        await self._control("switch_set", {"index": self._channel_id, "value": 1})

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Set the channel to 0."""
        await self._control("switch_set", {"index": self._channel_id, "value": 0})


def _make(coordinator: EquipmentCoordinator, device_class: str) -> Iterable[Entity]:
    entities: list[Entity] = [
        EquipmentSwitch(coordinator, d) for d in EQUIPMENT_SWITCHES if d.equipment == device_class
    ]
    hub = coordinator.data.devices.get(device_class)
    if isinstance(hub, Switch):
        entities += [
            SwitchChannelSwitch(coordinator, c.id, c.name)
            for c in hub.channels
            if c.writable and c.is_boolean
        ]
    return entities


async def async_setup_entry(
    hass: HomeAssistant,
    entry: NinaSessionConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up each class's switches as it connects."""
    add_equipment_entities(entry, async_add_entities, _make)
