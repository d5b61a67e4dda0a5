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
order.

Clocks: live events are stamped on arrival by our clock, history carries NINA's. The offset
between them is measured from frames seen both ways (a frame's capture time identifies it
exactly). History read before the first measurement (HA starting mid-night) is stored on NINA's
clock and moved onto ours once the offset is known; live events that history shows were
delivered out of order are moved to history's order (`retime`).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
import logging
import sqlite3
from typing import Any

from .errors import FrameError
from .fsm import DEFAULT_GRACE, Equipment, SessionState, Step
from .health import EventCounters
from .models import NinaEvent, Source
from .normalize import IMAGE_SAVE, Normalizer, has_nested, pair_history_images
from .retime import corrected_times, match_late_twins, match_twins
from .sessions import (
    Applied,
    Session,
    SessionTracker,
    restore_tracker,
    state_detail,
    tracker_snapshot,
)
from .store import Store, stored_size
from .wire import (
    ImageRecord,
    WireEvent,
    parse_event_history,
    parse_image_history,
    parse_socket_frame,
    parse_socket_message,
)

_LOGGER = logging.getLogger(__name__)
#: Frame twins (the latest, across backfills) whose median is the clock difference: one read
#: after a NINA restart holds only a few frames, and a stall delays some arrival stamps.
_SKEW_SAMPLES = 50


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


#: One event row as the store writes it: the event, its session id and its history epoch.
_Row = tuple[NinaEvent, str | None, int]
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
class _PendingWrite:
    """Writes the database refused (locked, read-only, full), kept until it takes them."""

    events: list[_Row] = field(default_factory=list)
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


@dataclass(slots=True)
class BatchResult:
    """What one batch changed; the engine broadcasts it to subscribers."""

    applied: list[Applied] = field(default_factory=list)
    closed: list[Session] = field(default_factory=list)
    duplicates: int = 0
    rejected: int = 0
    rebuilt: bool = False
    #: What the live clock made of a stop past its grace period (a tick's result).
    ticked: Step | None = None

    @property
    def changed(self) -> bool:
        """Return whether the batch applied, closed or rebuilt anything."""
        return bool(self.applied or self.closed or self.rebuilt or self.ticked)


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


class Pipeline:
    """Owns the normalizer, the tracker and the store's write path."""

    def __init__(
        self, store: Store, options: PipelineOptions, counters: EventCounters | None = None
    ) -> None:
        """Initialize on `store`, resuming the state saved there, if any."""
        self.store = store
        self.options = options
        # Shared with the connection health, so one object reports every count.
        self.counters = counters or EventCounters()
        #: Out-of-order events seen, and fold recomputations they caused.
        self.late_events = 0
        self.rebuilds = 0
        #: Failed writes waiting for the database; `storage_error` says why (None when fine).
        self._pending: _PendingWrite | None = None
        self.storage_error: str | None = None
        self.storage_failures = 0
        #: NINA's clock minus ours, in seconds, as last measured from frame twins; until the
        #: first measurement, history is stored on NINA's clock (moved once it is known).
        self.clock_offset = 0.0
        self.clock_measured = False
        #: Frame key → (our arrival time, NINA's time minus it), the latest _SKEW_SAMPLES.
        self._offset_samples: dict[str, tuple[float, float]] = {}
        #: When the socket last opened (our clock), the latest time of a plain history event
        #: stored from after it, and those rows whose live copy has arrived since (see
        #: `_drop_late_copies`: live batches look for late copies only near such rows).
        self.live_since: float | None = None
        self._history_after_open: float | None = None
        self._claimed: set[str] = set()
        #: A live frame arrived on an unmeasured clock: the next history read measures it, so
        #: the engine reads history soon instead of at the periodic read. Once per connection.
        self.history_wanted = False
        self._history_asked = False
        #: The live clock's latest reading (`tick`): a refold applies it too.
        self._last_tick: datetime | None = None
        #: NINA process lifetime counter: history restarts empty when NINA restarts.
        self.epoch = 0
        self.normalizer = Normalizer(options.tz)
        self.tracker = self._new_tracker()
        saved = store.load_state()
        if saved is not None:
            restore_tracker(self.tracker, saved["tracker"])
            self.normalizer.restore(saved.get("context", {}))
            self.clock_offset = saved.get("clock_offset", 0.0)
            self.clock_measured = saved.get("clock_measured", self.clock_offset != 0.0)
        self.view = PipelineView()
        self._publish(())

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

    def ingest_history(self, event_history: Any, image_history: Any) -> BatchResult:
        """Ingest the plugin's `/event-history` and `/image-history?all=true` payloads."""
        events, bad_events = parse_event_history(event_history)
        images: list[ImageRecord] = []
        bad_images = 0
        if image_history is not None:
            images, bad_images = parse_image_history(image_history)
        self.counters.received += len(events) + bad_events
        if bad_events:
            for _ in range(bad_events):
                self.counters.reject("bad_history_item")
        if bad_images:
            for _ in range(bad_images):
                self.counters.reject("bad_image_record")
        paired = pair_history_images(events, images, self.options.tz)
        self.history_wanted = False
        self.normalizer.start_history()
        result = self.ingest(events, Source.HISTORY, paired)
        self.counters.backfilled += len(result.applied)
        result.rejected += bad_events
        return result

    def ingest(
        self,
        wires: Sequence[WireEvent],
        source: Source,
        images: Sequence[ImageRecord | None] | None = None,
    ) -> BatchResult:
        """Normalize, de-duplicate, fold and store one batch in one transaction."""
        result = BatchResult()
        events: list[NinaEvent] = []
        for index, wire in enumerate(wires):
            try:
                image = images[index] if images is not None else None
                events.append(self.normalizer.normalize(wire, source, image))
            except FrameError as err:
                result.rejected += 1
                self.counters.reject(err.reason)
                _LOGGER.debug("Rejected %s: %s", wire.name, err)
        # Stored events may move (onto our clock, or into history's order): then refold.
        moved = False
        if source == Source.HISTORY:
            events, moved = self._align_clock(events)
        elif not self.clock_measured:
            moved = self._measure_clock_live(events)
            if not self.clock_measured and not self._history_asked:
                self.history_wanted = self._history_asked = any(e.exact for e in events)
        unique = self._deduplicate(events)
        if source == Source.HISTORY:
            unique = self._drop_sparse_twins(events, unique)
            unique, reordered = self._pair_with_live(events, unique)
            moved = reordered or moved
            self._note_history_after_open(unique)
        else:
            unique = self._drop_late_copies(events, unique)
        result.duplicates = len(events) - len(unique)
        self.counters.duplicates += result.duplicates
        if not unique and not moved:
            return result
        for event in unique:
            self.counters.count_type(event.name)
        self.counters.processed += len(unique)
        last = self.tracker.last_time
        late = [event for event in unique if last is not None and event.time < last]
        if late or moved:
            self.late_events += len(late)
            result.applied = [Applied(e, None) for e in unique]
            rows: list[_Row] = [(e, None, self.epoch) for e in unique]
            if self._write(rows, (), None, rebuild=True, result=result):
                self.rebuild()
                result.rebuilt = True
            return result
        self._fold(unique, result)
        return result

    # -- steps -------------------------------------------------------------------------
    def _align_clock(self, events: list[NinaEvent]) -> tuple[list[NinaEvent], bool]:
        """Move history times onto our clock when NINA's clock is off.

        Frames stored live and seen again in history (same capture, exact identity) measure
        the difference; when it exceeds half the dedup window, history times are shifted by it
        so the other events' twins still fall inside the window. Returns the events and
        whether stored events moved (see `_measured`).
        """
        exact = {event.key: event for event in events if event.exact}
        stored = self.store.times_for_keys(list(exact), Source.LIVE) if exact else {}
        moved = False
        if stored:
            samples = {k: (ts, exact[k].time.timestamp() - ts) for k, ts in stored.items()}
            moved = self._measured(self._offset_from(samples))
        if not self._clock_is_off():
            return events, moved
        shift = timedelta(seconds=self.clock_offset)
        return [replace(event, time=event.time - shift) for event in events], moved

    def _clock_is_off(self) -> bool:
        return abs(self.clock_offset) > self.options.dedup_window.total_seconds() / 2

    def _measure_clock_live(self, events: Sequence[NinaEvent]) -> bool:
        """Measure the offset from live frames already stored from history.

        On the first connect the history is read before any frame arrives live, so the first
        twins are live frames whose history copy is stored (frames sent between the socket
        opening and the history read). Returns whether stored events moved.
        """
        exact = {event.key: event for event in events if event.exact}
        stored = self.store.times_for_keys(list(exact), Source.HISTORY) if exact else {}
        if not stored:
            return False
        arrivals = {key: exact[key].time.timestamp() for key in stored}
        samples = {k: (arrivals[k], ts - arrivals[k]) for k, ts in stored.items()}
        return self._measured(self._offset_from(samples))

    def _offset_from(self, samples: dict[str, tuple[float, float]]) -> float:
        """Add frame twins to the latest ones seen; return the median offset of those."""
        kept = self._offset_samples
        kept.update(samples)
        if len(kept) > _SKEW_SAMPLES:
            latest = sorted(kept, key=lambda key: kept[key][0])[-_SKEW_SAMPLES:]
            self._offset_samples = kept = {key: kept[key] for key in latest}
        offsets = sorted(offset for _, offset in kept.values())
        return offsets[len(offsets) // 2]

    def _measured(self, offset: float) -> bool:
        """Take a measured clock offset; return whether stored events moved.

        The first measurement moves the history stored before it, on NINA's clock, onto ours.
        """
        self.clock_offset = offset
        if self.clock_measured:
            return False
        self.clock_measured = True
        if not self._clock_is_off():
            return False
        provisional = self.store.times_from(Source.HISTORY)
        _LOGGER.info(
            "NINA's clock is %.1f s off ours; moving %d events read from its history before "
            "that was known", offset, len(provisional),
        )  # fmt: skip
        moved = self._retime({key: ts - offset for key, (_, ts) in provisional.items()})
        if moved is None:
            self.clock_measured = False  # measured again by the next twin
            return False
        # A backfill before the measurement missed the live twins it now meets: drop those.
        window = self.options.dedup_window.total_seconds()
        try:
            dropped = self.store.drop_twins(moved, Source.LIVE, window)
        except sqlite3.Error as err:
            self.storage_failures += 1
            _LOGGER.warning("Cannot drop history events that duplicate live ones: %s", err)
        else:
            if dropped:
                _LOGGER.info("Dropped %d history events that duplicate live ones", dropped)
        return bool(moved)

    def _pair_with_live(
        self, events: Sequence[NinaEvent], unique: list[NinaEvent]
    ) -> tuple[list[NinaEvent], bool]:
        """Pair a history batch with the stored live events it duplicates (see `retime`).

        `events` is the batch on our clock, `unique` the ones without a twin in the dedup
        window. Live events stamped late (our loop blocked) are paired too: a new history copy
        is dropped; where the history copy was stored first (read before the live one
        arrived), the live row goes. Live events stored out of history's order move into it.
        Returns the events still new and whether stored events moved.
        """
        window = self.options.dedup_window.total_seconds()
        kept = {id(event) for event in unique}
        seen = [event for event in events if id(event) not in kept]
        plain = [event for event in unique if not event.exact]
        if len(seen) < 2 and not plain:
            return unique, False
        stamps = [event.time.timestamp() for event in (*seen, *plain)]
        late = self.options.late_tolerance.total_seconds()
        live = self.store.times_from(Source.LIVE, min(stamps) - window, max(stamps) + late)
        pairs = match_twins(seen, live, window)
        twins = [twin for _, twin in pairs]
        paired = {twin.key for twin in twins}
        unpaired = {key: row for key, row in live.items() if key not in paired}
        dropped = False
        if unpaired:
            met = {id(event) for event, _ in pairs}
            late_pairs = match_late_twins(
                [*plain, *self._stored_alone(seen, met)], unpaired, window, late, twins
            )
            gone = {id(event) for event, _ in late_pairs}
            unique = [event for event in unique if id(event) not in gone]
            twins.extend(twin for event, twin in late_pairs if id(event) in kept)
            stored_first = [(e, t) for e, t in late_pairs if id(e) not in kept]
            dropped = self._drop_live([twin.key for _, twin in stored_first])
            # Those history rows have had their live copy: no later live event is one too
            # (one to one, as on the live path).
            self._claimed.update(event.key for event, _ in stored_first)
            if late_pairs:
                _LOGGER.debug("%d live events were read late; history has them", len(late_pairs))
        return unique, bool(self._retime(corrected_times(twins))) or dropped

    def socket_opened(self, at: datetime) -> None:
        """Note that the socket (re)opened: NINA sends live everything it does from now on."""
        self.live_since = at.timestamp()
        self._history_after_open = None
        self._claimed.clear()
        self._history_asked = False

    def _note_history_after_open(self, stored: Sequence[NinaEvent]) -> None:
        """Remember how late the plain history events stored from after the socket opened go."""
        if self.live_since is None:
            return
        start = self.live_since - self.options.dedup_window.total_seconds()
        times = [e.time.timestamp() for e in stored if not e.exact and e.time.timestamp() >= start]
        if times and self._history_after_open is not None:
            times.append(self._history_after_open)
        if times:
            self._history_after_open = max(times)

    def _drop_late_copies(
        self, events: Sequence[NinaEvent], unique: list[NinaEvent]
    ) -> list[NinaEvent]:
        """Drop live events read late whose history copy the backfill stored first.

        An event NINA sent after the socket opened is in the history read just after; if our
        loop reads its live copy more than the dedup window late, the copy misses that window.
        Every such history row gets exactly one live copy, in order: each live event claims
        the earliest unclaimed history row of its content from after the socket opened, first
        inside the dedup window (its on-time copy, deduplicated anyway), else, if it met no
        twin at all, up to `late_tolerance` before its stamp (a late copy: dropped). Only on a
        measured clock: before that, history times are NINA's and "after the socket opened"
        cannot be told. What this cannot pair, the next history read does (`_pair_with_live`).
        """
        plain = [event for event in events if not event.exact]
        latest = self._history_after_open
        if not plain or latest is None or self.live_since is None or not self.clock_measured:
            return unique
        window = self.options.dedup_window.total_seconds()
        tolerance = self.options.late_tolerance.total_seconds()
        stamps = [event.time.timestamp() for event in plain]
        if min(stamps) - tolerance > latest:
            return unique  # past every such row: the live path skips the query from now on
        start = max(self.live_since - window, min(stamps) - tolerance)
        waiting: dict[str, list[tuple[float, str]]] = {}
        for key, (fingerprint, ts) in self.store.times_from(
            Source.HISTORY, start, max(stamps) + window
        ).items():
            if key not in self._claimed:
                waiting.setdefault(fingerprint, []).append((ts, key))
        if not waiting:
            return unique
        for rows in waiting.values():
            rows.sort()
        new = {id(event) for event in unique}
        late: set[int] = set()
        for event in plain:
            ts = event.time.timestamp()
            rows = waiting.get(event.fingerprint, [])
            on_time = next((row for row in rows if abs(row[0] - ts) <= window), None)
            if on_time is not None:
                rows.remove(on_time)
                self._claimed.add(on_time[1])
            elif id(event) in new and not has_nested(event.data):
                # An event with nested objects cannot be told from another of its kind in a
                # history that hides them (placeholders): a different filter change whose live
                # copy was lost would pass for this one's late copy, and one of them be lost.
                # Here they get no late pairing (a late copy is dropped by the next history
                # read's pairing, which weighs the order of the twins around it).
                older = next((row for row in rows if ts - tolerance <= row[0] < ts), None)
                if older is not None:
                    rows.remove(older)
                    self._claimed.add(older[1])
                    late.add(id(event))
        if not late:
            return unique
        _LOGGER.debug("%d live events were read late; their history copy is stored", len(late))
        return [event for event in unique if id(event) not in late]

    def _drop_sparse_twins(
        self, events: Sequence[NinaEvent], unique: list[NinaEvent]
    ) -> list[NinaEvent]:
        """Drop history frames with no image record whose live copy is stored.

        A history IMAGE-SAVE is only `Event` and `Time`; without its image record (missing
        from the image history) it has no capture time to be matched by, while its live copy
        is stored under that capture time. Each such frame takes the nearest stored live frame
        within the dedup window that no history frame of this batch claimed, one to one.
        """
        sparse = [e for e in unique if e.frame is not None and not e.exact]
        if not sparse:
            return unique
        window = self.options.dedup_window.total_seconds()
        stamps = [event.time.timestamp() for event in sparse]
        claimed = {event.key for event in events if event.exact}
        pool = sorted(
            ts
            for key, (fingerprint, ts) in self.store.times_from(
                Source.LIVE, min(stamps) - window, max(stamps) + window
            ).items()
            if fingerprint.startswith(IMAGE_SAVE) and key not in claimed
        )
        twins: set[int] = set()
        for event, stamp in zip(sparse, stamps, strict=True):
            near = [ts for ts in pool if abs(ts - stamp) <= window]
            if near:
                pool.remove(min(near, key=lambda ts: abs(ts - stamp)))
                twins.add(id(event))
        return [event for event in unique if id(event) not in twins]

    def _stored_alone(self, seen: Sequence[NinaEvent], met: set[int]) -> list[NinaEvent]:
        """Plain history events stored as history that met no live twin, and never had one.

        A row whose live copy was already taken (`_claimed`) has had its one copy.
        """
        alone = [
            event
            for event in seen
            if not event.exact and id(event) not in met and event.key not in self._claimed
        ]
        if not alone:
            return []
        stored = self.store.times_for_keys([event.key for event in alone], Source.HISTORY)
        return [event for event in alone if event.key in stored]

    def _drop_live(self, keys: list[str]) -> bool:
        """Delete live rows whose history copy was stored first; whether any went."""
        if not keys:
            return False
        try:
            deleted = self.store.delete(keys)
        except sqlite3.Error as err:
            self.storage_failures += 1
            _LOGGER.warning(
                "Cannot drop live events stored twice (%s); the next backfill will", err
            )
            return False
        self.counters.duplicates += deleted
        return deleted > 0

    def _retime(self, moves: dict[str, float]) -> list[str] | None:
        """Move stored events; their keys now, or None when the database refused."""
        if not moves:
            return []
        try:
            moved = self.store.retime(moves)
        except sqlite3.Error as err:
            self.storage_failures += 1
            _LOGGER.warning("Cannot correct stored event times (%s); the next backfill will", err)
            return None
        _LOGGER.debug("Moved %d stored events to NINA's times", len(moved))
        return moved

    def _deduplicate(self, events: Sequence[NinaEvent]) -> list[NinaEvent]:
        if not events:
            return []
        exact_keys = [event.key for event in events if event.exact]
        seen_keys = self.store.existing_keys(exact_keys) if exact_keys else set()
        window = self.options.dedup_window.total_seconds()
        loose = [event.time.timestamp() for event in events if not event.exact]
        recent: dict[str, list[float]] = {}
        if loose:
            recent = self.store.fingerprints_between(min(loose) - window, max(loose) + window)
        if self._pending is not None:  # not in the database yet, but already seen
            for event, _, _ in self._pending.events:
                if event.exact:
                    seen_keys.add(event.key)
                else:
                    recent.setdefault(event.fingerprint, []).append(event.time.timestamp())
        for times in recent.values():
            times.sort()
        unique: list[NinaEvent] = []
        for event in events:
            if event.exact:
                if event.key in seen_keys:
                    continue
                seen_keys.add(event.key)
            else:
                stamp = event.time.timestamp()
                times = recent.setdefault(event.fingerprint, [])
                at = bisect_left(times, stamp - window)
                if at < len(times) and times[at] <= stamp + window:
                    continue
                insort(times, stamp)
            unique.append(event)
        return unique

    def _fold(self, events: Sequence[NinaEvent], result: BatchResult) -> None:
        rows: list[tuple[NinaEvent, str | None, int]] = []
        touched: dict[str, Session] = {}
        for event in events:
            applied = self.tracker.apply(event)
            result.applied.append(applied)
            rows.append((applied.event, applied.session_id, self.epoch))
            if applied.closed is not None:
                touched[applied.closed.id] = applied.closed
                result.closed.append(applied.closed)
            if self.tracker.open is not None:
                touched[self.tracker.open.id] = self.tracker.open
        summaries = self._summaries(touched.values())
        self._publish(summaries)
        self._write(rows, summaries, self._state(), result=result)

    def _write(
        self,
        events: list[tuple[NinaEvent, str | None, int]],
        sessions: Iterable[tuple[Session, dict[str, Any]]],
        state: tuple[str, dict[str, Any]] | None,
        *,
        rebuild: bool = False,
        result: BatchResult | None = None,
    ) -> bool:
        """Write one batch, with whatever earlier batches the database refused.

        Every write is idempotent (unique event keys, session upserts, one state row), so a
        refused batch is simply written again later, merged with the next one. A row the
        database cannot take costs only that row (see `_write_isolating`); it is counted as
        rejected and the fold is recomputed from what was stored. Returns whether the
        database took the batch.
        """
        pending = self._pending or _PendingWrite()
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
            self._pending = pending
            return False
        self._pending = None
        if pending.dropped:  # now the database takes them, history brings them back
            _LOGGER.info("Reading history to repair %d dropped live events", pending.dropped)
            self.history_wanted = True
        if refused:
            self._refused(refused, result)
        if self.storage_error is not None:
            _LOGGER.info("Writing to %s works again", self.store.path.name)
            self.storage_error = None
        if (refused or pending.rebuild) and not rebuild:
            self.rebuild()  # the fold follows what was stored
            if result is not None:
                result.rebuilt = True
        return True

    def _keep_within_budget(self, pending: _PendingWrite) -> None:
        """Drop the oldest live events past the byte budget (history has them all, in order).

        History events are kept: a history read is bounded by its own byte cap, and dropping
        them would leave nothing to repair them from.
        """
        excess = pending.size - self.options.max_pending_bytes
        if excess <= 0:
            return
        kept: list[_Row] = []
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
                self.store.path.name, self.options.max_pending_bytes,
            )  # fmt: skip
        pending.events, pending.sizes = kept, sizes
        pending.dropped += dropped
        pending.rebuild = True  # the fold counted them: it follows what was stored

    def _write_isolating(self, pending: _PendingWrite) -> list[tuple[_Row, Exception]]:
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

    def _bisect(self, rows: list[_Row]) -> list[tuple[_Row, Exception]]:
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

    def _refused(self, refused: list[tuple[_Row, Exception]], result: BatchResult | None) -> None:
        """Count and log the rows the database refused; they are not in the result either."""
        for (event, _, _), err in refused:
            self.counters.unprocess(event.name)
            self.counters.reject("unstorable")
            _LOGGER.debug("Cannot store %r at %s: %r", event.name, event.time, err)
        (event, _, _), err = refused[0]
        _LOGGER.warning(
            "Cannot store %d events (first: %r at %s, %s: %s); stored the others",
            len(refused), event.name, event.time, type(err).__name__, err,
        )  # fmt: skip
        if result is not None:
            gone = {id(event) for (event, _, _), _ in refused}
            result.applied = [a for a in result.applied if id(a.event) not in gone]
            result.rejected += len(refused)

    def retry_pending(self) -> bool:
        """Try the refused writes again (the engine's clock calls this)."""
        return self._pending is None or self._write([], (), None)

    @property
    def pending_events(self) -> int:
        """Return how many events wait for the database to take them."""
        return len(self._pending.events) if self._pending else 0

    @property
    def pending_bytes(self) -> int:
        """Return the stored text size of the events waiting (measured at each failed write)."""
        return self._pending.size if self._pending else 0

    def _summaries(self, sessions: Iterable[Session]) -> list[tuple[Session, dict[str, Any]]]:
        open_session = self.tracker.open
        state = self.tracker.fsm.state
        fsm = self.tracker.fsm
        return [
            (s, s.to_json(state, fsm) if s is open_session else s.to_json(SessionState.IDLE))
            for s in sessions
        ]

    def _publish(self, summaries: Sequence[tuple[Session, dict[str, Any]]]) -> None:
        """Publish the fold for other threads (see `PipelineView`), reusing a summary."""
        fsm, open_session = self.tracker.fsm, self.tracker.open
        current = None
        if open_session is not None:
            current = next((json for s, json in summaries if s is open_session), None)
            if current is None:
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

    def _state(self) -> tuple[str, dict[str, Any]]:
        snapshot = {
            "tracker": tracker_snapshot(self.tracker),
            "context": self.normalizer.snapshot(),
            "clock_offset": self.clock_offset,
            "clock_measured": self.clock_measured,
        }
        return self.tracker.fsm.state.value, snapshot

    def rebuild(self) -> None:
        """Recompute every session and the current state from the stored events."""
        self.rebuilds += 1
        tracker = self._new_tracker()
        sessions: dict[str, Session] = {}
        reassign: list[tuple[str | None, int]] = []
        for row_id, event in self.store.iter_events():
            applied = tracker.apply(event)
            reassign.append((applied.session_id, row_id))
            if applied.opened is not None:
                sessions[applied.opened.id] = applied.opened
        # The fold leaves the last session open: only the clock closes it. One that had ended
        # stays ended, or the next tick would announce its end again.
        last = tracker.open
        if last is not None and (self.store.session(last.id) or {}).get("end") is not None:
            tracker.close()
        if self._last_tick is not None:  # what the clock already made of a pending stop
            tracker.expire(self._last_tick)
        self.tracker = tracker
        summaries = self._summaries(sessions.values())
        self._publish(summaries)
        try:
            self.store.write_batch(
                (), summaries, self._state(),
                reassign=reassign, replace_sessions=True,
            )  # fmt: skip
        except sqlite3.Error as err:
            # The fold in memory is right; the stored sessions follow on the next rebuild.
            self.storage_failures += 1
            self.storage_error = f"{type(err).__name__}: {err}"
            _LOGGER.warning("Cannot store the rebuilt sessions: %s", err)
            return
        _LOGGER.info("Rebuilt %d sessions from stored events", len(sessions))

    def tick(self, now: datetime) -> BatchResult:
        """Live clock: a stop past its grace period becomes a state; an idle session closes."""
        self._last_tick = now
        open_session = self.tracker.open
        step, closed = self.tracker.tick(now)
        result = BatchResult(closed=[closed] if closed else [])
        if step.transitions:
            result.ticked = step
        if step.transitions or closed is not None:
            touched = {id(s): s for s in (open_session, closed) if s is not None}
            summaries = self._summaries(touched.values())
            self._publish(summaries)
            self._write([], summaries, self._state())
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
