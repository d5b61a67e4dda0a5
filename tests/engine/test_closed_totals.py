"""Warm totals: the closed sessions' sums are read once, and stay exact as sessions change."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from custom_components.nina_session.engine.fsm import SessionState
from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.sessions import Session
from custom_components.nina_session.engine.store import Store
from simulator.night import (
    NightSpec,
    SimEvent,
    generate_night,
    history_item,
    image_record,
    socket_text,
    to_rest,
)
from tests.engine.conftest import OPTIONS

DELAY = timedelta(milliseconds=50)


def _night(day: int, target: str, filters: tuple[str, ...]) -> list[SimEvent]:
    spec = NightSpec(date=date(2026, 12, day), seed=day, targets=(target,), filters=filters,
                     lights_per_filter=3, light_exposure=120.0)  # fmt: skip
    return generate_night(spec).events


def _live(pipeline: Pipeline, events: Sequence[SimEvent]) -> None:
    for start in range(0, len(events), 50):
        chunk = events[start : start + 50]
        pipeline.ingest_frames([(socket_text(e), e.time + DELAY) for e in chunk])


def _backfill(pipeline: Pipeline, events: Sequence[SimEvent]) -> None:
    history = [to_rest(history_item(e)) for e in events]
    images = [to_rest(image_record(e)) for e in events if e.name == "IMAGE-SAVE"]
    pipeline.ingest_history({"Response": history, "Success": True, "Type": "API"},
                            {"Response": images, "Success": True, "Type": "API"})  # fmt: skip


def _summed(store: Store) -> dict[str, Any]:
    """Totals summed afresh from every stored summary: what `totals()` must equal."""
    nights, frames, seconds = 0, 0, 0.0
    by_target: dict[str, dict[str, float]] = {}
    for session in store.sessions(limit=1000):
        nights += 1
        frames += session["frames"]["total"]
        seconds += session["integration_seconds"]
        per_filter = by_target.setdefault((session["targets"] or ["unknown"])[0], {})
        for name, slot in session["frames"]["by_filter"].items():
            per_filter[name] = round(per_filter.get(name, 0.0) + slot["seconds"], 3)
    return {"nights": nights, "frames": frames,
            "integration_seconds": round(seconds, 3), "by_target": by_target}  # fmt: skip


def test_a_warm_totals_call_reads_only_the_open_session(db_path: Path) -> None:
    """Test that once read, the closed sessions' sums are not read again until they change."""
    store = Store(db_path)
    pipeline = Pipeline(store, OPTIONS)
    _live(pipeline, _night(1, "M 31", ("Ha", "OIII")))
    _live(pipeline, _night(2, "M 42", ("L", "R")))
    assert store.totals() == _summed(store)  # the first call reads the sums

    statements: list[str] = []
    store._db.set_trace_callback(statements.append)  # noqa: SLF001  # the real connection
    warm = store.totals()
    store._db.set_trace_callback(None)  # noqa: SLF001

    assert warm == _summed(store)
    assert [s for s in statements if "totals_" in s] == []
    assert len(statements) == 1 and "end_ts IS NULL" in statements[0]
    store.close()


def test_warm_totals_stay_exact_as_nights_close_backfill_and_restart(db_path: Path) -> None:
    """Test that totals read warm equal a fresh sum after every kind of session write."""
    store = Store(db_path)
    pipeline = Pipeline(store, OPTIONS)
    first, middle, last = (_night(1, "M 31", ("Ha", "OIII")), _night(2, "M 42", ("L", "R")),
                           _night(3, "M 31", ("Ha", "SII")))  # fmt: skip

    def check() -> None:
        assert store.totals() == _summed(store)
        reopened = Store(db_path)  # the first call after a restart reads the same
        assert reopened.totals() == store.totals()
        reopened.close()

    _live(pipeline, first)
    check()  # warm from here on
    half = len(last) // 2
    _live(pipeline, last[:half])  # a new night opens: the first one is closed by now
    check()
    nights_before = store.totals()["nights"]
    _backfill(pipeline, middle)  # a night NINA's history brings back, between the two
    assert store.totals()["nights"] == nights_before + 1
    check()
    _live(pipeline, last[half:])  # the open night goes on and ends
    check()

    # After a restart, the open night's first write must not leave stale sums behind.
    store.close()
    store = Store(db_path)
    pipeline = Pipeline(store, OPTIONS)
    store.totals()
    _live(pipeline, _night(4, "NGC 7000", ("Ha",)))
    check()
    store.close()


def test_a_closed_session_written_open_again_leaves_the_sums(db_path: Path) -> None:
    """Test that a closed session rewritten as open (a refold reopens it) is no longer summed."""
    store = Store(db_path)
    start = datetime(2026, 12, 1, 18, tzinfo=UTC)
    session = Session(id="s1", instance="rig1", start=start, night="2026-12-01",
                      targets=["M 31"], by_type={"LIGHT": 2}, by_filter={"Ha": [2, 600.0]})  # fmt: skip
    session.end = start + timedelta(hours=8)
    store.write_batch([], [(session, session.to_json(SessionState.IDLE))], None)
    assert store.totals()["nights"] == 1  # the closed sums are read and kept

    session.end = None
    session.by_type, session.by_filter = {"LIGHT": 3}, {"Ha": [3, 900.0]}
    store.write_batch([], [(session, session.to_json(SessionState.IMAGING))], None)
    assert store.totals() == _summed(store)
    assert store.totals()["by_target"] == {"M 31": {"Ha": 900.0}}
    store.close()
