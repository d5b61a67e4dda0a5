"""The SQLite store: schema, migrations, idempotent writes, damaged files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
import sqlite3

import pytest

from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.store import SCHEMA_VERSION, Store, StoreError
from tests.engine.conftest import OPTIONS
from tests.engine.frames import event, frames, image


def test_new_file_has_the_schema_and_wal(db_path: Path) -> None:
    """Test that a new file gets the tables, indexes, current schema version and WAL mode."""
    Store(db_path).close()
    with sqlite3.connect(db_path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        assert {"sessions", "session_events", "session_state", "schema_version"} <= tables
        assert {"ix_events_name_ts", "ix_events_ts", "session_history", "totals_closed"} <= tables
        assert db.execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_empty_older_database_is_migrated_forward(db_path: Path) -> None:
    """Test that an empty database at schema version 0 is migrated to the current version."""
    with sqlite3.connect(db_path) as db:
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (0)")
    Store(db_path).close()
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION


def test_a_newer_schema_is_refused_not_damaged(db_path: Path) -> None:
    """Test that opening a file with a newer schema version raises StoreError saying so."""
    Store(db_path).close()
    with sqlite3.connect(db_path) as db:
        db.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(StoreError, match="newer"):
        Store(db_path)


def test_a_corrupt_file_raises_store_error(db_path: Path) -> None:
    """Test that opening a file that is not an SQLite database raises StoreError."""
    db_path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError):
        Store(db_path)


def test_updated_at_trigger_moves_on_update(db_path: Path) -> None:
    """Test that updating a session moves its updated_at and keeps its created_at."""
    store = Store(db_path)
    pipeline = Pipeline(store, OPTIONS)
    pipeline.ingest_frames(frames((0, event("SEQUENCE-STARTING"))))
    with sqlite3.connect(db_path) as db:
        db.execute("UPDATE sessions SET created_at = '2000-01-01', updated_at = '2000-01-01'")
    pipeline.ingest_frames(frames((5, image(0))))
    with sqlite3.connect(db_path) as db:
        created, updated = db.execute("SELECT created_at, updated_at FROM sessions").fetchone()
    assert created == "2000-01-01" and updated > "2026"
    store.close()


def test_event_data_is_stored_in_full(db_path: Path) -> None:
    """Test that an event's data is read back from the store unchanged."""
    store = Store(db_path)
    Pipeline(store, OPTIONS).ingest_frames(frames((0, event("SAFETY-CHANGED", IsSafe=False))))
    assert store.recent_events(1)[0].data == {"IsSafe": False}
    store.close()


def test_prune_drops_old_closed_sessions_and_keeps_counts_right(db_path: Path) -> None:
    """Test that prune deletes the old closed night with its events; counts and totals follow."""
    store = Store(db_path)
    pipeline = Pipeline(store, OPTIONS)
    pipeline.ingest_frames(frames((0, event("SEQUENCE-STARTING")), (5, image(0)),
                                  (6, event("SEQUENCE-FINISHED"))))  # fmt: skip
    pipeline.ingest_frames(frames((24 * 60, event("SEQUENCE-STARTING"))))  # next night
    assert store.counts()["events"] == 4
    sessions, events = store.prune(datetime(2026, 11, 25, tzinfo=UTC))
    assert (sessions, events) == (1, 3)
    assert store.counts() | {"size_bytes": 0} == {"sessions": 1, "events": 1, "size_bytes": 0}
    assert store.totals()["nights"] == 1
    store.close()
