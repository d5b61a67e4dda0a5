"""A batch's fold reads as the `Applied` of each event, though it keeps one only for a few.

Two real nights are backfilled into a real database; what the merge says it applied is
compared with what folding each stored event alone (`SessionTracker.apply`) gives. (A frame
the fold reads in context is stored as read: `test_real_rigs`'s flat run without records.)
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from custom_components.nina_session.engine.batch_result import BatchResult
from custom_components.nina_session.engine.folded_batch import FoldedBatch
from custom_components.nina_session.engine.fsm import NO_STEP
from custom_components.nina_session.engine.history_summary import summarize
from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.sessions import Applied, SessionTracker
from simulator.night import Night, generate_week, history_item, image_record, to_rest
from tests.engine.test_nights import open_pipeline


@pytest.fixture(scope="module")
def nights() -> list[Night]:
    """Return two consecutive nights."""
    return generate_week(date(2026, 11, 20), nights=2, seed=11)


@pytest.fixture
def merged(nights: list[Night], tmp_path: Path) -> tuple[Pipeline, BatchResult]:
    """Return a pipeline on a new database and what backfilling both nights applied."""
    pipeline = open_pipeline(tmp_path / "fold.db", nights[0])
    events = [event for night in nights for event in night.events]
    history = [to_rest(history_item(e)) for e in events]
    images = [to_rest(image_record(e)) for e in events if e.name == "IMAGE-SAVE"]
    return pipeline, pipeline.ingest_history({"Response": history}, {"Response": images})


def one_by_one(pipeline: Pipeline, nights: list[Night]) -> list[Applied]:
    """Fold the stored events one at a time into a new tracker, as the live path does."""
    tracker = SessionTracker("rig1", ZoneInfo(nights[0].spec.tz), pipeline.options.idle_gap)
    return [tracker.apply(event) for _, event in pipeline.store.iter_events()]


def test_a_merge_reads_as_the_applied_of_each_event(
    merged: tuple[Pipeline, BatchResult], nights: list[Night]
) -> None:
    """Test items, order, length, indexing and equality against the per-event fold."""
    pipeline, result = merged
    applied = result.applied
    assert isinstance(applied, FoldedBatch)
    expected = one_by_one(pipeline, nights)
    assert len(applied) == len(expected) > 200
    assert [_fields(item) for item in applied] == [_fields(item) for item in expected]
    assert applied == expected and applied != expected[:-1]
    assert _fields(applied[-1]) == _fields(expected[-1])
    assert _fields(applied[0]) == _fields(expected[0])
    assert [_fields(item) for item in applied[5:9]] == [_fields(e) for e in expected[5:9]]


def test_only_the_events_that_did_more_than_name_a_session_are_kept_whole(
    merged: tuple[Pipeline, BatchResult],
) -> None:
    """Test that `notable` holds every item with a step or a session opened or closed."""
    _, result = merged
    applied = result.applied
    assert isinstance(applied, FoldedBatch)
    busy = [
        item
        for item in applied
        if item.step is not NO_STEP or item.closed is not None or item.opened is not None
    ]
    assert applied.notable() == busy
    assert len(busy) < len(applied) // 4
    assert sum(item.opened is not None for item in busy) == 2
    assert sum(item.closed is not None for item in busy) == 1


def test_a_merge_is_summed_as_the_list_of_its_items_would_be(
    merged: tuple[Pipeline, BatchResult],
) -> None:
    """Test the summary read from the columns against the one walked item by item."""
    _, result = merged
    applied = result.applied
    assert isinstance(applied, FoldedBatch)
    times = [item.event.time for item in applied]
    for now in (times[0], times[len(times) // 2], times[-1] + timedelta(minutes=10)):
        assert summarize(applied, now, result.by_type) == summarize(
            list(applied), now, result.by_type
        )


def test_a_released_merge_is_empty(merged: tuple[Pipeline, BatchResult]) -> None:
    """Test that the loop's copy keeps the recent items, and the merge until it is released."""
    _, result = merged
    count = len(result.applied)
    now = result.applied[-1].event.time
    told = result.for_loop(now)
    assert told.summary is not None and told.summary.applied == count
    assert 0 < len(told.applied) < count
    assert len(result.applied) == count
    result.release()
    assert len(result.applied) == 0 and list(result.applied) == []
    assert len(told.applied) > 0  # the loop's copy is its own


def _fields(item: Applied) -> tuple[object, ...]:
    """Return what an item says, sessions by id (a fold's sessions are its own objects)."""
    return (
        item.event.key,
        item.event.frame,
        item.session_id,
        item.step,
        item.closed.id if item.closed else None,
        item.opened.id if item.opened else None,
    )
