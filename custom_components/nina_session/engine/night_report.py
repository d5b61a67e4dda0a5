"""The night report: what a finished session produced, how the night went, why it stopped.

Recomputed from the stored session (its summary and events), never stored separately: the
same stored night gives the same report, after a restart, a refresh or a backfill. The report
is the bus event's payload and the source of its picture (`report_svg`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from .models import NinaEvent
from .quality import RejectRules, flag_frames, frame_rows
from .store import Store
from .targets import session_targets
from .timeutil import iso_z, night_of
from .vocabulary import ERROR_EVENTS

_AF_EVENTS = ("AUTOFOCUS-STARTING", "AUTOFOCUS-FINISHED", "ERROR-AF")
# What the report reads of the session's events (dict.fromkeys: each name once, in order).
_READ = tuple(
    dict.fromkeys(
        ("IMAGE-SAVE", "TS-NEWTARGETSTART", "TS-TARGETSTART", "SAFETY-CHANGED",
         "MOUNT-AFTER-FLIP", "SEQUENCE-FINISHED", *_AF_EVENTS, *sorted(ERROR_EVENTS))
    )
)  # fmt: skip


def _seconds(start: str | None, end: str | None) -> float | None:
    if start is None or end is None:
        return None
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 1)


def timeline(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the session's states, each with its cause, reason, end and length."""
    history = summary.get("state_history") or []
    entries = []
    for index, entry in enumerate(history):
        until = history[index + 1]["since"] if index + 1 < len(history) else summary.get("end")
        entries.append(
            {
                "state": entry["state"],
                "since": entry["since"],
                "until": until,
                "seconds": _seconds(entry["since"], until),
                "cause": entry.get("cause"),
                "reason": entry.get("reason"),
            }
        )
    return entries


def unsafe_periods(events: Sequence[NinaEvent], end: str | None) -> list[dict[str, Any]]:
    """When the safety monitor called the sky unsafe, and for how long."""
    periods: list[dict[str, Any]] = []
    for event in events:
        if event.name != "SAFETY-CHANGED" or not isinstance(event.data.get("IsSafe"), bool):
            continue
        open_period = periods and periods[-1]["until"] is None
        if not event.data["IsSafe"] and not open_period:
            periods.append({"since": iso_z(event.time), "until": None})
        elif event.data["IsSafe"] and open_period:
            periods[-1]["until"] = iso_z(event.time)
    for period in periods:
        period["seconds"] = _seconds(period["since"], period["until"] or end)
    return periods


def autofocus_runs(events: Sequence[NinaEvent]) -> list[dict[str, Any]]:
    """Each autofocus run: when it started, and whether it finished, failed or never ended."""
    runs: list[dict[str, Any]] = []
    for event in events:
        if event.name == "AUTOFOCUS-STARTING":
            runs.append({"start": iso_z(event.time), "end": None, "result": "unfinished"})
        elif runs and runs[-1]["end"] is None and event.name in _AF_EVENTS:
            runs[-1]["end"] = iso_z(event.time)
            runs[-1]["result"] = "ok" if event.name == "AUTOFOCUS-FINISHED" else "failed"
    return runs


def _error_detail(event: NinaEvent) -> str | None:
    for key in ("Error", "Message", "Entity"):
        value = event.data.get(key)
        if isinstance(value, str) and value:
            return value[:200]
    return None


def stop_reason(
    summary: Mapping[str, Any], events: Sequence[NinaEvent], unsafe: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Why the night stopped imaging, judged after its last light frame.

    In order: the sky turned unsafe and stayed so; the sequence finished; the session ended
    paused or waiting (its reason); else it just went quiet.
    """
    lights = [e for e in events if e.frame is not None and e.frame.image_type == "LIGHT"]
    last_light = lights[-1].time if lights else None
    last = {"last_light": iso_z(last_light)}
    if unsafe and unsafe[-1]["until"] is None:
        since = unsafe[-1]["since"]
        return {"reason": "sky_unsafe", "since": since, **last}
    finished = [e for e in events if e.name == "SEQUENCE-FINISHED"]
    if finished and (last_light is None or finished[-1].time >= last_light):
        return {"reason": "sequence_finished", "since": iso_z(finished[-1].time), **last}
    running = [h for h in summary.get("state_history") or [] if h["state"] in ("paused", "waiting")]
    history = summary.get("state_history") or []
    if history and running and history[-1] is running[-1]:
        entry = history[-1]
        return {"reason": entry.get("reason") or entry["state"], "since": entry["since"], **last}
    return {"reason": "no_activity", "since": iso_z(last_light), **last}


def build_report(
    store: Store, session_id: str, tz: tzinfo, rules: RejectRules | None = None
) -> dict[str, Any] | None:
    """Return the report of a stored session, or None when there is no such session."""
    summary = store.session(session_id)
    if summary is None:
        return None
    events = store.session_events(session_id, _READ)
    contribution = session_targets(store, summary, tz)
    targets: dict[str, dict[str, Any]] = {}
    for (target, filter_name), slot in sorted(contribution.slots.items()):
        entry = targets.setdefault(
            target,
            {"name": target, "project": contribution.projects.get(target), "frames": 0,
             "integration_seconds": 0.0, "by_filter": {}},
        )  # fmt: skip
        entry["frames"] += slot.frames
        entry["integration_seconds"] = round(entry["integration_seconds"] + slot.seconds, 3)
        entry["by_filter"][filter_name] = {
            "frames": slot.frames,
            "seconds": round(slot.seconds, 3),
            "hfr_mean": slot.hfr_mean,
            "rms_mean": slot.rms_mean,
        }
    rows = frame_rows([e for e in events if e.name == "IMAGE-SAVE"])
    flagged = flag_frames(rows, rules or RejectRules())
    states = timeline(summary)
    unsafe = unsafe_periods(events, summary.get("end"))
    start = datetime.fromisoformat(summary["start"])
    return {
        "session_id": session_id,
        "night": night_of(start, tz),
        "start": summary["start"],
        "end": summary.get("end"),
        "duration_seconds": _seconds(summary["start"], summary.get("end")),
        "integration_seconds": summary["integration_seconds"],
        "frames": summary["frames"],
        "targets": list(targets.values()),
        "timeline": states,
        "pauses": [s for s in states if s["state"] == "paused"],
        "waits": [s for s in states if s["state"] == "waiting"],
        "unsafe": unsafe,
        "quality": {
            **summary["quality"],
            "series": [
                {k: row[k] for k in ("time", "filter", "hfr", "guiding_rms", "stars")}
                for row in rows
            ],
            "medians": flagged["medians"],
            "rejected": flagged["rejected"],
        },
        "autofocus": autofocus_runs(events),
        "meridian_flips": [iso_z(e.time) for e in events if e.name == "MOUNT-AFTER-FLIP"],
        "errors": [
            {"time": iso_z(e.time), "error": e.name, "detail": _error_detail(e)}
            for e in events
            if e.name in ERROR_EVENTS
        ],
        "counts": summary["counts"],
        "stopped": stop_reason(summary, events, unsafe),
    }


#: Why a night stopped, as a phone shows it (the report itself keeps the reason's key).
STOP_WORDS = {
    "sky_unsafe": "the sky turned unsafe",
    "sequence_finished": "sequence finished",
    "guiding_lost": "guiding lost",
    "unsafe": "the sky turned unsafe",
    "scheduler_wait": "waiting for a target",
    "mount_parked": "mount parked",
    "mount_homed": "mount homed",
    "camera_disconnected": "camera disconnected",
    "dome_closed": "dome closed",
    "no_activity": "no more activity",
}


def notification_text(report: Mapping[str, Any]) -> str:
    """One line for a phone: integration per target and filter, and why the night stopped."""
    parts = []
    for target in report["targets"]:
        filters = ", ".join(
            f"{name} {slot['seconds'] / 60:.0f} min" for name, slot in target["by_filter"].items()
        )
        parts.append(f"{target['name']}: {filters}")
    hours = report["integration_seconds"] / 3600
    body = "; ".join(parts) if parts else "no light frames"
    reason = report["stopped"]["reason"]
    return f"{hours:.1f} h, stopped: {STOP_WORDS.get(reason, reason)}. {body}"
