"""Checkpoints of the fold, so a late event refolds from the night it lands in, not from 1.

Sessions and state are a fold over the stored events in time order. An event stored late
(or moved) changes that fold only from its own time on: everything folded before it is what
it was. So the tracker's state is kept, as JSON, at one place per session: once every event
at or before the time of the event that opened it is folded (taken just before the first
later event is folded, so events sharing that time are inside). A refold after a change at
time `t` restores the newest checkpoint strictly before `t` and folds only the events after
it; the sessions opened before it stay as stored.

Only a plain fold in time order makes a checkpoint, since a refold must give exactly what a
whole one gives: the live clock's ticks may leave a session another state history than the
fold of its events would (a stop that expired on the clock, not at the next event; a session
closed before a non-work event that the fold would give it), and an event folded out of order
is refolded anyway. After one of those, the next session opened gets no checkpoint; a change
in it refolds from the one before.

Kept in memory, a bounded number (the newest): a history read brings at most what one NINA
process saw, so a late event lands in the last few nights; an older one refolds everything
(`Pipeline.rebuild`), which makes them again. The newest two are saved with the pipeline's
state (a few kB in the same row), so the reconnect after a restart refolds from them too; a
migration, a prune or a replaced database drops them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
import json
import logging
from typing import Any

from .folded_batch import FoldedBatch
from .fsm import NO_STEP
from .models import NinaEvent
from .sessions import Applied, SessionTracker, restore_tracker, tracker_snapshot

_LOGGER = logging.getLogger(__name__)

#: Checkpoints kept (one per session, the newest): a late event older than all of them
#: refolds everything. Each is about 1 kB.
KEEP = 32
#: Checkpoints saved with the state: the open night's and the one before it.
SAVED = 2


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The tracker once every event up to `ts` is folded; its open session started at `ts`."""

    ts: float
    session_id: str
    #: `tracker_snapshot` plus the open session's state history, encoded (a deep copy).
    text: str

    def restore(self, tracker: SessionTracker) -> None:
        """Put `tracker` (a fresh one) in the state of this checkpoint."""
        saved: dict[str, Any] = json.loads(self.text)
        restore_tracker(tracker, saved["tracker"])
        if tracker.open is not None:
            tracker.open.state_history = saved["history"]


class FoldCheckpoints:
    """Takes checkpoints as events are folded (`apply`) and finds where a refold starts."""

    def __init__(self, keep: int = KEEP) -> None:
        """Start with none: the first refold is a whole one (it makes them)."""
        self._keep = keep
        self._points: list[Checkpoint] = []
        #: The time of a session's opening event, until the first later event is folded.
        self._due: float | None = None
        #: Since the last session opened, the fold was not a plain one (a tick, an event out
        #: of order, or a state restored from before a restart, which may hold either): the
        #: next session opened gets no checkpoint.
        self._unclean = True
        #: Saved checkpoints that could not be read (a damaged state).
        self.unreadable = 0

    def __len__(self) -> int:
        """Return how many checkpoints are kept."""
        return len(self._points)

    def apply(self, tracker: SessionTracker, event: NinaEvent) -> Applied:
        """Fold `event` into `tracker`, taking the checkpoint due before it, if any."""
        last = tracker.last_time
        if last is not None and event.time < last:  # folded out of order: refolded later
            self.ticked()
        elif self._due is not None and event.ts > self._due:
            self._take(tracker, self._due)
        applied = tracker.apply(event)
        if applied.opened is not None:
            self._due = None if self._unclean else event.ts
            self._unclean = False
        return applied

    def fold(self, tracker: SessionTracker, events: Sequence[NinaEvent]) -> FoldedBatch:
        """Fold `events` into `tracker` as `apply` does each; return what each did.

        They are in time order and none is older than what `tracker` folded (a new batch's
        events, once the late ones are set apart): the order `apply` tests per event holds.
        """
        # Its own list (a copy costs a few microseconds per thousand): the result is emptied
        # when its holder is done with it (`FoldedBatch.release`), the caller's list is not.
        folded = list(events)
        session_ids: list[str | None] = []
        notable: dict[int, Applied] = {}
        append, fold_one, no_step = session_ids.append, tracker.fold_one, NO_STEP
        for index, event in enumerate(events):
            due = self._due
            if due is not None and event.ts > due:
                self._take(tracker, due)
            as_folded, session_id, step, closed, opened = fold_one(event)
            append(session_id)
            if as_folded is not event:  # a frame read in context
                folded[index] = as_folded
            if step is no_step and closed is None and opened is None:
                continue  # nearly every event: it only names its session
            if opened is not None:
                self._due = None if self._unclean else event.ts
                self._unclean = False
            notable[index] = Applied(as_folded, session_id, step, closed, opened)
        return FoldedBatch(folded, session_ids, notable)

    def ticked(self) -> None:
        """Note that the fold was changed otherwise than by folding events in time order.

        The live clock's tick (a stop expired, a session closed), or the close of a session
        that had ended, after a refold.
        """
        self._due = None
        self._unclean = True

    def _take(self, tracker: SessionTracker, due: float) -> None:
        self._due = None
        session = tracker.open
        if session is None or session.start.timestamp() != due:
            return
        if self._points and self._points[-1].ts >= due:
            return  # a fold in time order never goes back; a stale one would be wrong
        saved = {"tracker": tracker_snapshot(tracker), "history": session.state_history}
        self._points.append(Checkpoint(due, session.id, json.dumps(saved, separators=(",", ":"))))
        del self._points[: -self._keep]

    def before(self, time: datetime) -> Checkpoint | None:
        """Return the newest checkpoint strictly before `time`, or None (refold everything)."""
        at = bisect_left([point.ts for point in self._points], time.timestamp())
        return self._points[at - 1] if at else None

    def start_from(self, point: Checkpoint | None) -> None:
        """Note that a refold starts at `point` (None: the beginning): later ones are stale."""
        self._due, self._unclean = None, False
        if point is None:
            self._points = []
            return
        self._points = [p for p in self._points if p.ts <= point.ts]

    def snapshot(self) -> list[list[Any]]:
        """Return the newest checkpoints as JSON-safe data, to save with the state."""
        return [[point.ts, point.session_id, point.text] for point in self._points[-SAVED:]]

    def restore(self, saved: Any) -> None:
        """Take the checkpoints saved with the state (`snapshot`); unreadable ones are none."""
        try:
            points = [Checkpoint(float(ts), str(sid), str(text)) for ts, sid, text in saved]
        except (TypeError, ValueError) as err:
            _LOGGER.warning("Saved fold checkpoints unreadable, refolding whole: %s", err)
            self.unreadable += 1
            points = []
        self._points = sorted(points, key=lambda point: point.ts)

    def forget(self) -> None:
        """Drop every checkpoint (the events before them may have changed)."""
        self.start_from(None)
