"""The one pipeline: parse → normalize → de-duplicate → state machine → store.

Live frames, backfilled history, replayed recordings and tests all come through here; there
is no second path. Everything is synchronous: the async engine runs it in its single writer
thread, the replay CLI calls it directly.

De-duplication: frames carry their own capture time, which identifies them exactly; any other
event is the same event when its content fingerprint was already seen within the window
(default 1 s), in this batch or in the database. That is what lets a live event and its
history twin, or a replayed night, collapse to one.

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

from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from itertools import islice, repeat
import logging
import math
from operator import attrgetter, countOf, le
import sqlite3
from typing import Any

from .clock_alignment import ClockAlignment
from .errors import FrameError
from .fold_checkpoints import FoldCheckpoints
from .folded_batch import FoldedBatch
from .fsm import DEFAULT_GRACE, Equipment, SessionState, Step
from .gradual_release import release_gradually
from .health import EventCounters
from .history_prefix import KnownHistory
from .history_resume import HistoryResume, decoded_from, image_count, raw_list, tail
from .history_summary import HistorySummary, summarize
from .models import NinaEvent, Source
from .normalize import IMAGE_SAVE, Normalizer, pair_history_images
from .sessions import (
    Applied,
    Session,
    SessionTracker,
    restore_tracker,
    state_detail,
    tracker_snapshot,
)
from .store import Store
from .wire import (
    ImageRecord,
    WireEvent,
    parse_image_history,
    parse_socket_frame,
    parse_socket_message,
    read_event_history,
)
from .write_path import PendingWrite, Row, StoreWriter

_LOGGER = logging.getLogger(__name__)
#: How long, in event time, a session's summary and the saved state may lag its stored
#: events (they are written at once on any change of state; see `Pipeline._write_due`).
WRITE_EVERY = timedelta(seconds=5)


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


#: Rows in a batch's dedup window past which asking the key index once per fingerprint is
#: cheaper than reading every row (an index lookup costs a few rows' reading).
_ROWS_PER_LOOKUP = 4


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


@dataclass(frozen=True, slots=True)
class PipelineView:
    """What readers on other threads see of the fold, published whole after each batch.

    The writer thread folds into the tracker; the event loop reads this instead, so it never
    sees a half-folded batch or a rebuild in progress (one reference swap, atomic in Python).
    Treat it as read-only: `session` is shared with the stored summary.
    """

    state: SessionState = SessionState.IDLE
    since: datetime | None = None
    #: Why the machine is in its state (`sessions.state_detail`), session or not.
    detail: dict[str, Any] = field(default_factory=lambda: state_detail(None))
    #: When a pending stop becomes a state (the engine's clock ticks then), if one is pending.
    deadline: datetime | None = None
    #: The open session's canonical JSON, or None.
    session: dict[str, Any] | None = None
    equipment: Equipment = field(default_factory=Equipment)
    anomalies: dict[str, int] = field(default_factory=dict)


def in_time_order(events: list[NinaEvent]) -> list[NinaEvent]:
    """Return a batch's events in time order; events sharing a time keep their arrival order.

    The fold is in time order, and only events older than the previous batches count as late
    (stored, then refolded). A batch the writer drained at once may itself be out of order (a
    receive clock stepped back, frames carrying their own time beside stamped ones): folded as
    it came, SEQUENCE-FINISHED before the night's last frame left the night imaging, and a
    rebuild said idle. The stable sort also stores them so, as the store's `ts, id` order
    reads them back. De-duplication notes on its way whether a batch came in order (nearly all
    do): only the others are checked here.
    """
    times = list(map(_time_of, events))
    if all(map(le, times, islice(times, 1, None))):
        return events
    return sorted(events, key=_time_of)


_time_of = attrgetter("time")


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
        #: Sessions folded into since the summaries and the state were last written, and the
        #: event time and normalizer context of that write (see `_write_due`).
        self._dirty: dict[str, Session] = {}
        self._written_at: datetime | None = None
        self._context_written = self.normalizer.snapshot()
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
        raw_events = raw_list(event_history)
        raw_images = raw_list(image_history) if image_history is not None else None
        skip_events = skip_images = 0
        # The overlap re-read for late live copies needs history and live times to compare.
        if self.clock.bounds_overlap and self.writer.pending is None:
            count = image_count(image_history, raw_images)
            skip_events, skip_images = self._resume.start(self.epoch, raw_events, count)
        event_history = read_events = decoded_from(event_history, skip_events)
        image_history = read_images = decoded_from(image_history, skip_images if skip_events else 0)
        raw_events = raw_list(event_history)
        raw_images = raw_list(image_history) if image_history is not None else None
        if skip_events and raw_events is not None and raw_images is not None:
            event_history = tail(event_history, raw_events, skip_events)
            image_history = tail(image_history, raw_images, skip_images)
        history = read_event_history(event_history)
        bad_events = history.rejected
        images: list[ImageRecord] = []
        bad_images = 0
        if image_history is not None:
            images, bad_images = parse_image_history(image_history)
        self.counters.received += skip_events + len(history.names) + bad_events
        if bad_events:
            for _ in range(bad_events):
                self.counters.reject("bad_history_item")
        if bad_images:
            for _ in range(bad_images):
                self.counters.reject("bad_image_record")
        paired = pair_history_images(history, images, self.options.tz)
        self.history_wanted = False
        self.normalizer.start_history()
        if not skip_events:
            # A whole read is the NINA process's life from its start, when it knew nothing:
            # the context the frames in it lack comes from it alone, not from the one live
            # events left (another process's rig after a restart, or later than those frames).
            self.normalizer.forget()
        result = BatchResult()
        events, refused = self.normalizer.normalize_history(history, paired)
        for name, err in refused:
            self._refuse(result, name, err)
        self._take_in(events, Source.HISTORY, result)
        result.duplicates += skip_events
        self.counters.duplicates += skip_events
        self.counters.backfilled += len(result.applied)
        result.rejected += bad_events
        saves = countOf(history.names, IMAGE_SAVE)
        in_order = not (bad_events or bad_images) and saves <= len(images)
        resumable = in_order and self.writer.pending is None
        used = skip_images + saves if resumable else None
        self._resume.took(self.epoch, raw_events, used, (read_events, read_images))
        # Their last references, freed a slice at a time (see gradual_release) by whoever
        # holds the result, once the merge is told (`release`): not before the answer.
        result.parsed = [history.events, history.times, history.names, paired, images]
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
        unique, in_order = self._deduplicate(events, stored)
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
        late = 0 if last is None else bisect_left(unique, last, key=_time_of)
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
    def _deduplicate(
        self, events: Sequence[NinaEvent], stored: bool
    ) -> tuple[list[NinaEvent], bool]:
        """Return the events not seen before, and whether the batch came in time order.

        `stored`: whether the file holds any event. The order is noted on the way (a batch in
        order needs no sort, nor a second pass over its events to prove it: `in_time_order`).
        """
        if not events:
            return [], True
        window = self.options.dedup_window.total_seconds()
        # A fresh file holds no key and no time: a first backfill asks for none of its
        # thousands of keys, nor gathers its times to count its window.
        seen_keys: set[str] = set()
        recent: dict[str, list[float]] = {}
        if stored:
            exact_keys = [event.key for event in events if event.exact]
            if exact_keys:
                seen_keys = self.store.existing_keys(exact_keys)
            recent = self._stored_near(events, window)
        for event in self.writer.seen():  # not in the database yet, but already seen
            if event.exact:
                seen_keys.add(event.key)
            else:
                recent.setdefault(event.fingerprint, []).append(event.ts)
        for times in recent.values():
            times.sort()
        unique: list[NinaEvent] = []
        # Bound once: this loop runs for every event of a batch.
        keep, see, times_of = unique.append, seen_keys.add, recent.get
        # `ts` orders as `time` does (the same instant in microseconds).
        before, in_order = -math.inf, True
        for event in events:
            stamp = event.ts
            if stamp < before:
                in_order = False
            before = stamp
            if event.exact:
                key = event.key
                if key in seen_keys:
                    continue
                see(key)
            else:
                fingerprint = event.fingerprint
                near = times_of(fingerprint)
                if not near:
                    recent[fingerprint] = [stamp]
                elif stamp >= (last := near[-1]):
                    # In time order (nearly every batch) the last time is the nearest one;
                    # the same test as below, without a search and an insertion.
                    if last >= stamp - window:
                        continue
                    near.append(stamp)
                else:
                    at = bisect_left(near, stamp - window)
                    if at < len(near) and near[at] <= stamp + window:
                        continue
                    insort(near, stamp)
            keep(event)
        return unique, in_order

    def _stored_near(self, events: Sequence[NinaEvent], window: float) -> dict[str, list[float]]:
        """Return the times stored near the batch's loose events, by fingerprint."""
        loose = [event for event in events if not event.exact]
        if not loose:
            return {}
        stamps = [event.ts for event in loose]
        low, high = min(stamps) - window, max(stamps) + window
        # Counted in the time index; none stored near (a fresh file, a new night, most live
        # frames) needs neither the spans per fingerprint nor a second read.
        stored = self.store.count_between(low, high)
        if not stored:
            return {}
        spans: dict[str, tuple[float, float]] = {}
        for event in loose:
            ts = event.ts
            span = spans.get(event.fingerprint)
            spans[event.fingerprint] = (
                (ts, ts) if span is None else (min(span[0], ts), max(span[1], ts))
            )
        # Reading the window's rows costs per row, asking the key index per fingerprint: a
        # batch spread over time has few rows in its window, a burst received within a
        # second has every row of the burst in it.
        if stored > _ROWS_PER_LOOKUP * len(spans):
            near = {fp: (first - window, last + window) for fp, (first, last) in spans.items()}
            found = self.store.fingerprint_times(near)
            if found is not None:
                return found
        return self.store.fingerprints_between(low, high)

    def _fold(self, events: Sequence[NinaEvent], result: BatchResult) -> None:
        """Fold new events in order and store them.

        The events are written with every batch; the touched sessions' summaries and the
        state only when something changed (see `_write_due`): what one frame's transaction
        writes must not grow with the session. A crash in between loses nothing: the events
        are stored, and the next start folds those after the saved state again (`_catch_up`).
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
            self._dirty[closed.id] = closed
            result.closed.append(closed)
        if self.tracker.open is not None:
            self._dirty[self.tracker.open.id] = self.tracker.open
        current = self._publish()
        if self._write_due(changed, events[-1].time):
            self._write(rows, self._take_dirty(current), self._state(), result=result)
            return
        if current is not None:
            self.store.stage(current)
        self._write(rows, (), None, result=result)

    def _write_due(self, changed: bool, now: datetime) -> bool:
        """Return whether summaries and state are written now: on a change, else every few s.

        A change is a session opened or closed, a state change or a new normalizer context
        (none of which a restart could refold from the events stored after the saved state
        alone without it). `now` is the event time (replays and tests stay deterministic).
        """
        if changed or self._written_at is None:
            return True
        if now - self._written_at >= WRITE_EVERY:
            return True
        return self.normalizer.snapshot() != self._context_written

    def _take_dirty(
        self, current: dict[str, Any] | None = None
    ) -> list[tuple[Session, dict[str, Any]]]:
        """Summaries of the sessions folded into since the last write; marks them written."""
        open_session = self.tracker.open
        summaries = [
            (session, current)
            if session is open_session and current is not None
            else (session, self._summary(session))
            for session in self._dirty.values()
        ]
        self._dirty = {}
        self._written_at = self.tracker.last_time
        self._context_written = self.normalizer.snapshot()
        return summaries

    def flush(self) -> None:
        """Write the summaries and state held back since the last write (at close)."""
        if self._dirty:
            self._write([], self._take_dirty(), self._state())

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
            if applied.closed is not None:
                self._dirty[applied.closed.id] = applied.closed
            if applied.session_id != stored_in:
                reassign.append((applied.session_id, row_id))
        if self.tracker.open is not None:
            self._dirty[self.tracker.open.id] = self.tracker.open
        _LOGGER.info("Folded %d events stored after the saved state", len(tail))
        try:
            self.store.write_batch((), self._take_dirty(), self._state(), reassign=reassign)
        except sqlite3.Error as err:  # the fold in memory is right; the next write stores it
            self.storage_failures += 1
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

    @property
    def pending_events(self) -> int:
        """Return how many events wait for the database to take them."""
        return self.writer.pending_events

    @property
    def pending_bytes(self) -> int:
        """Return the stored text size of the events waiting (measured at each failed write)."""
        return self.writer.pending.size if self.writer.pending else 0

    @property
    def _pending(self) -> PendingWrite | None:
        return self.writer.pending

    @property
    def storage_error(self) -> str | None:
        """Why the database refuses writes (None when it takes them)."""
        return self.writer.storage_error

    @storage_error.setter
    def storage_error(self, value: str | None) -> None:
        self.writer.storage_error = value

    @property
    def storage_failures(self) -> int:
        """Return how many writes the database refused so far."""
        return self.writer.storage_failures

    @storage_failures.setter
    def storage_failures(self, value: int) -> None:
        self.writer.storage_failures = value

    def _summary(self, session: Session) -> dict[str, Any]:
        """Return a session's canonical JSON (the open one shows the machine's state)."""
        fsm = self.tracker.fsm
        if session is self.tracker.open:
            return session.to_json(fsm.state, fsm)
        return session.to_json(SessionState.IDLE)

    def _publish(self, current: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """Publish the fold for other threads (see `PipelineView`); return the open summary.

        `current` is the open session's summary when the caller already has it.
        """
        fsm, open_session = self.tracker.fsm, self.tracker.open
        if open_session is None:
            current = None
        elif current is None:
            current = open_session.to_json(fsm.state, fsm)
        equipment = replace(fsm.equipment, pause_reasons=list(fsm.equipment.pause_reasons))
        self.view = PipelineView(
            fsm.state,
            fsm.since,
            state_detail(fsm),
            fsm.deadline,
            current,
            equipment,
            dict(fsm.anomalies),
        )
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
        if point is not None:  # sessions before the checkpoint keep their unwritten changes
            kept = {k: v for k, v in self._dirty.items() if v.start.timestamp() < point.ts}
            sessions = kept | sessions
        self._dirty = sessions
        summaries = self._take_dirty(current)
        try:
            self.store.write_batch(
                (), summaries, self._state(), reassign=reassign,
                replace_sessions=point is None,
                replace_from=point.ts if point is not None else None,
            )  # fmt: skip
        except sqlite3.Error as err:
            # The fold in memory is right; the stored sessions follow on the next rebuild.
            self.storage_failures += 1
            self.storage_error = f"{type(err).__name__}: {err}"
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
        for session in (open_session, closed):
            if session is not None and (step.transitions or closed is not None):
                self._dirty[session.id] = session
        if step.transitions or closed is not None:
            current = self._publish()
            self._write([], self._take_dirty(current), self._state())
        elif self._dirty and (self._written_at is None or now - self._written_at >= WRITE_EVERY):
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
