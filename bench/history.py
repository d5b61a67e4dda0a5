"""Scale of history: a year of nights in the database vs a single night.

The single-night database holds one night (about `history_frames_per_night` frames, with its
IMAGE-PREPARED, autofocus, guiding and sequence events), ingested through the pipeline. The
year database holds `history_nights - 1` earlier nights and then that same night, ingested
through the pipeline last, so both end in the same state with the same open session. The
earlier nights are `history_templates` distinct generated nights run through the pipeline,
then fast-inserted again and again (events, sessions and summaries shifted by whole days,
keys made unique), which gives a year of real-shaped rows in seconds.

Measured on each: size on disk (after a WAL checkpoint), and the warm median time (the two
databases take turns, `query_repeats` times; each read is timed on its second call in a row,
so it is not charged for the caches the read before it left cold) of the reads the views run:
`store.sessions(limit=50)` (per row returned: 50 rows from the year, one from the night),
`store.totals()`, `store.counts()`, `reports.legacy_view` and `reports.stats_view`. Indexed
reads should stay near-flat from a night to a year; a read that scans all history grows with
it, and the table says so.

Also measured on each: one late event (stored half an hour before the newest one, inside the
open night, as a history read after a reconnect brings it), whose refold runs on the writer
thread while live frames wait: the median time of its whole batch (`late_refold_ms_*`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import sqlite3
import statistics
import time
from typing import Any

from bench.common import OPTIONS, Scale, Section, db_bytes, fmt_n, fmt_s, ratio, scratch_dir
from bench.workload import START_DATE, live_frames, nights
from custom_components.nina_session.engine.engine import BATCH_SIZE
from custom_components.nina_session.engine.health import ConnectionHealth
from custom_components.nina_session.engine.models import Source, event_key, split_key
from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.reports import legacy_view, stats_view
from custom_components.nina_session.engine.store import Store
from custom_components.nina_session.engine.timeutil import iso_z
from custom_components.nina_session.engine.wire import WireEvent
from simulator.night import Night, generate_night

_DAY = 86_400.0
_EVENT_COLUMNS = "event_key, ts, name, source, session_id, epoch, data, frame"
_SESSION_COLUMNS = "id, instance, night, start_ts, end_ts, summary"
QUERIES = ("sessions_50", "totals", "counts", "legacy_view", "stats_view")


def _ingest(path: Path, night_list: list[Night]) -> None:
    store = Store(path)
    pipeline = Pipeline(store, OPTIONS)
    for night in night_list:
        frames = live_frames(night.events)
        for index in range(0, len(frames), BATCH_SIZE):
            pipeline.ingest_frames(frames[index : index + BATCH_SIZE])
    store.close()


def _shift_session(row: tuple[Any, ...], days: int, last_ts: float) -> tuple[Any, ...]:
    _sid, instance, night, start_ts, end_ts, summary = row
    shift = days * _DAY
    if end_ts is None:
        # The template's last night was still open when its ingest stopped; a copy of it
        # a year back has long ended (a real database has one open session at most).
        end_ts = last_ts
    start = datetime.fromtimestamp(start_ts + shift, UTC)
    new_id = f"{iso_z(start)}-{instance}"
    data = json.loads(summary)
    data["id"] = new_id
    data["start"] = iso_z(start)
    data["end"] = iso_z(datetime.fromtimestamp(end_ts + shift, UTC))
    data["state"] = "idle"
    new_night = (datetime.fromisoformat(night) + timedelta(days=days)).date().isoformat()
    return (new_id, instance, new_night, start_ts + shift, end_ts + shift, json.dumps(data))


def _replicate(template: Path, target: Path, templates: int, copies_needed: int) -> None:
    """Fill `target` with `copies_needed` nights made from the template database's nights."""
    with sqlite3.connect(template) as src:
        events = src.execute(f"SELECT {_EVENT_COLUMNS} FROM session_events ORDER BY id").fetchall()
        sessions = src.execute(f"SELECT {_SESSION_COLUMNS} FROM sessions").fetchall()
        history = src.execute("SELECT session_id, seq, entry FROM session_history").fetchall()
        last_ts = dict(
            src.execute("SELECT session_id, MAX(ts) FROM session_events GROUP BY session_id")
        )
    Store(target).close()  # the schema, exactly as the engine creates it
    db = sqlite3.connect(target)
    rounds = -(-copies_needed // templates)
    with db:
        for k in range(rounds):
            days = k * templates
            # The last round may need fewer nights than the templates hold.
            keep = {row[0] for row in sorted(sessions, key=lambda r: r[3])[: copies_needed - days]}
            shifted = {
                row[0]: _shift_session(row, days, last_ts[row[0]])
                for row in sessions
                if row[0] in keep
            }
            db.executemany(
                f"INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES (?,?,?,?,?,?)",
                shifted.values(),
            )
            rows = []
            for key, ts, name, source, sid, epoch, data, frame in events:
                if sid is not None and sid not in keep:
                    continue
                moved = ts + days * _DAY
                fingerprint, exact = split_key(key)
                new_key = f"{key}~{k}" if exact and k else event_key(fingerprint, exact, moved)
                new_sid = shifted[sid][0] if sid is not None else None
                rows.append((new_key, moved, name, source, new_sid, epoch, data, frame))
            db.executemany(
                f"INSERT INTO session_events ({_EVENT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)", rows
            )
            db.executemany(
                "INSERT INTO session_history (session_id, seq, entry) VALUES (?,?,?)",
                [(shifted[sid][0], seq, entry) for sid, seq, entry in history if sid in shifted],
            )
    db.close()


def _checkpoint(path: Path) -> tuple[int, int, int]:
    """Checkpoint the WAL; return the events, sessions and open sessions stored."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        events = db.execute("SELECT COUNT(*) FROM session_events").fetchone()[0]
        sessions = db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
        still_open = db.execute("SELECT COUNT(*) FROM sessions WHERE end_ts IS NULL").fetchone()
    db.close()
    return events, sessions, still_open[0]


def _views(path: Path) -> tuple[Store, dict[str, Callable[[], Any]]]:
    store = Store(path)
    pipeline = Pipeline(store, OPTIONS)
    health = ConnectionHealth(connected=True)
    now = datetime.now(UTC)
    return store, {
        "sessions_50": lambda: store.sessions(limit=50),
        "totals": store.totals,
        "counts": store.counts,
        "legacy_view": lambda: legacy_view(pipeline, health, now),
        "stats_view": lambda: stats_view(pipeline, health, "bench.db", now, now),
    }


def _query_times(paths: list[Path], repeats: int) -> list[dict[str, float]]:
    """Warm median seconds per read, per database; the databases take turns per repeat."""
    opened = [_views(path) for path in paths]
    samples: list[dict[str, list[float]]] = [{name: [] for name in QUERIES} for _ in paths]
    for _, calls in opened:
        for call in calls.values():
            call()  # warm-up: page cache, statement cache
    for index in range(repeats):
        order = range(len(paths)) if index % 2 == 0 else reversed(range(len(paths)))
        for which in order:
            for name, call in opened[which][1].items():
                # Warm means warm for this read: the read before it (50 summaries from the
                # year) leaves the CPU caches and allocator full of its own objects, which
                # doubled a 50 µs read after it whatever that read did.
                call()
                start = time.perf_counter()
                call()
                samples[which][name].append(time.perf_counter() - start)
    for store, _ in opened:
        store.close()
    return [{name: statistics.median(values) for name, values in s.items()} for s in samples]


def _first_totals(paths: list[Path], repeats: int) -> list[float]:
    """Median seconds of the first `totals()` on a freshly opened store (as after a restart)."""
    samples: list[list[float]] = [[] for _ in paths]
    for index in range(repeats):
        order = range(len(paths)) if index % 2 == 0 else reversed(range(len(paths)))
        for which in order:
            store = Store(paths[which])
            start = time.perf_counter()
            store.totals()
            samples[which].append(time.perf_counter() - start)
            store.close()
    return [statistics.median(values) for values in samples]


def _late_refold_times(paths: list[Path], repeats: int) -> list[float]:
    """Median seconds of one batch holding a single late event, per database (taking turns)."""
    opened = [(store, Pipeline(store, OPTIONS)) for store in map(Store, paths)]
    samples: list[list[float]] = [[] for _ in paths]
    for index in range(repeats):
        order = range(len(paths)) if index % 2 == 0 else reversed(range(len(paths)))
        for which in order:
            store, pipeline = opened[which]
            newest = store.recent_events(1)[0].time
            # A filter change nobody saw live, seconds apart each time: never a duplicate.
            late = WireEvent(
                "FILTERWHEEL-CHANGED",
                {"New": {"Name": "Ha", "Id": 1}, "Previous": {"Name": "L", "Id": 0}},
                None,
                newest - timedelta(minutes=30, seconds=5 * index),
            )
            start = time.perf_counter()
            result = pipeline.ingest([late], Source.REPLAY)
            samples[which].append(time.perf_counter() - start)
            assert result.rebuilt, "a late event refolds"
    for store, _ in opened:
        store.close()
    return [statistics.median(values) for values in samples]


def run(scale: Scale) -> Section:
    """Compare database size and view read times: a year of nights vs a single night."""
    section = Section("history")
    templates = nights(scale.history_templates, seed=13, lights=scale.history_frames_per_night)
    last_date = START_DATE + timedelta(days=scale.history_nights - 1)
    last = generate_night(replace(templates[0].spec, date=last_date, seed=99))
    with scratch_dir("history") as tmp:
        night_db, year_db, template_db = tmp / "night.db", tmp / "year.db", tmp / "template.db"
        _ingest(template_db, templates)
        _ingest(night_db, [last])
        _replicate(template_db, year_db, scale.history_templates, scale.history_nights - 1)
        _ingest(year_db, [last])
        night_events, night_sessions, _ = _checkpoint(night_db)
        year_events, year_sessions, year_open = _checkpoint(year_db)
        night_size, year_size = db_bytes(night_db), db_bytes(year_db)
        night_t, year_t = _query_times([night_db, year_db], scale.query_repeats)
        night_first, year_first = _first_totals([night_db, year_db], scale.query_repeats)
        night_late, year_late = _late_refold_times([night_db, year_db], scale.query_repeats)

    frames = sum(1 for e in last.events if e.name == "IMAGE-SAVE")
    overall = ratio(sum(year_t.values()), sum(night_t.values()))
    size_ratio = ratio(year_size, night_size)
    section.figures.update(
        nights=year_sessions,
        frames_per_night=frames,
        events_year=year_events,
        events_night=night_events,
        db_mb_year=round(year_size / 2**20, 1),
        db_mb_night=round(night_size / 2**20, 2),
        bytes_per_event=round(year_size / year_events),
        size_ratio_year_vs_night=size_ratio,
        query_ratio_year_vs_night=overall,
    )
    section.row(
        f"size on disk: {year_sessions} nights vs 1 ({fmt_n(year_events)} vs "
        f"{fmt_n(night_events)} events)",
        f"{year_size / 2**20:.1f} MB",
        f"{night_size / 2**20:.2f} MB",
        size_ratio,
    )
    linear = []
    # sessions(limit=50) returns 50 rows from the year and one from the night: per row.
    rows = min(50, year_sessions) / max(1, min(50, night_sessions))
    for name in QUERIES:
        r = ratio(year_t[name], night_t[name])
        section.figures[f"{name}_ms_year"] = round(year_t[name] * 1e3, 3)
        section.figures[f"{name}_ms_night"] = round(night_t[name] * 1e3, 3)
        section.figures[f"{name}_ratio"] = r
        label = f"{name}: year vs night"
        if name == "sessions_50":
            r = ratio(year_t[name] / rows, night_t[name])
            section.figures["sessions_50_ratio_per_row"] = r
            label = f"sessions(limit=50) per row returned ({rows:.0f} vs 1 rows)"
            section.row(label, fmt_s(year_t[name] / rows), fmt_s(night_t[name]), r)
        else:
            section.row(label, fmt_s(year_t[name]), fmt_s(night_t[name]), r)
        if r is not None and r > 10:
            linear.append(name)
    first_ratio = ratio(year_first, night_first)
    section.figures.update(
        totals_first_call_ms_year=round(year_first * 1e3, 3),
        totals_first_call_ms_night=round(night_first * 1e3, 3),
        totals_first_call_ratio=first_ratio,
        open_sessions_year=year_open,
    )
    section.row(
        "totals, first call after opening: year vs night",
        fmt_s(year_first),
        fmt_s(night_first),
        first_ratio,
    )
    late_ratio = ratio(year_late, night_late)
    section.figures.update(
        late_refold_ms_year=round(year_late * 1e3, 3),
        late_refold_ms_night=round(night_late * 1e3, 3),
        late_refold_ratio=late_ratio,
    )
    section.row(
        "one late event's refold: year vs night", fmt_s(year_late), fmt_s(night_late), late_ratio
    )
    section.row(
        "all five reads: year vs night",
        fmt_s(sum(year_t.values())),
        fmt_s(sum(night_t.values())),
        overall,
    )
    section.figures["grows_with_history"] = ",".join(linear)
    if linear:
        section.notes.append(
            f"grow with history (>10x from a night to a year, events x"
            f"{year_events / night_events:.0f}): {', '.join(linear)}"
        )
    return section
