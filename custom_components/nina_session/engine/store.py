"""SQLite store: the full-fidelity session history that the HA recorder would purge.

One connection, used from one writer thread (the engine runs every call in a single-thread
executor). WAL journal, batched writes: a backfill of thousands of events is one transaction.
The unique `event_key` makes inserts idempotent, so replays and re-deliveries change nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from itertools import chain, groupby
import json
import logging
import math
from pathlib import Path
import sqlite3
from typing import Any

from .closed_totals import ClosedTotals
from .models import Frame, NinaEvent, Source, event_key, split_key
from .normalize import IMAGE_SAVE
from .schema import EVENTS_TABLE, MIGRATIONS, SCHEMA_VERSION
from .sessions import Session
from .statement_thread import InlineStatements, Statements, StatementThread
from .stored_rows import (
    data_text as _data_text,
    encode as _encode,
    frame_column as _frame_column,
    read_frame as _read_frame,
    stored_size,
)

__all__ = ["EVENTS_TABLE", "MIGRATIONS", "SCHEMA_VERSION", "Store", "StoreError", "stored_size"]

_LOGGER = logging.getLogger(__name__)


#: The page size of a new database file.
PAGE_SIZE = 8192


class StoreError(Exception):
    """The database cannot be used (corrupt, locked, read-only, full)."""


#: A session's events lie between its start (the fold opens it with its first event) and the
#: next session's start, so the (name, ts) index finds them without an index on the session
#: id; the session id then picks them exactly. Parameters: `_in_session(session_id)`.
_IN_SESSION = (
    "session_id = ? AND ts >= coalesce((SELECT start_ts FROM sessions WHERE id = ?), 0) "
    "AND ts <= coalesce((SELECT min(start_ts) FROM sessions WHERE start_ts > "
    "(SELECT start_ts FROM sessions WHERE id = ?)), 1e18)"
)


#: Rows per INSERT statement, widest first; rows left over go in one row per statement.
_INSERT_WIDTHS = (500, 50)
#: Values bound per event row (`Store.write_batch`); a run of rows shares its source and
#: epoch, bound once per statement (`_insert_statement`).
_EVENT_ROW_VALUES = 6
_SHARED_VALUES = 2
#: Event rows in a batch from which its statements run on the statement thread: four full
#: statements and more (a first backfill, a long history read). A smaller batch gains less
#: than handing its statements over costs.
_BESIDE_FROM = 4 * _INSERT_WIDTHS[0]


@cache
def _insert_statement(width: int) -> str:
    """Return the INSERT of `width` event rows of one source and epoch (`_insert_events`).

    The source and epoch are the statement's first two parameters, named in every row: a
    bound value costs a call and a copy of its text, and a batch's rows share both. Only
    these two are numbered: SQLite finds a numbered parameter's name by a walk of the names,
    and Python asks each parameter's name.
    """
    values = ",".join([f"(?1,?2,{','.join('?' * _EVENT_ROW_VALUES)})"] * width)
    # Only `?` placeholders are interpolated, never input.
    return (
        "INSERT OR IGNORE INTO session_events (source, epoch, event_key, ts, name, "  # noqa: S608
        f"session_id, data, frame) VALUES {values}"
    )


def _run_of(row: tuple[NinaEvent, str | None, int]) -> tuple[Source, int]:
    """Return what an event row shares with its run: its source and epoch."""
    return row[0].source, row[2]


def _event_rows(events: Iterable[tuple[NinaEvent, str | None, int]]) -> list[tuple[Any, ...]]:
    """Return the row of each event (its key, time, name, session id, data text, frame)."""
    # The two calls per row only where needed: this runs for every event stored.
    return [
        (ev.key, ev.ts, ev.name, sid,
         ev.text if ev.text is not None else _data_text(ev),
         None if ev.frame is None or ev.frame_in_data else _frame_column(ev))
        for ev, sid, _ in events
    ]  # fmt: skip


def _insert_events(
    statements: Statements,
    widths: Sequence[int],
    events: Sequence[tuple[NinaEvent, str | None, int]],
    source: str,
    epoch: int,
) -> None:
    """Insert the rows of events of one source and epoch in their order, through `statements`.

    Inside the caller's transaction. Many rows per statement: each statement of a table with
    AUTOINCREMENT reads and writes its sequence once, and each costs a step from Python,
    which for one row per statement was a third of a backfill's SQLite time. The statements
    have a few fixed `widths` (within this SQLite's limit on parameters: 999 before SQLite
    3.32), so SQLite's statement cache holds them all; rows left over go one per statement.
    Each statement's rows are built just before it is run (or handed over).
    """
    start = 0
    shared = [source, epoch]
    for width in widths:
        end = start + (len(events) - start) // width * width
        statement = _insert_statement(width)
        for chunk in range(start, end, width):
            rows = _event_rows(events[chunk : chunk + width])
            statements.run(statement, [*shared, *chain.from_iterable(rows)])
        start = end
    if start < len(events):
        rows = _event_rows(events[start:])
        statements.run_many(_insert_statement(1), [(source, epoch, *row) for row in rows])


def _in_session(session_id: str) -> tuple[str, str, str]:
    return session_id, session_id, session_id


def _without_history(summary: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in summary.items() if key != "state_history"}


class Store:
    """The engine's SQLite file."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 5.0) -> None:
        """Open (or create) the database and migrate it; StoreError when it is unusable."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        #: A migration ran on opening: what was saved of the fold may not match the events.
        self.migrated = False
        try:
            # One writer thread owns the connection; it may be created on another thread.
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=busy_timeout)
            # A new file only (an existing one keeps its own): event rows are ~500 bytes, and
            # 4 KiB pages left a tenth of the table's space as the tails pages could not fill.
            self._db.execute(f"PRAGMA page_size={PAGE_SIZE}")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as err:
            raise StoreError(f"{self.path.name}: {err}") from err
        self.last_write: datetime | None = None
        self._event_count: int | None = None
        #: Summaries newer than their rows (`stage`): reads show these, writes replace them.
        self._staged: dict[str, dict[str, Any]] = {}
        #: State history entries stored per session, as far as known.
        self._history_stored: dict[str, int] = {}
        self._closed_totals = ClosedTotals()
        #: Bumped whenever stored rows change other than by being added (rows moved between
        #: sessions, sessions rebuilt, events re-timed or deleted): a reader that follows a
        #: session by the rows added to it since a given row must then read it whole again.
        self.rewrites = 0
        self._before_close: Callable[[], None] | None = None
        #: Runs a large batch's INSERT statements beside the writer (`_insert_runs`).
        self._statement_thread = StatementThread(self._db)

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
            self.migrated = version > 0
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

    def before_close(self, callback: Callable[[], None]) -> None:
        """Call `callback` when the store closes, before it does (the last write-behind).

        One writer at a time: a pipeline opened later on this store replaces the earlier one
        (which must not write its older state over the newer one's).
        """
        self._before_close = callback

    def close(self) -> None:
        """Write what is held back, then close the database connection."""
        hook, self._before_close = self._before_close, None
        try:
            if hook is not None:
                hook()
        except sqlite3.Error as err:  # the events are stored: the next start refolds them
            _LOGGER.warning("Cannot write the session state on close: %s", err)
        finally:
            self._statement_thread.close()  # whatever the hook raised: no thread outlives it
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
        return {row[0]: row[1] for row in self._by_keys("ts", keys, source)}

    def _by_keys(
        self, columns: str, keys: Sequence[str], source: Source | None = None
    ) -> list[tuple[Any, ...]]:
        """Return (event key, *`columns`) of the stored events with these keys.

        Read in chunks that stay under SQLite's parameter limit, each chunk padded to a
        fixed length so SQLite's statement cache holds a few statements, not one per length.
        """
        found: list[tuple[Any, ...]] = []
        only = "" if source is None else " AND source = ?"
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            width = next(size for size in (8, 64, 500) if size >= len(chunk))
            chunk += [chunk[-1]] * (width - len(chunk))
            marks = ",".join("?" * width)
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
            "SELECT event_key, ts FROM session_events WHERE source = ? AND ts BETWEEN ? AND ?",
            (source.value, start_ts, end_ts),
        )
        return {key: (split_key(key)[0], ts) for key, ts in rows}

    def count_between(self, start_ts: float, end_ts: float) -> int:
        """Return how many events are stored in a time range (counted in the time index)."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM session_events WHERE ts BETWEEN ? AND ?", (start_ts, end_ts)
        ).fetchone()
        return int(row[0])

    def fingerprints_between(self, start_ts: float, end_ts: float) -> dict[str, list[float]]:
        """Fingerprints stored in a time range, for window de-duplication."""
        seen: dict[str, list[float]] = {}
        rows = self._db.execute(
            "SELECT event_key, ts FROM session_events WHERE ts BETWEEN ? AND ?",
            (start_ts, end_ts),
        )
        for key, ts in rows:
            seen.setdefault(split_key(key)[0], []).append(ts)
        return seen

    def fingerprint_times(
        self, spans: Mapping[str, tuple[float, float]]
    ) -> dict[str, list[float]] | None:
        """Return the times stored under each fingerprint within its span, by the key index.

        A loose event's key is `fingerprint@milliseconds` (`event_key`), so the keys of one
        fingerprint within a span are one range of the unique index on `event_key`: the cost
        is the fingerprints asked for, not the rows in the span (a burst of frames received
        within a second put every row of the burst inside every batch's window). The range
        compares as text, which follows the numbers only while their digits are as many:
        None (ask `fingerprints_between`) for spans that cross a change in digit count or
        reach before 1970. A range may also hold other keys (fewer digits, an exact
        fingerprint's time): only keys of the fingerprint and a number, timed within the
        span, count.
        """
        bounds: list[tuple[str, str, str, float, float]] = []
        for fingerprint, (start_ts, end_ts) in spans.items():
            low, high = str(math.floor(start_ts * 1000)), str(math.ceil(end_ts * 1000))
            if start_ts < 0 or len(low) != len(high):
                return None
            bounds.append(
                (fingerprint, f"{fingerprint}@{low}", f"{fingerprint}@{high}", start_ts, end_ts)
            )
        seen: dict[str, list[float]] = {}
        for fingerprint, low_key, high_key, start_ts, end_ts in bounds:
            try:
                rows = self._db.execute(
                    "SELECT event_key, ts FROM session_events WHERE event_key BETWEEN ? AND ?",
                    (low_key, high_key),
                )
            except UnicodeEncodeError:  # a lone surrogate: no such key can have been stored
                continue
            head = len(fingerprint) + 1
            times = [ts for key, ts in rows if start_ts <= ts <= end_ts and key[head:].isdigit()]
            if times:
                seen[fingerprint] = times
        return seen

    def iter_events(
        self, batch: int = 5000, *, after: float | None = None
    ) -> Iterator[tuple[int, NinaEvent]]:
        """Every stored event in fold order (time, then arrival); only later than `after`."""
        # _EVENT_COLUMNS is a constant column list, never input.
        cursor = self._db.execute(
            f"SELECT {self._EVENT_COLUMNS} FROM session_events "  # noqa: S608
            "WHERE ts > ? ORDER BY ts, id",
            (after if after is not None else float("-inf"),),
        )
        while rows := cursor.fetchmany(batch):
            for row in rows:
                yield row[0], self._event(row)

    def events_after(self, row_id: int) -> list[tuple[int, NinaEvent, str | None]]:
        """Events stored after row `row_id`, in the order they were stored, with their session.

        What was stored after the last saved state (`folded_through`): a restart folds these
        again on top of it.
        """
        # _EVENT_COLUMNS is a constant column list, never input.
        rows = self._db.execute(
            f"SELECT {self._EVENT_COLUMNS}, session_id FROM session_events "  # noqa: S608
            "WHERE id > ? ORDER BY id",
            (row_id,),
        )
        return [(row[0], self._event(row), row[-1]) for row in rows]

    _EVENT_COLUMNS = "id, name, ts, data, source, event_key, frame"

    @staticmethod
    def _event(row: Sequence[Any]) -> NinaEvent:
        _, name, ts, text, source, key, frame = row[:7]
        data = json.loads(text)
        fingerprint, exact = split_key(key)
        return NinaEvent(
            name=name,
            time=datetime.fromtimestamp(ts, UTC),
            data=data,
            source=Source(source),
            fingerprint=fingerprint,
            exact=exact,
            frame=_read_frame(name, data, frame),
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
            "SELECT data, frame FROM session_events "  # noqa: S608  # constant text only
            f"WHERE name = ? AND {_IN_SESSION} ORDER BY ts DESC, id DESC LIMIT 1",
            (IMAGE_SAVE, *_in_session(session_id)),
        ).fetchone()
        return _read_frame(IMAGE_SAVE, json.loads(row[0]), row[1]) if row else None

    def session_frames(self, session_id: str, image_types: Sequence[str]) -> list[Frame]:
        """Return a session's frames of these types, in order (the legacy view's darks)."""
        marks = ",".join("?" * len(image_types))
        # Only constant text and `?` placeholders are interpolated; the types are bound.
        rows = self._db.execute(
            "SELECT data, frame FROM session_events "  # noqa: S608
            f"WHERE name = ? AND {_IN_SESSION} AND coalesce(json_extract(frame, "
            f"'$.image_type'), json_extract(data, '$.ImageStatistics.ImageType')) IN ({marks}) "
            "ORDER BY ts, id",
            (IMAGE_SAVE, *_in_session(session_id), *image_types),
        )
        return [
            frame
            for data, text in rows
            if (frame := _read_frame(IMAGE_SAVE, json.loads(data), text)) is not None
        ]

    def load_state(self) -> dict[str, Any] | None:
        """Return the saved pipeline state, or None when none was saved yet."""
        row = self._db.execute("SELECT data FROM session_state WHERE id = 1").fetchone()
        return json.loads(row[0]) if row else None

    def folded_through(self) -> int:
        """Return the last event row the saved state has folded (0: none, or no state)."""
        row = self._db.execute("SELECT last_row FROM session_state WHERE id = 1").fetchone()
        return row[0] or 0 if row else 0

    def state_history(self, session_id: str) -> list[dict[str, Any]]:
        """Return a session's stored state history, oldest first."""
        return self._histories([session_id]).get(session_id, [])

    def _histories(self, session_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        entries: dict[str, list[str]] = {}
        for start in range(0, len(session_ids), 500):
            chunk = session_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                # Only `?` placeholders are interpolated; the ids are bound parameters.
                "SELECT session_id, entry FROM session_history "  # noqa: S608
                f"WHERE session_id IN ({marks}) ORDER BY session_id, seq",
                chunk,
            )
            for session_id, entry in rows:
                entries.setdefault(session_id, []).append(entry)
        # One parse per session: the entries are JSON objects, joined into an array.
        return {sid: json.loads(f"[{','.join(texts)}]") for sid, texts in entries.items()}

    def _summaries(self, rows: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        """Return the summaries of (id, summary) rows, with their state histories."""
        stored = [sid for sid, _ in rows if sid not in self._staged]
        histories = self._histories(stored) if stored else {}
        result = []
        for sid, summary in rows:
            staged = self._staged.get(sid)
            if staged is not None:
                result.append(json.loads(_encode(staged)))  # a copy the caller may keep
                continue
            values = json.loads(summary)
            if "state_history" not in values:
                values["state_history"] = histories.get(sid, [])
            result.append(values)
        return result

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
            f"SELECT id, summary FROM sessions WHERE start_ts >= ? AND start_ts <= ? "  # noqa: S608
            f"ORDER BY start_ts {order} LIMIT ? OFFSET ?",
            (start_ts or 0.0, end_ts or 1e12, limit, offset),
        )
        return self._summaries(rows.fetchall())

    def session(self, session_id: str) -> dict[str, Any] | None:
        """Return the summary of one stored session, or None when there is none."""
        row = self._db.execute(
            "SELECT id, summary FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        return self._summaries([row])[0] if row else None

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

        Closed sessions are summed by triggers as they are written (`totals_*` tables) and
        their sums kept in memory until a write changes them; only the open session is read
        each time.
        """
        closed = self._closed_totals.read(self._db)
        nights, frames, seconds = closed.nights, closed.frames, closed.seconds
        by_target = closed.by_target
        rows = self._db.execute("SELECT id, summary FROM sessions WHERE end_ts IS NULL")
        for sid, text in rows:
            session = self._staged.get(sid) or json.loads(text)
            nights += 1
            frames += session["frames"]["total"]
            seconds += session["integration_seconds"]
            target = (session["targets"] or ["unknown"])[0]
            per_filter = by_target.setdefault(target, {})
            for name, slot in session["frames"]["by_filter"].items():
                per_filter[name] = round(per_filter.get(name, 0.0) + slot["seconds"], 3)
        return {
            "nights": nights,
            "frames": frames,
            "integration_seconds": round(seconds, 3),
            "by_target": by_target,
        }

    # -- writes ------------------------------------------------------------------------
    def stage(self, summary: dict[str, Any]) -> None:
        """Hold a stored session's newer summary in memory; reads show it from now on.

        The writer (`write_batch`) stores it later: a summary written on every frame would
        make each frame's transaction grow with the session.
        """
        self._staged[summary["id"]] = summary

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
            self._db.execute(
                "DELETE FROM session_history WHERE session_id IN (SELECT id FROM sessions "
                "WHERE end_ts IS NOT NULL AND end_ts < ?)",
                (cutoff,),
            )
            sessions = self._db.execute(
                "DELETE FROM sessions WHERE end_ts IS NOT NULL AND end_ts < ?", (cutoff,)
            ).rowcount
        self._event_count = None
        self._history_stored.clear()
        self._closed_totals.forget()
        self.rewrites += 1
        return sessions, events

    def retime(self, moves: Mapping[str, float]) -> list[str]:
        """Give stored events new times (by event key); return their keys now.

        Events whose key holds their time are re-keyed. The caller rebuilds the sessions.

        A moved event that lands on an identical stored one (same content, same millisecond)
        replaces it: they were the same event.
        """
        if not moves:
            return []
        stored = {row[0] for row in self._by_keys("id", list(moves))}
        updates = [
            (ts, event_key(*split_key(key), ts), key) for key, ts in moves.items() if key in stored
        ]
        with self._db:
            self._db.executemany(
                "UPDATE OR REPLACE session_events SET ts = ?, event_key = ? WHERE event_key = ?",
                updates,
            )
        self._event_count = None
        self.rewrites += 1
        return [new_key for _, new_key, _ in updates]

    def drop_twins(self, keys: Sequence[str], of: Source, window: float) -> int:
        """Delete the events with these keys that an event from `of` duplicates.

        A duplicate has the same content within `window` seconds. Returns how many went.

        For history moved onto our clock late: read before the offset was known, it missed
        its live twins then and meets them now.
        """
        doomed = []
        for key, ts in self._by_keys("ts", keys):
            fingerprint, exact = split_key(key)
            if exact:
                continue  # a frame: its key alone is its identity, it cannot have a twin
            near = self._db.execute(
                "SELECT event_key FROM session_events WHERE source = ? AND event_key != ? "
                "AND ts BETWEEN ? AND ?",
                (of.value, key, ts - window, ts + window),
            )
            if any(split_key(other)[0] == fingerprint for (other,) in near):
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
        self.rewrites += 1
        return deleted

    def write_batch(
        self,
        events: Iterable[tuple[NinaEvent, str | None, int]],
        sessions: Iterable[tuple[Session, dict[str, Any]]],
        state: tuple[str, dict[str, Any]] | None,
        *,
        reassign: Iterable[tuple[str | None, int]] = (),
        replace_sessions: bool = False,
        replace_from: float | None = None,
    ) -> None:
        """One transaction: new events, touched sessions, current state.

        A session's summary row holds no state history: its entries are appended to
        `session_history` as they come. A written state records the last event row it has
        folded (`folded_through`). A refold deletes the sessions it recomputed first: all
        (`replace_sessions`), or those that started at or after `replace_from` (a timestamp).
        """
        events = list(events)
        summaries = list(sessions)
        reassign = list(reassign)
        with self._db:
            inserted = self._insert_runs(events)
            if replace_sessions:
                self._db.execute("DELETE FROM sessions")
                self._db.execute("DELETE FROM session_history")
            elif replace_from is not None:
                self._db.execute(
                    "DELETE FROM session_history WHERE session_id IN "
                    "(SELECT id FROM sessions WHERE start_ts >= ?)",
                    (replace_from,),
                )
                self._db.execute("DELETE FROM sessions WHERE start_ts >= ?", (replace_from,))
            replaced = replace_sessions or replace_from is not None
            if replaced:
                self._history_stored.clear()  # before the entries below count what is stored
            self._db.executemany("UPDATE session_events SET session_id = ? WHERE id = ?", reassign)
            self._db.executemany(
                "INSERT INTO sessions (id, instance, night, start_ts, end_ts, summary) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET "
                "end_ts = excluded.end_ts, summary = excluded.summary",
                [
                    (s.id, s.instance, s.night, s.start.timestamp(),
                     s.end.timestamp() if s.end else None,
                     _encode(_without_history(summary)))
                    for s, summary in summaries
                ],
            )  # fmt: skip
            stored = {
                session.id: self._append_history(session.id, summary.get("state_history", []))
                for session, summary in summaries
            }
            if state is not None:
                self._db.execute(
                    "INSERT INTO session_state (id, state, data, last_row) VALUES (1, ?, ?, "
                    "(SELECT max(id) FROM session_events)) ON CONFLICT (id) DO UPDATE SET "
                    "state = excluded.state, data = excluded.data, last_row = excluded.last_row",
                    (state[0], _encode(state[1])),
                )
        self._history_stored.update(stored)
        if replaced:
            self._closed_totals.forget(sessions_replaced=True)
        if replaced or reassign:
            self.rewrites += 1
        self._closed_totals.written((s.id, s.end is None) for s, _ in summaries)
        for session, _ in summaries:
            self._staged.pop(session.id, None)
        if replaced:
            self._staged.clear()
        if self._event_count is not None:
            self._event_count += inserted
        self.last_write = datetime.now(UTC)

    def _insert_runs(self, events: Sequence[tuple[NinaEvent, str | None, int]]) -> int:
        """Insert the rows of `events` in their order, a run of one source and epoch at a time.

        A batch is one run (one pipeline's epoch, one source) unless earlier batches the
        database refused were merged into it. Returns how many rows were inserted.

        A large batch's statements run on the statement thread, each beside the building of
        the next one's rows (`statement_thread`); however it ends, the connection is the
        caller's again on return.
        """
        if not events:
            return 0
        # Asked before any statement is handed over: the thread may use the connection then.
        limit = self._db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        widths = [w for w in _INSERT_WIDTHS if w * _EVENT_ROW_VALUES + _SHARED_VALUES <= limit]
        statements: Statements
        if len(events) >= _BESIDE_FROM:
            statements = self._statement_thread
        else:
            statements = InlineStatements(self._db)
        try:
            source, epoch = _run_of(events[0])
            # One run, as nearly always: told by a test that costs a tenth of grouping the
            # rows. The source's `_value_`, not `value`: the enum's property is a Python call.
            if all(ev.source is source and ev_epoch == epoch for ev, _, ev_epoch in events):
                _insert_events(statements, widths, events, source._value_, epoch)
            else:
                for (source, epoch), run in groupby(events, key=_run_of):
                    _insert_events(statements, widths, list(run), source._value_, epoch)
        finally:
            # Also when building a row failed: nothing (the rollback) may use the connection
            # before the statements handed over have ended.
            inserted = statements.finish()
        return inserted

    def _append_history(self, session_id: str, history: Sequence[dict[str, Any]]) -> int:
        """Store the entries of a session's state history not stored yet; return how many are.

        Inside the caller's transaction: the caller notes the count once it commits.
        """
        stored = self._history_stored.get(session_id)
        if stored is None:
            stored = self._db.execute(
                "SELECT count(*) FROM session_history WHERE session_id = ?", (session_id,)
            ).fetchone()[0]
        if stored > len(history):  # a shorter history than stored: refolded differently
            self._db.execute(
                "DELETE FROM session_history WHERE session_id = ? AND seq >= ?",
                (session_id, len(history)),
            )
            stored = len(history)
        self._db.executemany(
            "INSERT INTO session_history (session_id, seq, entry) VALUES (?,?,?)",
            [(session_id, seq, _encode(history[seq])) for seq in range(stored, len(history))],
        )
        return len(history)

    # -- insight reads (targets, night report, quality) ---------------------------------
    def last_row(self) -> int:
        """Return the newest event row (0: none); rows added later have higher ones."""
        row = self._db.execute("SELECT max(id) FROM session_events").fetchone()
        return row[0] or 0

    def session_events_after(
        self, session_id: str, names: Sequence[str], after_row: int
    ) -> list[tuple[int, NinaEvent]]:
        """Return a session's events with these names stored after row `after_row`, by row.

        What was added to a session since a reader last looked (see `rewrites`): the rows
        after `after_row` are the newest, so this reads those only, however long the night.
        """
        marks = ",".join("?" * len(names))
        # Only the constant column list and `?` placeholders are interpolated. `+name` keeps
        # SQLite off the (name, ts) index, which would walk every frame ever stored: the rows
        # after `after_row` are found by row id.
        rows = self._db.execute(
            f"SELECT {self._EVENT_COLUMNS} FROM session_events "  # noqa: S608
            f"WHERE id > ? AND session_id = ? AND +name IN ({marks}) ORDER BY id",
            (after_row, session_id, *names),
        )
        return [(row[0], self._event(row)) for row in rows]

    def session_events(self, session_id: str, names: Sequence[str]) -> list[NinaEvent]:
        """Return a session's events with these names, in fold order (time, then arrival)."""
        marks = ",".join("?" * len(names))
        # Only the constant column list and `?` placeholders are interpolated. The (name, ts)
        # index reaches the session's time span only (`_IN_SESSION`), not a year of frames.
        rows = self._db.execute(
            f"SELECT {self._EVENT_COLUMNS} FROM session_events "  # noqa: S608
            f"WHERE name IN ({marks}) AND {_IN_SESSION} ORDER BY ts, id",
            (*names, *_in_session(session_id)),
        )
        return [self._event(row) for row in rows]
