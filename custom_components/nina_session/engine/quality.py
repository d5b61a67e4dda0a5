"""Quality frame by frame: each LIGHT of a session, and the frames a user would reject.

A frame is flagged against its own filter's night (HFR and star counts differ a lot between
L and Ha): HFR well above the filter's night median (focus drift, clouds), stars well below
it (clouds, dew), or guiding RMS above a fixed limit in arcseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
import math
from statistics import median
from typing import Any

from .models import NO_FILTER, NinaEvent
from .store import Store
from .timeutil import iso_z


@dataclass(frozen=True, slots=True)
class RejectRules:
    """When a frame is one a user would reject."""

    #: HFR above this many times the filter's night median.
    hfr_ratio: float = 1.25
    #: Stars below this fraction of the filter's night median.
    stars_ratio: float = 0.5
    #: Guiding RMS above this many arcseconds.
    rms_limit: float = 1.5


def frame_rows(events: Sequence[NinaEvent]) -> list[dict[str, Any]]:
    """Return the LIGHT frames among stored IMAGE-SAVE events, one row each, in order."""
    rows: list[dict[str, Any]] = []
    for event in events:
        frame = event.frame
        if frame is None or frame.image_type != "LIGHT":
            continue
        rows.append(
            {
                "index": len(rows),
                "time": iso_z(event.time),
                "target": frame.target,
                "filter": frame.filter or NO_FILTER,
                "exposure": frame.exposure,
                "hfr": frame.hfr,
                "stars": frame.stars,
                "guiding_rms": frame.guiding_rms,
                "temperature": frame.temperature,
                "adu_mean": _adu(event.data),
            }
        )
    return rows


def _adu(data: Mapping[str, Any]) -> float | None:
    """Return the frame's mean ADU: only socket frames carry it (history items are sparse)."""
    stats = data.get("ImageStatistics")
    return _number(stats.get("Mean")) if isinstance(stats, Mapping) else None


def flag_frames(rows: list[dict[str, Any]], rules: RejectRules) -> dict[str, Any]:
    """Add each row's `flags`; return the per-filter medians and the rejected frames."""
    medians: dict[str, dict[str, float | None]] = {}
    for name in {row["filter"] for row in rows}:
        same = [row for row in rows if row["filter"] == name]
        hfrs = [row["hfr"] for row in same if row["hfr"] is not None]
        stars = [row["stars"] for row in same if row["stars"] is not None]
        medians[name] = {
            "hfr": round(median(hfrs), 3) if hfrs else None,
            "stars": median(stars) if stars else None,
        }
    rejected = []
    for row in rows:
        flags = []
        mid = medians[row["filter"]]
        if row["hfr"] is not None and mid["hfr"] and row["hfr"] > mid["hfr"] * rules.hfr_ratio:
            flags.append("hfr_high")
        if (
            row["stars"] is not None
            and mid["stars"]
            and row["stars"] < mid["stars"] * rules.stars_ratio
        ):
            flags.append("stars_low")
        if row["guiding_rms"] is not None and row["guiding_rms"] > rules.rms_limit:
            flags.append("rms_high")
        row["flags"] = flags
        if flags:
            rejected.append(row["index"])
    return {"medians": medians, "rejected": {"count": len(rejected), "frames": rejected}}


_AF_EVENTS = ("AUTOFOCUS-STARTING", "AUTOFOCUS-POINT-ADDED", "AUTOFOCUS-FINISHED", "ERROR-AF")


def _af_point(data: Mapping[str, Any]) -> tuple[float, float] | None:
    """Return (position, HFR) of an autofocus point: top level, or nested as the spec says."""
    nested = data.get("ImageStatistics")
    source = nested if isinstance(nested, Mapping) and "HFR" in nested else data
    position, hfr = _number(source.get("Position")), _number(source.get("HFR"))
    # History placeholders make them empty lists: no point then.
    return (position, hfr) if position is not None and hfr is not None else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


def autofocus_curve(events: Sequence[NinaEvent]) -> dict[str, Any] | None:
    """Return the last autofocus run: its points (focuser position, HFR), best point, outcome."""
    run: dict[str, Any] | None = None
    for event in events:
        if event.name == "AUTOFOCUS-STARTING":
            run = {"start": iso_z(event.time), "result": "unfinished", "points": []}
        elif run is not None and event.name == "AUTOFOCUS-POINT-ADDED":
            point = _af_point(event.data)
            if point is not None:
                run["points"].append({"position": point[0], "hfr": point[1]})
        elif run is not None and run["result"] == "unfinished" and event.name in _AF_EVENTS:
            run["result"] = "ok" if event.name == "AUTOFOCUS-FINISHED" else "failed"
    if run is not None:
        run["best"] = min(run["points"], key=lambda p: p["hfr"]) if run["points"] else None
    return run


def session_quality(
    store: Store, session_id: str, rules: RejectRules | None = None
) -> dict[str, Any]:
    """Return a session's lights with flags, the medians, what to reject and the last AF run.

    `{"session_id", "frames": [...], "medians", "rejected", "autofocus", "rules"}`.
    """
    rules = rules or RejectRules()
    events = store.session_events(session_id, ("IMAGE-SAVE", *_AF_EVENTS))
    rows = frame_rows(events)
    flagged = flag_frames(rows, rules)
    return {
        "session_id": session_id,
        "frames": rows,
        **flagged,
        "autofocus": autofocus_curve(events),
        "rules": {
            "hfr_ratio": rules.hfr_ratio,
            "stars_ratio": rules.stars_ratio,
            "rms_limit": rules.rms_limit,
        },
    }
