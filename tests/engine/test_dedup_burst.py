"""De-duplication looks up only the batch's own fingerprints, however many rows share its window.

A burst of frames received within one second (a backlog drained after a stall, the trickle
benchmark's 20,000 frames in ~2.6 s) put every stored row of the burst inside each batch's
window, and the window query read and split every one of their keys: the cost per frame grew
with the burst (56 -> 166 µs per frame over 20,000 frames). The keys of one fingerprint
within a window are one range of the key index (`Store.fingerprint_times`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json

from custom_components.nina_session.engine.models import Source
from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.store import Store
from tests.engine.frames import event


def _burst(start: datetime, count: int) -> list[tuple[str, datetime]]:
    """`count` distinct dithers received within one second from `start`."""
    step = timedelta(seconds=1) / count
    return [(json.dumps(event("GUIDER-DITHER", Seq=i)), start + step * i) for i in range(count)]


def _fingerprint(pipeline: Pipeline, text: str, received: datetime) -> tuple[str, float]:
    applied = pipeline.ingest_frames([(text, received)]).applied
    assert len(applied) == 1
    return applied[0].event.fingerprint, applied[0].event.ts


def test_only_the_asked_fingerprints_are_read(pipeline: Pipeline, db_path: object) -> None:
    """Test that a span holding 2,000 other rows returns the asked fingerprint's times alone."""
    start = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
    burst = _burst(start, 2000)
    pipeline.ingest_frames(burst)
    fingerprint, ts = _fingerprint(
        pipeline, json.dumps(event("GUIDER-DITHER", Seq="x")), start + timedelta(seconds=0.5)
    )
    found = pipeline.store.fingerprint_times({fingerprint: (ts - 1, ts + 1)})
    assert found == {fingerprint: [ts]}
    # A repeat inside the window is dropped, a new event kept, within the same crowded second.
    again = pipeline.ingest_frames([burst[10], (json.dumps(event("GUIDER-DITHER", Seq=-1)), start)])
    assert (len(again.applied), again.duplicates) == (1, 1)


def test_spans_the_text_order_cannot_follow_fall_back(pipeline: Pipeline) -> None:
    """Test that spans before 1970 or across a change in digit count are not answered by range."""
    store: Store = pipeline.store
    assert store.fingerprint_times({"X": (-5.0, 5.0)}) is None
    assert store.fingerprint_times({"X": (999_999_999.5, 1_000_000_000.5)}) is None
    # The pipeline falls back to the window query there, and still collapses repeats.
    for moment in (datetime(1969, 12, 31, 23, 59, 59, 800_000, tzinfo=UTC),
                   datetime.fromtimestamp(999_999_999.9, UTC)):  # fmt: skip
        text = json.dumps(event("GUIDER-DITHER", Where=str(moment)))
        first = pipeline.ingest_frames([(text, moment)])
        repeat = pipeline.ingest_frames([(text, moment + timedelta(milliseconds=400))])
        assert (len(first.applied), repeat.duplicates) == (1, 1)


def test_other_keys_inside_the_text_range_do_not_count(pipeline: Pipeline) -> None:
    """Test that a key of another shape sorting inside the range is not read as a stored time."""
    moment = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
    fingerprint, ts = _fingerprint(pipeline, json.dumps(event("GUIDER-DITHER", Seq="y")), moment)
    low = str(int(ts * 1000))
    # An exact fingerprint's key (it ends in a time, not a number) sorting inside the range.
    with pipeline.store._db:  # noqa: SLF001 (a row no code of ours writes today)
        pipeline.store._db.execute(  # noqa: SLF001
            "INSERT INTO session_events (event_key, ts, name, source, epoch, data) "
            "VALUES (?, ?, 'GUIDER-DITHER', ?, 0, '{}')",
            (f"{fingerprint}@{low[:9]}5-11-24T20:00:00", ts + 0.1, Source.LIVE.value),
        )
    assert pipeline.store.fingerprint_times({fingerprint: (ts - 1, ts + 1)}) == {fingerprint: [ts]}
