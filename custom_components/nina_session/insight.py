"""Targets, goals, the night report and the night's end for one entry (HA glue of the engine).

One `Insight` per loaded entry (`insight_of`), made by the first platform that needs it and
dropped when the entry unloads. It runs the engine's reads on the engine's writer thread,
keeps the goals (a `Store` under `.storage`), and when a session ends live it builds the night
report, fires `nina_session_night_report` on the bus and tells the report image. The report
is never stored apart: it is recomputed from the stored session, so after a restart the
latest closed night's report is built again, the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime
import logging
from typing import Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.storage import Store as HaStore
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN
from .coordinator import NinaSessionConfigEntry, NinaSessionCoordinator
from .engine.night_report import build_report, notification_text
from .engine.quality import RejectRules, session_quality
from .engine.report_png import report_png
from .engine.store import Store
from .engine.targets import TargetIndex
from .engine.timeutil import night_of
from .engine.twilight import night_end_estimate, target_end_of
from .entity import NinaSessionEntity
from .services import READ_ERRORS

_LOGGER = logging.getLogger(__name__)

#: HA bus event with the night report of a session that ended (for notifications).
EVENT_NIGHT_REPORT: Final = f"{DOMAIN}_night_report"
_GOALS_VERSION: Final = 1
_TS_TARGETS: Final = ("TS-NEWTARGETSTART", "TS-TARGETSTART")

DATA_INSIGHT: HassKey[dict[str, Insight]] = HassKey(f"{DOMAIN}_insight")


@callback
def insight_of(hass: HomeAssistant, entry: NinaSessionConfigEntry) -> Insight:
    """Return the entry's `Insight`, made on first use and dropped when the entry unloads."""
    registry = hass.data.setdefault(DATA_INSIGHT, {})
    insight = registry.get(entry.entry_id)
    if insight is None:
        insight = registry[entry.entry_id] = Insight(hass, entry)
        entry.async_on_unload(insight.async_close)
    return insight


def _compact(report: Mapping[str, Any]) -> dict[str, Any]:
    """Return the report without the per-frame series (the bus and the recorder keep it small)."""
    quality = {k: v for k, v in report["quality"].items() if k != "series"}
    return {**report, "quality": quality}


class Insight:
    """Targets, goals, reports and the night end of one entry."""

    def __init__(self, hass: HomeAssistant, entry: NinaSessionConfigEntry) -> None:
        """Follow the entry's coordinator; `async_load` reads the goals and the last report."""
        self.hass = hass
        self.entry = entry
        self.coordinator: NinaSessionCoordinator = entry.runtime_data
        engine = self.coordinator.engine
        self.engine = engine
        self.tz = engine.config.options.tz
        self._index = TargetIndex(self.tz)
        self._goals_store: HaStore[dict[str, dict[str, float]]] = HaStore(
            hass, _GOALS_VERSION, f"{DOMAIN}.{entry.entry_id}.goals"
        )
        self.goals: dict[str, dict[str, float]] = {}
        #: The latest finished night's report and its PNG (None until a night is stored).
        self.report: dict[str, Any] | None = None
        self.png: bytes | None = None
        self.report_updated: datetime | None = None
        #: The current target across nights (from `targets`), and the night's end.
        self.current_target: dict[str, Any] | None = None
        self.night_end: dict[str, Any] | None = None
        self._listeners: list[Callable[[], None]] = []
        self._loaded = False
        self._seen: tuple[Any, ...] | None = None
        self._updating: asyncio.Task[None] | None = None
        self._update_again = False
        self._unsubscribers = [
            self.coordinator.async_on_session_ended(self._session_ended),
            self.coordinator.async_add_listener(self._coordinator_updated),
        ]

    async def async_load(self) -> None:
        """Read the goals and the latest closed night's report (once)."""
        if self._loaded:
            return
        self._loaded = True
        self.goals = await self._goals_store.async_load() or {}
        try:
            latest = await self.engine.read_store(_latest_closed)
        except READ_ERRORS as err:
            _LOGGER.warning("Reading the last finished night failed: %s", err)
            latest = None
        if latest is not None:
            await self.async_publish_report(latest, fire=False)
        self._schedule_update()

    @callback
    def async_close(self) -> None:
        """Stop following the coordinator (the entry unloads)."""
        for unsubscribe in self._unsubscribers:
            unsubscribe()
        self._unsubscribers.clear()
        self.hass.data.get(DATA_INSIGHT, {}).pop(self.entry.entry_id, None)

    @callback
    def async_add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` when the report, the current target or the night end changed."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _tell(self) -> None:
        for listener in list(self._listeners):
            listener()

    # -- reads -------------------------------------------------------------------------
    async def async_targets(
        self, start_ts: float | None = None, end_ts: float | None = None
    ) -> dict[str, Any]:
        """Return `{"targets": [...]}` over the sessions that start in the range."""
        index, goals = self._index, dict(self.goals)
        return await self.engine.read_store(
            lambda store: index.targets(store, start_ts=start_ts, end_ts=end_ts, goals=goals)
        )

    async def async_report(self, session_id: str | None) -> dict[str, Any] | None:
        """Return the report of a stored session (default: the latest closed one)."""
        tz = self.tz

        def read(store: Store) -> dict[str, Any] | None:
            chosen = session_id or _latest_closed(store)
            return build_report(store, chosen, tz) if chosen else None

        return await self.engine.read_store(read)

    async def async_quality(
        self, session_id: str | None, rules: RejectRules
    ) -> dict[str, Any] | None:
        """Return frame-by-frame quality of a session (default: the open one, else the latest)."""
        current = (self.coordinator.data.session or {}).get("id")

        def read(store: Store) -> dict[str, Any] | None:
            chosen = session_id or current or _latest(store)
            if chosen is None or store.session(chosen) is None:
                return None
            return session_quality(store, chosen, rules)

        return await self.engine.read_store(read)

    # -- goals -------------------------------------------------------------------------
    async def async_set_goal(self, target: str, filter_name: str, seconds: float) -> None:
        """Set a target's goal for a filter (0 removes it); kept across restarts."""
        filters = self.goals.setdefault(target, {})
        if seconds > 0:
            filters[filter_name] = seconds
        else:
            filters.pop(filter_name, None)
            if not filters:
                del self.goals[target]
        await self._goals_store.async_save(self.goals)
        self._schedule_update()

    # -- the night report --------------------------------------------------------------
    @callback
    def _session_ended(self, session_id: str) -> None:
        self.entry.async_create_background_task(
            self.hass, self.async_publish_report(session_id), f"{DOMAIN} night report"
        )

    async def async_publish_report(self, session_id: str, *, fire: bool = True) -> None:
        """Build a session's report and picture; fire the bus event for a night just ended."""
        try:
            report = await self.async_report(session_id)
        except READ_ERRORS as err:
            _LOGGER.warning("The night report of %s could not be read: %s", session_id, err)
            return
        if report is None:
            return
        self.report = report
        # PNG, not SVG: phone notifications attach only raster pictures. Drawing a full night
        # takes about 0.1 s of pure Python, so it is drawn off the event loop.
        self.png = await self.hass.async_add_executor_job(report_png, report)
        self.report_updated = dt_util.utcnow()
        if fire:
            self.hass.bus.async_fire(
                EVENT_NIGHT_REPORT,
                {
                    "entry_id": self.entry.entry_id,
                    "message": notification_text(report),
                    **_compact(report),
                },
            )
        self._tell()

    async def _async_catch_up_report(self) -> None:
        """Draw the latest closed night if it is not the one drawn.

        A night that closed inside a history merge (Home Assistant was away when it ended, and
        the next night's first events came in the same backfill) has no live "session ended";
        without this its report would wait for the next restart. Not fired on the bus: whether
        it was told before Home Assistant went away cannot be known.
        """
        latest = await self.engine.read_store(_latest_closed)
        if latest is not None and latest != (self.report or {}).get("session_id"):
            await self.async_publish_report(latest, fire=False)

    # -- the current target and the night's end ----------------------------------------
    @callback
    def _coordinator_updated(self) -> None:
        data = self.coordinator.data
        session = data.session or {}
        seen = (
            data.current_target,
            data.current_filter,
            session.get("integration_seconds"),
            data.state_detail.get("wait_until"),
            session.get("id"),
        )
        if seen != self._seen and self._loaded:
            self._seen = seen
            self._schedule_update()

    @callback
    def _schedule_update(self) -> None:
        # One read at a time; changes meanwhile make one more (a night's frames, not one each).
        if self._updating is not None and not self._updating.done():
            self._update_again = True
            return
        self._updating = self.entry.async_create_background_task(
            self.hass, self._async_update_while_changed(), f"{DOMAIN} target progress"
        )

    async def _async_update_while_changed(self) -> None:
        while True:
            self._update_again = False
            try:
                await self.async_update_current()
            except READ_ERRORS as err:
                _LOGGER.warning("Reading the target progress failed: %s", err)
            if not self._update_again:
                return

    async def async_update_current(self) -> None:
        """Re-read the current target's totals and the night's end estimate."""
        data = self.coordinator.data
        target = data.current_target
        session_id = (data.session or {}).get("id")
        # Cheap beside the targets read below (five session rows).
        await self._async_catch_up_report()
        answer = await self.async_targets()
        self.current_target = next(
            (item for item in answer["targets"] if item["name"] == target), None
        )
        target_end = None
        if session_id is not None:
            events = await self.engine.read_store(
                lambda store: store.session_events(session_id, _TS_TARGETS)
            )
            target_end = target_end_of(events[-1].data) if events else None
        start = (data.session or {}).get("start")
        moment = dt_util.parse_datetime(start) if isinstance(start, str) else dt_util.utcnow()
        wait_until = data.state_detail.get("wait_until")
        self.night_end = night_end_estimate(
            night_of(moment or dt_util.utcnow(), self.tz),
            self.hass.config.latitude,
            self.hass.config.longitude,
            target_end=target_end,
            wait_until=dt_util.parse_datetime(wait_until) if wait_until else None,
        )
        self._tell()


def _latest_closed(store: Store) -> str | None:
    for summary in store.sessions(limit=5):
        if summary.get("end") is not None:
            return str(summary["id"])
    return None


def _latest(store: Store) -> str | None:
    sessions = store.sessions(limit=1)
    return str(sessions[0]["id"]) if sessions else None


class InsightEntity(NinaSessionEntity):
    """Written when the entry's `Insight` changes; valid without NINA (stored history)."""

    def __init__(self, insight: Insight, description: EntityDescription) -> None:
        """Initialize the entity on the insight's coordinator (its device)."""
        NinaSessionEntity.__init__(self, insight.coordinator, description)
        self.insight = insight

    @property
    def shown_when_disconnected(self) -> bool:
        """Return True: the value comes from the stored history."""
        return True

    async def async_added_to_hass(self) -> None:
        """Follow the insight; read the goals and the last report on the first one."""
        await super().async_added_to_hass()
        self.async_on_remove(self.insight.async_add_listener(self._insight_changed))
        self.coordinator.config_entry.async_create_task(
            self.hass, self.insight.async_load(), f"{DOMAIN} insight"
        )

    @callback
    def _insight_changed(self) -> None:
        self.async_write_ha_state()
