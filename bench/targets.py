"""Targets, night report and quality on a year of nights: `python -m bench.targets [nights] [lights]`.

The year is built as `bench.history` builds it (a few generated nights through the pipeline,
then replicated day by day), then measured: the first `TargetIndex.targets` over all of it
(every session's lights read), a warm call (closed sessions come from the index's cache, as
in Home Assistant after the first call), a date range of one month on a fresh index, and one
night's report and frame-by-frame quality.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
import statistics
import sys
import time
from typing import Any

from bench.common import OPTIONS, scratch_dir
from bench.history import _ingest, _replicate
from bench.workload import nights
from custom_components.nina_session.engine.night_report import build_report
from custom_components.nina_session.engine.quality import session_quality
from custom_components.nina_session.engine.store import Store
from custom_components.nina_session.engine.targets import TargetIndex

_TEMPLATES = 3


def _median_ms(call: Callable[[], Any], repeats: int = 5) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return round(statistics.median(samples) * 1e3, 2)


def run(year_nights: int = 365, lights: int = 200) -> dict[str, Any]:
    """Build the year and return the figures (milliseconds)."""
    templates = nights(_TEMPLATES, seed=13, lights=lights)
    tz = OPTIONS.tz
    with scratch_dir("targets") as tmp:
        template_db, year_db = tmp / "template.db", tmp / "year.db"
        _ingest(template_db, templates)
        _replicate(template_db, year_db, _TEMPLATES, year_nights)
        store = Store(year_db)
        sessions = store.sessions(limit=1)
        start = time.perf_counter()
        answer = TargetIndex(tz).targets(store)
        cold = round((time.perf_counter() - start) * 1e3, 1)
        index = TargetIndex(tz)
        index.targets(store)
        warm = _median_ms(lambda: index.targets(store))
        month_start = datetime.fromisoformat(sessions[0]["start"]) - timedelta(days=30)
        month = _median_ms(
            lambda: TargetIndex(tz).targets(store, start_ts=month_start.timestamp()), 3
        )
        newest = sessions[0]["id"]
        report = _median_ms(lambda: build_report(store, newest, tz))
        quality = _median_ms(lambda: session_quality(store, newest))
        frames = sum(t["frames"] for t in answer["targets"])
        store.close()
    return {
        "nights": year_nights,
        "light_frames": frames,
        "targets_cold_ms": cold,
        "targets_warm_ms": warm,
        "targets_last_30_days_ms": month,
        "night_report_ms": report,
        "quality_ms": quality,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


if __name__ == "__main__":
    arguments = [int(value) for value in sys.argv[1:3]]
    for key, value in run(*arguments).items():
        print(f"{key}: {value}")
