"""Storage faults: locked, read-only, full and corrupt databases lose nothing.

A row the database refuses costs only that row.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
import sqlite3
from zoneinfo import ZoneInfo

import pytest

from custom_components.nina_session.engine.health import ConnectionHealth
from custom_components.nina_session.engine.models import Source
from custom_components.nina_session.engine.pipeline import Pipeline, PipelineOptions
from custom_components.nina_session.engine.reports import health_view
from custom_components.nina_session.engine.store import Store, StoreError
from custom_components.nina_session.engine.wire import WireEvent
from simulator import (
    SimEvent,
    envelope,
    history_item,
    image_record,
    preset_night,
    socket_text,
    to_rest,
)
from tests.engine.conftest import OPTIONS
from tests.engine.frames import at, event, frames, image

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def feed(pipeline: Pipeline, events: list[object]) -> None:
    """Ingest each simulated event as its own live batch, so faults hit mid-night."""
    for ev in events:  # one live batch per frame, so faults hit mid-night
        pipeline.ingest_frames([(socket_text(ev), ev.time)])  # type: ignore[attr-defined]


def test_locked_database_keeps_events_in_memory_until_it_frees(db_path: Path) -> None:
    """Test that events wait in memory while another process locks the file, then all land."""
    night = preset_night("simple")
    pipeline = Pipeline(
        Store(db_path, busy_timeout=0.05), PipelineOptions("rig1", ZoneInfo(night.spec.tz))
    )
    third = len(night.events) // 3
    feed(pipeline, night.events[:third])
    blocker = sqlite3.connect(db_path)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    feed(pipeline, night.events[third : 2 * third])
    assert pipeline.writer.storage_error is not None and "locked" in pipeline.writer.storage_error
    assert pipeline.writer.pending_events > 0
    blocker.rollback()
    blocker.close()
    feed(pipeline, night.events[2 * third :])  # the next write takes the backlog too
    assert pipeline.writer.storage_error is None and pipeline.writer.pending_events == 0
    stored = pipeline.store.sessions()[0]
    assert stored["frames"]["by_type"] == night.truth.frames_by_type
    assert pipeline.store.counts()["events"] == len(night.events)


def test_full_disk_retries_and_duplicates_nothing(db_path: Path) -> None:
    """Test that frames wait in memory on a full disk, stay deduplicated, and land on retry."""
    store = Store(db_path)
    pipeline = Pipeline(store, OPTIONS)
    pipeline.ingest_frames(frames((0, event("SEQUENCE-STARTING"))))
    # max_page_count binds only the connection that sets it: fill the store's own.
    db = store._db  # noqa: SLF001
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full now
    many = [(i + 1.0, image(float(i), extra_padding="x" * 3000)) for i in range(20)]
    pipeline.ingest_frames(frames(*many))
    assert pipeline.writer.storage_error is not None and "full" in pipeline.writer.storage_error
    # The same frames arrive again while they wait in memory: still one each.
    assert pipeline.ingest_frames(frames(*many)).duplicates == 20
    db.execute("PRAGMA max_page_count = 1073741823")  # space freed
    assert pipeline.retry_pending()
    assert store.sessions()[0]["frames"]["total"] == 20
    assert store.counts()["events"] == 21
    store.close()


def test_read_only_database_keeps_events_in_memory_until_writable(db_path: Path) -> None:
    """Test that a database turned read-only mid-night loses nothing and lands once writable."""
    night = preset_night("simple")
    store = Store(db_path)
    pipeline = Pipeline(store, PipelineOptions("rig1", ZoneInfo(night.spec.tz)))
    half = len(night.events) // 2
    feed(pipeline, night.events[:half])
    # A remount read-only, as SQLite sees it (root ignores file modes, so chmod cannot).
    db = store._db  # noqa: SLF001
    db.execute("PRAGMA query_only = ON")
    feed(pipeline, night.events[half:])
    assert pipeline.writer.storage_error is not None and "readonly" in pipeline.writer.storage_error
    assert pipeline.writer.pending_events == len(night.events) - half
    assert store.counts()["events"] == half  # reads still answer meanwhile
    db.execute("PRAGMA query_only = OFF")
    assert pipeline.retry_pending()
    assert pipeline.writer.storage_error is None and pipeline.writer.pending_events == 0
    assert store.counts()["events"] == len(night.events)
    assert store.sessions()[0]["frames"]["by_type"] == night.truth.frames_by_type
    store.close()


def test_corrupt_file_is_moved_aside_and_a_fresh_one_made(db_path: Path) -> None:
    """Test that a corrupt file is kept under a timestamped name and a fresh store is opened."""
    db_path.write_bytes(b"not a database at all" * 200)
    store, aside = Store.open_or_recover(db_path, now=NOW)
    assert aside is not None and aside.name == "nina.db.corrupt-20261125T120000Z"
    assert aside.read_bytes().startswith(b"not a database")  # kept, never deleted
    assert store.counts()["events"] == 0
    store.close()


def test_a_newer_schema_is_not_moved_aside(db_path: Path) -> None:
    """Test that open_or_recover raises on a newer schema and leaves the file in place."""
    Store(db_path).close()
    with sqlite3.connect(db_path) as db:
        db.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(StoreError):
        Store.open_or_recover(db_path, now=NOW)
    assert db_path.exists()


def poison(db: sqlite3.Connection, name: str) -> None:
    """Make SQLite itself refuse every row of events called `name` (a per-row failure)."""
    db.execute(
        "CREATE TRIGGER poison BEFORE INSERT ON session_events "
        f"WHEN NEW.name = '{name}' BEGIN SELECT RAISE(ABORT, 'poisoned row'); END"
    )


def test_a_row_sqlite_refuses_costs_only_that_row(db_path: Path) -> None:
    """Test that a batch of 20 with one row SQLite refuses stores the 19 and counts the one."""
    store = Store(db_path)
    pipeline = Pipeline(store, OPTIONS)
    poison(store._db, "GUIDER-DITHER")  # noqa: SLF001
    batch = [(0.0, event("SEQUENCE-STARTING"))]
    batch += [(i + 1.0, image(float(i))) for i in range(18)]
    batch.insert(10, (9.5, event("GUIDER-DITHER")))
    result = pipeline.ingest_frames(frames(*batch))
    assert store.counts()["events"] == 19
    assert pipeline.writer.pending_events == 0 and pipeline.writer.storage_error is None
    assert result.rejected == 1 and len(result.applied) == 19
    counters = pipeline.counters
    assert counters.rejected_by_reason == {"unstorable": 1}
    assert counters.processed == 19 and "GUIDER-DITHER" not in counters.by_type
    # The fold follows what was stored: no dither counted, 18 frames, in memory and on disk.
    session = pipeline.current_session()
    assert session is not None and session["counts"]["dithers"] == 0
    assert session["frames"]["total"] == 18
    assert store.sessions()[0]["counts"]["dithers"] == 0
    # The next batch is not held back by the refused row.
    pipeline.ingest_frames(frames((30.0, image(29.0))))
    assert store.counts()["events"] == 20 and pipeline.writer.pending_events == 0
    store.close()


def test_an_event_that_cannot_be_encoded_costs_only_that_event(db_path: Path) -> None:
    """Test that a non-SQLite error on one row (a lone surrogate past decoding) is isolated."""
    store = Store(db_path)
    pipeline = Pipeline(store, OPTIONS)
    received = at(0)
    wires = [WireEvent("SEQUENCE-STARTING", {}, None, received)]
    wires += [WireEvent(f"CUSTOM-{i}", {}, None, received + timedelta(seconds=i)) for i in range(8)]
    wires.insert(4, WireEvent("X\ud800", {}, None, received + timedelta(seconds=3.5)))
    result = pipeline.ingest(wires, Source.LIVE)
    assert result.rejected == 1
    assert store.counts()["events"] == 9 and pipeline.writer.pending_events == 0
    assert pipeline.counters.rejected_by_reason == {"unstorable": 1}
    assert pipeline.writer.storage_error is None
    store.close()


def test_a_refused_row_inside_a_wide_insert_costs_only_that_row(db_path: Path) -> None:
    """Test that 1,200 events with one row SQLite refuses and one it cannot encode store 1,198.

    Both bad rows sit inside statements of 500 rows (`Store._insert_events`).
    """
    store = Store(db_path)
    pipeline = Pipeline(store, OPTIONS)
    poison(store._db, "GUIDER-DITHER")  # noqa: SLF001
    received = at(0)
    wires = [WireEvent("SEQUENCE-STARTING", {}, None, received)]
    wires += [
        WireEvent(f"CUSTOM-{i}", {"Index": i}, None, received + timedelta(seconds=i + 1))
        for i in range(1197)
    ]
    wires.insert(300, WireEvent("GUIDER-DITHER", {}, None, received + timedelta(seconds=299.5)))
    wires.insert(700, WireEvent("X\ud800", {}, None, received + timedelta(seconds=698.5)))
    result = pipeline.ingest(wires, Source.LIVE)
    assert result.rejected == 2 and len(result.applied) == 1198
    assert store.counts()["events"] == 1198 and pipeline.writer.pending_events == 0
    assert pipeline.counters.rejected_by_reason == {"unstorable": 2}
    assert pipeline.writer.storage_error is None
    store.close()


def test_a_refused_row_in_a_late_batch_still_stores_the_others(db_path: Path) -> None:
    """Test the out-of-order path (stored, then refolded): one refused row, the rest stored."""
    store = Store(db_path)
    pipeline = Pipeline(store, OPTIONS)
    pipeline.ingest_frames(frames((0.0, event("SEQUENCE-STARTING")), (20.0, image(19.0))))
    poison(store._db, "GUIDER-DITHER")  # noqa: SLF001
    late = frames((5.0, image(4.0)), (6.0, event("GUIDER-DITHER")), (7.0, image(6.0)))
    result = pipeline.ingest_frames(late)
    assert result.rebuilt and result.rejected == 1
    assert store.counts()["events"] == 4
    session = pipeline.current_session()
    assert session is not None and session["frames"]["total"] == 3
    assert session["counts"]["dithers"] == 0
    store.close()


def backfill(pipeline: Pipeline, events: list[SimEvent]) -> None:
    """Ingest `events` as the plugin's history read serves them."""
    history = [to_rest(history_item(e)) for e in events]
    images = [to_rest(image_record(e)) for e in events if e.name == "IMAGE-SAVE"]
    pipeline.ingest_history(envelope(history), envelope(images))


def test_pending_writes_past_their_byte_budget_are_dropped_then_repaired(db_path: Path) -> None:
    """Test that a long read-only spell keeps memory bounded and history repairs what it cost."""
    night = preset_night("simple")
    store = Store(db_path)
    options = PipelineOptions("rig1", ZoneInfo(night.spec.tz), max_pending_bytes=2_000)
    pipeline = Pipeline(store, options)
    half = len(night.events) // 2
    feed(pipeline, night.events[:half])
    backfill(pipeline, night.events[:half])  # frames seen both ways: the clock is measured
    assert not pipeline.history_wanted
    db = store._db  # noqa: SLF001
    db.execute("PRAGMA query_only = ON")  # read-only for the rest of the night
    feed(pipeline, night.events[half:])
    pending = pipeline.writer.pending
    assert pending is not None and pending.size <= 2_000
    dropped = pipeline.counters.rejected_by_reason["pending_full"]
    assert dropped > 0 and pipeline.writer.pending_events + dropped == len(night.events) - half
    assert not pipeline.history_wanted  # a read now would only be dropped again
    budget = health_view(pipeline, ConnectionHealth(), "nina.db")["budgets"]["pending_writes"]
    assert budget["bytes"] == pending.size > 0 and budget["refused"] == dropped
    db.execute("PRAGMA query_only = OFF")
    assert pipeline.retry_pending()
    assert pipeline.history_wanted and pipeline.writer.pending_events == 0
    backfill(pipeline, night.events)
    assert not pipeline.history_wanted
    assert store.counts()["events"] == len(night.events)
    assert store.sessions()[0]["frames"]["by_type"] == night.truth.frames_by_type
    session = pipeline.current_session()
    assert session is not None and session["frames"]["by_type"] == night.truth.frames_by_type
    store.close()


def test_a_repair_read_stays_wanted_when_live_events_without_frames_follow(
    db_path: Path,
) -> None:
    """Test that live events on an unmeasured clock do not cancel the read a repair asked for.

    The read a dropped live event needs is asked for once the database takes writes again;
    live events with no frame arriving before it (nothing to measure NINA's clock with) must
    leave that request standing.
    """
    store = Store(db_path)
    pipeline = Pipeline(store, PipelineOptions("rig1", OPTIONS.tz, max_pending_bytes=200))
    pipeline.ingest_frames(frames((0.0, event("SEQUENCE-STARTING"))))
    store._db.execute("PRAGMA query_only = ON")  # noqa: SLF001
    pipeline.ingest_frames(frames(*((1.0 + n, event("GUIDER-DITHER", N=n)) for n in range(30))))
    assert pipeline.counters.rejected_by_reason["pending_full"] > 0
    store._db.execute("PRAGMA query_only = OFF")  # noqa: SLF001
    assert pipeline.retry_pending()
    assert pipeline.history_wanted and not pipeline.clock.measured
    pipeline.ingest_frames(frames((40.0, event("GUIDER-DITHER", N=99))))
    assert pipeline.history_wanted
    store.close()
