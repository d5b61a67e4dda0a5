"""Schema 3: a schema 2 file keeps every event and reads the same; totals are kept as sessions change.

`data/schema2.db` was written by the code of commit bf978d5 (schema 2): three nights through the
pipeline, two live and closed, half of one read from NINA's history and left open.
"""

from __future__ import annotations

from contextlib import closing
from datetime import datetime, timedelta
import json
from pathlib import Path
import shutil
import sqlite3
from typing import Any

from custom_components.nina_session.engine.models import Frame, event_key, split_key
from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.store import SCHEMA_VERSION, Store
from tests.engine.conftest import OPTIONS
from tests.engine.frames import event, frames, image

SCHEMA_2 = Path(__file__).parent / "data" / "schema2.db"


def _old_frame(text: str | None) -> Frame | None:
    if text is None:
        return None
    values = json.loads(text)
    if values["taken_at"]:
        values["taken_at"] = datetime.fromisoformat(values["taken_at"])
    values["inferred"] = tuple(values["inferred"])
    return Frame(**values)


def _old_totals(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals as schema 2's store summed them, from every stored summary."""
    nights, frames_total, seconds = 0, 0, 0.0
    by_target: dict[str, dict[str, float]] = {}
    for session in summaries:
        nights += 1
        frames_total += session["frames"]["total"]
        seconds += session["integration_seconds"]
        per_filter = by_target.setdefault((session["targets"] or ["unknown"])[0], {})
        for name, slot in session["frames"]["by_filter"].items():
            per_filter[name] = round(per_filter.get(name, 0.0) + slot["seconds"], 3)
    return {"nights": nights, "frames": frames_total,
            "integration_seconds": round(seconds, 3), "by_target": by_target}  # fmt: skip


def test_a_schema_2_file_keeps_every_event_and_reads_the_same(tmp_path: Path) -> None:
    """Test that migrating a real schema 2 file keeps every event, frame and summary."""
    path = tmp_path / "nina.db"
    shutil.copy(SCHEMA_2, path)
    with closing(sqlite3.connect(path)) as db:
        old_events = {
            row[0]: row[1:]
            for row in db.execute(
                "SELECT event_key, ts, name, source, session_id, epoch, data, frame "
                "FROM session_events"
            )
        }
        old_sessions = {
            sid: json.loads(summary)
            for sid, summary in db.execute("SELECT id, summary FROM sessions")
        }
        old_size = path.stat().st_size
    assert len(old_events) > 400 and any(row[6] for row in old_events.values())

    # Schema 4 writes a frame's key in short (`event_key`): the same fingerprint, so compare
    # each old key as the code now writes it.
    old_events = {event_key(*split_key(key), row[0]): row for key, row in old_events.items()}
    store = Store(path)
    events = {event.key: event for _, event in store.iter_events()}
    assert set(events) == set(old_events)
    for key, (ts, name, source, _, _, data, frame) in old_events.items():
        stored = events[key]
        assert (stored.time.timestamp(), stored.name, stored.source.value) == (ts, name, source)
        assert stored.data == json.loads(data)
        assert stored.frame == _old_frame(frame), key
    assert {s["id"]: s for s in store.sessions(limit=10)} == old_sessions
    assert store.totals() == _old_totals(list(old_sessions.values()))
    store.close()
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION
        with db:
            db.execute("VACUUM")
        sessions_after = db.execute("SELECT session_id FROM session_events").fetchall()
    assert sorted(sessions_after, key=str) == sorted(
        ((row[3],) for row in old_events.values()), key=str
    )
    assert path.stat().st_size < old_size

    # The migrated file goes on: the open session resumes where schema 2 left it.
    store = Store(path)
    pipeline = Pipeline(store, OPTIONS)
    open_id = next(sid for sid, s in old_sessions.items() if s["end"] is None)
    resumed = pipeline.current_session()
    assert resumed is not None and resumed["id"] == open_id
    assert resumed["state_history"] == old_sessions[open_id]["state_history"]
    store.close()


def test_totals_follow_sessions_as_they_close_refold_and_go(db_path: Path) -> None:
    """Test that totals kept by triggers equal the sum over every stored summary, throughout."""
    store = Store(db_path)
    pipeline = Pipeline(store, OPTIONS)

    def check() -> None:
        assert store.totals() == _old_totals(store.sessions(limit=100))
        reopened = Store(db_path)  # the first call after a restart reads the same
        assert reopened.totals() == store.totals()
        reopened.close()

    nights = []
    for night in range(3):
        start = night * 24 * 60
        nights.append(
            frames(
                (start, event("SEQUENCE-STARTING")),
                (start + 5, image(start + 5, filter_name="Ha", target=f"T{night % 2}")),
                (start + 10, image(start + 10, filter_name="OIII", target=f"T{night % 2}")),
                (start + 15, image(start + 15, image_type="DARK", target=None)),
                (start + 20, event("SEQUENCE-FINISHED")),
            )
        )
    for batch in nights:
        pipeline.ingest_frames(batch)
        check()
    with closing(sqlite3.connect(db_path)) as db:
        closed = db.execute("SELECT nights FROM totals_closed").fetchone()[0]
    assert closed == 2  # the third night is still open: read from its summary
    pipeline.rebuild()
    check()
    # A late event refolds every session (all rewritten): the sums stay right.
    pipeline.ingest_frames(frames((1, event("GUIDER-DITHER"))))
    check()
    first_end = datetime.fromisoformat(store.sessions(newest_first=False)[0]["end"])
    assert store.prune(first_end + timedelta(seconds=1))[0] == 1
    check()
    assert store.prune(datetime.fromisoformat("2100-01-01T00:00:00+00:00"))[0] == 1
    check()
    assert store.totals()["nights"] == 1
    store.close()
