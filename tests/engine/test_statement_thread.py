"""A large batch's INSERTs run on the store's statement thread: same rows, same failures.

The thread steps one statement while the writer builds the next one's rows; what is stored,
what a failure leaves behind and which exception the writer sees must be as on one thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
import sqlite3
import threading
from typing import Any

import pytest

from bench.workload import stretch
from custom_components.nina_session.engine import store as store_module
from custom_components.nina_session.engine.health import EventCounters
from custom_components.nina_session.engine.models import NinaEvent
from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.statement_thread import THREAD_NAME, StatementThread
from custom_components.nina_session.engine.store import Store
from custom_components.nina_session.engine.write_path import Row, StoreWriter
from simulator import envelope, history_item, image_record, to_rest
from tests.engine.conftest import OPTIONS
from tests.engine.test_batch_insert import history_event
from tests.engine.test_storage_faults import poison

#: Enough rows for the statement thread (`store._BESIDE_FROM`), not a whole number of chunks.
LARGE = 2_760


def statement_threads() -> list[threading.Thread]:
    """Return the statement threads alive in this process."""
    return [thread for thread in threading.enumerate() if thread.name == THREAD_NAME]


@pytest.fixture(autouse=True)
def _no_thread_outlives_its_test(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep whole batches on the thread; fail a test that leaves a statement thread running.

    On a busy machine the thread and the writer take turns on one core, and a batch would go
    on on the writer's thread (`StatementThread._took_turns`): not what these tests test.
    Home Assistant's test harness fails a test that leaves any thread running.
    """
    monkeypatch.setattr(StatementThread, "_took_turns", lambda _: False)
    before = set(statement_threads())
    yield
    assert set(statement_threads()) <= before


def inserting_threads(db: sqlite3.Connection) -> list[str]:
    """Return (and keep filling) the name of the thread that runs each INSERT on `db`."""
    names: list[str] = []

    def note(sql: str) -> None:
        if sql.startswith("INSERT OR IGNORE"):
            names.append(threading.current_thread().name)

    db.set_trace_callback(note)
    return names


def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Return every table's rows (ids included) in order, without the wall-clock columns."""
    with sqlite3.connect(path) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        dumped = {}
        for table in tables:
            columns = [
                row[1]
                for row in db.execute(f"PRAGMA table_info({table})")
                if row[1] not in {"created_at", "updated_at"}
            ]
            order = ",".join(str(at + 1) for at in range(len(columns)))
            # Only the file's own table and column names are interpolated.
            rows = db.execute(f"SELECT {','.join(columns)} FROM {table} ORDER BY {order}")
            dumped[table] = rows.fetchall()
    return dumped


def first_backfill(path: Path) -> Store:
    """Ingest 4,000 simulated events as a first history read (one batch); return the store."""
    events = stretch(4_000)
    history = [to_rest(history_item(e)) for e in events]
    images = [to_rest(image_record(e)) for e in events if e.name == "IMAGE-SAVE"]
    store = Store(path)
    Pipeline(store, OPTIONS).ingest_history(envelope(history), envelope(images))
    return store


def test_a_backfill_through_the_thread_stores_exactly_what_one_thread_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Test that every table is identical, row ids included, with the thread and without."""
    threaded = first_backfill(tmp_path / "threaded.db")
    assert threaded._statement_thread.running  # noqa: SLF001
    threaded.close()
    monkeypatch.setattr(store_module, "_BESIDE_FROM", 10**9)
    inline = first_backfill(tmp_path / "inline.db")
    assert not inline._statement_thread.running  # noqa: SLF001
    inline.close()
    stored = dump(tmp_path / "threaded.db")
    assert len(stored["session_events"]) == 4_000
    assert stored == dump(tmp_path / "inline.db")


def test_a_merged_batch_of_several_runs_goes_through_the_thread_in_order(db_path: Path) -> None:
    """Test a large batch holding several sources and epochs (refused batches merged)."""
    store = Store(db_path)
    batch: list[Row] = []
    for index in range(LARGE):
        event = history_event(index)
        epoch = index // 1000  # three runs, each with its own epoch and session id
        batch.append((event, f"s{epoch}", epoch))
    threads = inserting_threads(store._db)  # noqa: SLF001
    store.write_batch(batch, (), None)
    assert set(threads) == {THREAD_NAME}
    with sqlite3.connect(db_path) as db:
        stored = db.execute("SELECT event_key, session_id, epoch FROM session_events ORDER BY id")
        assert stored.fetchall() == [(ev.key, sid, epoch) for ev, sid, epoch in batch]
    store.close()


def test_a_batch_whose_threads_take_turns_goes_on_on_the_writers_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Test a batch judged to gain nothing (no free core): the rest is inserted in place.

    Every row as a batch on one thread stores it, the thread idle before the writer goes on.
    """
    monkeypatch.setattr(StatementThread, "_took_turns", lambda _: True)
    batch: list[Row] = [(history_event(i), "s1", 0) for i in range(LARGE)]
    store = Store(tmp_path / "turns.db")
    threads = inserting_threads(store._db)  # noqa: SLF001
    store.write_batch(batch, (), None)
    # Judged from the sixth statement on: the first six ran on the thread.
    assert threads[:6] == [THREAD_NAME] * 6
    assert threads[6:] and set(threads[6:]) == {threading.current_thread().name}
    store.close()
    monkeypatch.setattr(store_module, "_BESIDE_FROM", 10**9)
    inline = Store(tmp_path / "inline.db")
    inline.write_batch(batch, (), None)
    inline.close()
    assert dump(tmp_path / "turns.db") == dump(tmp_path / "inline.db")


def events_stored(path: Path) -> tuple[int, int]:
    """Return how many events are stored and the table's AUTOINCREMENT sequence."""
    with sqlite3.connect(path) as db:
        count = db.execute("SELECT count(*) FROM session_events").fetchone()[0]
        sequence = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'session_events'")
        row = sequence.fetchone()
    return count, row[0] if row else 0


def test_a_row_refused_mid_batch_leaves_the_file_as_before_then_only_that_row_is_lost(
    db_path: Path,
) -> None:
    """Test a row SQLite refuses in the batch's fourth statement, after three were stepped.

    The writer sees SQLite's own IntegrityError, the transaction is rolled back whole, and the
    writer's isolation then stores every other row.
    """
    store = Store(db_path)
    store.write_batch([(history_event(i), None, 0) for i in range(10)], (), None)
    before = events_stored(db_path)
    events = [history_event(i) for i in range(10, 10 + LARGE)]
    events[1_700] = replace(events[1_700], name="POISONED")
    poison(store._db, "POISONED")  # noqa: SLF001
    batch: list[Row] = [(event, None, 0) for event in events]
    with pytest.raises(sqlite3.IntegrityError, match="poisoned row"):
        store.write_batch(batch, (), None)
    assert events_stored(db_path) == before
    assert not store._db.in_transaction  # noqa: SLF001
    writer = StoreWriter(store, EventCounters(), max_pending_bytes=10**8)
    outcome = writer.write(batch, (), None)
    assert outcome is not None and [row[0].name for row, _ in outcome.refused] == ["POISONED"]
    assert isinstance(outcome.refused[0][1], sqlite3.IntegrityError)
    assert events_stored(db_path)[0] == 10 + LARGE - 1
    store.close()


def test_a_row_the_writer_cannot_build_mid_batch_rolls_back_after_the_thread(
    db_path: Path,
) -> None:
    """Test an event whose data cannot be encoded, built while the thread steps the rows before.

    The rollback waits for the statements handed over; the writer's isolation stores the rest.
    """
    store = Store(db_path)
    events = [history_event(i) for i in range(LARGE)]
    # Data that is no JSON, and no received text to store instead: its row cannot be built.
    events[2_600] = replace(events[2_600], data={"Set": {1, 2}}, text=None)
    batch: list[Row] = [(event, None, 0) for event in events]
    with pytest.raises(TypeError, match="set is not JSON serializable"):
        store.write_batch(batch, (), None)
    assert events_stored(db_path) == (0, 0)
    assert not store._db.in_transaction  # noqa: SLF001
    outcome = StoreWriter(store, EventCounters(), max_pending_bytes=10**8).write(batch, (), None)
    assert outcome is not None and len(outcome.refused) == 1
    assert events_stored(db_path)[0] == LARGE - 1
    store.close()


def test_a_disk_filling_up_mid_batch_keeps_the_batch_in_memory_then_stores_it(
    db_path: Path,
) -> None:
    """Test a database that is full after the batch's first statements (the database's error).

    Nothing of the batch stays in the file, the writer keeps it pending, and once there is
    space again it is stored whole.
    """
    store = Store(db_path)
    store.write_batch([(history_event(i), None, 0) for i in range(10)], (), None)
    before = events_stored(db_path)
    db = store._db  # noqa: SLF001
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages + 40}")  # room for a few statements only
    batch: list[Row] = [(history_event(i), None, 0) for i in range(10, 10 + LARGE)]
    writer = StoreWriter(store, EventCounters(), max_pending_bytes=10**8)
    assert writer.write(batch, (), None) is None
    assert writer.storage_error is not None and "full" in writer.storage_error
    assert writer.pending_events == LARGE
    assert events_stored(db_path) == before
    db.execute("PRAGMA max_page_count = 1073741823")
    assert writer.write([], (), None) is not None
    assert events_stored(db_path)[0] == 10 + LARGE
    store.close()


def test_a_locked_file_raises_the_database_error_and_writes_nothing(db_path: Path) -> None:
    """Test another process holding the write lock: the statement thread's error is the same."""
    store = Store(db_path, busy_timeout=0.05)
    blocker = sqlite3.connect(db_path)
    blocker.execute("BEGIN EXCLUSIVE")
    batch: list[Row] = [(history_event(i), None, 0) for i in range(LARGE)]
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        store.write_batch(batch, (), None)
    blocker.rollback()
    blocker.close()
    assert events_stored(db_path) == (0, 0)
    store.write_batch(batch, (), None)
    assert events_stored(db_path) == (LARGE, LARGE)
    store.close()


def test_close_ends_the_thread_and_a_later_write_raises(db_path: Path) -> None:
    """Test that the thread starts with the first large batch only and ends with the store."""
    store = Store(db_path)
    small: list[Row] = [(history_event(i), None, 0) for i in range(100)]
    store.write_batch(small, (), None)
    assert not store._statement_thread.running  # noqa: SLF001
    large: list[tuple[NinaEvent, str | None, int]] = [
        (history_event(i), None, 0) for i in range(100, 100 + LARGE)
    ]
    store.write_batch(large, (), None)
    assert len(statement_threads()) == 1
    store.close()
    assert statement_threads() == []
    with pytest.raises(sqlite3.ProgrammingError):
        store._statement_thread.run("SELECT 1", ())  # noqa: SLF001
    assert statement_threads() == []


def test_a_row_refused_after_the_batch_went_on_alone_rolls_back_all(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Test a row SQLite refuses once the batch went on on the writer's thread."""
    monkeypatch.setattr(StatementThread, "_took_turns", lambda _: True)
    store = Store(db_path)
    events = [history_event(i) for i in range(LARGE)]
    events[2_600] = replace(events[2_600], name="POISONED")  # in the ninth statement
    poison(store._db, "POISONED")  # noqa: SLF001
    with pytest.raises(sqlite3.IntegrityError, match="poisoned row"):
        store.write_batch([(event, None, 0) for event in events], (), None)
    assert events_stored(db_path) == (0, 0)
    assert not store._db.in_transaction  # noqa: SLF001
    store.write_batch([(event, None, 0) for event in events[:2_600]], (), None)
    assert events_stored(db_path) == (2_600, 2_600)
    store.close()
