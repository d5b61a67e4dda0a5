"""Binary sensors: NINA connected, sequence running, guiding active."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import NinaSessionConfigEntry
from .entity import NinaSessionDescribedEntity, NinaSessionEntityDescription
from .equipment_binary_sensor import async_setup_equipment_binary_sensors
from .snapshot import NinaSessionData

# Push: the coordinator updates entities; nothing to serialise.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class NinaSessionBinarySensorEntityDescription(
    BinarySensorEntityDescription, NinaSessionEntityDescription
):
    """A binary sensor read from the coordinator's snapshot."""

    is_on_fn: Callable[[NinaSessionData], bool | None]


def _connection_attributes(data: NinaSessionData) -> Mapping[str, Any]:
    health = data.health
    return {
        "plugin_version": health.plugin_version,
        "reconnects": health.reconnects,
        "last_error": health.last_error,
    }


BINARY_SENSORS: tuple[NinaSessionBinarySensorEntityDescription, ...] = (
    NinaSessionBinarySensorEntityDescription(
        key="connected",
        translation_key="connected",
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
        is_on_fn=lambda data: data.health.connected,
        attributes_fn=_connection_attributes,
        available_when_disconnected=True,
    ),
    NinaSessionBinarySensorEntityDescription(
        key="sequence_running",
        translation_key="sequence_running",
        device_class=BinarySensorDeviceClass.RUNNING,
        is_on_fn=lambda data: data.sequence_running,
    ),
    NinaSessionBinarySensorEntityDescription(
        key="guiding",
        translation_key="guiding",
        is_on_fn=lambda data: data.guiding,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: NinaSessionConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the binary sensors of one NINA instance."""
    coordinator = entry.runtime_data
    async_add_entities(
        NinaSessionBinarySensor(coordinator, description) for description in BINARY_SENSORS
    )
    async_setup_equipment_binary_sensors(entry, async_add_entities)


class NinaSessionBinarySensor(NinaSessionDescribedEntity, BinarySensorEntity):
    """A binary sensor described by a `NinaSessionBinarySensorEntityDescription`."""

    entity_description: NinaSessionBinarySensorEntityDescription
    # Diagnostics text; the connection history (on/off) is what the recorder should keep.
    _unrecorded_attributes = frozenset({"last_error"})

    @property
    def is_on(self) -> bool | None:
        """Return the state the description reads from the snapshot."""
        return self.entity_description.is_on_fn(self.coordinator.data)
