"""The live engine against the NINA simulator over real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
import os
from pathlib import Path
import signal
import socket
import subprocess
import sys
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from custom_components.nina_session.engine.engine import EngineConfig, EngineUpdate, NinaEngine
from custom_components.nina_session.engine.pipeline import PipelineOptions
from simulator import Night, preset_night
from simulator.server import NinaSimulator

# The simple night (20 simulated minutes) plays in about 3 s; identical events are then at
# least 0.3 s apart, so a 0.15 s dedup window still tells them apart.
SPEED = 400.0
OPTIONS = PipelineOptions("rig1", ZoneInfo("Europe/Berlin"), dedup_window=timedelta(seconds=0.15))
ROOT = Path(__file__).parents[2]


async def until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll until `check()` holds, giving up after `timeout` seconds; `what` names the wait."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)
    assert check(), what


def make_engine(
    port: int, db: Path, session: aiohttp.ClientSession, **changes: object
) -> NinaEngine:
    """Build an engine for NINA on 127.0.0.1:`port` storing in `db`; `changes` adjust the config."""
    config = EngineConfig(
        host="127.0.0.1", port=port, db_path=db, options=OPTIONS, heartbeat=1.0, **changes
    )  # type: ignore[arg-type]
    return NinaEngine(config, session)


def lights(engine: NinaEngine) -> int:
    """Return the current session's LIGHT frame count, 0 without a session."""
    session = engine.current_session()
    return session["frames"]["by_type"].get("LIGHT", 0) if session else 0


def assert_truth(engine: NinaEngine, night: Night) -> None:
    """Assert that the current session has the night's true frames, time and dithers."""
    session = engine.current_session()
    assert session is not None
    assert session["frames"]["by_type"] == night.truth.frames_by_type
    by_filter = {k: v["count"] for k, v in session["frames"]["by_filter"].items()}
    assert by_filter == night.truth.lights_by_filter
    assert session["integration_seconds"] == night.truth.integration_seconds
    assert session["counts"]["dithers"] == night.truth.dithers


async def play_with_fault(
    sim: NinaSimulator, night: Night, fault: Callable[[], Awaitable[None]]
) -> None:
    """Play the first half of the night, inject `fault`, then play the rest."""
    half = len(night.events) // 2
    await sim.play(night.events[:half], speed=SPEED)
    await fault()
    await sim.play(night.events[half:], speed=SPEED)


async def test_a_dropped_socket_loses_nothing_and_duplicates_nothing(
    sim: NinaSimulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Test that a socket drop mid-night still ends with exactly the true counts."""
    night = preset_night("simple")
    engine = make_engine(sim.port, tmp_path / "drop.db", session)
    await engine.start()
    await until(lambda: engine.health.connected, "connected")
    await play_with_fault(sim, night, sim.drop_sockets)
    await until(lambda: lights(engine) == night.truth.frames_by_type["LIGHT"], "all lights")
    await until(lambda: engine.health.connected, "reconnected")
    await engine.refresh()  # history again: everything is a duplicate by now
    assert_truth(engine, night)
    assert engine.health.reconnects >= 1
    assert engine.health.events.backfilled > 0
    await engine.stop()


async def test_subscribers_hear_of_each_connection_change_as_it_happens(
    sim: NinaSimulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Test that every "connection" update already carries the health it announces.

    Subscribers (the HA coordinator) read the health when told: the update must come after
    the change, for the connection coming up, going down and each failed attempt.
    """
    engine = make_engine(sim.port, tmp_path / "health.db", session)
    seen: list[tuple[bool, int]] = []

    def record(update: EngineUpdate) -> None:
        if update.reason == "connection":
            seen.append((engine.health.connected, engine.health.consecutive_failures))

    engine.subscribe(record)
    await engine.start()
    await until(lambda: (True, 0) in seen, "told of the connection")
    await sim.stop()
    await until(lambda: any(failures > 0 for _, failures in seen), "told of a failed attempt")
    up = seen.index((True, 0))
    assert (False, 0) in seen[up:]  # the lost connection, told before any retry
    await engine.stop()


async def test_a_deferred_connect_lets_late_listeners_hear_the_first_backfill(
    sim: NinaSimulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Test that start(connect=False) opens the store only; connect() then backfills.

    HA subscribes its entities after the engine has started: the night NINA already holds must
    reach them, so the connection (and its backfill) waits for `connect()`.
    """
    night = preset_night("simple")
    await sim.play(night.events, speed=SPEED)  # NINA's history: the night, while HA was away
    engine = make_engine(sim.port, tmp_path / "deferred.db", session)
    await engine.start(connect=False)
    await asyncio.sleep(0.2)  # ample for a connection on 127.0.0.1, had one been started
    assert sim.connections_accepted == 0
    assert engine.health.since is None  # no attempt was made
    assert engine.current_session() is None
    applied: list[str] = []
    engine.subscribe(
        lambda update: applied.extend(
            item.event.name for item in (update.result.applied if update.result else ())
        )
    )
    await engine.connect()
    frames = sum(night.truth.frames_by_type.values())
    # The fold is published on the writer thread before subscribers are told: wait for them.
    await until(lambda: applied.count("IMAGE-SAVE") == frames, "the backfill told")
    assert_truth(engine, night)
    await engine.stop()


async def test_nina_restart_starts_a_new_epoch_and_keeps_history(
    sim: NinaSimulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Test that a NINA restart mid-night starts epoch 1 and the session still matches truth."""
    night = preset_night("simple")
    engine = make_engine(sim.port, tmp_path / "restart.db", session)
    await engine.start()
    await until(lambda: engine.health.connected, "connected")
    await play_with_fault(sim, night, sim.restart)
    await until(lambda: lights(engine) == night.truth.frames_by_type["LIGHT"], "all lights")
    assert_truth(engine, night)
    assert engine.pipeline is not None and engine.pipeline.epoch == 1
    await engine.stop()


async def test_garbage_is_counted_and_the_stream_goes_on(
    sim: NinaSimulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Test that a non-JSON frame is rejected, an unknown event kept, and the night counted."""
    night = preset_night("simple")
    engine = make_engine(sim.port, tmp_path / "garbage.db", session)
    await engine.start()
    await until(lambda: engine.health.connected, "connected")
    await sim.send_raw("this is not json")
    await sim.send_raw('{"Response": {"Event": "SOMETHING-NEW"}, "Success": true}')
    await sim.play(night, speed=SPEED)
    await until(lambda: lights(engine) == night.truth.frames_by_type["LIGHT"], "all lights")
    counters = engine.health.events
    assert counters.rejected_by_reason.get("not_json") == 1
    assert counters.by_type.get("SOMETHING-NEW") == 1  # unknown events are kept
    await engine.stop()


@pytest.mark.parametrize("interval", [0.05, 0.0], ids=["reconciling", "only_on_connect"])
async def test_the_tick_reads_history_again_and_repairs_a_lost_message(
    interval: float, sim: NinaSimulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Test that a message lost on a socket that stays up is repaired by the periodic read.

    With `reconcile_interval` 0 (history only on connect) the lost frame stays missing.
    """
    night = preset_night("simple")
    engine = make_engine(sim.port, tmp_path / "reconcile.db", session, reconcile_interval=interval)
    await engine.start()
    await until(lambda: engine.health.connected, "connected")
    first_save = next(i for i, e in enumerate(night.events) if e.name == "IMAGE-SAVE")
    await sim.play(night.events[:first_save], speed=SPEED)
    sim.lose_next(1)  # the first frame reaches NINA's history, not the socket
    await sim.play(night.events[first_save:], speed=SPEED)
    counters = engine.health.events
    await until(lambda: counters.processed >= len(night.events) - 1, "the live events")
    await asyncio.sleep(2 * interval)
    await engine.tick()
    stored = counters.processed
    await engine.stop()
    assert sim.connections_accepted == 1, "the socket stayed up: no reconnect backfill"
    assert stored == len(night.events) - (0 if interval else 1)
    if interval:
        assert_truth(engine, night)


async def test_the_first_live_frame_on_a_new_database_has_history_read_at_the_next_tick(
    sim: NinaSimulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Test that a new database's first live frame has history read at the next tick.

    NINA's clock offset is measured from frames seen both ways; on a new database the first
    periodic read (15 minutes) would be the first chance.
    """
    night = preset_night("simple")
    engine = make_engine(sim.port, tmp_path / "measure.db", session)
    await engine.start()
    await until(lambda: engine.health.connected, "connected")
    pipeline = engine.pipeline
    assert pipeline is not None
    first_save = next(i for i, e in enumerate(night.events) if e.name == "IMAGE-SAVE")
    await sim.play(night.events[: first_save + 1], speed=SPEED)
    await until(lambda: pipeline.counters.processed >= first_save + 1, "the first frame")
    assert not pipeline.clock.measured
    await engine.tick()
    assert pipeline.clock.measured
    await engine.stop()


async def test_concurrent_refreshes_coalesce(
    sim: NinaSimulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Test that five concurrent refreshes rebuild once and a later refresh rebuilds again."""
    engine = make_engine(sim.port, tmp_path / "refresh.db", session)
    await engine.start()
    await until(lambda: engine.health.connected, "connected")
    await sim.play(preset_night("simple"), speed=SPEED)
    await asyncio.gather(*(engine.refresh() for _ in range(5)))
    assert engine.pipeline is not None and engine.pipeline.rebuilds == 1
    await engine.refresh()
    assert engine.pipeline.rebuilds == 2
    await engine.stop()


def _closed_port() -> int:
    """Return a port on 127.0.0.1 that was bound once and is closed now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_start_does_not_wait_for_nina_and_serves_stored_history(
    sim: NinaSimulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Test that with NINA unreachable start returns, stored frames are served, no task leaks."""
    db = tmp_path / "offline.db"
    engine = make_engine(sim.port, db, session)
    await engine.start()
    await until(lambda: engine.health.connected, "connected")
    events = preset_night("simple").events
    first_light = next(i for i, e in enumerate(events) if e.name == "IMAGE-SAVE")
    await sim.play(events[: first_light + 1], speed=SPEED)
    await until(lambda: lights(engine) > 0, "a light")
    before = engine.current_session()
    await engine.stop()

    offline = make_engine(_closed_port(), db, session)
    await offline.start()  # returns although nothing listens
    stored = await offline.session()
    assert stored is not None and before is not None
    assert stored["state"] == "disconnected"
    assert stored["frames"] == before["frames"]
    assert not offline.health.connected
    await offline.stop()
    leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert [t.get_name() for t in leftover if "nina_session" in t.get_name()] == []


async def test_listen_cli_records_and_stops_cleanly_on_sigint(
    sim: NinaSimulator, tmp_path: Path
) -> None:
    """Test that the listen CLI records frames, logs the state and exits 0 on SIGINT."""
    record = tmp_path / "night.jsonl"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "custom_components.nina_session.engine", "listen",
        "--host", "127.0.0.1", "--port", str(sim.port), "--db", str(tmp_path / "cli.db"),
        "--record", str(record), "--tz", "Europe/Berlin",
        cwd=ROOT, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        await until(lambda: sim.open_sockets > 0, "the CLI connected")
        await sim.play(preset_night("simple"), speed=SPEED)
        await until(lambda: record.exists() and len(record.read_text().splitlines()) >= 40,
                    "recorded")  # fmt: skip
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(10):
            code = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
    assert process.stderr is not None
    log = (await process.stderr.read()).decode()
    assert code == 0, log
    assert "State: imaging" in log
    assert "Stopped:" in log
