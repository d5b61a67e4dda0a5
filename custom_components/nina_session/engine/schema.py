"""The store's schema and its forward migrations (every event kept through each)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
import json
import logging
import sqlite3

from .models import event_key, split_key
from .normalize import IMAGE_SAVE, content_fingerprint
from .stored_rows import derivable, encode, frame_from_json

_LOGGER = logging.getLogger(__name__)


def _refingerprint(db: sqlite3.Connection) -> None:
    """Recompute the fingerprints of plain events with today's rule (schema 2).

    Fingerprints now leave out nested objects (placeholders in recent plugins' history) and
    hash whole numbers alike (`0.0` live, `0` in history). Rows stored with the old rule would
    otherwise never meet their history twins again and be stored twice on the next read. A row
    whose new key is already taken is that twin stored twice: it goes.
    """
    rows = db.execute(
        "SELECT id, fingerprint, ts, name, data FROM session_events "
        "WHERE event_key != fingerprint AND name != 'IMAGE-SAVE'"
    ).fetchall()
    dropped = 0
    for row_id, old, ts, name, data in rows:
        new = content_fingerprint(name, json.loads(data))
        if new == old:
            continue
        try:
            db.execute(
                "UPDATE session_events SET fingerprint = ?, event_key = ? WHERE id = ?",
                (new, event_key(new, False, ts), row_id),
            )
        except sqlite3.IntegrityError:
            db.execute("DELETE FROM session_events WHERE id = ?", (row_id,))
            dropped += 1
    if dropped:
        _LOGGER.info("Dropped %d events stored twice under the old fingerprint rule", dropped)


#: Schema 3's event table: no column a read does not use. The fingerprint is read from the
#: key (`split_key`), a frame is stored only when its data cannot give it back (`own_frame`),
#: and the session index is gone (a session's events are found by time: see `_IN_SESSION`).
EVENTS_TABLE = """
    CREATE TABLE session_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        event_key TEXT NOT NULL UNIQUE,
        ts REAL NOT NULL,
        name TEXT NOT NULL,
        source TEXT NOT NULL,
        session_id TEXT,
        epoch INTEGER NOT NULL,
        data TEXT NOT NULL,
        frame TEXT
    );
    CREATE INDEX ix_events_ts ON session_events (ts);
    CREATE INDEX ix_events_name_ts ON session_events (name, ts);
"""

#: One state history entry per row, appended as states change: a session's summary row then
#: stays the same size however long the night.
_HISTORY_TABLE = """
    CREATE TABLE session_history (
        session_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        entry TEXT NOT NULL,
        PRIMARY KEY (session_id, seq)
    ) WITHOUT ROWID;
"""

# The sums `totals()` reports over closed sessions, kept by triggers as sessions are written,
# closed, rebuilt or pruned, so a read after a restart costs what one at any time costs.
_TARGET = "coalesce(json_extract({row}.summary, '$.targets[0]'), 'unknown')"


def _totals_sql(row: str, sign: str) -> str:
    target = _TARGET.format(row=row)
    adds = f"""
        UPDATE totals_closed SET nights = nights {sign} 1,
            frames = frames {sign} json_extract({row}.summary, '$.frames.total'),
            seconds = seconds {sign} json_extract({row}.summary, '$.integration_seconds');
        INSERT INTO totals_targets (target, sessions) VALUES ({target}, {sign}1)
            ON CONFLICT (target) DO UPDATE SET sessions = sessions {sign} 1;
        INSERT INTO totals_filters (target, filter, sessions, seconds)
            SELECT {target}, key, {sign}1, {sign}json_extract(value, '$.seconds')
            FROM json_each({row}.summary, '$.frames.by_filter') WHERE true
            ON CONFLICT (target, filter) DO UPDATE SET sessions = sessions + excluded.sessions,
            seconds = seconds + excluded.seconds;
    """  # noqa: S608  # constant text: row names and signs chosen here, never input
    if sign == "+":
        return adds
    drops = f"""
        DELETE FROM totals_filters WHERE target = {target} AND sessions <= 0;
        DELETE FROM totals_targets WHERE target = {target} AND sessions <= 0;
    """  # noqa: S608  # constant text
    return adds + drops


_TOTALS_TABLES = f"""
    CREATE TABLE totals_closed (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        nights INTEGER NOT NULL, frames INTEGER NOT NULL, seconds REAL NOT NULL
    );
    INSERT INTO totals_closed VALUES (1, 0, 0, 0.0);
    CREATE TABLE totals_targets (target TEXT PRIMARY KEY, sessions INTEGER NOT NULL)
        WITHOUT ROWID;
    CREATE TABLE totals_filters (
        target TEXT NOT NULL, filter TEXT NOT NULL,
        sessions INTEGER NOT NULL, seconds REAL NOT NULL,
        PRIMARY KEY (target, filter)
    ) WITHOUT ROWID;
    CREATE TRIGGER tr_totals_insert AFTER INSERT ON sessions WHEN NEW.end_ts IS NOT NULL
    BEGIN {_totals_sql("NEW", "+")} END;
    CREATE TRIGGER tr_totals_delete AFTER DELETE ON sessions WHEN OLD.end_ts IS NOT NULL
    BEGIN {_totals_sql("OLD", "-")} END;
    CREATE TRIGGER tr_totals_update_old AFTER UPDATE OF end_ts, summary ON sessions
    WHEN OLD.end_ts IS NOT NULL BEGIN {_totals_sql("OLD", "-")} END;
    CREATE TRIGGER tr_totals_update_new AFTER UPDATE OF end_ts, summary ON sessions
    WHEN NEW.end_ts IS NOT NULL BEGIN {_totals_sql("NEW", "+")} END;
"""  # noqa: S608  # constant text


def _script(db: sqlite3.Connection, sql: str) -> None:
    """Run several statements inside the caller's transaction (executescript commits)."""
    for statement in _statements(sql):
        db.execute(statement)


def _statements(sql: str) -> Iterator[str]:
    """Split a script into complete statements (triggers hold `;` inside BEGIN ... END)."""
    buffer = ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                yield buffer
            buffer = ""
    if buffer.strip():
        yield buffer


def _compact(db: sqlite3.Connection) -> None:
    """Migrate to schema 3: smaller event rows, state history in rows, totals by triggers.

    Every event is kept. A frame stays stored only where its data cannot give it back.
    """
    db.execute("ALTER TABLE session_events RENAME TO events_v2")
    db.execute("DROP TRIGGER IF EXISTS tr_events_updated")
    for index in ("ix_events_session", "ix_events_ts", "ix_events_name_ts"):
        db.execute(f"DROP INDEX IF EXISTS {index}")
    _script(db, EVENTS_TABLE + _HISTORY_TABLE)
    old = db.execute(
        "SELECT id, event_key, ts, name, source, session_id, epoch, data, frame FROM events_v2"
    )
    while rows := old.fetchmany(5000):
        db.executemany(
            "INSERT INTO session_events (id, event_key, ts, name, source, session_id, epoch, "
            "data, frame) VALUES (?,?,?,?,?,?,?,?,?)",
            [(*row[:8], _compacted_frame(row[3], row[7], row[8])) for row in rows],
        )
    db.execute("DROP TABLE events_v2")
    for session_id, summary in db.execute("SELECT id, summary FROM sessions").fetchall():
        values = json.loads(summary)
        history = values.pop("state_history", [])
        db.executemany(
            "INSERT INTO session_history (session_id, seq, entry) VALUES (?,?,?)",
            [(session_id, seq, encode(entry)) for seq, entry in enumerate(history)],
        )
        db.execute("UPDATE sessions SET summary = ? WHERE id = ?", (encode(values), session_id))
    # Written again once the totals triggers exist, so they count every closed session.
    db.execute("CREATE TEMP TABLE sessions_v2 AS SELECT * FROM sessions")
    db.execute("DELETE FROM sessions")
    _script(db, _TOTALS_TABLES)
    db.execute("INSERT INTO sessions SELECT * FROM temp.sessions_v2")
    db.execute("DROP TABLE temp.sessions_v2")
    # totals() reads the open session (one) on every call: reach it without a scan.
    db.execute("CREATE INDEX ix_sessions_open ON sessions (start_ts) WHERE end_ts IS NULL")
    db.execute("ALTER TABLE session_state ADD COLUMN last_row INTEGER")
    # Schema 2 wrote the state with every batch: it has folded every stored event.
    db.execute("UPDATE session_state SET last_row = (SELECT max(id) FROM session_events)")


def _compacted_frame(name: str, data: str, frame: str | None) -> str | None:
    if frame is None or name != IMAGE_SAVE:
        return frame
    parsed = frame_from_json(frame)
    return None if parsed is not None and derivable(json.loads(data), parsed) else frame


def _short_frame_keys(db: sqlite3.Connection) -> None:
    """Migrate to schema 4: a frame's key is its capture time in microseconds (`event_key`).

    Only the key changes, to what the code now makes of the same fingerprint, so a frame
    read again (history, a replay) still meets its stored copy. Every event is kept.
    """
    rows = db.execute(
        "SELECT id, event_key, ts FROM session_events WHERE name = ?", (IMAGE_SAVE,)
    ).fetchall()
    updates = []
    for row_id, key, ts in rows:
        fingerprint, exact = split_key(key)
        new = event_key(fingerprint, exact, ts)
        if new != key:
            updates.append((new, row_id))
    db.executemany("UPDATE session_events SET event_key = ? WHERE id = ?", updates)


# Forward migrations; index = version reached after running it. Text is SQL; a function
# rewrites rows.
MIGRATIONS: tuple[str | Callable[[sqlite3.Connection], None], ...] = (
    "",
    """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        instance TEXT NOT NULL,
        night TEXT NOT NULL,
        start_ts REAL NOT NULL,
        end_ts REAL,
        summary TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE INDEX ix_sessions_start ON sessions (start_ts);
    CREATE TABLE session_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        event_key TEXT NOT NULL UNIQUE,
        fingerprint TEXT NOT NULL,
        ts REAL NOT NULL,
        name TEXT NOT NULL,
        source TEXT NOT NULL,
        session_id TEXT,
        epoch INTEGER NOT NULL DEFAULT 0,
        data TEXT NOT NULL,
        frame TEXT,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE INDEX ix_events_session ON session_events (session_id);
    CREATE INDEX ix_events_ts ON session_events (ts);
    CREATE INDEX ix_events_name_ts ON session_events (name, ts);
    CREATE TABLE session_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        state TEXT NOT NULL,
        data TEXT NOT NULL,
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE TRIGGER tr_sessions_updated AFTER UPDATE ON sessions BEGIN
        UPDATE sessions SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
        WHERE id = NEW.id;
    END;
    CREATE TRIGGER tr_events_updated AFTER UPDATE OF session_id ON session_events BEGIN
        UPDATE session_events SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
        WHERE id = NEW.id;
    END;
    CREATE TRIGGER tr_state_updated AFTER UPDATE ON session_state BEGIN
        UPDATE session_state SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
        WHERE id = 1;
    END;
    """,
    _refingerprint,
    _compact,
    _short_frame_keys,
)
SCHEMA_VERSION = len(MIGRATIONS) - 1
