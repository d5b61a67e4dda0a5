"""Sensors: session state, current target and filter, session totals, last frame readings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, UnitOfTemperature, UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util

from .coordinator import NinaSessionConfigEntry
from .engine.fsm import SessionState
from .engine.timeutil import iso_z
from .entity import NinaSessionDescribedEntity, NinaSessionEntityDescription
from .equipment_sensor import async_setup_equipment_sensors
from .insight import Insight, InsightEntity, insight_of
from .snapshot import NinaSessionData

# Push: the coordinator updates entities; nothing to serialise.
PARALLEL_UPDATES = 0

#: Guiding RMS is reported in arcseconds; HA has no unit constant for it.
UNIT_ARCSEC = "arcsec"


@dataclass(frozen=True, kw_only=True)
class NinaSessionSensorEntityDescription(SensorEntityDescription, NinaSessionEntityDescription):
    """A sensor read from the coordinator's snapshot."""

    value_fn: Callable[[NinaSessionData], StateType | datetime]


def _session(data: NinaSessionData) -> Mapping[str, Any]:
    return data.session or {}


def _timestamp(value: Any) -> datetime | None:
    return dt_util.parse_datetime(value) if isinstance(value, str) else None


def _frame_value(name: str) -> Callable[[NinaSessionData], StateType]:
    def value(data: NinaSessionData) -> StateType:
        frame = data.last_frame
        result: StateType = getattr(frame, name) if frame is not None else None
        return result

    return value


def _exposure(data: NinaSessionData) -> StateType:
    """Return the last exposure in seconds, whole seconds as an int ("300", not "300.0").

    No display precision is suggested: 0.25 s flats and 300 s lights both read as sent.
    """
    frame = data.last_frame
    if frame is None or frame.exposure is None:
        return None
    return int(frame.exposure) if frame.exposure.is_integer() else frame.exposure


def _state_attributes(data: NinaSessionData) -> Mapping[str, Any]:
    """Since when, the event that caused it, why (a pause's or wait's reason), a wait's end."""
    detail = data.state_detail
    return {
        "session_id": _session(data).get("id"),
        "since": detail.get("since"),
        "cause": detail.get("cause"),
        "reason": detail.get("reason"),
        "wait_until": detail.get("wait_until"),
    }


def _frames_attributes(data: NinaSessionData) -> Mapping[str, Any] | None:
    frames = _session(data).get("frames")
    if not frames:
        return None
    return {"by_type": frames.get("by_type", {}), "by_filter": frames.get("by_filter", {})}


def _integration_attributes(data: NinaSessionData) -> Mapping[str, Any] | None:
    frames = _session(data).get("frames")
    if not frames:
        return None
    return {
        "by_filter": {
            name: slot.get("seconds") for name, slot in frames.get("by_filter", {}).items()
        }
    }


def _last_image_saved(data: NinaSessionData) -> datetime | None:
    if data.last_frame is not None and data.last_frame.time is not None:
        return data.last_frame.time
    return _timestamp((_session(data).get("current") or {}).get("last_image_at"))


SENSORS: tuple[NinaSessionSensorEntityDescription, ...] = (
    NinaSessionSensorEntityDescription(
        key="session_state",
        translation_key="session_state",
        device_class=SensorDeviceClass.ENUM,
        options=[state.value for state in SessionState],
        value_fn=lambda data: data.state.value,
        attributes_fn=_state_attributes,
        available_when_disconnected=True,
    ),
    NinaSessionSensorEntityDescription(
        key="current_target",
        translation_key="current_target",
        value_fn=lambda data: data.current_target,
    ),
    NinaSessionSensorEntityDescription(
        key="current_filter",
        translation_key="current_filter",
        value_fn=lambda data: data.current_filter,
    ),
    # Both totals restart at every session: for TOTAL_INCREASING a decrease is a new
    # meter cycle, so long-term statistics sum frames and hours across sessions.
    NinaSessionSensorEntityDescription(
        key="session_frames",
        translation_key="session_frames",
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=lambda data: (_session(data).get("frames") or {}).get("total", 0),
        attributes_fn=_frames_attributes,
        available_when_disconnected=True,
    ),
    NinaSessionSensorEntityDescription(
        key="integration_time",
        translation_key="integration_time",
        device_class=SensorDeviceClass.DURATION,
        state_class=SensorStateClass.TOTAL_INCREASING,
        # Stored in minutes, exact for whole-minute sums (8 h 20 min is 500, where hours
        # gave 8.58333… and the frontend showed 8h 19m); the frontend formats it as h/min.
        native_unit_of_measurement=UnitOfTime.SECONDS,
        suggested_unit_of_measurement=UnitOfTime.MINUTES,
        suggested_display_precision=0,
        value_fn=lambda data: _session(data).get("integration_seconds", 0.0),
        attributes_fn=_integration_attributes,
        available_when_disconnected=True,
    ),
    NinaSessionSensorEntityDescription(
        key="last_exposure",
        translation_key="last_exposure",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        value_fn=_exposure,
    ),
    NinaSessionSensorEntityDescription(
        key="last_hfr",
        translation_key="last_hfr",
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        value_fn=_frame_value("hfr"),
    ),
    NinaSessionSensorEntityDescription(
        key="last_star_count",
        translation_key="last_star_count",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_frame_value("stars"),
    ),
    NinaSessionSensorEntityDescription(
        key="guiding_rms",
        translation_key="guiding_rms",
        native_unit_of_measurement=UNIT_ARCSEC,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        value_fn=_frame_value("guiding_rms"),
    ),
    NinaSessionSensorEntityDescription(
        key="camera_temperature",
        translation_key="camera_temperature",
        device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=_frame_value("temperature"),
    ),
    NinaSessionSensorEntityDescription(
        key="session_start",
        translation_key="session_start",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda data: _timestamp(_session(data).get("start")),
        available_when_disconnected=True,
    ),
    NinaSessionSensorEntityDescription(
        key="last_image_saved",
        translation_key="last_image_saved",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=_last_image_saved,
        available_when_disconnected=True,
        # A timestamp moves with every frame, and each move is a "changed to" row in the
        # logbook beside the frame's own (a timestamp can have no unit or state class to keep
        # it out). Frames are told by the image_saved trigger; enable this for a stall alarm.
        entity_registry_enabled_default=False,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: NinaSessionConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the sensors of one NINA instance."""
    coordinator = entry.runtime_data
    async_add_entities(NinaSessionSensor(coordinator, description) for description in SENSORS)
    insight = insight_of(hass, entry)
    async_add_entities(InsightSensor(insight, description) for description in INSIGHT_SENSORS)
    async_setup_equipment_sensors(entry, async_add_entities)


class NinaSessionSensor(NinaSessionDescribedEntity, SensorEntity):
    """A sensor described by a `NinaSessionSensorEntityDescription`."""

    entity_description: NinaSessionSensorEntityDescription
    # Per-filter and per-type breakdowns grow with the night; keep them out of the recorder.
    _unrecorded_attributes = frozenset({"by_filter", "by_type"})

    @property
    def native_value(self) -> StateType | datetime:
        """Return the value the description reads from the snapshot."""
        return self.entity_description.value_fn(self.coordinator.data)


# -- the current target across nights and the night's end (insight.py) ---------------
@dataclass(frozen=True, kw_only=True)
class InsightSensorDescription(SensorEntityDescription):
    """A sensor read from the entry's `Insight`."""

    value_fn: Callable[[Insight, str | None], StateType | datetime]
    attributes_fn: Callable[[Insight, str | None], Mapping[str, Any] | None]


def _integration_hours(insight: Insight, _filter: str | None) -> float | None:
    target = insight.current_target
    return round(target["integration_seconds"] / 3600, 3) if target else None


def _target_attributes(insight: Insight, _filter: str | None) -> Mapping[str, Any] | None:
    target = insight.current_target
    if target is None:
        return None
    keys = ("name", "project", "nights", "frames", "first_night", "last_night", "by_filter")
    return {key: target[key] for key in keys}


def _goal(insight: Insight, filter_name: str | None) -> Mapping[str, Any] | None:
    target = insight.current_target
    if target is None or filter_name is None:
        return None
    goal: Mapping[str, Any] | None = target["goals"].get(filter_name)
    return goal


def _goal_percent(insight: Insight, filter_name: str | None) -> float | None:
    goal = _goal(insight, filter_name)
    return round(goal["progress"] * 100, 1) if goal else None


def _goal_attributes(insight: Insight, filter_name: str | None) -> Mapping[str, Any] | None:
    goal = _goal(insight, filter_name)
    if goal is None:
        return None
    target = insight.current_target or {}
    return {"target": target.get("name"), "filter": filter_name, **goal}


def _night_end(insight: Insight, _filter: str | None) -> datetime | None:
    estimate: datetime | None = (insight.night_end or {}).get("estimate")
    return estimate


def _night_end_attributes(insight: Insight, _filter: str | None) -> Mapping[str, Any] | None:
    end = insight.night_end
    if end is None:
        return None
    return {
        "source": end["source"],
        "astronomical_dawn": iso_z(end["astronomical_dawn"]),
        "target_end": iso_z(end["target_end"]),
        "wait_until": iso_z(end["wait_until"]),
    }


INSIGHT_SENSORS: tuple[InsightSensorDescription, ...] = (
    InsightSensorDescription(
        key="target_integration",
        translation_key="target_integration",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.HOURS,
        # Not a total: it jumps when the current target changes (to another target's hours).
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=_integration_hours,
        attributes_fn=_target_attributes,
    ),
    InsightSensorDescription(
        key="target_goal_progress",
        translation_key="target_goal_progress",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=_goal_percent,
        attributes_fn=_goal_attributes,
    ),
    InsightSensorDescription(
        key="night_end",
        translation_key="night_end",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=_night_end,
        attributes_fn=_night_end_attributes,
    ),
)


class InsightSensor(InsightEntity, SensorEntity):
    """The current target's integration or goal progress, or the night's end."""

    entity_description: InsightSensorDescription
    _unrecorded_attributes = frozenset({"by_filter"})

    @property
    def native_value(self) -> StateType | datetime:
        """Return the value read from the insight."""
        return self.entity_description.value_fn(self.insight, self.coordinator.data.current_filter)

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Return the attributes read from the insight."""
        return self.entity_description.attributes_fn(
            self.insight, self.coordinator.data.current_filter
        )
