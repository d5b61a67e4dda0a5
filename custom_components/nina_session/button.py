"""Buttons: park, home, autofocus, guiding, dome, flat cover, sequence start and stop.

A button acts only when pressed: nothing is sent on setup, reload or restore. Buttons that
move hardware from a safe state (unpark, find home, open the dome, open the flat cover) are
created disabled; parking and closing, the safe direction, are enabled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import NinaSessionConfigEntry
from .engine.equipment_client import ParamValue
from .entity import NinaSessionEntity
from .equipment_entity import (
    EquipmentControlEntity,
    EquipmentEntityDescription,
    add_equipment_entities,
    described,
)

# One call to NINA at a time per platform.
PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class EquipmentButtonEntityDescription(ButtonEntityDescription, EquipmentEntityDescription):
    """A button that runs one control action of the plugin."""

    action: str
    params: Mapping[str, ParamValue] = field(default_factory=dict)


EQUIPMENT_BUTTONS: tuple[EquipmentButtonEntityDescription, ...] = (
    EquipmentButtonEntityDescription(
        key="mount_park", translation_key="mount_park", equipment="mount", action="mount_park"
    ),
    EquipmentButtonEntityDescription(
        key="mount_unpark",
        translation_key="mount_unpark",
        equipment="mount",
        action="mount_unpark",
        entity_registry_enabled_default=False,
    ),
    EquipmentButtonEntityDescription(
        key="mount_home",
        translation_key="mount_home",
        equipment="mount",
        action="mount_home",
        entity_registry_enabled_default=False,
    ),
    EquipmentButtonEntityDescription(
        key="mount_stop_slew",
        translation_key="mount_stop_slew",
        equipment="mount",
        action="mount_stop_slew",
    ),
    EquipmentButtonEntityDescription(
        key="autofocus",
        translation_key="autofocus",
        equipment="focuser",
        action="autofocus",
        params={"cancel": False},
    ),
    EquipmentButtonEntityDescription(
        key="abort_exposure",
        translation_key="abort_exposure",
        equipment="camera",
        action="camera_abort_exposure",
    ),
    EquipmentButtonEntityDescription(
        key="guiding_start",
        translation_key="guiding_start",
        equipment="guider",
        action="guider_start",
        params={"calibrate": False},
    ),
    EquipmentButtonEntityDescription(
        key="guiding_stop", translation_key="guiding_stop", equipment="guider", action="guider_stop"
    ),
    EquipmentButtonEntityDescription(
        key="dome_open",
        translation_key="dome_open",
        equipment="dome",
        action="dome_open",
        entity_registry_enabled_default=False,
    ),
    EquipmentButtonEntityDescription(
        key="dome_close", translation_key="dome_close", equipment="dome", action="dome_close"
    ),
    EquipmentButtonEntityDescription(
        key="dome_park", translation_key="dome_park", equipment="dome", action="dome_park"
    ),
    EquipmentButtonEntityDescription(
        key="dome_stop", translation_key="dome_stop", equipment="dome", action="dome_stop"
    ),
    EquipmentButtonEntityDescription(
        key="flat_cover_open",
        translation_key="flat_cover_open",
        equipment="flatdevice",
        action="flat_cover",
        params={"closed": False},
        entity_registry_enabled_default=False,
    ),
    EquipmentButtonEntityDescription(
        key="flat_cover_close",
        translation_key="flat_cover_close",
        equipment="flatdevice",
        action="flat_cover",
        params={"closed": True},
        entity_registry_enabled_default=False,
    ),
)

#: Sequence buttons belong to the NINA device itself (the sequencer is no equipment).
SEQUENCE_BUTTONS: tuple[ButtonEntityDescription, ...] = (
    ButtonEntityDescription(key="sequence_start", translation_key="sequence_start"),
    ButtonEntityDescription(key="sequence_stop", translation_key="sequence_stop"),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: NinaSessionConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the sequence buttons now and each class's buttons as it connects."""
    async_add_entities(SequenceButton(entry.runtime_data, d) for d in SEQUENCE_BUTTONS)
    add_equipment_entities(entry, async_add_entities, described(EQUIPMENT_BUTTONS, EquipmentButton))


class EquipmentButton(EquipmentControlEntity, ButtonEntity):
    """A button described by an `EquipmentButtonEntityDescription`."""

    entity_description: EquipmentButtonEntityDescription

    async def async_press(self) -> None:
        """Run the action; a refusal raises a translated error."""
        await self._control(self.entity_description.action, self.entity_description.params)


class SequenceButton(NinaSessionEntity, ButtonEntity):
    """Start or stop NINA's advanced sequence (its key is the action)."""

    async def async_press(self) -> None:
        """Start or stop the sequence; a refusal raises a translated error."""
        # NINA validates the sequence before it starts (skipValidation stays false): a
        # sequence missing its camera is refused rather than started blind.
        await self.coordinator.equipment.async_control(self.entity_description.key, reread="camera")
