"""A history merge as the event loop is told it: a summary, and only its recent events.

The engine against the NINA simulator over real sockets, storing in a real SQLite file.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
import gc
from pathlib import Path

import aiohttp
from test_engine_live import OPTIONS

from custom_components.nina_session.engine.engine import EngineConfig, EngineUpdate, NinaEngine
from custom_components.nina_session.engine.fsm import SessionState
from custom_components.nina_session.engine.history_summary import RECENT_HISTORY
from custom_components.nina_session.engine.models import NinaEvent
from simulator import SimEvent, preset_night
from simulator.server import NinaSimulator


def engine_for(
    sim: NinaSimulator,
    db: Path,
    session: aiohttp.ClientSession,
    clock: datetime | None = None,
) -> NinaEngine:
    """Build an engine for the simulator; `clock` fixes what time the engine thinks it is."""
    config = EngineConfig(host="127.0.0.1", port=sim.port, db_path=db, options=OPTIONS)
    if clock is None:
        return NinaEngine(config, session)
    return NinaEngine(config, session, clock=lambda: clock)


def recent_events(count: int) -> list[SimEvent]:
    """Return `count` dithers of the last few minutes (as a short disconnect would miss)."""
    now = datetime.now(UTC)
    return [
        SimEvent(now - timedelta(minutes=5) + timedelta(seconds=i), "GUIDER-DITHER")
        for i in range(count)
    ]


async def test_a_past_night_reaches_the_loop_as_a_summary(
    sim: NinaSimulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """A night long past is told in sum: no event one by one, what it left, counts by type."""
    night = preset_night("simple")
    await sim.play(night.events, speed=0, rebase=False)
    engine = engine_for(sim, tmp_path / "past.db", session)
    told: list[EngineUpdate] = []
    engine.subscribe(told.append)
    await engine.start(connect=False)
    try:
        result = await engine.backfill()
        stored = engine.health.events.backfilled
        assert engine.pipeline is not None
        state, detail = engine.pipeline.state, engine.pipeline.view.detail
    finally:
        await engine.stop()

    assert [update.result for update in told if update.reason == "backfill"] == [result]
    assert result.applied == []
    summary = result.summary
    assert summary is not None
    assert summary.applied == summary.counted == stored == len(night.events)
    assert summary.by_type == Counter(event.name for event in night.events)
    assert (summary.first, summary.last) == (night.start, night.end)
    last_save = [event for event in night.events if event.name == "IMAGE-SAVE"][-1]
    statistics = last_save.data["ImageStatistics"]
    assert summary.last_frame is not None
    assert summary.last_frame.time == last_save.time
    assert (summary.filter, summary.target) == (statistics["Filter"], statistics["TargetName"])
    # Why the state is what it is, as the fold itself says (a merge tells that one change).
    assert state == SessionState.IDLE
    assert summary.causes[state] == detail["cause"] == "SEQUENCE-FINISHED"
    assert result.applied_count == stored


async def test_events_of_the_last_minutes_are_handed_on_one_by_one(
    sim: NinaSimulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """History a short disconnect missed comes one by one; the night before only in sum."""
    night = preset_night("simple")
    recent = recent_events(3)
    await sim.play(night.events, speed=0, rebase=False)
    await sim.play(recent, speed=0, rebase=False)
    engine = engine_for(sim, tmp_path / "recent.db", session)
    await engine.start(connect=False)
    try:
        result = await engine.backfill()
    finally:
        await engine.stop()

    assert [item.event.time for item in result.applied] == [event.time for event in recent]
    summary = result.summary
    assert summary is not None
    assert (summary.applied, summary.counted) == (len(night.events) + 3, len(night.events))
    assert summary.by_type == Counter(event.name for event in night.events)
    assert summary.last == night.end


async def test_history_far_ahead_of_our_clock_is_only_counted(
    sim: NinaSimulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Events further ahead of our clock than the recent window are a clock gone wrong."""
    events = recent_events(4)
    await sim.play(events, speed=0, rebase=False)
    behind = datetime.now(UTC) - RECENT_HISTORY - timedelta(hours=1)
    engine = engine_for(sim, tmp_path / "ahead.db", session, clock=behind)
    await engine.start(connect=False)
    try:
        result = await engine.backfill()
    finally:
        await engine.stop()

    assert result.applied == []
    assert result.summary is not None
    assert result.summary.counted == 4
    assert result.summary.by_type == {"GUIDER-DITHER": 4}


async def test_the_merged_events_are_freed_before_the_loop_hears_of_the_merge(
    sim: NinaSimulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """The loop holds none of an old night's events: they were freed on the writer thread."""
    night = preset_night("simple")
    await sim.play(night.events, speed=0, rebase=False)
    engine = engine_for(sim, tmp_path / "freed.db", session)
    held: list[int] = []
    engine.subscribe(
        lambda update: held.append(events_alive()) if update.reason == "backfill" else None
    )
    await engine.start(connect=False)
    before = events_alive()
    try:
        result = await engine.backfill()
    finally:
        await engine.stop()
    assert result.summary is not None
    assert result.summary.applied == len(night.events)
    assert [count - before for count in held] == [1]  # the summary's last frame


def events_alive() -> int:
    """Return how many events exist in the process (garbage collected first)."""
    gc.collect()
    return sum(isinstance(thing, NinaEvent) for thing in gc.get_objects())
