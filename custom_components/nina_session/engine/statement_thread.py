"""A large batch's INSERT statements run on a second thread while the writer builds the next.

A first backfill's write is two halves one after the other: Python builds the rows of a
statement (the GIL held), then SQLite steps it (`sqlite3_step` lets go of the GIL). With a
second core, the steps of one statement can run while the writer builds the next statement's
rows. The connection is never used by two threads at once: it is handed over, one statement at
a time, and handed back (`StatementThread.finish`) before the writer uses it again.

Handing over is the part that must be quick: a thread that waits for the GIL waits until the
holder lets go of it, up to the switch interval (5 ms, longer than a statement's step). So the
writer, once it has handed a statement over, waits until the thread has taken it
(`StatementThread.run`): while it waits the GIL is free, the thread binds the parameters and
enters its step, and its step lets go of the GIL for the writer to build the next rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from queue import SimpleQueue
import sqlite3
import threading
import time
from typing import Any, Final, NamedTuple, Protocol

#: The thread's name: says whose it is in a list of threads (Home Assistant's checks too).
THREAD_NAME: Final = "nina_session_db_statements"


class _Statement(NamedTuple):
    """A statement handed over: its parameters, or (`many`) its parameter sets."""

    sql: str
    parameters: Sequence[Any]
    many: bool


#: Statements handed over before a batch is judged (`StatementThread._took_turns`): over the
#: first few, a moment's wait (the thread's start, a page fault) would decide.
_JUDGED_FROM: Final = 6
#: Handed over after the statements of a batch: the thread takes it once it ran them all.
_FENCE: Final = _Statement("", (), many=False)


class Statements(Protocol):
    """Where a batch's INSERT statements run: on the caller's thread or on a thread of its own."""

    def run(self, sql: str, parameters: Sequence[Any]) -> None:
        """Run one statement (or hand it over to be run)."""

    def run_many(self, sql: str, parameter_sets: Sequence[Sequence[Any]]) -> None:
        """Run one statement over parameter sets (`executemany`; or hand it over)."""

    def finish(self) -> int:
        """Return how many rows the statements changed, once all ran; raise the first error."""


class InlineStatements:
    """Runs each statement at once, on the caller's thread (a batch too small to hand over)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        """Run statements on `db`."""
        self._db = db
        self._changed = 0

    def run(self, sql: str, parameters: Sequence[Any]) -> None:
        """Run one statement."""
        self._changed += _execute(self._db, _Statement(sql, parameters, many=False))

    def run_many(self, sql: str, parameter_sets: Sequence[Sequence[Any]]) -> None:
        """Run one statement over parameter sets."""
        self._changed += _execute(self._db, _Statement(sql, parameter_sets, many=True))

    def finish(self) -> int:
        """Return how many rows the statements changed."""
        return self._changed


class StatementThread:
    """Runs a connection's statements on a thread of its own, one at a time, in order.

    Used from one thread (the writer) at a time, a batch at a time: statements handed over
    (`run`, `run_many`), then `finish`. The thread starts with the first statement and lives
    until `close`; between batches it waits, and it is a daemon, so a store that is never
    closed does not keep the process alive.

    The overlap pays only when the two threads run at once, on two cores. When no core is
    free (other processes busy), they take turns on one and each hand-over waits for the
    scheduler: a first backfill's write then took up to twice as long. So once a batch's
    time so far exceeds the processor time both threads spent on it, its other statements
    run on the caller's thread (`_alone`), as a small batch's do.
    """

    def __init__(self, db: sqlite3.Connection) -> None:
        """Run statements on `db` (opened with `check_same_thread=False`)."""
        self._db = db
        self._statements: SimpleQueue[_Statement | None] = SimpleQueue()
        #: Held while a statement waits to be taken; the thread releases it as it takes one
        #: (a plain lock: one statement is handed over at a time).
        self._taken = threading.Lock()
        self._taken.acquire()
        self._thread: threading.Thread | None = None
        self._closed = False
        # The batch so far (reset by `finish`):
        #: Rows its statements changed, and the first one's error.
        self._changed = 0
        self._error: BaseException | None = None
        #: Statements handed over, when the first was (wall and caller's processor time),
        #: and the thread's processor time on them (seconds).
        self._handed = 0
        self._began = (0.0, 0.0)
        self._busy = 0.0
        #: The threads took turns on one core: the rest runs on the caller's thread.
        self._alone = False

    @property
    def running(self) -> bool:
        """Return whether the thread runs (it starts with the first statement)."""
        return self._thread is not None

    def run(self, sql: str, parameters: Sequence[Any]) -> None:
        """Hand one statement over; return once the thread has taken it.

        Its step goes on beside the caller; `finish` waits for it. A statement handed over
        after one that failed is not run (`finish` raises that error).
        """
        self._hand_over(_Statement(sql, parameters, many=False))

    def run_many(self, sql: str, parameter_sets: Sequence[Sequence[Any]]) -> None:
        """Hand `executemany` of one statement over (see `run`)."""
        self._hand_over(_Statement(sql, parameter_sets, many=True))

    def finish(self) -> int:
        """Wait for the statements handed over; return how many rows they changed.

        Raises the first one's error (the very exception, so callers tell its kind as
        before); the statements after it were not run. The connection is the caller's again:
        the thread runs nothing until the next statement is handed over.
        """
        if self._thread is not None and not self._alone:
            self._wait_idle()
        changed, error = self._changed, self._error
        self._changed, self._error, self._handed, self._busy = 0, None, 0, 0.0
        self._alone = False
        if error is not None:
            raise error
        return changed

    def close(self) -> None:
        """End the thread (after `finish`); statements handed over later raise."""
        self._closed = True
        thread, self._thread = self._thread, None
        if thread is not None:
            self._statements.put(None)
            thread.join()

    def _hand_over(self, statement: _Statement) -> None:
        if self._alone:
            if self._error is None:  # else `finish` raises it; nothing after it runs
                self._changed += _execute(self._db, statement)
            return
        if self._thread is None:
            if self._closed:  # as the closed connection would
                raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
            self._thread = threading.Thread(target=self._serve, name=THREAD_NAME, daemon=True)
            self._thread.start()
        if not self._handed:
            self._began = (time.perf_counter(), time.thread_time())
        self._handed += 1
        self._statements.put(statement)
        # Waiting here lets go of the GIL: the thread takes it at once, binds and steps.
        self._taken.acquire()
        if self._handed >= _JUDGED_FROM and self._took_turns():
            self._wait_idle()
            self._alone = True

    def _took_turns(self) -> bool:
        """Return whether the batch so far took longer than both threads' processor time."""
        wall, cpu = self._began
        return time.perf_counter() - wall > time.thread_time() - cpu + self._busy

    def _wait_idle(self) -> None:
        """Return once the thread ran every statement handed over (the connection is free)."""
        self._statements.put(_FENCE)
        self._taken.acquire()

    def _serve(self) -> None:
        """Run the statements handed over until `close` (the thread's body)."""
        db = self._db
        while (statement := self._statements.get()) is not None:
            # Released before the statement runs: its step lets go of the GIL, and the
            # writer builds the next statement meanwhile.
            self._taken.release()
            if statement is _FENCE or self._error is not None:
                continue
            start = time.thread_time()
            try:
                self._changed += _execute(db, statement)
            # Whatever the statement raised is the writer's to handle, as if it ran it.
            except BaseException as err:  # noqa: BLE001
                self._error = err
            self._busy += time.thread_time() - start


def _execute(db: sqlite3.Connection, statement: _Statement) -> int:
    """Run a statement handed over; return how many rows it changed."""
    if statement.many:
        return max(db.executemany(statement.sql, statement.parameters).rowcount, 0)
    return max(db.execute(statement.sql, statement.parameters).rowcount, 0)
