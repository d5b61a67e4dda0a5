"""Event entity: a night's rare moments (session start/end, autofocus, flip, guiding, error).

The engine decides what happened (`engine.moments`, as `NinaSessionData.triggers`); this
entity fires the
types of const.EVENT_TYPES among them. Every fire is a logbook row ("detected an event"), so
frames and state changes are left to the device triggers, the bus events and the state
sensor, which tell them once each.
"""

from __future__ import annotations

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import EVENT_TYPES
from .coordinator import NinaSessionConfigEntry
from .entity import NinaSessionEntity

# Push: the coordinator updates entities; nothing to serialise.
PARALLEL_UPDATES = 0

SESSION_EVENT = EventEntityDescription(
    key="session_event",
    translation_key="session_event",
    event_types=list(EVENT_TYPES),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: NinaSessionConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the event entity of one NINA instance."""
    async_add_entities([NinaSessionEventEntity(entry.runtime_data, SESSION_EVENT)])


class NinaSessionEventEntity(NinaSessionEntity, EventEntity):
    """Fires the triggers each coordinator update carries."""

    @property
    def shown_when_disconnected(self) -> bool:
        """Return True: the entity stays available without NINA."""
        # The last event stays meaningful; a session can end on the idle clock offline.
        return True

    @callback
    def _handle_coordinator_update(self) -> None:
        triggers = [t for t in self.coordinator.data.triggers if t.event_type in EVENT_TYPES]
        if not triggers:
            # Availability may have changed (connection); the last event stays as it was.
            self.async_write_ha_state()
            return
        for trigger in triggers:
            self._trigger_event(trigger.event_type, dict(trigger.attributes))
            self.async_write_ha_state()
