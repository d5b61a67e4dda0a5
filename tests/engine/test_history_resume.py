"""A history re-read of the same NINA process parses only what the last read did not take in."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import Any

from custom_components.nina_session.engine.pipeline import BatchResult, Pipeline
from custom_components.nina_session.engine.store import Store
from simulator.night import SimEvent, history_item, image_record, preset_night, socket_text
from tests.engine.conftest import OPTIONS
from tests.engine.frames import envelope

#: Items at the start of a re-read that the pipeline must not parse again (they would be
#: rejected if it did): far more than the overlap before the last item taken.
HIDDEN = 10


def _read(pipeline: Pipeline, events: list[SimEvent], hide: int = 0) -> BatchResult:
    items: list[Any] = [history_item(event) for event in events]
    items[:hide] = [{"Event": 7}] * hide  # no Time: unreadable
    images = [image_record(event) for event in events if event.name == "IMAGE-SAVE"]
    return pipeline.ingest_history(envelope(items), envelope(images))


def _measured_pipeline(db_path: Path) -> tuple[Store, Pipeline, list[SimEvent]]:
    """Return a pipeline that read half a night from history, on a measured clock."""
    events = preset_night("simple").events
    store = Store(db_path)
    pipeline = Pipeline(store, OPTIONS)
    half = events[: len(events) // 2]
    pipeline.ingest_frames([(socket_text(e), e.time.astimezone(UTC)) for e in half[:40]])
    _read(pipeline, half)
    assert pipeline.clock.measured
    return store, pipeline, events


def test_a_re_read_parses_only_the_items_after_the_last_read(db_path: Path) -> None:
    """Test that a re-read skips what was taken in, stores what is new, and counts alike.

    Then a history whose last item taken is no longer in its place is read whole.
    """
    store, pipeline, events = _measured_pipeline(db_path)
    received = pipeline.counters.received
    result = _read(pipeline, events, hide=HIDDEN)
    assert result.rejected == 0
    assert pipeline.counters.rejected == 0
    assert pipeline.counters.received == received + len(events)
    later = events[len(events) // 2 :]
    assert len(result.applied) == len(later)
    assert result.duplicates == len(events) - len(later)
    assert store.counts()["events"] == len(events)

    shifted = [events[0], *events]  # one more item in front: every index moved
    result = _read(pipeline, shifted, hide=HIDDEN)
    assert result.rejected == HIDDEN
    assert store.counts()["events"] == len(events)
    store.close()
