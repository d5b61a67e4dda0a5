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
    value = stats.get("Mean") if isinstance(stats, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


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


def session_quality(
    store: Store, session_id: str, rules: RejectRules | None = None
) -> dict[str, Any]:
    """Return `{"session_id", "frames": [...], "medians", "rejected", "rules"}` of a session."""
    rules = rules or RejectRules()
    rows = frame_rows(store.session_events(session_id, ("IMAGE-SAVE",)))
    flagged = flag_frames(rows, rules)
    return {
        "session_id": session_id,
        "frames": rows,
        **flagged,
        "rules": {
            "hfr_ratio": rules.hfr_ratio,
            "stars_ratio": rules.stars_ratio,
            "rms_limit": rules.rms_limit,
        },
    }
