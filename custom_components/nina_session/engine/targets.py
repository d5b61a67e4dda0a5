"""Targets across nights: what each target got per filter, and how far its goals are.

Computed from the stored sessions and their LIGHT frames only (like the session JSON), so it
is the same after restarts and whether a night was seen live or backfilled. A target is named
as NINA names it (the frame's TargetName); its Target Scheduler project comes from the
scheduler's target starts in the same session.

Reading every frame of years of nights on each call would be slow, so `TargetIndex` keeps
each session's contribution, checked against its summary's end, frame count, integration and
targets: a new frame, a scheduler target or a refold that changes a session changes its
summary, and the contribution is read again. The open session changes with every light, and
Home Assistant asks after every one: its contribution takes in only the rows stored since it
was read, as long as the store rewrote nothing (`Store.rewrites`) and the result still sums
to the session's own `by_filter`; otherwise it is read whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
import math
from typing import Any

from .models import NO_FILTER, Frame, NinaEvent
from .normalize import IMAGE_SAVE
from .store import Store
from .timeutil import night_of

#: A frame without a target name (older plugins, no scheduler) is counted here.
UNKNOWN_TARGET = "unknown"
#: The recent rate toward a goal: integration per night over this many latest imaging nights.
RECENT_NIGHTS = 3
_TS_TARGET_EVENTS = ("TS-NEWTARGETSTART", "TS-TARGETSTART")
_PAGE = 1000

#: Goals: target → filter → integration seconds wanted.
Goals = Mapping[str, Mapping[str, float]]


@dataclass(slots=True)
class _Sums:
    """Frames of one target and filter (in one session, or summed over sessions)."""

    frames: int = 0
    seconds: float = 0.0
    hfr_total: float = 0.0
    hfr_count: int = 0
    rms_total: float = 0.0
    rms_count: int = 0
    #: Night → integration seconds that night.
    nights: dict[str, float] = field(default_factory=dict)

    def add_sums(self, other: _Sums) -> None:
        self.frames += other.frames
        self.seconds += other.seconds
        self.hfr_total += other.hfr_total
        self.hfr_count += other.hfr_count
        self.rms_total += other.rms_total
        self.rms_count += other.rms_count
        for night, seconds in other.nights.items():
            self.nights[night] = self.nights.get(night, 0.0) + seconds

    @property
    def hfr_mean(self) -> float | None:
        return round(self.hfr_total / self.hfr_count, 3) if self.hfr_count else None

    @property
    def rms_mean(self) -> float | None:
        return round(self.rms_total / self.rms_count, 3) if self.rms_count else None


@dataclass(slots=True)
class SessionTargets:
    """One session's contribution: (target, filter) → sums, target → project."""

    signature: Any
    slots: dict[tuple[str, str], _Sums] = field(default_factory=dict)
    projects: dict[str, str] = field(default_factory=dict)
    #: The newest event row when it was read, and the store's rewrites then.
    last_row: int = 0
    rewrites: int = 0

    def add_frame(self, frame: Frame, night: str) -> None:
        """Count one LIGHT frame of the session (taken on `night`)."""
        target = frame.target or UNKNOWN_TARGET
        sums = self.slots.setdefault((target, frame.filter or NO_FILTER), _Sums())
        seconds = frame.exposure or 0.0  # a light of unknown exposure adds no integration
        sums.frames += 1
        sums.seconds += seconds
        sums.nights[night] = sums.nights.get(night, 0.0) + seconds
        if frame.hfr is not None:
            sums.hfr_total += frame.hfr
            sums.hfr_count += 1
        if frame.guiding_rms is not None:
            sums.rms_total += frame.guiding_rms
            sums.rms_count += 1

    def sums_to(self, summary: Mapping[str, Any]) -> bool:
        """Return whether these frames add up to the summary's lights per filter."""
        per_filter: dict[str, list[float]] = {}
        for (_, name), sums in self.slots.items():
            slot = per_filter.setdefault(name, [0, 0.0])
            slot[0] += sums.frames
            slot[1] += sums.seconds
        wanted = {
            name: (slot.get("count"), slot.get("seconds"))
            for name, slot in summary.get("frames", {}).get("by_filter", {}).items()
        }
        return wanted == {
            name: (count, round(seconds, 3)) for name, (count, seconds) in per_filter.items()
        }


def _signature(summary: Mapping[str, Any]) -> Any:
    """Return what changes whenever the session's lights or targets change (its summary with them)."""
    frames = summary.get("frames", {})
    return (
        summary.get("end"),
        frames.get("total"),
        summary.get("integration_seconds"),
        tuple(summary.get("targets") or ()),
    )


def _night(summary: Mapping[str, Any], tz: tzinfo) -> str:
    return night_of(datetime.fromisoformat(summary["start"]), tz)


def session_targets(store: Store, summary: Mapping[str, Any], tz: tzinfo) -> SessionTargets:
    """Read one session's LIGHT frames and scheduler targets into its contribution."""
    night = _night(summary, tz)
    result = SessionTargets(_signature(summary), last_row=store.last_row(), rewrites=store.rewrites)
    for event in store.session_events(summary["id"], _TS_TARGET_EVENTS):
        _learn_project(result.projects, event)
    # The frames alone, not their events: a live frame's event data is the whole statistics
    # record, and parsing it was two thirds of reading a year.
    for frame in store.session_frames(summary["id"], ("LIGHT",)):
        result.add_frame(frame, night)
    return result


def grown_session_targets(
    store: Store, known: SessionTargets, summary: Mapping[str, Any], tz: tzinfo
) -> SessionTargets | None:
    """Return an open session's contribution grown by the rows stored since `known` was read.

    None when that cannot be trusted: the store rewrote rows since, or the result does not
    add up to the session's lights per filter (then the caller reads the session whole).
    """
    if store.rewrites != known.rewrites or summary.get("end") is not None:
        return None
    night = _night(summary, tz)
    grown = SessionTargets(
        _signature(summary),
        {key: _copy(sums) for key, sums in known.slots.items()},
        dict(known.projects),
        last_row=known.last_row,
        rewrites=known.rewrites,
    )
    names = (IMAGE_SAVE, *_TS_TARGET_EVENTS)
    for row, event in store.session_events_after(summary["id"], names, known.last_row):
        grown.last_row = max(grown.last_row, row)
        if event.name != IMAGE_SAVE:
            _learn_project(grown.projects, event)
        elif event.frame is not None and event.frame.image_type == "LIGHT":
            grown.add_frame(event.frame, night)
    return grown if grown.sums_to(summary) else None


def _copy(sums: _Sums) -> _Sums:
    copied = _Sums()
    copied.add_sums(sums)
    return copied


def _learn_project(projects: dict[str, str], event: NinaEvent) -> None:
    target, project = event.data.get("TargetName"), event.data.get("ProjectName")
    if isinstance(target, str) and isinstance(project, str) and target.strip() and project:
        projects[target.strip()] = project.strip()


class TargetIndex:
    """Targets across stored nights; keeps closed sessions' contributions between calls.

    Use it from the thread that owns the store (the engine's writer thread).
    """

    def __init__(self, tz: tzinfo) -> None:
        """Index nights in `tz` (NINA's zone: a night is the local date of its evening)."""
        self.tz = tz
        self._cache: dict[str, SessionTargets] = {}

    def targets(
        self,
        store: Store,
        *,
        start_ts: float | None = None,
        end_ts: float | None = None,
        goals: Goals | None = None,
    ) -> dict[str, Any]:
        """Return `{"targets": [...]}` over sessions starting in the range, most integrated first."""
        sums: dict[tuple[str, str], _Sums] = {}
        projects: dict[str, str] = {}
        seen: set[str] = set()
        for summary in self._summaries(store, start_ts, end_ts):
            contribution = self._contribution(store, summary)
            seen.add(summary["id"])
            projects.update(contribution.projects)
            for key, slot in contribution.slots.items():
                sums.setdefault(key, _Sums()).add_sums(slot)
        if start_ts is None and end_ts is None:
            # Sessions pruned or replaced by a rebuild are gone for good.
            for gone in set(self._cache) - seen:
                del self._cache[gone]
        return {"targets": build_targets(sums, projects, goals or {})}

    @staticmethod
    def _summaries(
        store: Store, start_ts: float | None, end_ts: float | None
    ) -> Iterable[dict[str, Any]]:
        offset = 0
        while True:
            page = store.sessions(
                start_ts=start_ts, end_ts=end_ts, limit=_PAGE, offset=offset, newest_first=False
            )
            yield from page
            if len(page) < _PAGE:
                return
            offset += _PAGE

    def _contribution(self, store: Store, summary: Mapping[str, Any]) -> SessionTargets:
        cached = self._cache.get(summary["id"])
        if cached is not None and cached.signature == _signature(summary):
            return cached
        contribution = None
        if cached is not None:
            contribution = grown_session_targets(store, cached, summary, self.tz)
        if contribution is None:
            contribution = session_targets(store, summary, self.tz)
        self._cache[summary["id"]] = contribution
        return contribution


def build_targets(
    sums: Mapping[tuple[str, str], _Sums], projects: Mapping[str, str], goals: Goals
) -> list[dict[str, Any]]:
    """Shape summed (target, filter) slots and goals as the `get_targets` answer."""
    by_target: dict[str, dict[str, _Sums]] = {}
    for (target, filter_name), slot in sums.items():
        by_target.setdefault(target, {})[filter_name] = slot
    for target in goals:  # a goal for a target not yet imaged is progress 0
        by_target.setdefault(target, {})
    answer: list[dict[str, Any]] = []
    for target, filters in by_target.items():
        total = _Sums()
        for slot in filters.values():
            total.add_sums(slot)
        nights = sorted(total.nights)
        answer.append(
            {
                "name": target,
                "project": projects.get(target),
                "nights": len(nights),
                "frames": total.frames,
                "integration_seconds": round(total.seconds, 3),
                "first_night": nights[0] if nights else None,
                "last_night": nights[-1] if nights else None,
                "hfr_mean": total.hfr_mean,
                "rms_mean": total.rms_mean,
                "by_filter": {
                    name: {
                        "frames": slot.frames,
                        "seconds": round(slot.seconds, 3),
                        "nights": len(slot.nights),
                        "hfr_mean": slot.hfr_mean,
                        "rms_mean": slot.rms_mean,
                    }
                    for name, slot in sorted(filters.items())
                },
                "goals": goal_progress(filters, goals.get(target, {})),
            }
        )
    answer.sort(key=lambda item: (-item["integration_seconds"], item["name"]))
    return answer


def goal_progress(
    filters: Mapping[str, _Sums], goals: Mapping[str, float]
) -> dict[str, dict[str, Any]]:
    """Per filter with a goal: done, progress (0-1), and nights to go at the recent rate.

    The recent rate is the mean integration of the latest `RECENT_NIGHTS` nights the filter
    was imaged on: what a night on this target gives now, not in last year's setup.
    """
    progress = {}
    for name, wanted in goals.items():
        slot = filters.get(name) or _Sums()
        remaining = max(wanted - slot.seconds, 0.0)
        recent = [slot.nights[night] for night in sorted(slot.nights)[-RECENT_NIGHTS:]]
        rate = sum(recent) / len(recent) if recent else 0.0
        nights_to_go = 0 if remaining == 0 else (math.ceil(remaining / rate) if rate else None)
        progress[name] = {
            "goal_seconds": round(wanted, 3),
            "seconds": round(slot.seconds, 3),
            "progress": round(min(slot.seconds / wanted, 1.0), 4) if wanted > 0 else 1.0,
            "remaining_seconds": round(remaining, 3),
            "recent_seconds_per_night": round(rate, 3),
            "nights_to_goal": nights_to_go,
        }
    return progress
