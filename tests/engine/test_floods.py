"""Floods cost refused frames, never the socket, and memory stays bounded in bytes.

The real engine against the simulator over real sockets: a flood of identical frames, and
frames of almost 4 MiB while the history read hangs (they wait for the backfill to end).
Refused frames are counted (`queue_full`) and the next history read repairs what they carried.
"""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp

from custom_components.nina_session.engine.connection import DEFAULT_MAX_BACKLOG_BYTES
from simulator.server import NinaSimulator
from tests.engine.test_engine_live import make_engine, until

DITHER = json.dumps(
    {"Response": {"Event": "GUIDER-DITHER"}, "Success": True, "Type": "Socket", "Error": ""}
)


async def test_a_flood_of_identical_frames_never_reconnects(
    sim: NinaSimulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Test that 60,000 identical frames in a burst leave the socket up and read history once."""
    engine = make_engine(sim.port, tmp_path / "nina.db", session, tick_interval=3600.0)
    await engine.start()
    try:
        await until(lambda: engine.health.connected, "connected")
        await sim.wait_for_sockets(1)
        for _ in range(60_000):
            await sim.send_raw(DITHER)
        events = engine.health.events
        await until(lambda: events.received == 60_000, "the flood read")
        await until(
            lambda: events.processed + events.duplicates + events.rejected == 60_000,
            "every frame processed or refused",
        )
        assert sim.connections_accepted == 1 and engine.health.reconnects == 0
        assert engine.health.connected and engine.health.history.reads == 1
        if events.rejected_by_reason.get("queue_full"):
            await engine.tick()  # what was refused is read from history at the next tick
            assert engine.health.history.reads == 2
        await engine.tick()  # nothing refused since: no further read
        assert engine.health.history.reads <= 2
    finally:
        await engine.stop()


async def test_large_frames_during_a_hanging_history_read_are_bounded_in_bytes(
    sim: NinaSimulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Test that frames of almost 4 MiB queued behind a hanging backfill stay within budget."""
    sim.serve_history(endless=True)
    backlog = DEFAULT_MAX_BACKLOG_BYTES // 2  # an expert setting of EngineConfig
    engine = make_engine(
        sim.port,
        tmp_path / "nina.db",
        session,
        request_timeout=3.0,
        history_retry=3600.0,
        max_backlog_bytes=backlog,
    )
    await engine.start()
    frame = DITHER.replace('"GUIDER-DITHER"', '"GUIDER-DITHER","Pad":"%s"' % ("x" * 3_900_000))
    count = 20
    try:
        await sim.wait_for_sockets(1)
        for _ in range(count):
            await sim.send_raw(frame)
        events = engine.health.events
        await until(lambda: events.received == count, "the frames read", timeout=60)
        await until(lambda: engine.health.history.failures == 1, "the hanging read given up")
        fits = backlog // len(frame)
        assert events.rejected_by_reason["queue_full"] == count - fits
        budgets = (await engine.health_json())["budgets"]
        assert budgets["backlog"]["max_bytes"] == backlog
        assert budgets["backlog"]["refused"] == count - fits
        assert budgets["queue"]["refused"] == 0
        await until(lambda: engine.health.connected, "live after the failed read")
        assert sim.connections_accepted == 1
    finally:
        await engine.stop()


async def test_the_live_queue_budget_is_a_setting_and_its_refusals_show_in_health(
    sim: NinaSimulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Test that `max_queue_bytes` bounds the live queue and health shows budget and refusals."""
    limit = len(DITHER) - 1  # not even one frame fits
    engine = make_engine(
        sim.port, tmp_path / "nina.db", session, tick_interval=3600.0, max_queue_bytes=limit
    )
    await engine.start()
    try:
        await until(lambda: engine.health.connected, "connected")
        for _ in range(5):
            await sim.send_raw(DITHER)
        events = engine.health.events
        await until(lambda: events.rejected == 5, "the frames refused")
        budgets = (await engine.health_json())["budgets"]
        assert budgets["queue"] == {"max_bytes": limit, "bytes": 0, "refused": 5}
        assert budgets["pending_writes"]["max_bytes"] == engine.config.options.max_pending_bytes
        assert set(budgets) == {"queue", "backlog", "pending_writes", "history"}
        assert engine.health.connected and sim.connections_accepted == 1
    finally:
        await engine.stop()
