"""Targets while a night is open: each new light is read alone, and the answer stays exact."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.targets import TargetIndex
from simulator.night import Night, generate_week
from tests.engine.test_nights import live, open_pipeline
from tests.engine.test_targets import TZ

#: The statement that reads all of a session's frames (`Store.session_frames`).
WHOLE_SESSION_READ = "json_extract(frame"


@pytest.fixture(scope="module")
def scheduler_night() -> Night:
    """Return a Target Scheduler night (its scheduler target starts name the projects)."""
    week = generate_week(date(2026, 11, 20), nights=7, seed=11, scheduler_nights=True)
    return next(night for night in week if night.spec.use_target_scheduler)


def _statements(pipeline: Pipeline, index: TargetIndex) -> tuple[dict[str, object], list[str]]:
    """Return the index's answer and the SQL statements it ran on the store's connection."""
    seen: list[str] = []
    db = pipeline.store._db  # noqa: SLF001  # the real connection, traced
    db.set_trace_callback(seen.append)
    try:
        return index.targets(pipeline.store), seen
    finally:
        db.set_trace_callback(None)


def test_an_open_night_is_read_light_by_light(scheduler_night: Night, tmp_path: Path) -> None:
    """Test that a warm index reads only what was stored since, and equals a fresh read."""
    pipeline = open_pipeline(tmp_path / "night.db", scheduler_night)
    index = TargetIndex(TZ)
    events = scheduler_night.events
    live(pipeline, events[:40])
    index.targets(pipeline.store)
    whole_reads = 0
    for start in range(40, len(events), 7):  # a few events at a time, as the drain stores them
        live(pipeline, events[start : start + 7])
        answer, statements = _statements(pipeline, index)
        assert answer == TargetIndex(TZ).targets(pipeline.store), start
        whole_reads += any(WHOLE_SESSION_READ in sql for sql in statements)
        incremental = [sql for sql in statements if "id > " in sql]
        for sql in incremental:  # found by row id, not by walking every frame ever stored
            plan = pipeline.store._db.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()  # noqa: SLF001
            assert [row[-1] for row in plan] == [
                "SEARCH session_events USING INTEGER PRIMARY KEY (rowid>?)"
            ]
    projects = {target["project"] for target in answer["targets"]}  # type: ignore[index]
    assert projects - {None}, "the scheduler's projects are learned from the new rows too"
    # A night closes once (read whole then, as a closed session); otherwise never whole.
    assert whole_reads <= len(pipeline.store.sessions(limit=10))


def test_a_rewritten_night_is_read_whole_again(scheduler_night: Night, tmp_path: Path) -> None:
    """Test that after a refold or a deleted light the open night's answer is still exact."""
    pipeline = open_pipeline(tmp_path / "night.db", scheduler_night)
    index = TargetIndex(TZ)
    half = len(scheduler_night.events) // 2
    live(pipeline, scheduler_night.events[:half])
    index.targets(pipeline.store)

    pipeline.rebuild()  # every session written again, rows reassigned
    live(pipeline, scheduler_night.events[half : half + 20])
    assert index.targets(pipeline.store) == TargetIndex(TZ).targets(pipeline.store)

    light = next(
        event for _, event in pipeline.store.iter_events()
        if event.frame is not None and event.frame.image_type == "LIGHT"
    )  # fmt: skip
    assert pipeline.store.delete([light.key]) == 1
    pipeline.rebuild()
    assert index.targets(pipeline.store) == TargetIndex(TZ).targets(pipeline.store)
    live(pipeline, scheduler_night.events[half + 20 :])
    assert index.targets(pipeline.store) == TargetIndex(TZ).targets(pipeline.store)
