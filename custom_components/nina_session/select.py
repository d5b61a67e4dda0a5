"""Select: the filter wheel's filter.

Created disabled: a filter change during a sequence would spoil its frames.
"""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN
from .coordinator import NinaSessionConfigEntry
from .engine.equipment import FilterWheel
from .equipment_entity import (
    EquipmentControlEntity,
    EquipmentEntityDescription,
    add_equipment_entities,
    described,
)

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class EquipmentSelectEntityDescription(SelectEntityDescription, EquipmentEntityDescription):
    """A select of one equipment class."""


FILTER = EquipmentSelectEntityDescription(
    key="filter",
    translation_key="filter",
    equipment="filterwheel",
    entity_registry_enabled_default=False,
)


class FilterSelect(EquipmentControlEntity, SelectEntity):
    """The filter in the light path; the options are the profile's filters."""

    entity_description: EquipmentSelectEntityDescription

    @property
    def _wheel(self) -> FilterWheel | None:
        device = self.device
        return device if isinstance(device, FilterWheel) else None

    @property
    def options(self) -> list[str]:
        """Return the filters of the wheel."""
        wheel = self._wheel
        return [f.name for f in wheel.filters] if wheel is not None else []

    @property
    def current_option(self) -> str | None:
        """Return the selected filter."""
        wheel = self._wheel
        return wheel.selected.name if wheel is not None and wheel.selected else None

    async def async_select_option(self, option: str) -> None:
        """Turn the wheel to `option`; a refusal raises a translated error."""
        wheel = self._wheel
        match = next((f for f in wheel.filters if f.name == option), None) if wheel else None
        if match is None or match.id is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="unknown_filter",
                translation_placeholders={"filter": option},
            )
        await self._control("filter_change", {"filterId": match.id})


async def async_setup_entry(
    hass: HomeAssistant,
    entry: NinaSessionConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the filter select when a filter wheel connects."""
    add_equipment_entities(entry, async_add_entities, described((FILTER,), FilterSelect))
