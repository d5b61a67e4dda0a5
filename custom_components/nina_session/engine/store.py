"""SQLite store: the full-fidelity session history that the HA recorder would purge.

One connection, used from one writer thread (the engine runs every call in a single-thread
executor). WAL journal, batched writes: a backfill of thousands of events is one transaction.
The unique `event_key` makes inserts idempotent, so replays and re-deliveries change nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import fields
from datetime import UTC, datetime
import json
import logging
import math
from pathlib import Path
import sqlite3
from typing import Any

from .models import Frame, NinaEvent, Source, event_key
from .normalize import content_fingerprint
from .sessions import Session

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
)
SCHEMA_VERSION = len(MIGRATIONS) - 1


class StoreError(Exception):
    """The database cannot be used (corrupt, locked, read-only, full)."""


# One encoder for every write: json.dumps builds a new one per call when given options.
_encode = json.JSONEncoder(separators=(",", ":")).encode
_FRAME_FIELDS = tuple(field.name for field in fields(Frame))


def _frame_json(frame: Frame | None) -> str | None:
    if frame is None:
        return None
    # Not dataclasses.asdict: it deep-copies every value and was a fifth of the write cost.
    values = {name: getattr(frame, name) for name in _FRAME_FIELDS}
    values["taken_at"] = frame.taken_at.isoformat() if frame.taken_at else None
    values["inferred"] = list(frame.inferred)
    return _encode(values)


def stored_size(event: NinaEvent) -> int:
    """Return the characters of text `event` takes in its row (its data and frame JSON)."""
    frame = _frame_json(event.frame)
    return len(_encode(event.data)) + (len(frame) if frame is not None else 0)


def _frame_from_json(text: str | None) -> Frame | None:
    if text is None:
        return None
    values = json.loads(text)
    if values.get("taken_at"):
        values["taken_at"] = datetime.fromisoformat(values["taken_at"])
    values["inferred"] = tuple(values.get("inferred", ()))
    return Frame(**values)


class _Totals:
    """Running sums over session summaries."""

    def __init__(self) -> None:
        self.nights = 0
        self.frames = 0
        self.seconds = 0.0
        self.by_target: dict[str, dict[str, float]] = {}

    def add_rows(self, rows: Iterable[tuple[str]]) -> None:
        for (summary,) in rows:
            session = json.loads(summary)
            self.nights += 1
            self.frames += session["frames"]["total"]
            self.seconds += session["integration_seconds"]
            target = (session["targets"] or ["unknown"])[0]
            per_filter = self.by_target.setdefault(target, {})
            for name, slot in session["frames"]["by_filter"].items():
                per_filter[name] = round(per_filter.get(name, 0.0) + slot["seconds"], 3)

    def copy(self) -> _Totals:
        other = _Totals()
        other.nights, other.frames, other.seconds = self.nights, self.frames, self.seconds
        other.by_target = {target: dict(filters) for target, filters in self.by_target.items()}
        return other

    def as_dict(self) -> dict[str, Any]:
        return {
            "nights": self.nights,
            "frames": self.frames,
            "integration_seconds": round(self.seconds, 3),
            "by_target": self.by_target,
        }


class Store:
    """The engine's SQLite file."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 5.0) -> None:
        """Open (or create) the database and migrate it; StoreError when it is unusable."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # One writer thread owns the connection; it may be created on another thread.
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=busy_timeout)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as err:
            raise StoreError(f"{self.path.name}: {err}") from err
        self.last_write: datetime | None = None
        self._event_count: int | None = None
        self._closed_totals: _Totals | None = None

    @classmethod
    def open_or_recover(
        cls, path: str | Path, *, now: datetime, busy_timeout: float = 5.0
    ) -> tuple[Store, Path | None]:
        """Open the store; a corrupt file is moved aside (never deleted) and a fresh one made.

        Returns the store and where the damaged file went (None when nothing was moved), so
        the caller can tell the user. A file from a newer version is not touched: it raises.
        """
        path = Path(path)
        try:
            return cls(path, busy_timeout=busy_timeout), None
        except StoreError as err:
            if not isinstance(err.__cause__, sqlite3.DatabaseError) or isinstance(
                err.__cause__, sqlite3.OperationalError
            ):
                raise
            aside = cls.move_aside(path, now)
            _LOGGER.error("%s is damaged (%s); moved to %s", path.name, err, aside.name)
            return cls(path, busy_timeout=busy_timeout), aside

    @staticmethod
    def aside_path(path: Path, now: datetime) -> Path:
        """Return the timestamped name a damaged database is kept under."""
        return path.with_name(f"{path.name}.corrupt-{now:%Y%m%dT%H%M%SZ}")

    @classmethod
    def move_aside(cls, path: Path, now: datetime) -> Path:
        """Rename a damaged database (and its -wal, -shm) to a timestamped name; return it."""
        aside = cls.aside_path(path, now)
        path.rename(aside)
        for suffix in ("-wal", "-shm"):
            extra = Path(f"{path}{suffix}")
            if extra.exists():
                extra.rename(Path(f"{aside}{suffix}"))
        return aside

    def _migrate(self) -> None:
        db = self._db
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = db.execute("SELECT version FROM schema_version").fetchone()
        version = row[0] if row else 0
        if version > SCHEMA_VERSION:
            raise StoreError(f"schema {version} is newer than this version knows")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            _LOGGER.info("Migrating %s to schema %s", self.path.name, target)
            step = MIGRATIONS[target]
            if isinstance(step, str):
                with db:
                    db.executescript(f"BEGIN; {step} COMMIT;")
            else:
                with db:
                    step(db)
        with db:
            db.execute("DELETE FROM schema_version")
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def refuse_writes(self) -> None:
        """Make every later write fail (reads go on): for a file no one would read again."""
        self._db.execute("PRAGMA query_only = ON")

    def save_copy(self, target: Path) -> None:
        """Write what this connection reads into a new database file (`VACUUM INTO`).

        A file replaced under an open connection is still whole to it: this rescues it.
        """
        self._db.execute("VACUUM INTO ?", (str(target),))

    # -- reads -------------------------------------------------------------------------
    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        """Return which of these event keys are stored."""
        return set(self.times_for_keys(keys))

    def times_for_keys(self, keys: Sequence[str], source: Source | None = None) -> dict[str, float]:
        """Return the stored time of each of these event keys that is stored (from `source`)."""
        return dict(self._pairs("ts", keys, source))

    def _pairs(
        self, column: str, keys: Sequence[str], source: Source | None = None
    ) -> list[tuple[str, Any]]:
        """Return (event key, `column`) of the stored events with these keys."""
        return [(row[0], row[1]) for row in self._by_keys(column, keys, source)]

    def _by_keys(
        self, columns: str, keys: Sequence[str], source: Source | None = None
    ) -> list[tuple[Any, ...]]:
        """Return (event key, *`columns`) of the stored events with these keys.

        Read in chunks that stay under SQLite's parameter limit.
        """
        found: list[tuple[Any, ...]] = []
        only = "" if source is None else " AND source = ?"
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                # Only constant columns, `?` placeholders and a constant filter are
                # interpolated; the keys and the source are bound parameters.
                f"SELECT event_key, {columns} FROM session_events "  # noqa: S608
                f"WHERE event_key IN ({marks}){only}",
                [*chunk, source.value] if source is not None else chunk,
            )
            found.extend(rows.fetchall())
        return found

    def times_from(
        self, source: Source, start_ts: float = -math.inf, end_ts: float = math.inf
    ) -> dict[str, tuple[str, float]]:
        """Key → (fingerprint, time) of the events stored from `source` in a time range."""
        rows = self._db.execute(
            "SELECT event_key, fingerprint, ts FROM session_events "
            "WHERE source = ? AND ts BETWEEN ? AND ?",
            (source.value, start_ts, end_ts),
        )
        return {key: (fingerprint, ts) for key, fingerprint, ts in rows}

    def fingerprints_between(self, start_ts: float, end_ts: float) -> dict[str, list[float]]:
        """Fingerprints stored in a time range, for window de-duplication."""
        seen: dict[str, list[float]] = {}
        rows = self._db.execute(
            "SELECT fingerprint, ts FROM session_events WHERE ts BETWEEN ? AND ?",
            (start_ts, end_ts),
        )
        for fingerprint, ts in rows:
            seen.setdefault(fingerprint, []).append(ts)
        return seen

    def iter_events(self, batch: int = 5000) -> Iterator[tuple[int, NinaEvent]]:
        """Every stored event in fold order (time, then arrival)."""
        # _EVENT_COLUMNS is a constant column list, never input.
        cursor = self._db.execute(
            f"SELECT {self._EVENT_COLUMNS} FROM session_events ORDER BY ts, id"  # noqa: S608
        )
        while rows := cursor.fetchmany(batch):
            for row in rows:
                yield row[0], self._event(row)

    _EVENT_COLUMNS = "id, name, ts, data, source, fingerprint, event_key, frame"

    @staticmethod
    def _event(row: Sequence[Any]) -> NinaEvent:
        _, name, ts, data, source, fingerprint, key, frame = row
        return NinaEvent(
            name=name,
            time=datetime.fromtimestamp(ts, UTC),
            data=json.loads(data),
            source=Source(source),
            fingerprint=fingerprint,
            exact=key == fingerprint,
            frame=_frame_from_json(frame),
        )

    def latest_event(self, names: Sequence[str]) -> NinaEvent | None:
        """Return the newest stored event with one of these names."""
        marks = ",".join("?" * len(names))
        # Only the constant column list and `?` placeholders are interpolated.
        row = self._db.execute(
            f"SELECT {self._EVENT_COLUMNS} FROM session_events WHERE name IN ({marks}) "  # noqa: S608
            "ORDER BY ts DESC, id DESC LIMIT 1",
            tuple(names),
        ).fetchone()
        return self._event(row) if row else None

    def recent_events(self, count: int) -> list[NinaEvent]:
        """Return the `count` newest stored events, newest first."""
        # _EVENT_COLUMNS is a constant column list, never input.
        rows = self._db.execute(
            f"SELECT {self._EVENT_COLUMNS} FROM session_events ORDER BY ts DESC, id DESC LIMIT ?",  # noqa: S608
            (count,),
        )
        return [self._event(row) for row in rows]

    def last_frame(self, session_id: str) -> Frame | None:
        """Return the newest frame of a session, or None."""
        row = self._db.execute(
            "SELECT frame FROM session_events WHERE session_id = ? AND frame IS NOT NULL "
            "ORDER BY ts DESC, id DESC LIMIT 1",
            (session_id,),
        ).fetchone()
        return _frame_from_json(row[0]) if row else None

    def session_frames(self, session_id: str, image_types: Sequence[str]) -> list[Frame]:
        """Return a session's frames of these types, in order (the legacy view's darks)."""
        marks = ",".join("?" * len(image_types))
        # Only `?` placeholders are interpolated; the types are bound parameters.
        rows = self._db.execute(
            "SELECT frame FROM session_events WHERE session_id = ? AND frame IS NOT NULL "  # noqa: S608
            f"AND json_extract(frame, '$.image_type') IN ({marks}) ORDER BY ts, id",
            (session_id, *image_types),
        )
        return [frame for (text,) in rows if (frame := _frame_from_json(text)) is not None]

    def load_state(self) -> dict[str, Any] | None:
        """Return the saved pipeline state, or None when none was saved yet."""
        row = self._db.execute("SELECT data FROM session_state WHERE id = 1").fetchone()
        return json.loads(row[0]) if row else None

    def sessions(
        self,
        *,
        start_ts: float | None = None,
        end_ts: float | None = None,
        limit: int = 50,
        offset: int = 0,
        newest_first: bool = True,
    ) -> list[dict[str, Any]]:
        """Return the summaries of sessions that start in a time range, one page of them."""
        order = "DESC" if newest_first else "ASC"
        # `order` is one of two keywords, never input; the values are bound parameters.
        rows = self._db.execute(
            f"SELECT summary FROM sessions WHERE start_ts >= ? AND start_ts <= ? "  # noqa: S608
            f"ORDER BY start_ts {order} LIMIT ? OFFSET ?",
            (start_ts or 0.0, end_ts or 1e12, limit, offset),
        )
        return [json.loads(row[0]) for row in rows]

    def session(self, session_id: str) -> dict[str, Any] | None:
        """Return the summary of one stored session, or None when there is none."""
        row = self._db.execute(
            "SELECT summary FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def counts(self) -> dict[str, Any]:
        """Return the number of sessions and events, and the database size in bytes."""
        sessions = self._db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
        if self._event_count is None:  # COUNT(*) scans an index: once, then kept by writes
            self._event_count = self._db.execute("SELECT COUNT(*) FROM session_events").fetchone()[
                0
            ]
        events = self._event_count
        size = sum(
            path.stat().st_size for path in (self.path, Path(f"{self.path}-wal")) if path.exists()
        )
        return {"sessions": sessions, "events": events, "size_bytes": size}

    def totals(self) -> dict[str, Any]:
        """Totals over all stored history (stats view).

        Closed sessions do not change, so their sum is kept until a write closes or
        replaces sessions; only open sessions are read each time.
        """
        if self._closed_totals is None:
            self._closed_totals = _Totals()
            self._closed_totals.add_rows(
                self._db.execute("SELECT summary FROM sessions WHERE end_ts IS NOT NULL")
            )
        totals = self._closed_totals.copy()
        totals.add_rows(self._db.execute("SELECT summary FROM sessions WHERE end_ts IS NULL"))
        return totals.as_dict()

    # -- writes ------------------------------------------------------------------------
    def prune(self, before: datetime) -> tuple[int, int]:
        """Delete closed sessions that ended before `before`, with their events.

        Events outside any session older than the cutoff go too; the open session and the
        saved state are never touched. Returns (sessions deleted, events deleted).
        """
        cutoff = before.timestamp()
        with self._db:
            events = self._db.execute(
                "DELETE FROM session_events WHERE ts < ? AND (session_id IS NULL OR "
                "session_id IN (SELECT id FROM sessions WHERE end_ts IS NOT NULL "
                "AND end_ts < ?))",
                (cutoff, cutoff),
            ).rowcount
            sessions = self._db.execute(
                "DELETE FROM sessions WHERE end_ts IS NOT NULL AND end_ts < ?", (cutoff,)
            ).rowcount
        self._event_count = None
        self._closed_totals = None
        return sessions, events

    def retime(self, moves: Mapping[str, float]) -> list[str]:
        """Give stored events new times (by event key); return their keys now.

        Events whose key holds their time are re-keyed. The caller rebuilds the sessions.

        A moved event that lands on an identical stored one (same content, same millisecond)
        replaces it: they were the same event.
        """
        if not moves:
            return []
        fingerprints = dict(self._pairs("fingerprint", list(moves)))
        updates = [
            (ts, event_key(fingerprints[key], key == fingerprints[key], ts), key)
            for key, ts in moves.items()
            if key in fingerprints
        ]
        with self._db:
            self._db.executemany(
                "UPDATE OR REPLACE session_events SET ts = ?, event_key = ? WHERE event_key = ?",
                updates,
            )
        self._event_count = None
        self._closed_totals = None
        return [new_key for _, new_key, _ in updates]

    def drop_twins(self, keys: Sequence[str], of: Source, window: float) -> int:
        """Delete the events with these keys that an event from `of` duplicates.

        A duplicate has the same content within `window` seconds. Returns how many went.

        For history moved onto our clock late: read before the offset was known, it missed
        its live twins then and meets them now.
        """
        doomed = []
        for key, fingerprint, ts in self._by_keys("fingerprint, ts", keys):
            if key == fingerprint:
                continue  # a frame: its key alone is its identity, it cannot have a twin
            twin = self._db.execute(
                "SELECT 1 FROM session_events WHERE fingerprint = ? AND source = ? "
                "AND event_key != ? AND ts BETWEEN ? AND ? LIMIT 1",
                (fingerprint, of.value, key, ts - window, ts + window),
            ).fetchone()
            if twin is not None:
                doomed.append(key)
        return self.delete(doomed)

    def delete(self, keys: Sequence[str]) -> int:
        """Delete the events with these keys (duplicates found late); returns how many."""
        if not keys:
            return 0
        with self._db:
            deleted = self._db.executemany(
                "DELETE FROM session_events WHERE event_key = ?", [(key,) for key in keys]
            ).rowcount
        self._event_count = None
        self._closed_totals = None
        return deleted

    def write_batch(
        self,
        events: Iterable[tuple[NinaEvent, str | None, int]],
        sessions: Iterable[tuple[Session, dict[str, Any]]],
        state: tuple[str, dict[str, Any]] | None,
        *,
        reassign: Iterable[tuple[str | None, int]] = (),
        replace_sessions: bool = False,
    ) -> None:
        """One transaction: new events, touched sessions, current state."""
        rows = [
            (ev.key, ev.fingerprint, ev.time.timestamp(), ev.name, ev.source.value, sid, epoch,
             _encode(ev.data), _frame_json(ev.frame))
            for ev, sid, epoch in events
        ]  # fmt: skip
        summaries = list(sessions)
        with self._db:
            inserted = self._db.executemany(
                "INSERT OR IGNORE INTO session_events (event_key, fingerprint, ts, name, "
                "source, session_id, epoch, data, frame) VALUES (?,?,?,?,?,?,?,?,?)",
                rows,
            )
            if replace_sessions:
                self._db.execute("DELETE FROM sessions")
            self._db.executemany("UPDATE session_events SET session_id = ? WHERE id = ?", reassign)
            self._db.executemany(
                "INSERT INTO sessions (id, instance, night, start_ts, end_ts, summary) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET "
                "end_ts = excluded.end_ts, summary = excluded.summary",
                [
                    (s.id, s.instance, s.night, s.start.timestamp(),
                     s.end.timestamp() if s.end else None,
                     _encode(summary))
                    for s, summary in summaries
                ],
            )  # fmt: skip
            if state is not None:
                self._db.execute(
                    "INSERT INTO session_state (id, state, data) VALUES (1, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET state = excluded.state, data = excluded.data",
                    (state[0], _encode(state[1])),
                )
        if self._event_count is not None:
            self._event_count += max(inserted.rowcount, 0)
        if replace_sessions or any(s.end is not None for s, _ in summaries):
            self._closed_totals = None
        self.last_write = datetime.now(UTC)

    # -- insight reads (targets, night report, quality) ---------------------------------
    def session_events(self, session_id: str, names: Sequence[str]) -> list[NinaEvent]:
        """Return a session's events with these names, in fold order (time, then arrival)."""
        marks = ",".join("?" * len(names))
        # Only the constant column list and `?` placeholders are interpolated. `+name` keeps
        # SQLite on the session's index: by name it would walk a year of frames for one night.
        rows = self._db.execute(
            f"SELECT {self._EVENT_COLUMNS} FROM session_events "  # noqa: S608
            f"WHERE session_id = ? AND +name IN ({marks}) ORDER BY ts, id",
            (session_id, *names),
        )
        return [self._event(row) for row in rows]
