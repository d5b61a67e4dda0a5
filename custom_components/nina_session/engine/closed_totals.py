"""The totals of closed sessions, read once and kept until a write can change them.

Triggers keep these sums in the `totals_*` tables (engine/schema.py), but reading them back
still costs one row per target and filter ever imaged, on every call. They change only when a
closed session is written, deleted or reopened, which the store knows as it writes: so one
read serves every call until then. The open session is not in them (`Store.totals` adds it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
import sqlite3

#: Target → filter → seconds of LIGHT integration.
ByTarget = dict[str, dict[str, float]]


@dataclass(frozen=True, slots=True)
class Sums:
    """What the closed sessions add up to; `by_target` is the caller's own copy."""

    nights: int
    frames: int
    seconds: float
    by_target: ByTarget


class ClosedTotals:
    """A cache of the closed sessions' totals, told of every session write by the store.

    Exact by construction: any write that a totals trigger could act on drops the cache. A
    session written open is remembered as open, so the open session's own writes (every few
    seconds all night) keep the cache; writing any other session, or closing one, drops it.
    """

    def __init__(self) -> None:
        """Start empty: the first read fills it."""
        self._sums: Sums | None = None
        #: Sessions whose row is open now (written open since the store opened).
        self._open: set[str] = set()

    def read(self, db: sqlite3.Connection) -> Sums:
        """Return the closed sessions' totals, from memory when no write changed them."""
        if self._sums is None:
            self._sums = _query(db)
        sums = self._sums
        copied = {target: dict(filters) for target, filters in sums.by_target.items()}
        return Sums(sums.nights, sums.frames, sums.seconds, copied)

    def written(self, sessions: Iterable[tuple[str, bool]]) -> None:
        """Note committed session rows, as (id, still open).

        A session not known to be open may have been closed before (a refold can reopen
        one): the triggers then took it out of the sums, so the cache goes.
        """
        for session_id, is_open in sessions:
            if not is_open:
                self._open.discard(session_id)
                self._sums = None
            elif session_id not in self._open:
                self._open.add(session_id)
                self._sums = None

    def forget(self, *, sessions_replaced: bool = False) -> None:
        """Drop the cache (sessions deleted); with `sessions_replaced`, every row went."""
        self._sums = None
        if sessions_replaced:
            self._open.clear()


def _query(db: sqlite3.Connection) -> Sums:
    nights, frames, seconds = db.execute(
        "SELECT nights, frames, seconds FROM totals_closed"
    ).fetchone()
    by_target: ByTarget = {
        target: {} for (target,) in db.execute("SELECT target FROM totals_targets")
    }
    for target, name, total in db.execute("SELECT target, filter, seconds FROM totals_filters"):
        by_target.setdefault(target, {})[name] = round(total, 3)
    return Sums(nights, frames, seconds, by_target)
