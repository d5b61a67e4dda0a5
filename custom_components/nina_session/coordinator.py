"""Push coordinator: adapts the engine's updates to Home Assistant.

The engine calls us on the event loop after every processed batch, connection change and
clock tick. Each call becomes one immutable `NinaSessionData` snapshot for the entities,
one `nina_session_event` bus event per applied NINA event, the night's moments found by
`engine.moments` (device triggers and the event entity pick theirs), and the repair issues
(`repair_issues.RepairIssues`).

A history merge comes summarized (`engine.history_summary`): one `nina_session_backfilled`
bus event for its older events, one `nina_session_event` each for its recent ones only.

Nothing here polls NINA. A cheap in-memory watch of the engine's `ConnectionHealth` runs
every few seconds, because the engine does not announce everything that changes in it: the
link coming up (it broadcasts before `connected` is set), failed attempts (`failing`) and the
plugin version read by the probe.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .const import (
    CONF_RETENTION_DAYS,
    DEFAULT_RETENTION_DAYS,
    DOMAIN,
    EVENT_BACKFILLED,
    EVENT_NINA_SESSION,
    EVENT_SESSION_ENDED,
)
from .engine.batch_result import BatchResult
from .engine.engine import EngineUpdate, NinaEngine
from .engine.fsm import SessionState
from .engine.history_summary import HistorySummary, followed
from .engine.models import NinaEvent, Source
from .engine.moments import Moments
from .engine.sessions import Applied, state_detail
from .engine.timeutil import iso_z
from .equipment import EquipmentCoordinator
from .repair_issues import RepairIssues
from .snapshot import HealthSnapshot, LastFrame, NinaSessionData, Trigger

_LOGGER = logging.getLogger(__name__)

type NinaSessionConfigEntry = ConfigEntry[NinaSessionCoordinator]

#: How often history older than the retention window is deleted.
RETENTION_INTERVAL = timedelta(hours=24)

#: Live events that mean a new picture of the latest frame can be fetched.
IMAGE_EVENTS = frozenset({"IMAGE-SAVE", "IMAGE-PREPARED"})
#: Engine update reasons whose events happened just now (not a history merge).
_LIVE_REASONS = frozenset({"events", "tick"})


@dataclass(slots=True)
class _Tracked:
    """Context the coordinator follows across updates (the engine keeps no such view)."""

    current_filter: str | None = None
    current_target: str | None = None
    last_frame: LastFrame | None = None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class NinaSessionCoordinator(DataUpdateCoordinator[NinaSessionData]):
    """One NINA instance: its engine, its snapshots, its bus events and repairs."""

    config_entry: NinaSessionConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: NinaSessionConfigEntry,
        engine: NinaEngine,
        instance_id: str,
    ) -> None:
        """Initialize the coordinator; `async_start` starts the engine and follows it."""
        # No update_interval: the engine pushes.
        super().__init__(hass, _LOGGER, config_entry=entry, name=f"{DOMAIN} {entry.title}")
        self.engine = engine
        self.instance_id = instance_id
        self._tracked = _Tracked()
        self._moments = Moments()
        self._repairs = RepairIssues(hass, entry, engine)
        self._unsubscribers: list[Callable[[], None]] = []
        self._session_ended: list[Callable[[str], None]] = []
        self._stopped = False
        self.data = self._snapshot("start")
        self.equipment = EquipmentCoordinator(hass, entry, engine, instance_id)

    # -- lifecycle ---------------------------------------------------------------------
    async def async_start(self) -> None:
        """Open the engine's database and follow it; `async_connect` then reaches NINA."""
        await self.engine.start(connect=False)
        # No await between start() and subscribe(): nothing can be broadcast in between.
        self._unsubscribers.append(self.engine.subscribe(self._handle_engine_update))
        await self._seed_from_history()
        self._unsubscribers.append(
            async_track_time_interval(
                self.hass,
                self._async_prune,
                RETENTION_INTERVAL,
                name=f"{DOMAIN} history retention",
                cancel_on_shutdown=True,
            )
        )
        self.config_entry.async_create_background_task(
            self.hass, self._async_prune(), f"{DOMAIN} history retention"
        )
        self._publish("start")

    async def async_connect(self) -> None:
        """Connect to NINA in the background once the entities listen (never waits for NINA).

        Connecting earlier would let the first backfill's final state reach the bus and the
        event entity before the platforms are set up, where nothing hears it.
        """
        self.equipment.async_start()
        await self.engine.connect()

    async def async_shutdown(self) -> None:
        """Stop following the engine (on unload); the engine is stopped by `async_stop`."""
        for unsubscribe in self._unsubscribers:
            unsubscribe()
        self._unsubscribers.clear()
        self.equipment.async_stop()
        await super().async_shutdown()

    async def async_stop(self) -> None:
        """Unsubscribe, then stop the engine: socket closed, queue drained, DB closed."""
        await self.async_shutdown()
        if not self._stopped:
            self._stopped = True
            await self.engine.stop()

    @callback
    def async_on_session_ended(self, listener: Callable[[str], None]) -> Callable[[], None]:
        """Call `listener` with the id of each session that ends live (the night report)."""
        self._session_ended.append(listener)
        return lambda: self._session_ended.remove(listener)

    async def _async_update_data(self) -> NinaSessionData:
        """Re-read the engine's in-memory state: a requested refresh polls nothing."""
        return self._snapshot("refresh")

    async def _seed_from_history(self) -> None:
        """Last frame, filter and target from the stored history (NINA may be off)."""
        try:
            legacy = await self.engine.legacy()
        except Exception:
            _LOGGER.exception("Reading the stored history of %s failed", self.name)
            return
        tracked = self._tracked
        image = legacy.get("lastImage") or {}
        if tracked.last_frame is None and image.get("timestamp"):
            tracked.last_frame = LastFrame(
                image_type=image.get("type"),
                filter=image.get("filter"),
                exposure=_float(image.get("exposureTime")),
                temperature=_float(image.get("temperature")),
                hfr=_float(image.get("hfr")),
                stars=image.get("stars") if isinstance(image.get("stars"), int) else None,
                guiding_rms=_float(image.get("rms")),
                time=dt_util.parse_datetime(image["timestamp"]),
            )
        if tracked.current_filter is None:
            tracked.current_filter = (legacy.get("filter") or {}).get("name")
        if tracked.current_target is None:
            tracked.current_target = (legacy.get("target") or {}).get("name")
        if self._moments.told is None and self.engine.pipeline is not None:
            self._moments.told = self.engine.pipeline.state

    # -- engine updates ----------------------------------------------------------------
    @callback
    def _handle_engine_update(self, update: EngineUpdate) -> None:
        if update.reason == "connection":
            # Told on every change, failed retries included: publish only what entities show.
            self.async_health_changed()
            return
        result = update.result
        applied: Sequence[Applied] = result.applied if result is not None else ()
        live = update.reason in _LIVE_REASONS and not (result is not None and result.rebuilt)
        triggers: list[Trigger] = []
        images_saved = 0
        image_changed = False
        # Socket frames (late ones too) are new entries in NINA's image history.
        from_socket = update.reason == "events"
        summary = result.summary if result is not None else None
        if result is not None and summary is not None:  # a merge: `applied` is its recent part
            self._follow_summary(summary)
            if summary.counted:
                self._fire_backfilled(summary, result)
        for item in applied:
            self._fire_bus_event(item)
            if summary is None:
                self._follow(item.event)
            if from_socket:
                images_saved += item.event.name == "IMAGE-SAVE"
                image_changed |= item.event.name in IMAGE_EVENTS
            if live:
                triggers.extend(self._moments.live(item))
        if live and update.reason == "tick" and result is not None:
            triggers.extend(self._moments.ticked(result))
        if not live:
            triggers.extend(self._moments.after_merge(self._fsm_state(), result))
        for trigger in triggers:
            if trigger.event_type == EVENT_SESSION_ENDED:
                for listener in list(self._session_ended):
                    listener(trigger.attributes["session_id"])
        self._publish(
            update.reason,
            tuple(triggers),
            images_saved=images_saved,
            image_changed=image_changed,
        )

    def _fire_bus_event(self, item: Applied) -> None:
        event = item.event
        self.hass.bus.async_fire(
            EVENT_NINA_SESSION,
            {
                "entry_id": self.config_entry.entry_id,
                "instance": self.instance_id,
                "type": event.name,
                "time": event.time.isoformat(),
                "data": event.data,
                "session_id": item.session_id,
                "source": event.source.value,
            },
        )

    def _fire_backfilled(self, summary: HistorySummary, result: BatchResult) -> None:
        """Tell a merge's older events in one bus event (see const.EVENT_BACKFILLED)."""
        device = self.device_entry()
        self.hass.bus.async_fire(
            EVENT_BACKFILLED,
            {
                # The device's logbook tells the merge (logbook.describe_backfill).
                "device_id": device.id if device is not None else None,
                "entry_id": self.config_entry.entry_id,
                "instance": self.instance_id,
                "source": Source.HISTORY.value,
                "events": summary.counted,
                "by_type": dict(summary.by_type),
                "start": iso_z(summary.first),
                "end": iso_z(summary.last),
                "recent_from": iso_z(summary.recent_from),
                "recent_until": iso_z(summary.recent_until),
                "recent_events": len(result.applied),
                "sessions_closed": len(result.closed),
            },
        )

    def _follow(self, event: NinaEvent) -> None:
        """Follow filter, target and last frame."""
        new_filter, new_target = followed(event)
        self._follow_frame(event)
        self._follow_names(new_filter, new_target)

    def _follow_summary(self, summary: HistorySummary) -> None:
        """Follow what a history merge left: its last frame, filter and target."""
        if summary.last_frame is not None:
            self._follow_frame(summary.last_frame)
        self._follow_names(summary.filter, summary.target)

    def _follow_frame(self, event: NinaEvent) -> None:
        frame = event.frame
        if frame is None:
            return
        self._tracked.last_frame = LastFrame(
            image_type=frame.image_type,
            filter=frame.filter,
            exposure=frame.exposure,
            temperature=frame.temperature,
            hfr=frame.hfr,
            stars=frame.stars,
            guiding_rms=frame.guiding_rms,
            target=frame.target,
            time=event.time,
        )

    def _follow_names(self, new_filter: str | None, new_target: str | None) -> None:
        if new_filter is not None:
            self._tracked.current_filter = new_filter
        if new_target is not None:
            self._tracked.current_target = new_target

    # -- health ------------------------------------------------------------------------
    @callback
    def async_health_changed(self) -> None:
        """Publish the connection and storage health if what entities show of it changed."""
        if self._health_snapshot() != self.data.health:
            self._publish("health")

    def _health_snapshot(self) -> HealthSnapshot:
        pipeline = self.engine.pipeline
        return HealthSnapshot.of(
            self.engine.health, pipeline.writer.storage_error if pipeline is not None else None
        )

    @callback
    def device_entry(self) -> dr.DeviceEntry | None:
        """Return this NINA instance's device, once an entity has registered it.

        Looked up among the config entry's own devices: `async_get_device` by identifier is
        deprecated in HA 2026.11 (identifiers are unique per config entry only), and its
        replacements do not exist in the older releases we support.
        """
        identifier = (DOMAIN, self.instance_id)
        registry = dr.async_get(self.hass)
        for device in dr.async_entries_for_config_entry(registry, self.config_entry.entry_id):
            if identifier in device.identifiers:
                return device
        return None

    def _update_device_version(self, version: str) -> None:
        registry = dr.async_get(self.hass)
        device = self.device_entry()
        if device is not None and device.sw_version != version:
            registry.async_update_device(device.id, sw_version=version)

    # -- retention ---------------------------------------------------------------------
    async def _async_prune(self, _now: datetime | None = None) -> None:
        days = self.config_entry.options.get(CONF_RETENTION_DAYS, DEFAULT_RETENTION_DAYS)
        try:
            sessions, events = await self.engine.prune_history(
                dt_util.utcnow() - timedelta(days=days)
            )
        except Exception:
            _LOGGER.exception("Deleting history older than %s days failed", days)
            return
        if sessions or events:
            _LOGGER.info(
                "Deleted %d sessions and %d events older than %d days", sessions, events, days
            )

    # -- snapshots ---------------------------------------------------------------------
    def _fsm_state(self) -> SessionState:
        pipeline = self.engine.pipeline
        return pipeline.state if pipeline is not None else SessionState.IDLE

    def _snapshot(
        self,
        reason: str,
        triggers: tuple[Trigger, ...] = (),
        *,
        images_saved: int = 0,
        image_changed: bool = False,
    ) -> NinaSessionData:
        pipeline = self.engine.pipeline
        health = self._health_snapshot()
        fsm_state = self._fsm_state()
        session = self.engine.current_session() if pipeline is not None else None
        tracked = self._tracked
        current = (session or {}).get("current") or {}
        sequence_running = guiding = False
        safe: bool | None = None
        if pipeline is not None:
            equipment = pipeline.view.equipment
            sequence_running, guiding, safe = (
                equipment.sequence_running,
                equipment.guiding,
                equipment.safe,
            )
        return NinaSessionData(
            state=fsm_state if health.connected else SessionState.DISCONNECTED,
            fsm_state=fsm_state,
            state_detail=pipeline.view.detail if pipeline is not None else state_detail(None),
            session=session,
            health=health,
            sequence_running=sequence_running,
            guiding=guiding,
            safe=safe,
            current_filter=current.get("filter") or tracked.current_filter,
            current_target=current.get("target") or tracked.current_target,
            last_frame=tracked.last_frame,
            reason=reason,
            triggers=triggers,
            images_saved=images_saved,
            image_changed=image_changed,
        )

    @callback
    def _publish(
        self,
        reason: str,
        triggers: tuple[Trigger, ...] = (),
        *,
        images_saved: int = 0,
        image_changed: bool = False,
    ) -> None:
        previous = self.data.health
        data = self._snapshot(
            reason, triggers, images_saved=images_saved, image_changed=image_changed
        )
        if self._moments.told is None:
            self._moments.told = data.fsm_state
        self._repairs.update(data.health)
        if data.health.plugin_version and data.health.plugin_version != previous.plugin_version:
            self._update_device_version(data.health.plugin_version)
        self.async_set_updated_data(data)
