"""Base entity: one device per NINA instance, unique ids from the stable instance id."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import NinaSessionCoordinator
from .snapshot import NinaSessionData


@dataclass(frozen=True, kw_only=True)
class NinaSessionEntityDescription(EntityDescription):
    """What every described platform adds to its HA description."""

    attributes_fn: Callable[[NinaSessionData], Mapping[str, Any] | None] | None = None
    #: Value stays valid without NINA (stored history, the connection itself).
    available_when_disconnected: bool = False


class NinaSessionEntity(CoordinatorEntity[NinaSessionCoordinator]):
    """Shared base of every NINA Session entity.

    Available while the event socket is connected. Entities whose value comes from the
    stored history (`shown_when_disconnected`) stay available without NINA.
    """

    _attr_has_entity_name = True

    def __init__(self, coordinator: NinaSessionCoordinator, description: EntityDescription) -> None:
        """Initialize the entity and its device (one per NINA instance)."""
        super().__init__(coordinator)
        self.entity_description = description
        self._attr_unique_id = f"{coordinator.instance_id}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, coordinator.instance_id)},
            name=coordinator.config_entry.title,
            manufacturer="N.I.N.A.",
            model="Advanced API",
            sw_version=coordinator.data.health.plugin_version,
            configuration_url=coordinator.engine.client.base_url,
        )

    @property
    def shown_when_disconnected(self) -> bool:
        """True for values that stay valid without NINA (history, the connection itself)."""
        return False

    @property
    def available(self) -> bool:
        """Return whether NINA is connected, or the value stays valid without it."""
        if not super().available:
            return False
        return self.shown_when_disconnected or self.coordinator.data.health.connected


class NinaSessionDescribedEntity(NinaSessionEntity):
    """An entity whose availability and attributes come from its description."""

    entity_description: NinaSessionEntityDescription

    @property
    def shown_when_disconnected(self) -> bool:
        """Return whether the description keeps the value valid without NINA."""
        return self.entity_description.available_when_disconnected

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Return the attributes the description reads from the snapshot."""
        if self.entity_description.attributes_fn is None:
            return None
        return self.entity_description.attributes_fn(self.coordinator.data)
