"""The one pipeline: parse → normalize → de-duplicate → state machine → store.

Live frames, backfilled history, replayed recordings and tests all come through here; there
is no second path. Everything is synchronous: the async engine runs it in its single writer
thread, the replay CLI calls it directly.

De-duplication (`dedup`): an event already seen within the window (default 1 s), in the batch
or in the database, is dropped. That is what lets a live event and its history twin, or a
replayed night, collapse to one.

Ordering: sessions and state are a fold over the stored events in time order. A batch that
contains an event older than what was already folded (a reordered or late delivery) is stored
and the fold is recomputed from the stored events, so the result never depends on arrival
order: from the last checkpoint before the earliest new event (`fold_checkpoints`), so a late
event costs what the nights from it on hold, not what all history holds.

Clocks: live events are stamped on arrival by our clock, history carries NINA's;
`clock_alignment` measures the offset, moves history onto our clock and pairs it with the live
copies it duplicates. When it moves or drops stored events, the fold is recomputed.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from itertools import repeat
import logging
from operator import attrgetter
import sqlite3
from typing import Any

from .batch_result import BatchResult
from .clock_alignment import ClockAlignment
from .dedup import Deduplicator, in_time_order
from .errors import FrameError
from .fold_checkpoints import FoldCheckpoints
from .fsm import DEFAULT_GRACE, SessionState
from .health import EventCounters
from .history_prefix import KnownHistory
from .history_read import parse_history
from .history_resume import HistoryResume
from .models import NinaEvent, Source
from .normalize import Normalizer, pair_history_images
from .pipeline_view import PipelineView, publish
from .sessions import Applied, Session, SessionTracker, restore_tracker, tracker_snapshot
from .store import Store
from .wire import ImageRecord, WireEvent, parse_socket_frame, parse_socket_message
from .write_behind import WriteBehind
from .write_path import Row, StoreWriter

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    """How one instance's events are read, de-duplicated and split into sessions."""

    instance: str
    tz: tzinfo
    idle_gap: timedelta = timedelta(hours=2)
    dedup_window: timedelta = timedelta(seconds=1)
    #: How long a guider stop or a park may stay unexplained before it is a pause or a wait.
    grace: timedelta = DEFAULT_GRACE
    #: How late a live event may be stamped (our loop blocked) and still meet its history twin.
    late_tolerance: timedelta = timedelta(seconds=30)
    max_frame_bytes: int = 1_048_576
    #: Characters of event text kept in memory while the database refuses writes; past it the
    #: oldest live events are dropped (`pending_full`) and history repairs them afterwards.
    max_pending_bytes: int = 32 * 1024 * 1024
    #: The least time a history event and its live copy may lie apart and still be paired,
    #: whatever the dedup window (which may be 0: no merging of identical live events). After
    #: NINA's clock offset is applied, a live copy may sit a few milliseconds before history.
    twin_floor: timedelta = timedelta(milliseconds=250)

    @property
    def twin_window(self) -> timedelta:
        """How far apart a history event and its live copy may be stamped, either way."""
        return max(self.dedup_window, self.twin_floor)


class Pipeline:
    """Owns the normalizer, the tracker and the store's write path."""

    def __init__(
        self, store: Store, options: PipelineOptions, counters: EventCounters | None = None
    ) -> None:
        """Initialize on `store`, resuming the state saved there, if any."""
        self._store = store
        self.options = options
        # Shared with the connection health, so one object reports every count.
        self.counters = counters or EventCounters()
        #: Out-of-order events seen, and fold recomputations they caused.
        self.late_events = 0
        self.rebuilds = 0
        #: Events the last refold folded (all stored ones, unless it began at a checkpoint).
        self.refolded_events = 0
        #: Failed writes wait in it for the database; `storage_error` says why (None when fine).
        self.writer = StoreWriter(store, self.counters, options.max_pending_bytes)
        #: NINA's clock against ours, and the pairing of history with its live copies.
        self.clock = ClockAlignment(
            self.writer,
            self.counters,
            options.dedup_window,
            options.twin_window,
            options.late_tolerance,
        )
        #: A live frame arrived on an unmeasured clock: the next history read measures it, so
        #: the engine reads history soon instead of at the periodic read. Once per connection.
        self.history_wanted = False
        #: The live clock's latest reading (`tick`): a refold applies it too.
        self._last_tick: datetime | None = None
        #: NINA process lifetime counter: history restarts empty when NINA restarts.
        self.epoch = 0
        self.normalizer = Normalizer(options.tz)
        self.dedup = Deduplicator(self.writer, options.dedup_window)
        overlap = options.late_tolerance + options.twin_window + timedelta(seconds=5)
        self._resume = HistoryResume(options.tz, overlap)
        self.tracker = self._new_tracker()
        #: Where a refold after a late event may start instead of at the first event.
        self.checkpoints = FoldCheckpoints()
        saved = store.load_state()
        if saved is not None:
            restore_tracker(self.tracker, saved["tracker"])
            self.normalizer.restore(saved.get("context", {}))
            self.clock.restore(saved)
            if not store.migrated:
                self.checkpoints.restore(saved.get("checkpoints", []))
            resumed = self.tracker.open
            if resumed is not None and not resumed.state_history:
                resumed.state_history = store.state_history(resumed.id)
        #: Summaries and state held back from a batch's transaction until due.
        self.held = WriteBehind(self.normalizer)
        self.view = PipelineView()
        store.before_close(self.flush)
        self._catch_up(store.folded_through())
        self._publish()

    @property
    def store(self) -> Store:
        """Return the store the pipeline writes to."""
        return self._store

    @store.setter
    def store(self, store: Store) -> None:
        """Write to another store from now on (a damaged file replaced by a sound one)."""
        self._store = self.writer.store = store
        self.clock.use_store(store)
        store.before_close(self.flush)

    def _new_tracker(self) -> SessionTracker:
        opts = self.options
        return SessionTracker(opts.instance, opts.tz, opts.idle_gap, opts.grace)

    # -- inputs ------------------------------------------------------------------------
    def ingest_frames(
        self, frames: Iterable[tuple[str | bytes | Any, datetime]], source: Source = Source.LIVE
    ) -> BatchResult:
        """Ingest socket messages with their receive times.

        A message is raw text, or already decoded (from a JSONL recording).
        """
        wires: list[WireEvent] = []
        rejected = 0
        # Live frames were counted by the connection as it read them (including the ones it
        # refused itself); recordings are counted here.
        count_received = source != Source.LIVE
        for raw, received_at in frames:
            self.counters.received += count_received
            try:
                if isinstance(raw, str | bytes):
                    limit = self.options.max_frame_bytes
                    wires.append(parse_socket_frame(raw, received_at, max_bytes=limit))
                else:
                    wires.append(parse_socket_message(raw, received_at))
            except FrameError as err:
                rejected += 1
                self.counters.reject(err.reason)
                _LOGGER.debug("Rejected frame: %s", err)
        result = self.ingest(wires, source)
        result.rejected += rejected
        return result

    @property
    def known_history(self) -> KnownHistory:
        """What the next history read need not decode of its answers if they are unchanged."""
        return self._resume.known

    def ingest_history(self, event_history: Any, image_history: Any) -> BatchResult:
        """Ingest the plugin's `/event-history` and `/image-history?all=true` payloads.

        A re-read of the same NINA process parses only what the last read did not take in
        (see `history_resume`); the items skipped count as duplicates, as they would.
        """
        # The overlap re-read for late live copies needs history and live times to compare.
        may_skip = self.clock.bounds_overlap and self.writer.pending is None
        parsed = parse_history(self._resume, self.epoch, event_history, image_history, may_skip)
        history, skipped = parsed.events, parsed.skipped_events
        self.counters.received += skipped + len(history.names) + history.rejected
        for _ in range(history.rejected):
            self.counters.reject("bad_history_item")
        for _ in range(parsed.bad_images):
            self.counters.reject("bad_image_record")
        paired = pair_history_images(history, parsed.images, self.options.tz)
        self.history_wanted = False
        self.normalizer.start_history()
        if not skipped:
            # A whole read is the NINA process's life from its start, when it knew nothing:
            # the context the frames in it lack comes from it alone, not from the one live
            # events left (another process's rig after a restart, or later than those frames).
            self.normalizer.forget()
        result = BatchResult()
        events, refused = self.normalizer.normalize_history(history, paired)
        for name, err in refused:
            self._refuse(result, name, err)
        self._take_in(events, Source.HISTORY, result)
        result.duplicates += skipped
        self.counters.duplicates += skipped
        self.counters.backfilled += len(result.applied)
        result.rejected += history.rejected
        parsed.took(self._resume, self.epoch, stored_all=self.writer.pending is None)
        # Their last references, freed a slice at a time (see gradual_release) by whoever
        # holds the result, once the merge is told (`release`): not before the answer.
        result.parsed = [history.events, history.times, history.names, paired, parsed.images]
        return result

    def ingest(
        self,
        wires: Sequence[WireEvent],
        source: Source,
        images: Sequence[ImageRecord | None] | None = None,
    ) -> BatchResult:
        """Normalize, de-duplicate, fold and store one batch in one transaction.

        `images`: one image record (or None) per wire, to enrich sparse history frames.
        """
        result = BatchResult()
        events: list[NinaEvent] = []
        normalize, append = self.normalizer.normalize, events.append
        paired = repeat(None, len(wires)) if images is None else images
        for wire, image in zip(wires, paired, strict=True):
            try:
                append(normalize(wire, source, image))
            except FrameError as err:
                self._refuse(result, wire.name, err)
        return self._take_in(events, source, result)

    def _refuse(self, result: BatchResult, name: str, err: FrameError) -> None:
        result.rejected += 1
        self.counters.reject(err.reason)
        _LOGGER.debug("Rejected %s: %s", name, err)

    def _take_in(self, events: list[NinaEvent], source: Source, result: BatchResult) -> BatchResult:
        """De-duplicate, fold and store normalized events in one transaction (see `ingest`)."""
        # Stored events may move (onto our clock, or into history's order): then refold.
        moved = False
        # A fresh file holds nothing to align, pair or de-duplicate against: its newest row,
        # asked once, spares a first backfill the look-ups of its thousands of keys and times.
        stored = self.store.last_row() > 0
        if source == Source.HISTORY:
            events, moved = self.clock.align_history(events, stored)
        else:
            moved = self.clock.measure_live(events, source)
            self.history_wanted = self.clock.wants_history(events) or self.history_wanted
        unique, in_order = self.dedup.unique(events, stored)
        if source == Source.HISTORY:
            unique, reordered = self.clock.pair_history(events, unique, stored)
            moved = reordered or moved
        else:
            unique = self.clock.drop_late_live(events, unique)
        result.duplicates = len(events) - len(unique)
        self.counters.duplicates += result.duplicates
        if not unique and not moved:
            return result
        # Per name, not per event: a batch holds a few names many times over. The names are
        # read by a comprehension: its slot reads are faster than `attrgetter`'s in C.
        result.by_type = Counter([event.name for event in unique])
        for name, times in result.by_type.items():
            self.counters.count_type(name, times)
        self.counters.processed += len(unique)
        if not in_order:
            unique = in_time_order(unique)
        last = self.tracker.last_time
        # In time order, the events older than what was folded lead the batch.
        late = 0 if last is None else bisect_left(unique, last, key=attrgetter("time"))
        if late or moved:
            self.late_events += late
            result.applied = [Applied(e, None) for e in unique]
            rows: list[Row] = [(e, None, self.epoch) for e in unique]
            if self._write(rows, (), None, rebuild=True, result=result):
                # Moved stored events may come from anywhere: those refold everything.
                self.refold(None if moved else unique[0].time)
                result.rebuilt = True
            return result
        self._fold(unique, result)
        return result

    # -- steps -------------------------------------------------------------------------
    def _fold(self, events: Sequence[NinaEvent], result: BatchResult) -> None:
        """Fold new events in order and store them.

        The events are written with every batch; the touched sessions' summaries and the
        state only when due (`write_behind`; a restart folds the events stored after the
        saved state again: `_catch_up`).
        """
        tracker, epoch = self.tracker, self.epoch
        # Asked of the tracker once, not of each event's step: most events change nothing.
        changes = tracker.changes
        folded = self.checkpoints.fold(tracker, events)
        changed = tracker.changes != changes
        # Made in C: the rows share their epoch.
        rows: list[Row] = list(zip(folded.events, folded.session_ids, repeat(epoch), strict=False))
        result.applied = folded
        for closed in [item.closed for item in folded.notable() if item.closed is not None]:
            self.held.touch(closed)
            result.closed.append(closed)
        self.held.touch(self.tracker.open)
        current = self._publish()
        if self.held.due(changed, events[-1].time):
            self._write(rows, self.held.take(tracker, current), self._state(), result=result)
            return
        if current is not None:
            self.store.stage(current)
        self._write(rows, (), None, result=result)

    def flush(self) -> None:
        """Write the summaries and state held back since the last write (at close)."""
        if self.held.sessions:
            self._write([], self.held.take(self.tracker), self._state())

    def _catch_up(self, folded_through: int) -> None:
        """Fold the events stored after the saved state (the process stopped in between).

        They were folded in the order they were stored, so they are folded again in that
        order; if any is older than the saved fold, the fold is recomputed (`refold`).
        """
        tail = self.store.events_after(folded_through)
        if not tail:
            return
        last = self.tracker.last_time
        if any(last is not None and event.time < last for _, event, _ in tail):
            self.refold(min(event.time for _, event, _ in tail))
            return
        reassign: list[tuple[str | None, int]] = []
        for row_id, event, stored_in in tail:
            applied = self.checkpoints.apply(self.tracker, event)
            self.held.touch(applied.closed)
            if applied.session_id != stored_in:
                reassign.append((applied.session_id, row_id))
        self.held.touch(self.tracker.open)
        _LOGGER.info("Folded %d events stored after the saved state", len(tail))
        try:
            summaries = self.held.take(self.tracker)
            self.store.write_batch((), summaries, self._state(), reassign=reassign)
        except sqlite3.Error as err:  # the fold in memory is right; the next write stores it
            self.writer.storage_failures += 1
            _LOGGER.warning("Cannot store the state folded on start: %s", err)

    def _write(
        self,
        events: list[Row],
        sessions: Iterable[tuple[Session, dict[str, Any]]],
        state: tuple[str, dict[str, Any]] | None,
        *,
        rebuild: bool = False,
        result: BatchResult | None = None,
    ) -> bool:
        """Write one batch through the writer (see `StoreWriter.write`); whether it was taken.

        Rows the database refused leave the result; the fold then follows what was stored.
        """
        outcome = self.writer.write(events, sessions, state, rebuild=rebuild)
        if outcome is None:
            return False
        if outcome.dropped:  # now the database takes them, history brings them back
            self._resume.forget()  # all of it: a dropped event's history copy may be old
            _LOGGER.info("Reading history to repair %d dropped live events", outcome.dropped)
            self.history_wanted = True
        if result is not None and outcome.refused:
            gone = {id(event) for (event, _, _), _ in outcome.refused}
            if result.by_type is not None:
                refused = [a.event.name for a in result.applied if id(a.event) in gone]
                result.by_type -= Counter(refused)
            result.applied = [a for a in result.applied if id(a.event) not in gone]
            result.rejected += len(outcome.refused)
        if outcome.refold and not rebuild:
            self.rebuild()  # the fold follows what was stored
            if result is not None:
                result.rebuilt = True
        return True

    def retry_pending(self) -> bool:
        """Try the refused writes again (the engine's clock calls this)."""
        return self.writer.pending is None or self._write([], (), None)

    def _publish(self, current: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """Publish the fold for other threads (see `PipelineView`); return the open summary.

        `current` is the open session's summary when the caller already has it.
        """
        self.view, current = publish(self.tracker, current)
        return current

    def _state(self) -> tuple[str, dict[str, Any]]:
        snapshot = {
            "tracker": tracker_snapshot(self.tracker),
            "context": self.normalizer.snapshot(),
            **self.clock.snapshot(),
            "checkpoints": self.checkpoints.snapshot(),
        }
        return self.tracker.fsm.state.value, snapshot

    def rebuild(self) -> None:
        """Recompute every session and the current state from all the stored events.

        For what may have changed anywhere: a replaced database, a migration, a refresh.
        """
        self.refold(None)

    def refold(self, changed_from: datetime | None) -> None:
        """Recompute the sessions and the state after the stored events changed from a time on.

        The fold starts at the last checkpoint before `changed_from` (None: anywhere, so at
        the first event); the sessions opened before it stay as stored. The result is what
        `rebuild` gives, event for event.
        """
        self.rebuilds += 1
        point = self.checkpoints.before(changed_from) if changed_from is not None else None
        self.checkpoints.start_from(point)
        tracker = self._new_tracker()
        sessions: dict[str, Session] = {}
        if point is not None:
            point.restore(tracker)
            if tracker.open is not None:
                sessions[tracker.open.id] = tracker.open
        reassign: list[tuple[str | None, int]] = []
        for row_id, event in self.store.iter_events(after=point.ts if point else None):
            applied = self.checkpoints.apply(tracker, event)
            reassign.append((applied.session_id, row_id))
            if applied.opened is not None:
                sessions[applied.opened.id] = applied.opened
        # The fold leaves the last session open: only the clock closes it. One that had ended
        # stays ended, or the next tick would announce its end again.
        last = tracker.open
        if last is not None and (self.store.session(last.id) or {}).get("end") is not None:
            tracker.close()
            self.checkpoints.ticked()
        if self._last_tick is not None:  # what the clock already made of a pending stop
            if tracker.expire(self._last_tick).transitions:
                self.checkpoints.ticked()
        self.tracker = tracker
        self.refolded_events = len(reassign)
        current = self._publish()
        self.held.refolded(sessions, point.ts if point is not None else None)
        summaries = self.held.take(tracker, current)
        try:
            self.store.write_batch(
                (), summaries, self._state(), reassign=reassign,
                replace_sessions=point is None,
                replace_from=point.ts if point is not None else None,
            )  # fmt: skip
        except sqlite3.Error as err:
            # The fold in memory is right; the stored sessions follow on the next rebuild.
            self.writer.storage_failures += 1
            self.writer.storage_error = f"{type(err).__name__}: {err}"
            _LOGGER.warning("Cannot store the rebuilt sessions: %s", err)
            return
        if point is None:
            _LOGGER.info("Rebuilt %d sessions from stored events", len(sessions))
        else:
            _LOGGER.debug("Refolded %d sessions (%d events)", len(sessions), len(reassign))

    def tick(self, now: datetime) -> BatchResult:
        """Live clock: a stop past its grace period becomes a state; an idle session closes."""
        self._last_tick = now
        open_session = self.tracker.open
        step, closed = self.tracker.tick(now)
        result = BatchResult(closed=[closed] if closed else [])
        if step.transitions or closed is not None:
            self.checkpoints.ticked()
        if step.transitions:
            result.ticked = step
        if step.transitions or closed is not None:
            self.held.touch(open_session)
            self.held.touch(closed)
            current = self._publish()
            self._write([], self.held.take(self.tracker, current), self._state())
        elif self.held.lagging(now):
            self.flush()  # a quiet stream: what the last frames changed is written now
        return result

    def close_if_idle(self, now: datetime) -> Session | None:
        """Live clock tick (see `tick`); return the session it closed, if any."""
        closed = self.tick(now).closed
        return closed[0] if closed else None

    @property
    def deadline(self) -> datetime | None:
        """Return when the clock should tick next to make a pending stop a state, if any."""
        return self.view.deadline

    # -- views -------------------------------------------------------------------------
    @property
    def state(self) -> SessionState:
        """Return the state machine's state, as last published."""
        return self.view.state

    def current_session(self) -> dict[str, Any] | None:
        """Return the open session's canonical JSON as last published, or None."""
        return self.view.session
