"""Connection health and event counters, as reported by the health endpoint.

The connection loop owns a `ConnectionHealth` and updates it in place; the engine adds
its own counts (processed, duplicates, backfilled, by type) to the same `events` object.
`as_dict()` gives the JSON shape of design.md's "Health JSON" without its `db` part,
which the engine adds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
import logging
from typing import Any

from .timeutil import iso_z
from .vocabulary import is_known

_LOGGER = logging.getLogger(__name__)


@dataclass
class EventCounters:
    """Counts of socket frames and events, for the health and stats endpoints.

    Who counts what: the connection loop counts `received` (every data frame read from
    the socket) and the frames it refuses itself (`rejected` with reason `binary`,
    `too_large` or `handler_error`); the engine's pipeline counts `processed`,
    `duplicates`, `backfilled`, `by_type` and its own rejections (parse errors).
    `unknown_by_type` counts the processed events whose name is not in the vocabulary: they
    are kept like any other, and this is where a new plugin's names show up.
    """

    received: int = 0
    processed: int = 0
    duplicates: int = 0
    rejected: int = 0
    backfilled: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    unknown_by_type: dict[str, int] = field(default_factory=dict)

    def reject(self, reason: str) -> None:
        """Count one rejected frame or event under `reason`."""
        self.rejected += 1
        self.rejected_by_reason[reason] = self.rejected_by_reason.get(reason, 0) + 1

    def unprocess(self, event_type: str) -> None:
        """Take back one processed event of `event_type` (the database refused it)."""
        self.processed -= 1
        left = self.by_type.get(event_type, 1) - 1
        if left > 0:
            self.by_type[event_type] = left
        else:
            self.by_type.pop(event_type, None)

    def count_type(self, event_type: str, times: int = 1) -> None:
        """Count `times` processed events of `event_type` (any string, unknown ones too)."""
        self.by_type[event_type] = self.by_type.get(event_type, 0) + times
        if is_known(event_type):
            return
        seen = self.unknown_by_type.get(event_type, 0)
        if not seen:
            _LOGGER.debug(
                "Event %s is not in the plugin vocabulary; kept as a generic event", event_type
            )
        self.unknown_by_type[event_type] = seen + times

    def as_dict(self, *, detailed: bool = False) -> dict[str, Any]:
        """Return the health JSON's `events` object; `detailed` adds the breakdowns (stats)."""
        result: dict[str, Any] = {
            "received": self.received,
            "processed": self.processed,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "backfilled": self.backfilled,
        }
        if detailed:
            result["by_type"] = dict(sorted(self.by_type.items()))
            result["rejected_by_reason"] = dict(sorted(self.rejected_by_reason.items()))
            result["unknown_by_type"] = dict(sorted(self.unknown_by_type.items()))
        return result


@dataclass
class ByteBudget:
    """One byte budget on what waits in memory: its limit, what it holds now, what it refused.

    Past `max_bytes` frames (or, for the pending writes, the oldest live events) are refused
    and counted in `refused`; the next history read repairs what they carried.
    """

    max_bytes: int = 0
    bytes: int = 0
    refused: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Return the budget for the health JSON's `budgets` object."""
        return {"max_bytes": self.max_bytes, "bytes": self.bytes, "refused": self.refused}


@dataclass
class Budgets:
    """The byte budgets of the three places live data waits in memory.

    `queue`: frames waiting for the pipeline (the engine); `backlog`: frames read while the
    history is being read (the connection); `pending_writes`: events the database refused,
    waiting for it (the pipeline). The history answer's own hard cap is `HistoryHealth`'s.
    """

    queue: ByteBudget = field(default_factory=ByteBudget)
    backlog: ByteBudget = field(default_factory=ByteBudget)
    pending_writes: ByteBudget = field(default_factory=ByteBudget)

    def as_dict(self, history: HistoryHealth) -> dict[str, Any]:
        """Return the health JSON's `budgets` object, the history's cap included."""
        return {
            "queue": self.queue.as_dict(),
            "backlog": self.backlog.as_dict(),
            "pending_writes": self.pending_writes.as_dict(),
            "history": {
                "max_bytes": history.max_bytes,
                "bytes": history.last_bytes,
                "refused": history.over_cap_count,
                "last_refused_at": iso_z(history.over_cap_at),
            },
        }


@dataclass
class HistoryHealth:
    """How the reads of NINA's event history went (on connect, periodic, refresh, retries).

    A failed read never ends the live stream; it is counted here and retried with backoff.
    `over_cap` says the last failure was an answer over the byte cap (`max_bytes`), which
    a retry cannot fix: NINA's history only shrinks when NINA restarts. `over_cap_count` and
    `over_cap_at` say how often and when the cap was last hit (they stay after a good read).
    """

    reads: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    last_read_at: datetime | None = None
    last_bytes: int | None = None
    max_bytes: int = 0
    over_cap: bool = False
    over_cap_count: int = 0
    over_cap_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the health JSON's `history` object."""
        return {
            "reads": self.reads,
            "failures": self.failures,
            "consecutive_failures": self.consecutive_failures,
            "last_error": self.last_error,
            "last_read_at": iso_z(self.last_read_at),
            "last_bytes": self.last_bytes,
            "max_bytes": self.max_bytes,
            "over_cap": self.over_cap,
            "over_cap_count": self.over_cap_count,
            "over_cap_at": iso_z(self.over_cap_at),
        }


@dataclass
class StorageHealth:
    """The database file found replaced, deleted or overwritten while in use, and recovered.

    `problems` counts the times it was found so, `recoveries` the sound files opened in its
    place; `last_problem` says what was found (and why no new file could be opened, if so).
    """

    problems: int = 0
    recoveries: int = 0
    last_problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return these counts for the health JSON's `db` object."""
        return {
            "file_problems": self.problems,
            "recoveries": self.recoveries,
            "last_file_problem": self.last_problem,
        }


@dataclass
class ConnectionHealth:
    """State of the link to one NINA instance. Mutable; the connection loop owns it.

    `since` is when `connected` last took its current value (None before the first
    attempt ended). `reconnects` counts connections established after the first one.
    `consecutive_failures` counts attempts in a row that did not get connected;
    `failing` is set once it reaches the loop's threshold and cleared on success.
    `last_error` is the last reason an attempt ended, kept as history with `last_error_at`;
    `current_error` (in the JSON) is the same reason only while NINA is unreachable, so a
    drop the loop has since recovered from does not read as a present problem.
    """

    connected: bool = False
    since: datetime | None = None
    last_event_at: datetime | None = None
    last_message_at: datetime | None = None
    reconnects: int = 0
    consecutive_failures: int = 0
    failing: bool = False
    last_error: str | None = None
    last_error_at: datetime | None = None
    plugin_version: str | None = None
    events: EventCounters = field(default_factory=EventCounters)
    history: HistoryHealth = field(default_factory=HistoryHealth)
    storage: StorageHealth = field(default_factory=StorageHealth)
    budgets: Budgets = field(default_factory=Budgets)

    def as_dict(self) -> dict[str, Any]:
        """Return the health JSON of design.md, without `db` (the engine adds it)."""
        return {
            "connected": self.connected,
            "since": iso_z(self.since),
            "last_event_at": iso_z(self.last_event_at),
            "reconnects": self.reconnects,
            "consecutive_failures": self.consecutive_failures,
            "current_error": None if self.connected else self.last_error,
            "last_error": self.last_error,
            "last_error_at": iso_z(self.last_error_at),
            "plugin_version": self.plugin_version,
            "events": self.events.as_dict(),
            "history": self.history.as_dict(),
            "budgets": self.budgets.as_dict(self.history),
        }
