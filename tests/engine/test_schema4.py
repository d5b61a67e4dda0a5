"""Schema 4: a frame's key is its capture time in microseconds; a schema 3 file keeps everything.

`data/schema3.db` was written by the code of commit 2b282af (schema 3): the nights of
`schema2.db`, two live and closed, half of one read from NINA's history and left open.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
import json
from pathlib import Path
import shutil
import sqlite3
from typing import Any

from bench.workload import live_frames, nights
from custom_components.nina_session.engine.models import (
    FRAME_FINGERPRINT,
    NinaEvent,
    Source,
    event_key,
    frame_identity,
    split_key,
)
from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.store import SCHEMA_VERSION, Store
from simulator.night import history_item, image_record
from tests.engine.conftest import OPTIONS

SCHEMA_3 = Path(__file__).parent / "data" / "schema3.db"
_COLUMNS = "event_key, ts, name, source, session_id, epoch, data, frame"


def _rows(path: Path) -> list[tuple[Any, ...]]:
    """Every event row, its key read as (fingerprint, exact), sorted."""
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute(f"SELECT {_COLUMNS} FROM session_events")
        return sorted((*split_key(row[0]), *row[1:]) for row in rows)


def _envelope(items: list[Any]) -> dict[str, Any]:
    return {"Response": items, "Error": "", "StatusCode": 200, "Success": True, "Type": "API"}


def test_a_schema_3_file_keeps_every_event_and_its_frames_meet_their_copies(
    tmp_path: Path,
) -> None:
    """Test that migrating keeps every row but the key's spelling, and dedup still holds.

    The same nights read again, live and from history, add nothing: their frames' new keys
    are the migrated ones.
    """
    path = tmp_path / "nina.db"
    shutil.copy(SCHEMA_3, path)
    before = _rows(path)
    assert len(before) > 400 and sum(row[1] for row in before) > 100  # frames, exact

    store = Store(path)
    pipeline = Pipeline(store, OPTIONS)
    assert _rows(path) == before
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION
        keys = [key for (key,) in db.execute("SELECT event_key FROM session_events")]
        frame_keys = db.execute(
            "SELECT event_key FROM session_events WHERE name = 'IMAGE-SAVE'"
        ).fetchall()
    assert all(key.isdigit() and len(key) == 16 for (key,) in frame_keys)
    stored_sessions = store.sessions(limit=10)

    first, second, third = nights(3, seed=23, lights=40)
    for night in (first, second):
        again = pipeline.ingest_frames(live_frames(night.events))
        assert again.applied == [] and again.duplicates == len(night.events)
    half = third.events[: len(third.events) // 2]
    again = pipeline.ingest_history(
        _envelope([history_item(event) for event in half]),
        _envelope([image_record(event) for event in half if event.name == "IMAGE-SAVE"]),
    )
    assert again.applied == []
    with closing(sqlite3.connect(path)) as db:
        assert sorted(key for (key,) in db.execute("SELECT event_key FROM session_events")) == (
            sorted(keys)
        )
    assert json.dumps(store.sessions(limit=10)) == json.dumps(stored_sessions)
    store.close()


def test_a_frame_key_made_from_its_capture_time_is_the_key_its_fingerprint_reads_back_as() -> None:
    """Test that `frame_identity` gives the fingerprint and key `event_key` gives, byte for byte.

    Stored rows must dedupe against new frames: the key made without reading the time back
    is the one made by reading it back, with or without microseconds, before 1970 too; a
    time in another zone keeps its offset and is its own key, as before.
    """
    berlin = timezone(timedelta(hours=1))
    times = [
        datetime(2026, 3, 29, 1, 59, 59, 999_999, tzinfo=UTC),
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(8999, 12, 31, 23, 59, 59, 123_400, tzinfo=UTC),
        datetime(2026, 1, 5, 21, 0, 0, 500, tzinfo=berlin),
    ]
    for taken_at in times:
        old_fingerprint = FRAME_FINGERPRINT + taken_at.isoformat()
        fingerprint, micros = frame_identity(taken_at)
        event = NinaEvent("IMAGE-SAVE", taken_at, {}, Source.LIVE, fingerprint, True,
                          captured_us=micros)  # fmt: skip
        assert fingerprint == old_fingerprint
        assert event.key == event_key(old_fingerprint, True, event.ts)
        assert split_key(event.key) == (old_fingerprint, True)
    assert frame_identity(times[-1])[1] is None  # not UTC: the fingerprint is its own key


def test_a_changed_copy_of_a_frame_event_takes_its_key_from_its_own_fingerprint() -> None:
    """Test that `replace` never carries a capture-time key over to another fingerprint."""
    taken_at = datetime(2026, 1, 5, 21, 0, 0, 250_000, tzinfo=UTC)
    fingerprint, micros = frame_identity(taken_at)
    event = NinaEvent("IMAGE-SAVE", taken_at, {}, Source.LIVE, fingerprint, True,
                      captured_us=micros)  # fmt: skip
    later = taken_at + timedelta(seconds=1)
    moved = replace(event, time=later)
    assert moved.key == event.key == str(micros)
    other = replace(event, fingerprint=frame_identity(later)[0])
    assert other.key == str(micros + 1_000_000)
    loose = replace(event, exact=False)
    assert loose.key == event_key(fingerprint, False, event.ts)


def test_an_event_moved_to_another_time_is_the_copy_replace_makes() -> None:
    """Test that `moved_to` (history moved onto our clock) gives what `replace` gives.

    A frame keeps its capture-time key, whether made from its capture time or read back from
    its fingerprint; a frame in another zone keeps its fingerprint as key; every other event
    is keyed again at its new time.
    """
    taken_at = datetime(2026, 1, 5, 21, 0, 0, 250_000, tzinfo=UTC)
    fingerprint, micros = frame_identity(taken_at)
    berlin = taken_at.astimezone(timezone(timedelta(hours=1)))
    events = [
        NinaEvent("IMAGE-SAVE", taken_at, {}, Source.HISTORY, fingerprint, True,
                  captured_us=micros),
        NinaEvent("IMAGE-SAVE", taken_at, {}, Source.HISTORY, fingerprint, True),
        NinaEvent("IMAGE-SAVE", taken_at, {}, Source.HISTORY, frame_identity(berlin)[0], True),
        NinaEvent("IMAGE-SAVE", taken_at, {}, Source.HISTORY, "IMAGE-SAVE", False),
        NinaEvent("GUIDER-DITHER", taken_at, {}, Source.HISTORY, "GUIDER-DITHER", False),
    ]  # fmt: skip
    later = taken_at + timedelta(seconds=2, microseconds=500)
    for event in events:
        moved, copied = event.moved_to(later), replace(event, time=later)
        assert (moved, moved.ts, moved.key) == (copied, copied.ts, copied.key)
    assert events[0].moved_to(later).key == str(micros)
