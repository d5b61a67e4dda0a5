"""What one batch through the pipeline changed: what the engine tells its subscribers.

A live batch tells every event it applied. A history merge holds thousands: the event loop is
told it in sum (`for_loop`, see `history_summary`), and the events and the columns parsed for
them are freed after that answer, a slice at a time on the writer's thread (`release`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .folded_batch import FoldedBatch
from .fsm import Step
from .gradual_release import release_gradually
from .history_summary import HistorySummary, summarize
from .sessions import Applied, Session


@dataclass(slots=True)
class BatchResult:
    """What one batch changed; the engine broadcasts it to subscribers.

    A history merge reaches the event loop as `for_loop` makes it: `applied` holds only its
    recent events, `summary` the rest in sum.
    """

    #: In time order, as the batch folded them (`in_time_order`), or stored them to refold.
    #: A batch folded in order is a `FoldedBatch` (its items built as they are read).
    applied: Sequence[Applied] = field(default_factory=list)
    closed: list[Session] = field(default_factory=list)
    duplicates: int = 0
    rejected: int = 0
    rebuilt: bool = False
    #: What the live clock made of a stop past its grace period (a tick's result).
    ticked: Step | None = None
    #: A history merge told in sum (see `for_loop`); None for live batches and ticks.
    summary: HistorySummary | None = None
    #: How many of `applied` bear each name, when the batch counted them (`Pipeline.ingest`
    #: does, for the type counters): a merge's summary need not count its events again.
    by_type: Counter[str] | None = None
    #: A history merge's parsed columns (names, times, image records), held for `release`
    #: to free with `applied`: after the answer, not before it (`ingest_history`).
    parsed: list[list[Any]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Return whether the batch applied, closed or rebuilt anything."""
        applied = self.summary.applied if self.summary is not None else self.applied
        return bool(applied or self.closed or self.rebuilt or self.ticked)

    @property
    def applied_count(self) -> int:
        """Return how many events the batch applied (a summarized merge's included)."""
        return self.summary.applied if self.summary is not None else len(self.applied)

    def for_loop(self, now: datetime) -> BatchResult:
        """Return this history merge as the event loop is told it (see `history_summary`).

        Its events not recent at `now` are folded into a summary: walking them does not land
        on the loop. This result keeps them until `release()`; the loop's copy holds only the
        recent ones.
        """
        summary, recent = summarize(self.applied, now, self.by_type)
        return BatchResult(
            recent,
            list(self.closed),
            self.duplicates,
            self.rejected,
            self.rebuilt,
            self.ticked,
            summary,
        )

    def release(self) -> None:
        """Empty `applied` and `parsed` (the holder's last use), a slice at a time.

        See `gradual_release`.
        """
        if isinstance(self.applied, FoldedBatch):
            self.applied.release()
        elif isinstance(self.applied, list):
            release_gradually(self.applied)
        for parsed in self.parsed:
            release_gradually(parsed)
        self.parsed = []
