"""A batch of events is inserted in a few wide statements, each event stored exactly once."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
import sqlite3

from custom_components.nina_session.engine.models import NinaEvent, Source
from custom_components.nina_session.engine.store import Store
from tests.engine.frames import T0


def history_event(index: int) -> NinaEvent:
    """Return a plain history event, one second after the one before it."""
    name = f"CUSTOM-{index % 7}"
    data = {"Index": index} if index % 3 else {}
    return NinaEvent(name, T0 + timedelta(seconds=index), data, Source.HISTORY, name, False)


def test_a_backfill_sized_batch_takes_a_few_statements_each_event_once(db_path: Path) -> None:
    """Test that 1,234 events (two repeated, 100 stored before) cost ~40 INSERTs, not 1,234.

    Each statement of the AUTOINCREMENT table reads and writes its sequence once: a statement
    per row was a third of a backfill's SQLite time.
    """
    store = Store(db_path)
    events = [history_event(i) for i in range(1234)]
    store.write_batch([(ev, None, 0) for ev in events[:100]], (), None)
    assert store.counts()["events"] == 100  # counted once; writes keep the count from now on
    inserts: list[str] = []
    store._db.set_trace_callback(  # noqa: SLF001
        lambda sql: inserts.append(sql) if sql.startswith("INSERT OR IGNORE") else None
    )
    batch = [*events, events[10], events[700]]  # the two repeats must change nothing
    store.write_batch([(ev, "s1", 2) for ev in batch], (), None)
    store._db.set_trace_callback(None)  # noqa: SLF001
    # 2 of 500 rows, 4 of 50, and the 36 left one per statement.
    assert len(inserts) == 42
    assert store.counts()["events"] == 1234
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT event_key, ts, session_id, epoch FROM session_events ORDER BY id")
        stored = rows.fetchall()
    # Stored in the batch's order (the fold's tie-break on equal times), each exactly once.
    assert [key for key, _, _, _ in stored] == [ev.key for ev in events]
    assert [ts for _, ts, _, _ in stored] == [ev.ts for ev in events]
    assert {(sid, epoch) for _, _, sid, epoch in stored[100:]} == {("s1", 2)}
    assert [ev.data for _, ev in store.iter_events()] == [ev.data for ev in events]
    store.close()


def test_a_batch_stays_within_an_older_sqlites_limit_on_parameters(db_path: Path) -> None:
    """Test that a SQLite allowing 999 parameters per statement (before 3.32) takes 1,234 rows.

    A statement past the limit fails as the database's own error: the batch would wait in
    memory for ever.
    """
    store = Store(db_path)
    store._db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)  # noqa: SLF001
    events = [history_event(i) for i in range(1234)]
    store.write_batch([(ev, None, 0) for ev in events], (), None)
    assert store.counts()["events"] == 1234
    assert [ev.key for _, ev in store.iter_events()] == [ev.key for ev in events]
    store.close()


def test_a_batch_of_several_sources_and_epochs_keeps_each_rows_own(db_path: Path) -> None:
    """Test a merged batch (refused batches wait and are written with the next one).

    A statement binds one source and epoch for all its rows: a batch holding runs of
    several is written run by run, each row with its own, all in the batch's order.
    """
    store = Store(db_path)
    runs = [(Source.HISTORY, 0, 620), (Source.LIVE, 0, 3), (Source.HISTORY, 1, 57),
            (Source.REPLAY, 1, 1), (Source.HISTORY, 1, 510)]  # fmt: skip
    batch: list[tuple[NinaEvent, str | None, int]] = []
    for source, epoch, count in runs:
        for _ in range(count):
            event = replace(history_event(len(batch)), source=source)
            batch.append((event, f"s{epoch}", epoch))
    store.write_batch(batch, (), None)
    assert store.counts()["events"] == len(batch)
    with sqlite3.connect(db_path) as db:
        stored = db.execute(
            "SELECT event_key, source, session_id, epoch FROM session_events ORDER BY id"
        ).fetchall()
    assert stored == [(ev.key, ev.source.value, sid, epoch) for ev, sid, epoch in batch]
    store.close()
