"""De-duplication asks the store only what can be stored there.

A first backfill on a fresh file asked the key index for every frame of the history (8,176
keys of a 20,000-event read, in 17 statements) and read the rows of its dedup window, on a
file that holds no row. A batch whose window holds no stored row (a new night, most live
events) read that empty window a second time after counting it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
import json

from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.store import Store
from simulator.night import history_item, image_record, preset_night
from tests.engine.frames import at, envelope, event

#: What the window and key reads of `Deduplicator.unique` send (not the clock's reads).
_KEYS_READ = "WHERE event_key IN"
_WINDOW_READ = "SELECT event_key, ts FROM session_events WHERE ts BETWEEN"
_WINDOW_COUNT = "SELECT COUNT(*) FROM session_events WHERE ts BETWEEN"


def _statements(store: Store, action: Callable[[], object]) -> list[str]:
    """Return the SQL statements `action` sends on the store's real connection."""
    sent: list[str] = []
    store._db.set_trace_callback(sent.append)  # noqa: SLF001  # the real connection
    try:
        action()
    finally:
        store._db.set_trace_callback(None)  # noqa: SLF001
    return sent


def test_a_first_backfill_on_a_fresh_file_asks_no_key_and_counts_no_window(
    pipeline: Pipeline,
) -> None:
    """Test that a history read into an empty file looks up nothing, and stores it all once.

    Not even the count of its dedup window: gathering the times of its ~12,000 loose events
    to count a window of an empty file cost a third of de-duplicating them.
    """
    events = preset_night("simple").events
    history = envelope([history_item(e) for e in events])
    images = envelope([image_record(e) for e in events if e.name == "IMAGE-SAVE"])

    sent = _statements(pipeline.store, lambda: pipeline.ingest_history(history, images))

    # The clock's own look-up of live twins names a source; de-duplication's does not.
    assert [s for s in sent if _KEYS_READ in s and "source =" not in s] == []
    assert [s for s in sent if _WINDOW_READ in s or _WINDOW_COUNT in s] == []
    assert pipeline.store.counts()["events"] == len(events)
    again = pipeline.ingest_history(history, images)
    assert (again.applied_count, again.duplicates) == (0, len(events))


def test_a_first_backfill_on_a_fresh_file_reads_no_stored_event(pipeline: Pipeline) -> None:
    """Test that a history read into an empty file asks it only for its newest row.

    The clock asked the key index for every frame's live twin (8,176 keys, 6 ms) and read the
    live rows around the batch's loose events, of a file that holds none; with a NINA clock
    known to be off, the history still moves onto ours.
    """
    pipeline.clock.restore({"clock_offset": 30.0, "clock_measured": True})
    events = preset_night("simple").events
    history = envelope([history_item(e) for e in events])
    images = envelope([image_record(e) for e in events if e.name == "IMAGE-SAVE"])

    sent = _statements(pipeline.store, lambda: pipeline.ingest_history(history, images))

    reads = [s for s in sent if s.startswith("SELECT") and "FROM session_events" in s]
    assert reads == ["SELECT max(id) FROM session_events"]
    first = pipeline.store.iter_events()
    assert next(first)[1].time == events[0].time - timedelta(seconds=30)
    assert pipeline.store.counts()["events"] == len(events)


def test_an_empty_window_is_counted_not_read(pipeline: Pipeline) -> None:
    """Test that a live event with no stored row in its window costs one count, no read."""
    pipeline.ingest_frames([(json.dumps(event("GUIDER-DITHER")), at(0))])
    later = at(60)

    sent = _statements(
        pipeline.store,
        lambda: pipeline.ingest_frames([(json.dumps(event("GUIDER-DITHER")), later)]),
    )

    assert len([s for s in sent if _WINDOW_COUNT in s]) == 1
    assert [s for s in sent if _WINDOW_READ in s] == []
    # Within the window it is read, and the repeat collapses.
    repeat = pipeline.ingest_frames(
        [(json.dumps(event("GUIDER-DITHER")), later + timedelta(milliseconds=300))]
    )
    assert (len(repeat.applied), repeat.duplicates) == (0, 1)
