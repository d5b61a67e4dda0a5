"""NINA's clock against ours: measured from frame twins, and applied to history and live.

Live events are stamped on arrival by our clock; history carries NINA's. A frame's capture
time identifies it exactly, so a frame stored one way and seen again the other way measures
the offset between the two clocks (the median of the latest `SKEW_SAMPLES` such twins). History
read before the first measurement (HA starting mid-night) is stored on NINA's clock and moved
onto ours once the offset is known.

With the clocks aligned, a history batch is paired with the live events it duplicates: sparse
history frames with their live copies, plain events within the twin window, late live copies
(our loop blocked; see `late_copies`), and live events that history shows were delivered out
of order move to history's order (`retime`). Stored events move or go through the store
directly; the pipeline refolds when they did.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
import logging
import sqlite3
from typing import Any

from .health import EventCounters
from .late_copies import LateCopies, match_late_twins
from .models import NinaEvent, Source
from .normalize import IMAGE_SAVE
from .retime import corrected_times, match_twins
from .store import Store
from .write_path import StoreWriter

_LOGGER = logging.getLogger(__name__)
#: Frame twins (the latest, across backfills) whose median is the clock difference: one read
#: after a NINA restart holds only a few frames, and a stall delays some arrival stamps.
SKEW_SAMPLES = 50


class ClockAlignment:
    """Measures NINA's clock offset and pairs history with the live events it duplicates."""

    def __init__(
        self,
        writer: StoreWriter,
        counters: EventCounters,
        dedup_window: timedelta,
        twin_window: timedelta,
        late_tolerance: timedelta,
    ) -> None:
        """Align on `writer`'s store; a refused move counts in its `storage_failures`."""
        self._writer = writer
        self._counters = counters
        self._dedup_window = dedup_window.total_seconds()
        self._twin_window = twin_window.total_seconds()
        self._late_tolerance = late_tolerance.total_seconds()
        #: NINA's clock minus ours, in seconds, as last measured from frame twins; until the
        #: first measurement, history is stored on NINA's clock (moved once it is known).
        self.offset = 0.0
        self.measured = False
        #: Frame key → (our arrival time, NINA's time minus it), the latest SKEW_SAMPLES.
        self._samples: dict[str, tuple[float, float]] = {}
        #: Live events read late and their history copies, both ways (one rule, one set of
        #: claims: see `late_copies`).
        self.late_copies = LateCopies(writer.store, self._twin_window, self._late_tolerance)
        #: Whether a live event came on this pipeline, and whether this connection already
        #: asked for a history read to measure the clock.
        self.live_seen = False
        self._history_asked = False

    @property
    def store(self) -> Store:
        """Return the store whose events are measured and moved (the writer's)."""
        return self._writer.store

    def use_store(self, store: Store) -> None:
        """Look in another store from now on (the writer already writes to it)."""
        self.late_copies.store = store

    def restore(self, saved: dict[str, Any]) -> None:
        """Take the offset saved with the pipeline's state."""
        self.offset = saved.get("clock_offset", 0.0)
        self.measured = saved.get("clock_measured", self.offset != 0.0)

    def snapshot(self) -> dict[str, Any]:
        """Return what `restore` takes back (saved with the pipeline's state)."""
        return {"clock_offset": self.offset, "clock_measured": self.measured}

    @property
    def bounds_overlap(self) -> bool:
        """Whether history and live times compare, so a re-read's overlap can be bounded.

        Unmeasured, they differ by an unknown amount (no live event yet: nothing to meet).
        """
        return self.measured or not self.live_seen

    def socket_opened(self, at: datetime) -> None:
        """Note that the socket (re)opened: NINA sends live everything it does from now on."""
        self.late_copies.socket_opened(at.timestamp())
        self._history_asked = False

    # -- live batches ------------------------------------------------------------------
    def measure_live(self, events: Sequence[NinaEvent], source: Source) -> bool:
        """Measure the offset from live frames already stored from history, if unmeasured.

        On the first connect the history is read before any frame arrives live, so the first
        twins are live frames whose history copy is stored (frames sent between the socket
        opening and the history read). Returns whether stored events moved.
        """
        self.live_seen = self.live_seen or (source == Source.LIVE and bool(events))
        if self.measured:
            return False
        exact = {event.key: event for event in events if event.exact}
        stored = self.store.times_for_keys(list(exact), Source.HISTORY) if exact else {}
        if not stored:
            return False
        arrivals = {key: exact[key].ts for key in stored}
        samples = {k: (arrivals[k], ts - arrivals[k]) for k, ts in stored.items()}
        return self._take(self._offset_from(samples))

    def wants_history(self, events: Sequence[NinaEvent]) -> bool:
        """Whether a history read should come soon: a frame arrived on an unmeasured clock.

        The next history read measures the clock with it. Asked once per connection.
        """
        if self.measured or self._history_asked:
            return False
        self._history_asked = any(event.exact for event in events)
        return self._history_asked

    def drop_late_live(
        self, events: Sequence[NinaEvent], unique: list[NinaEvent]
    ) -> list[NinaEvent]:
        """Drop live events read late whose history copy is stored (`LateCopies.drop_late`)."""
        return self.late_copies.drop_late(events, unique, self.measured)

    # -- history batches ---------------------------------------------------------------
    def align_history(
        self, events: list[NinaEvent], stored_any: bool = True
    ) -> tuple[list[NinaEvent], bool]:
        """Move history times onto our clock when NINA's clock is off.

        Frames stored live and seen again in history (same capture, exact identity) measure
        the difference; when it exceeds half the dedup window, history times are shifted by it
        so the other events' twins still fall inside the window. Returns the events and
        whether stored events moved (see `_take`). `stored_any`: whether the file holds any
        event (none: no frame to measure by, and the offset known so far applies).
        """
        moved = False
        if stored_any:
            exact = {event.key: event for event in events if event.exact}
            stored = self.store.times_for_keys(list(exact), Source.LIVE) if exact else {}
            if stored:
                samples = {k: (ts, exact[k].ts - ts) for k, ts in stored.items()}
                moved = self._take(self._offset_from(samples))
        if not self._is_off():
            return events, moved
        shift = timedelta(seconds=self.offset)
        return [event.moved_to(event.time - shift) for event in events], moved

    def pair_history(
        self, events: Sequence[NinaEvent], unique: list[NinaEvent], stored_any: bool = True
    ) -> tuple[list[NinaEvent], bool]:
        """Drop the history events whose live copy is stored; move live ones into its order.

        `events` is the aligned batch, `unique` the ones de-duplication let through. Returns
        the events still new and whether stored events moved or went. `stored_any`: whether
        the file holds any event (none: no live copy to pair with, nothing to move).
        """
        moved = False
        if stored_any:
            unique = self._drop_sparse_twins(events, unique)
            unique, moved = self._pair_with_live(events, unique)
        self.late_copies.note_history(unique)
        return unique, moved

    # -- measuring ---------------------------------------------------------------------
    def _is_off(self) -> bool:
        return abs(self.offset) > self._dedup_window / 2

    def _offset_from(self, samples: dict[str, tuple[float, float]]) -> float:
        """Add frame twins to the latest ones seen; return the median offset of those."""
        kept = self._samples
        kept.update(samples)
        if len(kept) > SKEW_SAMPLES:
            latest = sorted(kept, key=lambda key: kept[key][0])[-SKEW_SAMPLES:]
            self._samples = kept = {key: kept[key] for key in latest}
        offsets = sorted(offset for _, offset in kept.values())
        return offsets[len(offsets) // 2]

    def _take(self, offset: float) -> bool:
        """Take a measured clock offset; return whether stored events moved.

        The first measurement moves the history stored before it, on NINA's clock, onto ours.
        """
        self.offset = offset
        if self.measured:
            return False
        self.measured = True
        if not self._is_off():
            return False
        provisional = self.store.times_from(Source.HISTORY)
        _LOGGER.info(
            "NINA's clock is %.1f s off ours; moving %d events read from its history before "
            "that was known", offset, len(provisional),
        )  # fmt: skip
        moved = self._retime({key: ts - offset for key, (_, ts) in provisional.items()})
        if moved is None:
            self.measured = False  # measured again by the next twin
            return False
        # A backfill before the measurement missed the live twins it now meets: drop those.
        try:
            dropped = self.store.drop_twins(moved, Source.LIVE, self._twin_window)
        except sqlite3.Error as err:
            self._writer.storage_failures += 1
            _LOGGER.warning("Cannot drop history events that duplicate live ones: %s", err)
        else:
            if dropped:
                _LOGGER.info("Dropped %d history events that duplicate live ones", dropped)
        return bool(moved)

    # -- pairing -----------------------------------------------------------------------
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
        window = self._twin_window
        # De-duplication keeps events in order: as many kept as read is every one (a first
        # backfill), with no set of ids to build for it.
        kept = {id(event) for event in unique} if len(unique) != len(events) else None
        seen = [event for event in events if id(event) not in kept] if kept is not None else []
        plain = [event for event in unique if not event.exact]
        if len(seen) < 2 and not plain:
            return unique, False
        stamps = [event.ts for event in (*seen, *plain)]
        late = self._late_tolerance
        live = self.store.times_from(Source.LIVE, min(stamps) - window, max(stamps) + late)
        pairs = match_twins(seen, live, window)
        twins = [twin for _, twin in pairs]
        paired = {twin.key for twin in twins}
        unpaired = {key: row for key, row in live.items() if key not in paired}
        dropped = False
        if unpaired:
            kept = kept if kept is not None else {id(event) for event in unique}
            met = {id(event) for event, _ in pairs}
            late_pairs = match_late_twins(
                [*plain, *self.late_copies.stored_alone(seen, met)], unpaired, window, late, twins
            )
            gone = {id(event) for event, _ in late_pairs}
            unique = [event for event in unique if id(event) not in gone]
            twins.extend(twin for event, twin in late_pairs if id(event) in kept)
            stored_first = [(e, t) for e, t in late_pairs if id(e) not in kept]
            dropped = self._drop_live([twin.key for _, twin in stored_first])
            # Those history rows have had their live copy: no later live event is one too
            # (one to one, as on the live path).
            self.late_copies.claimed.update(event.key for event, _ in stored_first)
            if late_pairs:
                _LOGGER.debug("%d live events were read late; history has them", len(late_pairs))
        return unique, bool(self._retime(corrected_times(twins))) or dropped

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
        window = self._twin_window
        stamps = [event.ts for event in sparse]
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

    # -- moving stored events ----------------------------------------------------------
    def _drop_live(self, keys: list[str]) -> bool:
        """Delete live rows whose history copy was stored first; whether any went."""
        if not keys:
            return False
        try:
            deleted = self.store.delete(keys)
        except sqlite3.Error as err:
            self._writer.storage_failures += 1
            _LOGGER.warning(
                "Cannot drop live events stored twice (%s); the next backfill will", err
            )
            return False
        self._counters.duplicates += deleted
        return deleted > 0

    def _retime(self, moves: dict[str, float]) -> list[str] | None:
        """Move stored events; their keys now, or None when the database refused."""
        if not moves:
            return []
        try:
            moved = self.store.retime(moves)
        except sqlite3.Error as err:
            self._writer.storage_failures += 1
            _LOGGER.warning("Cannot correct stored event times (%s); the next backfill will", err)
            return None
        _LOGGER.debug("Moved %d stored events to NINA's times", len(moved))
        return moved
