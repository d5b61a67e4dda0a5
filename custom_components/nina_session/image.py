"""Image entity: a thumbnail of the latest frame NINA saved.

The plugin serves `GET /image/thumbnail/{index}` by position in NINA's image history. The
position of the newest frame is the history's length minus one; it is read once per
connection (and whenever the counted position serves nothing) and then moved on by every
live IMAGE-SAVE. A new picture is fetched on
IMAGE-SAVE and IMAGE-PREPARED (rendered) events. When the plugin has no thumbnail (option
off, older plugin, no frame yet) the entity is unavailable.

Disabled by default: it needs the plugin's thumbnail option, and every new picture is a row
in the device's logbook beside the frame's own row.

The livestack image shows the Livestack plugin's latest stack (`/livestack/image/{target}/
{filter}`), fetched again on every STACK-UPDATED; disabled by default, as it needs that plugin.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
import logging
from typing import Any

from homeassistant.components.image import ImageEntity, ImageEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .coordinator import NinaSessionConfigEntry, NinaSessionCoordinator
from .engine.client import NinaError
from .engine.engine import EngineUpdate
from .engine.night_report import notification_text
from .entity import NinaSessionEntity
from .insight import Insight, InsightEntity, insight_of

_LOGGER = logging.getLogger(__name__)

# Push: the coordinator updates entities; nothing to serialise.
PARALLEL_UPDATES = 0

LATEST_FRAME = ImageEntityDescription(
    key="latest_frame", translation_key="latest_frame", entity_registry_enabled_default=False
)
LIVESTACK = ImageEntityDescription(
    key="livestack", translation_key="livestack", entity_registry_enabled_default=False
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: NinaSessionConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the pictures of one NINA instance."""
    async_add_entities(
        [
            NinaSessionImage(hass, entry.runtime_data, LATEST_FRAME),
            LivestackImage(hass, entry.runtime_data, LIVESTACK),
            NightReportImage(hass, insight_of(hass, entry)),
        ]
    )


class _CoalescedFetch:
    """One fetch at a time; a request during a fetch runs it once more afterwards.

    Events come in bursts (IMAGE-SAVE then IMAGE-PREPARED): one download each would race, and
    the older answer could land last.
    """

    def __init__(self, entity: NinaSessionEntity, fetch: Callable[[], Awaitable[None]]) -> None:
        self._entity = entity
        self._fetch = fetch
        self._task: asyncio.Task[None] | None = None
        self._again = False

    @callback
    def request(self) -> None:
        if self._task is not None and not self._task.done():
            self._again = True
            return
        entity = self._entity
        self._task = entity.coordinator.config_entry.async_create_task(
            entity.hass, self._run(), f"{entity.entity_id} picture"
        )

    def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def _run(self) -> None:
        while True:
            self._again = False
            await self._fetch()
            if not self._again:
                return


class NinaSessionImage(NinaSessionEntity, ImageEntity):
    """Thumbnail of the newest frame in NINA's image history."""

    _attr_content_type = "image/jpeg"

    def __init__(
        self,
        hass: HomeAssistant,
        coordinator: NinaSessionCoordinator,
        description: ImageEntityDescription,
    ) -> None:
        """Initialize the image; the frame's position is read once NINA is connected."""
        NinaSessionEntity.__init__(self, coordinator, description)
        ImageEntity.__init__(self, hass)
        #: Position of the newest frame in NINA's image history; None until read.
        self._index: int | None = None
        self._image: bytes | None = None
        self._connected = False
        self._fetch = _CoalescedFetch(self, self._async_fetch_once)
        self._recount = False

    @property
    def available(self) -> bool:
        """Return whether NINA is connected and served a thumbnail."""
        return super().available and self._image is not None

    async def async_added_to_hass(self) -> None:
        """Follow the coordinator; fetch a thumbnail at once if NINA is connected."""
        await super().async_added_to_hass()
        self._follow_coordinator()

    async def async_will_remove_from_hass(self) -> None:
        """Cancel a thumbnail fetch still running."""
        self._fetch.cancel()
        await super().async_will_remove_from_hass()

    async def async_image(self) -> bytes | None:
        """Return the last thumbnail fetched."""
        return self._image

    @callback
    def _handle_coordinator_update(self) -> None:
        self._follow_coordinator()
        self.async_write_ha_state()

    @callback
    def _follow_coordinator(self) -> None:
        data = self.coordinator.data
        connected = data.health.connected
        refresh = data.image_changed
        if connected and not self._connected:
            # NINA may have restarted (history reset) or taken frames meanwhile.
            self._index = None
            refresh = True
        self._connected = connected
        if self._index is not None:
            self._index += data.images_saved
        elif data.images_saved:
            # Frames saved while the position is being read may or may not be in that
            # count: read it again afterwards.
            self._recount = True
        if refresh and connected:
            self._fetch.request()

    async def _async_fetch_once(self) -> None:
        if self._recount:
            self._recount = False
            self._index = None
        client = self.coordinator.engine.client
        try:
            image = await self._async_thumbnail() if self._index is not None else None
            if image is None:
                # Unknown, or counted past the end (frames seen live and in the history
                # count): read the position again.
                records = await client.image_history()
                count = len(records) if isinstance(records, list) else 0
                self._index = count - 1 if count else None
                image = await self._async_thumbnail() if self._index is not None else None
        except NinaError as err:
            _LOGGER.debug("No thumbnail from %s: %s", client.host, err)
            return
        if image is None:
            if self._image is not None:
                _LOGGER.debug("NINA at %s serves no thumbnail", client.host)
            self._image = None
        elif image != self._image:
            # The state is the picture's time: IMAGE-PREPARED and IMAGE-SAVE both fetch, and
            # the same picture again must not look new (nor add a logbook row).
            self._image = image
            self._attr_image_last_updated = dt_util.utcnow()
        self.async_write_ha_state()

    async def _async_thumbnail(self) -> bytes | None:
        assert self._index is not None
        return await self.coordinator.engine.client.thumbnail(self._index)


class LivestackImage(NinaSessionEntity, ImageEntity):
    """The Livestack plugin's latest stack, as the plugin renders it (PNG)."""

    _attr_content_type = "image/png"

    def __init__(
        self,
        hass: HomeAssistant,
        coordinator: NinaSessionCoordinator,
        description: ImageEntityDescription,
    ) -> None:
        """Initialize the image; which stack to show is learnt from NINA once connected."""
        NinaSessionEntity.__init__(self, coordinator, description)
        ImageEntity.__init__(self, hass)
        #: (target, filter) of the newest stack; None until STACK-UPDATED or a read names one.
        self._stack: tuple[str, str] | None = None
        self._image: bytes | None = None
        self._connected = False
        #: "No livestack" was logged: say it once, not on every update.
        self._absence_logged = False
        self._fetch = _CoalescedFetch(self, self._async_fetch_once)

    @property
    def available(self) -> bool:
        """Return whether NINA is connected and served a stack."""
        return super().available and self._image is not None

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Return which stack the picture shows."""
        if self._stack is None or self._image is None:
            return None
        return {"target": self._stack[0], "filter": self._stack[1]}

    async def async_added_to_hass(self) -> None:
        """Follow STACK-UPDATED from the engine; read the stacks now if NINA is connected."""
        await super().async_added_to_hass()
        self.async_on_remove(self.coordinator.engine.subscribe(self._handle_engine_update))
        self._follow_connection()

    async def async_will_remove_from_hass(self) -> None:
        """Cancel a fetch still running."""
        self._fetch.cancel()
        await super().async_will_remove_from_hass()

    async def async_image(self) -> bytes | None:
        """Return the last stack fetched."""
        return self._image

    @callback
    def _handle_coordinator_update(self) -> None:
        self._follow_connection()
        self.async_write_ha_state()

    @callback
    def _follow_connection(self) -> None:
        connected = self.coordinator.data.health.connected
        if connected and not self._connected:
            # NINA may have restarted (its stacks live in memory) or stacked meanwhile.
            self._stack = None
            self._fetch.request()
        self._connected = connected

    @callback
    def _handle_engine_update(self, update: EngineUpdate) -> None:
        if update.reason != "events" or update.result is None:
            return
        named = False
        for item in update.result.applied:
            if item.event.name != "STACK-UPDATED":
                continue
            target, filter_name = item.event.data.get("Target"), item.event.data.get("Filter")
            if isinstance(target, str) and isinstance(filter_name, str):
                self._stack = (target, filter_name)
                named = True
        if named:
            self._fetch.request()

    async def _async_fetch_once(self) -> None:
        client = self.coordinator.engine.client
        try:
            if self._stack is None:
                stacks = await client.livestack_available()
                self._stack = stacks[-1] if stacks else None
            image = await client.livestack_image(*self._stack) if self._stack else None
        except NinaError as err:
            # The plugin answers this way when the Livestack plugin is not installed.
            self._log_absence(f"no livestack from {client.host}: {err}")
            image = None
        if image is None:
            if self._stack is not None:
                self._log_absence(f"NINA at {client.host} serves no livestack image")
            self._image = None
        elif image != self._image:
            self._absence_logged = False
            self._image = image
            self._attr_image_last_updated = dt_util.utcnow()
        self.async_write_ha_state()

    def _log_absence(self, message: str) -> None:
        if not self._absence_logged:
            self._absence_logged = True
            _LOGGER.info("%s; the livestack image is unavailable", message)


NIGHT_REPORT = ImageEntityDescription(key="night_report", translation_key="night_report")


class NightReportImage(InsightEntity, ImageEntity):
    """The latest finished night's report as a PNG picture (a phone notification attaches it)."""

    _attr_content_type = "image/png"

    def __init__(self, hass: HomeAssistant, insight: Insight) -> None:
        """Initialize the picture; it is drawn when a night ends or from the stored one."""
        InsightEntity.__init__(self, insight, NIGHT_REPORT)
        ImageEntity.__init__(self, hass)

    @property
    def available(self) -> bool:
        """Return whether a finished night has been drawn."""
        return super().available and self.insight.png is not None

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Return which night the picture shows and why it stopped."""
        report = self.insight.report
        if report is None:
            return None
        return {
            "session_id": report["session_id"],
            "night": report["night"],
            "integration_seconds": report["integration_seconds"],
            "stopped": report["stopped"]["reason"],
            "message": notification_text(report),
        }

    @callback
    def _insight_changed(self) -> None:
        self._attr_image_last_updated = self.insight.report_updated
        self.async_write_ha_state()

    async def async_image(self) -> bytes | None:
        """Return the report picture."""
        return self.insight.png
