"""The write path: batches into the store whatever the database refuses, nothing lost.

Every write is idempotent (unique event keys, session upserts, one state row), so a batch the
database refuses (locked, read-only, full, damaged) waits in memory and is written again later,
merged with the next one; past a byte budget the oldest live events are dropped from memory and
history repairs them. A row the database cannot take costs only that row: the batch is written
in halves until each bad row is alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
import logging
import sqlite3
from typing import Any

from .health import EventCounters
from .models import NinaEvent, Source
from .sessions import Session
from .store import Store
from .stored_rows import stored_size

_LOGGER = logging.getLogger(__name__)

#: One event row as the store writes it: the event, its session id and its history epoch.
Row = tuple[NinaEvent, str | None, int]
#: What a single row can make SQLite raise; any other sqlite3 error is the database's own.
_SQLITE_ROW_ERRORS = (
    sqlite3.IntegrityError,
    sqlite3.InterfaceError,
    sqlite3.ProgrammingError,
    sqlite3.DataError,
)


def _is_row_error(err: Exception) -> bool:
    """Return whether a failed write may be one row's fault (not locked, read-only, full)."""
    return not isinstance(err, sqlite3.Error) or isinstance(err, _SQLITE_ROW_ERRORS)


@dataclass(slots=True)
class PendingWrite:
    """Writes the database refused (locked, read-only, full), kept until it takes them."""

    events: list[Row] = field(default_factory=list)
    #: The stored text size of `events[:len(sizes)]`, measured only once a write failed (a
    #: write that succeeds never pays for it), and their sum.
    sizes: list[int] = field(default_factory=list)
    size: int = 0
    sessions: dict[str, tuple[Session, dict[str, Any]]] = field(default_factory=dict)
    state: tuple[str, dict[str, Any]] | None = None
    rebuild: bool = False
    #: Live events dropped to keep within the byte budget: history repairs them.
    dropped: int = 0

    def measure(self) -> None:
        """Measure the events added since the last failed write."""
        for event, _, _ in self.events[len(self.sizes) :]:
            self.sizes.append(stored_size(event))
            self.size += self.sizes[-1]


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    """What a write that the database took did besides storing the batch."""

    #: Rows it refused, each with its error (counted as rejected; not stored).
    refused: list[tuple[Row, Exception]]
    #: The fold must follow what was stored (rows refused, or dropped while pending).
    refold: bool
    #: Live events dropped from memory while the database refused writes (history repairs).
    dropped: int


class StoreWriter:
    """Writes batches; keeps what the database refuses until it takes it."""

    def __init__(self, store: Store, counters: EventCounters, max_pending_bytes: int) -> None:
        """Write to `store`, counting refusals in `counters`, holding up to the byte budget."""
        self.store = store
        self.counters = counters
        self.max_pending_bytes = max_pending_bytes
        self.pending: PendingWrite | None = None
        #: Why the database refuses writes (None when it takes them), and how often it did.
        self.storage_error: str | None = None
        self.storage_failures = 0

    @property
    def pending_events(self) -> int:
        """Return how many events wait for the database to take them."""
        return len(self.pending.events) if self.pending else 0

    @property
    def pending_bytes(self) -> int:
        """Return the stored text size of the events waiting (measured at each failed write)."""
        return self.pending.size if self.pending else 0

    def seen(self) -> list[NinaEvent]:
        """Return the events waiting for the database (de-duplication counts them as seen)."""
        return [event for event, _, _ in self.pending.events] if self.pending else []

    def write(
        self,
        events: list[Row],
        sessions: Iterable[tuple[Session, dict[str, Any]]],
        state: tuple[str, dict[str, Any]] | None,
        *,
        rebuild: bool = False,
    ) -> WriteOutcome | None:
        """Write one batch, with whatever earlier batches the database refused.

        Returns None when the database refused it (it waits in memory), else what the write
        did besides (see `WriteOutcome`).
        """
        pending = self.pending or PendingWrite()
        pending.events.extend(events)
        pending.sessions.update((session.id, (session, summary)) for session, summary in sessions)
        pending.state = state or pending.state
        pending.rebuild = pending.rebuild or rebuild
        try:
            refused = self._write_isolating(pending)
        # Whatever the database itself raises (locked, read-only, full, damaged, closed): the
        # batch waits in memory, nothing is lost.
        except Exception as err:  # noqa: BLE001
            self.storage_failures += 1
            if self.storage_error is None:
                _LOGGER.warning(
                    "Cannot write to %s (%s); keeping %d events in memory and retrying",
                    self.store.path.name, err, len(pending.events),
                )  # fmt: skip
            self.storage_error = f"{type(err).__name__}: {err}"
            pending.measure()
            self._keep_within_budget(pending)
            self.pending = pending
            return None
        self.pending = None
        if refused:
            self._refused(refused)
        if self.storage_error is not None:
            _LOGGER.info("Writing to %s works again", self.store.path.name)
            self.storage_error = None
        return WriteOutcome(refused, bool(refused) or pending.rebuild, pending.dropped)

    def _keep_within_budget(self, pending: PendingWrite) -> None:
        """Drop the oldest live events past the byte budget (history has them all, in order).

        History events are kept: a history read is bounded by its own byte cap, and dropping
        them would leave nothing to repair them from.
        """
        excess = pending.size - self.max_pending_bytes
        if excess <= 0:
            return
        kept: list[Row] = []
        sizes: list[int] = []
        dropped = 0
        for row, size in zip(pending.events, pending.sizes, strict=True):
            if excess > 0 and row[0].source == Source.LIVE:
                excess -= size
                pending.size -= size
                dropped += 1
                self.counters.unprocess(row[0].name)
                self.counters.reject("pending_full")
            else:
                kept.append(row)
                sizes.append(size)
        if not dropped:
            return
        if not pending.dropped:
            _LOGGER.warning(
                "Events waiting for %s exceed %d bytes: dropping the oldest live events from "
                "memory; history repairs them once the database takes writes",
                self.store.path.name, self.max_pending_bytes,
            )  # fmt: skip
        pending.events, pending.sizes = kept, sizes
        pending.dropped += dropped
        pending.rebuild = True  # the fold counted them: it follows what was stored

    def _write_isolating(self, pending: PendingWrite) -> list[tuple[Row, Exception]]:
        """Write a pending batch; when rows break it, write all the others.

        Returns the rows refused, each with its error. Raises when the database itself
        refuses (it does not take even a write without events): nothing is lost then, the
        caller keeps the batch for a retry.
        """
        sessions, state = pending.sessions.values(), pending.state
        try:
            self.store.write_batch(pending.events, sessions, state)
        except Exception as err:
            if not _is_row_error(err):
                raise
        else:
            return []
        self.store.write_batch((), sessions, state)
        return self._bisect(pending.events)

    def _bisect(self, rows: list[Row]) -> list[tuple[Row, Exception]]:
        """Store `rows` in halves until each bad one is alone; return those with their error.

        A batch with one bad row in n costs about 2 log2(n) transactions, not n.
        """
        try:
            self.store.write_batch(rows, (), None)
        except Exception as err:
            if not _is_row_error(err):
                raise
            if len(rows) == 1:
                return [(rows[0], err)]
        else:
            return []
        middle = len(rows) // 2
        return self._bisect(rows[:middle]) + self._bisect(rows[middle:])

    def _refused(self, refused: list[tuple[Row, Exception]]) -> None:
        """Count and log the rows the database refused."""
        for (event, _, _), err in refused:
            self.counters.unprocess(event.name)
            self.counters.reject("unstorable")
            _LOGGER.debug("Cannot store %r at %s: %r", event.name, event.time, err)
        (event, _, _), err = refused[0]
        _LOGGER.warning(
            "Cannot store %d events (first: %r at %s, %s: %s); stored the others",
            len(refused), event.name, event.time, type(err).__name__, err,
        )  # fmt: skip
