"""The pipeline end to end on real SQLite files: dedup, idempotency, order, restarts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, timedelta
import json
from pathlib import Path
import sqlite3
import threading
from zoneinfo import ZoneInfo

from custom_components.nina_session.engine.fsm import SessionState
from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.store import Store
from simulator.night import generate_week, socket_text
from tests.engine.conftest import OPTIONS
from tests.engine.frames import at, envelope, event, frames, image


def stored(db_path: Path) -> tuple[int, list[str]]:
    """Return the stored event count and session summaries, read from the file directly."""
    with sqlite3.connect(db_path) as db:
        events = db.execute("SELECT COUNT(*) FROM session_events").fetchone()[0]
        sessions = [row[0] for row in db.execute("SELECT summary FROM sessions ORDER BY id")]
    return events, sessions


def night() -> list[tuple[str, object]]:
    """Return a short night: start, two Ha frames with a dither, an OIII frame, finish."""
    return frames(
        (0, event("SEQUENCE-STARTING")),
        (5, image(0, filter_name="Ha")),
        (5.1, event("GUIDER-DITHER")),
        (10, image(5, filter_name="Ha")),
        (15, image(10, filter_name="OIII")),
        (16, event("SEQUENCE-FINISHED")),
    )


def test_same_event_twice_within_the_window_collapses(pipeline: Pipeline, db_path: Path) -> None:
    """Test that identical events in the dedup window collapse, but not different or later ones."""
    msg = event("GUIDER-DITHER")
    result = pipeline.ingest_frames(
        [(json.dumps(msg), at(1)), (json.dumps(msg), at(1) + timedelta(milliseconds=900))]
    )
    assert (len(result.applied), result.duplicates) == (1, 1)
    # Two different events of one type in one second stay two (the original merged them).
    result = pipeline.ingest_frames(frames((2, event("SAFETY-CHANGED", IsSafe=False)),
                                           (2.005, event("SAFETY-CHANGED", IsSafe=True))))  # fmt: skip
    assert len(result.applied) == 2
    # The same content again after the window is a new event.
    result = pipeline.ingest_frames([(json.dumps(msg), at(1) + timedelta(seconds=1.5))])
    assert len(result.applied) == 1
    assert stored(db_path)[0] == 4


def test_a_frame_redelivered_much_later_is_still_one_frame(pipeline: Pipeline) -> None:
    """Test that an IMAGE-SAVE with the same capture time a minute later is a duplicate."""
    pipeline.ingest_frames(frames((0, event("SEQUENCE-STARTING")), (5, image(0))))
    # Same IMAGE-SAVE (same capture time) seen again a minute later: exact identity wins.
    result = pipeline.ingest_frames(frames((6, image(0))))
    assert result.duplicates == 1
    session = pipeline.current_session()
    assert session is not None and session["frames"]["total"] == 1


def test_replaying_a_night_twice_changes_nothing(pipeline: Pipeline, db_path: Path) -> None:
    """Test that ingesting the same night again applies nothing and leaves the file unchanged."""
    pipeline.ingest_frames(night())
    before = stored(db_path)
    result = pipeline.ingest_frames(night())
    assert result.applied == [] and result.duplicates == 6
    assert stored(db_path) == before


def test_live_events_and_their_history_twins_collapse(pipeline: Pipeline, db_path: Path) -> None:
    """Test that history overlapping live events only adds the frame taken while disconnected."""
    pipeline.ingest_frames(night()[:3])  # live: start, first frame, dither
    history = [
        {"Event": "SEQUENCE-STARTING", "Time": "2026-11-24T19:00:00.2+01:00"},
        {"Event": "IMAGE-SAVE", "Time": "2026-11-24T19:05:00.3+01:00"},
        {"Event": "GUIDER-DITHER", "Time": "2026-11-24T19:05:06.4+01:00"},
        {"Event": "IMAGE-SAVE", "Time": "2026-11-24T19:10:00.1+01:00"},
    ]
    images = [json.loads(raw)["Response"]["ImageStatistics"] for raw, _ in night()[1:5:2]]
    result = pipeline.ingest_history(envelope(history), envelope(images))
    # Only the frame taken while disconnected is new.
    assert [a.event.name for a in result.applied] == ["IMAGE-SAVE"]
    assert result.duplicates == 3
    session = pipeline.current_session()
    assert session is not None and session["frames"]["by_filter"]["Ha"]["count"] == 2


def test_late_events_give_the_same_result_as_in_order(tmp_path: Path) -> None:
    """Test that out-of-order live delivery ends in the same session, state and summaries."""
    ordered = night()
    shuffled = [ordered[i] for i in (0, 2, 1, 5, 3, 4)]
    results = []
    for name, batch in (("ordered", ordered), ("shuffled", shuffled)):
        store = Store(tmp_path / f"{name}.db")
        pipeline = Pipeline(store, OPTIONS)
        for item in batch:  # one live batch per message, in the given order
            pipeline.ingest_frames([item])
        results.append((pipeline.current_session(), pipeline.state, stored(store.path)[1]))
        store.close()
    assert results[0] == results[1]


def test_events_out_of_order_within_one_batch_give_the_in_order_result(tmp_path: Path) -> None:
    """Test that a live batch out of order is folded in time order, as the ordered stream is.

    A receive clock stepped back gives such a batch. Only events older than the previous
    batch counted as late; inside a batch they were folded in arrival order, so
    SEQUENCE-FINISHED before the last frame left the night imaging.
    """
    ordered = night()
    shuffled = [ordered[i] for i in (0, 2, 1, 5, 3, 4)]
    results = []
    for name, batch in (("ordered", ordered), ("shuffled", shuffled)):
        store = Store(tmp_path / f"{name}.db")
        pipeline = Pipeline(store, OPTIONS)
        pipeline.ingest_frames(batch)  # one live batch: the writer drained them at once
        results.append((pipeline.current_session(), pipeline.state, stored(store.path)[1]))
        pipeline.rebuild()
        assert (pipeline.current_session(), pipeline.state) == results[-1][:2]
        store.close()
    assert results[0] == results[1]
    assert results[1][1] == SessionState.IDLE


def test_a_real_night_with_batches_out_of_order_equals_its_rebuild(tmp_path: Path) -> None:
    """Test two simulated nights drained in live batches whose items each come reversed."""
    week = generate_week(date(2026, 11, 20), nights=2, seed=5, scheduler_nights=True)
    store = Store(tmp_path / "reversed.db")
    pipeline = Pipeline(store, OPTIONS)
    for night in week:
        items = [(socket_text(e), e.time.astimezone(UTC)) for e in night.events]
        for start in range(0, len(items), 40):
            batch = items[start : start + 40]
            pipeline.ingest_frames(batch[::-1])
    folded = (pipeline.store.sessions(limit=10), pipeline.current_session(), pipeline.state)
    pipeline.rebuild()
    assert (pipeline.store.sessions(limit=10), pipeline.current_session(), pipeline.state) == folded
    store.close()


def test_state_and_open_session_survive_a_restart(db_path: Path) -> None:
    """Test that the state and the open session are reloaded from the file after a restart."""
    store = Store(db_path)
    Pipeline(store, OPTIONS).ingest_frames(night()[:4])
    store.close()
    store = Store(db_path)
    pipeline = Pipeline(store, OPTIONS)
    assert pipeline.state == SessionState.IMAGING
    pipeline.ingest_frames(night()[4:])
    session = pipeline.current_session()
    assert session is not None
    assert session["frames"]["by_filter"] == {"Ha": {"count": 2, "seconds": 600.0},
                                              "OIII": {"count": 1, "seconds": 300.0}}  # fmt: skip
    assert pipeline.state == SessionState.IDLE
    store.close()


def test_idle_gap_closes_the_session_and_next_night_opens_another(pipeline: Pipeline) -> None:
    """Test that the next night closes the idle session at its last event and opens a new one."""
    pipeline.ingest_frames(night())
    first = pipeline.current_session()
    assert first is not None
    result = pipeline.ingest_frames(frames((24 * 60, event("SEQUENCE-STARTING"))))
    assert [s.id for s in result.closed] == [first["id"]]
    assert result.closed[0].end == at(16)
    second = pipeline.current_session()
    assert second is not None and second["id"] != first["id"]


def test_calibration_next_morning_stays_with_the_night(pipeline: Pipeline) -> None:
    """Test that a dark within the idle gap after the sequence joins the night's session."""
    pipeline.ingest_frames(night())
    pipeline.ingest_frames(frames((60, image(59, image_type="DARK", filter_name=None))))
    session = pipeline.current_session()
    assert session is not None and session["frames"]["by_type"]["DARK"] == 1


def test_live_clock_closes_an_idle_session(pipeline: Pipeline, db_path: Path) -> None:
    """Test that close_if_idle closes only after the idle gap, ending at the last event."""
    pipeline.ingest_frames(night())
    assert pipeline.close_if_idle(at(60)) is None
    closed = pipeline.close_if_idle(at(16 + 121))
    assert closed is not None and closed.end == at(16)
    assert json.loads(stored(db_path)[1][0])["end"] == "2026-11-24T18:16:00Z"


def test_bad_frames_are_counted_and_the_stream_goes_on(pipeline: Pipeline) -> None:
    """Test that bad frames are counted by reason while the good frame in the batch is applied."""
    good = frames((0, event("SEQUENCE-STARTING")))[0]
    result = pipeline.ingest_frames(
        [("{nope", at(0)), ("x" * 2_000_000, at(0)), good, ('{"Response": 1}', at(0))]
    )
    assert len(result.applied) == 1 and result.rejected == 3
    assert pipeline.counters.rejected_by_reason == {"not_json": 1, "too_large": 1, "bad_shape": 1}


def test_history_from_a_skewed_nina_clock_still_collapses_with_live(
    pipeline: Pipeline,
) -> None:
    """Test that history from a NINA clock 7 s fast collapses with live and is put on our clock."""
    # Live: stamped by our clock. NINA's clock runs 7 s ahead, so its history is 7 s late.
    pipeline.ingest_frames(night()[:3])
    history = [
        {"Event": "SEQUENCE-STARTING", "Time": "2026-11-24T19:00:07+01:00"},
        {"Event": "IMAGE-SAVE", "Time": "2026-11-24T19:05:07+01:00"},
        {"Event": "GUIDER-DITHER", "Time": "2026-11-24T19:05:13+01:00"},
        {"Event": "IMAGE-SAVE", "Time": "2026-11-24T19:10:07+01:00"},
    ]
    images = [json.loads(raw)["Response"]["ImageStatistics"] for raw, _ in night()[1:5:2]]
    result = pipeline.ingest_history(envelope(history), envelope(images))
    assert [a.event.name for a in result.applied] == ["IMAGE-SAVE"]
    assert result.duplicates == 3
    assert round(pipeline.clock.offset) == 7
    # The new frame is placed on our clock, not NINA's.
    assert result.applied[0].event.time == at(10)


def test_readers_never_see_a_rebuild_half_done(tmp_path: Path) -> None:
    """Test that another thread reading during a rebuild sees the whole fold, before or after.

    The engine folds on its writer thread while Home Assistant reads on the event loop: a
    rebuild must not show a session with part of its frames, nor no session at all.
    """
    week = generate_week(date(2026, 11, 20), 3, seed=5)
    events = [e for night in week for e in night.events]
    pipeline = Pipeline(Store(tmp_path / "view.db"), replace(OPTIONS, tz=ZoneInfo("Europe/Berlin")))
    pipeline.ingest_frames((socket_text(e), e.time.astimezone(UTC)) for e in events)
    expected = pipeline.current_session()
    assert expected is not None and expected["frames"]["total"] > 0
    seen: list[int | None] = []
    writer = threading.Thread(target=pipeline.rebuild)
    writer.start()
    while writer.is_alive():
        session = pipeline.current_session()
        seen.append(session["frames"]["total"] if session else None)
    writer.join()
    assert seen, "the reader ran during the rebuild"
    assert set(seen) == {expected["frames"]["total"]}
    assert pipeline.current_session() == expected
