"""Equipment coordinator: NINA's devices, push-first, beside the session coordinator.

Reads `engine.equipment_client.EquipmentClient` in the background and never on the setup
path or the engine's: a (re)connect reads everything once; an event that announces a change
(X-CONNECTED/-DISCONNECTED, MOUNT-PARKED, FILTERWHEEL-CHANGED, FLAT-*, SAFETY-CHANGED,
DOME-*, ...) re-reads what it names, AUTOFOCUS-FINISHED the last autofocus; only readings no
event announces (temperatures, positions, guiding error, weather) are polled, every
POLL_INTERVAL while NINA is connected and one such device is. Control calls go through
`async_control`, which turns the plugin's refusals into translated errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
import logging
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from .const import DOMAIN
from .engine.client import NinaConnectionError, NinaError
from .engine.engine import EngineUpdate, NinaEngine
from .engine.equipment import (
    AUTOFOCUS_DONE_EVENTS,
    DEVICE_CLASSES,
    POLLED_CLASSES,
    Equipment,
    announced_class,
)
from .engine.equipment_client import EquipmentClient, EquipmentControlError, ParamValue

if TYPE_CHECKING:
    from .engine.equipment import Device

_LOGGER = logging.getLogger(__name__)

#: How often readings without an event are re-read (cooler, mount position, weather).
POLL_INTERVAL = timedelta(seconds=30)
#: Events of one burst (a flat run toggles the light and brightness per filter) are read once.
READ_DELAY = 0.25


class EquipmentCoordinator(DataUpdateCoordinator[Equipment]):
    """One NINA instance's equipment: readings, which classes are connected, control."""

    config_entry: ConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, engine: NinaEngine, instance_id: str
    ) -> None:
        """Initialize over the engine's client; `async_start` follows the engine."""
        super().__init__(
            hass, _LOGGER, config_entry=entry, name=f"{DOMAIN} {entry.title} equipment"
        )
        self.engine = engine
        self.instance_id = instance_id
        self.client = EquipmentClient(engine.client)
        self.data = Equipment()
        self._pending: set[str] = set()
        self._pending_af = False
        self._read_task: asyncio.Task[None] | None = None
        self._unsubscribers: list[Callable[[], None]] = []
        self._poll_unsub: Callable[[], None] | None = None
        #: When the connection we read last came up (None while disconnected).
        self._connected_since: datetime | None = None
        self._class_listeners: list[Callable[[str], None]] = []
        #: Classes seen connected since HA started: their entities exist.
        self.known_classes: set[str] = set()

    # -- lifecycle -----------------------------------------------------------------------
    @callback
    def async_start(self) -> None:
        """Follow the engine's updates; read at once if NINA is already connected."""
        self._unsubscribers.append(self.engine.subscribe(self._handle_engine_update))
        if self.engine.health.connected:
            self._on_connected()

    @callback
    def async_stop(self) -> None:
        """Stop following the engine, polling and reading."""
        for unsubscribe in self._unsubscribers:
            unsubscribe()
        self._unsubscribers.clear()
        self._stop_polling()
        if self._read_task is not None:
            self._read_task.cancel()
            self._read_task = None

    @property
    def connected(self) -> bool:
        """Return whether NINA's socket is connected (equipment readings are live)."""
        return self.engine.health.connected

    @callback
    def async_add_class_listener(self, listener: Callable[[str], None]) -> Callable[[], None]:
        """Call `listener(device_class)` when a class connects for the first time."""
        self._class_listeners.append(listener)
        return lambda: self._class_listeners.remove(listener)

    async def _async_update_data(self) -> Equipment:
        """Read everything now (a requested refresh)."""
        await self._read(DEVICE_CLASSES, autofocus=True)
        return self.data

    # -- what makes us read ------------------------------------------------------------
    @callback
    def _handle_engine_update(self, update: EngineUpdate) -> None:
        if update.reason == "connection":
            since = self.engine.health.since
            if self.connected and since != self._connected_since:
                self._on_connected()  # a new connection (NINA may have restarted): read all
            elif not self.connected and self._connected_since is not None:
                self._connected_since = None
                self._stop_polling()
                self.async_update_listeners()  # entities turn unavailable
            return
        if update.reason != "events" or update.result is None:
            return
        for item in update.result.applied:
            device_class = announced_class(item.event.name)
            if device_class is not None:
                self._pending.add(device_class)
            if item.event.name in AUTOFOCUS_DONE_EVENTS:
                self._pending_af = True
        self._schedule_read()

    def _on_connected(self) -> None:
        self._connected_since = self.engine.health.since
        self._pending.update(DEVICE_CLASSES)
        self._pending_af = True
        self._schedule_read(delay=0)
        if self._poll_unsub is None:
            self._poll_unsub = async_track_time_interval(
                self.hass, self._async_poll, POLL_INTERVAL, name=f"{self.name} poll"
            )

    def _stop_polling(self) -> None:
        if self._poll_unsub is not None:
            self._poll_unsub()
            self._poll_unsub = None

    async def _async_poll(self, _now: datetime | None = None) -> None:
        polled = POLLED_CLASSES & self.data.connected()
        if polled and self.connected:
            self._pending.update(polled)
            self._schedule_read(delay=0)

    def _schedule_read(self, delay: float = READ_DELAY) -> None:
        if not (self._pending or self._pending_af) or not self.connected:
            return
        if self._read_task is not None and not self._read_task.done():
            return  # the running read takes what is pending when it starts
        self._read_task = self.config_entry.async_create_background_task(
            self.hass, self._read_pending(delay), f"{self.name} read"
        )

    async def _read_pending(self, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        classes, self._pending = self._pending, set()
        autofocus, self._pending_af = self._pending_af, False
        await self._read(classes, autofocus=autofocus)
        if self._pending or self._pending_af:  # announced while we read
            await self._read_pending(0)

    async def _read(self, classes: Iterable[str], *, autofocus: bool) -> None:
        try:
            devices = await self.client.read(sorted(classes)) if classes else {}
            report = await self.client.last_autofocus() if autofocus else self.data.autofocus
        except NinaError as err:
            # The engine notices a lost connection and says so; a read error is not news.
            _LOGGER.debug("Reading the equipment of %s failed: %s", self.name, err)
            return
        self._publish(self.data.merged(devices).with_autofocus(report))

    @callback
    def _publish(self, data: Equipment) -> None:
        new = data.connected() - self.known_classes
        self.known_classes |= new
        for device_class in sorted(new):
            _LOGGER.info("%s: %s connected", self.name, device_class)
        self.async_set_updated_data(data)
        for device_class in sorted(new):
            for listener in list(self._class_listeners):
                listener(device_class)

    # -- reading helpers for entities --------------------------------------------------
    def device(self, device_class: str) -> Device | None:
        """Return the reading of a class while NINA and the device are connected."""
        device = self.data.devices.get(device_class)
        if device is None or not device.connected or not self.connected:
            return None
        return device

    # -- control -----------------------------------------------------------------------
    async def async_control(
        self, action: str, params: Mapping[str, ParamValue] | None = None, *, reread: str
    ) -> str:
        """Run a control action; the plugin's refusal is a translated HomeAssistantError.

        `reread` is the device class whose reading the action changes: read again at once,
        so a switch or number shows the new value without waiting for a poll.
        """
        try:
            message = await self.client.call(action, params)
        except EquipmentControlError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="control_refused",
                translation_placeholders={"action": action, "error": err.error},
            ) from err
        except (NinaConnectionError, TimeoutError) as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="control_unreachable",
                translation_placeholders={"action": action, "error": str(err)},
            ) from err
        except NinaError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="control_refused",
                translation_placeholders={"action": action, "error": str(err)},
            ) from err
        _LOGGER.info("%s: %s: %s", self.name, action, message)
        self._pending.add(reread)
        self._schedule_read(delay=0)
        return message
