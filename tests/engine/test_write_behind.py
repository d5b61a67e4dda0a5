"""What a frame's transaction writes stays the same size all night, and a crash loses nothing.

Summaries and the saved state are written on a change or every few seconds (`WRITE_EVERY`);
the state history is appended to rows of its own. A process killed in between leaves events
stored after the saved state: the next start folds them again.
"""

from __future__ import annotations

from contextlib import closing
import json
from pathlib import Path
import shutil
import sqlite3
from typing import Any

from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.store import Store
from tests.engine.conftest import OPTIONS
from tests.engine.frames import event, frames, image

#: Minutes between two frames of the tests' streams: well inside the write window.
STEP = 0.01


def _stored_rows(path: Path) -> tuple[dict[str, Any], int, int]:
    """(summary row of the only session as stored, its text length, the state row's length)."""
    with closing(sqlite3.connect(path)) as db:
        summary = db.execute("SELECT summary FROM sessions").fetchone()[0]
        state = db.execute("SELECT data FROM session_state").fetchone()[0]
    return json.loads(summary), len(summary), len(state)


def _pauses(start: float, count: int) -> list[tuple[float, dict[str, Any]]]:
    """`count` cloud pauses and resumes after `start` minutes: two state changes each."""
    items: list[tuple[float, dict[str, Any]]] = []
    for index in range(count):
        minute = start + index * 2
        items.append((minute, event("SAFETY-CHANGED", IsSafe=False)))
        items.append((minute + 1, event("SAFETY-CHANGED", IsSafe=True)))
    return items


def test_the_stored_summary_and_state_do_not_grow_with_the_state_history(db_path: Path) -> None:
    """Test that summary and state rows stay the same size as the state history grows."""
    store = Store(db_path)
    pipeline = Pipeline(store, OPTIONS)
    pipeline.ingest_frames(frames((0, event("SEQUENCE-STARTING")), *_pauses(1, 5)))
    _, summary_early, state_early = _stored_rows(db_path)
    pipeline.ingest_frames(frames(*_pauses(20, 100)))
    _, summary_late, state_late = _stored_rows(db_path)
    history = store.sessions()[0]["state_history"]
    assert len(history) > 200
    assert summary_late <= summary_early + 64
    assert state_late <= state_early + 64
    store.close()


def test_frames_in_a_quiet_stream_do_not_rewrite_the_summary(db_path: Path) -> None:
    """Test that frames seconds apart are stored at once but their summary is written later.

    Reads through the store show the fold as it is all the same.
    """
    store = Store(db_path)
    pipeline = Pipeline(store, OPTIONS)
    pipeline.ingest_frames(frames((0, event("SEQUENCE-STARTING"))))
    for index in range(1, 4):
        pipeline.ingest_frames(frames((index * STEP, image(index * STEP))))
    stored, _, _ = _stored_rows(db_path)
    assert stored["frames"]["total"] < 3  # held back
    assert store.sessions()[0]["frames"]["total"] == 3  # but read as folded
    assert store.counts()["events"] == 4
    store.close()
    stored, _, _ = _stored_rows(db_path)
    assert stored["frames"]["total"] == 3  # written when the store closes


def _crash_copy(path: Path, to: Path) -> Path:
    """Copy a database as a killed process leaves it: the file and its WAL, never closed."""
    for suffix in ("", "-wal"):
        if Path(f"{path}{suffix}").exists():
            shutil.copy(f"{path}{suffix}", f"{to}{suffix}")
    return to


def test_a_store_killed_mid_session_restarts_with_every_event_folded(tmp_path: Path) -> None:
    """Test that a restart after a crash between state writes has the same fold as no crash."""
    path = tmp_path / "nina.db"
    store = Store(path)
    pipeline = Pipeline(store, OPTIONS)
    pipeline.ingest_frames(frames((0, event("SEQUENCE-STARTING"))))
    stream = [(index * STEP, image(index * STEP, filter_name="OIII")) for index in range(1, 8)]
    for item in stream:
        pipeline.ingest_frames(frames(item))
    stored, _, _ = _stored_rows(path)
    assert stored["frames"]["total"] < len(stream)  # the crash comes before the summary write
    crashed = _crash_copy(path, tmp_path / "crashed.db")

    reopened = Store(crashed)
    restarted = Pipeline(reopened, OPTIONS)
    assert restarted.current_session() == pipeline.current_session()
    assert restarted.state == pipeline.state
    assert reopened.sessions() == store.sessions()
    assert reopened.totals() == store.totals()
    # Both go on alike: the restarted fold continues where the first one was.
    more = frames((1, event("GUIDER-DITHER")), (1.01, image(1.01, filter_name="OIII")))
    pipeline.ingest_frames(more)
    restarted.ingest_frames(more)
    assert restarted.current_session() == pipeline.current_session()
    reopened.close()
    store.close()
    again = Store(crashed)
    assert again.sessions() == Store(path).sessions()
    again.close()


def test_a_crash_before_any_state_was_saved_still_folds_the_stored_events(
    tmp_path: Path,
) -> None:
    """Test that events stored before the first state write are folded on the next start."""
    path = tmp_path / "nina.db"
    store = Store(path)
    pipeline = Pipeline(store, OPTIONS)
    pipeline.ingest_frames(frames((0, event("SEQUENCE-STARTING"))))
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("DELETE FROM session_state")  # as if killed before the state was written
    reopened = Store(_crash_copy(path, tmp_path / "crashed.db"))
    restarted = Pipeline(reopened, OPTIONS)
    assert restarted.current_session() == pipeline.current_session()
    reopened.close()
    store.close()
