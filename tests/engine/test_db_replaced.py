"""The database file replaced or overwritten with garbage mid-night: nothing lost, nothing twice.

SQLite does not notice either: the open connection writes on into the file it opened (a
replaced file's old inode; its cache and WAL over an overwritten one), and everything is gone
at the next start. The engine's clock finds the damage, saves what the connection still reads
into a sound file, moves the garbage aside and reads NINA's history again; the night then
stands as the simulator played it, each event stored once.
"""

from __future__ import annotations

import os
from pathlib import Path

import aiohttp
import pytest

from custom_components.nina_session.engine.store import Store
from custom_components.nina_session.engine.store_recovery import SQLITE_HEADER
from simulator import preset_night
from simulator.server import NinaSimulator
from tests.engine.test_engine_live import SPEED, lights, make_engine, until

GARBAGE = os.urandom(64 * 1024)


def replace_with_garbage(db: Path) -> None:
    """Put a garbage file where the database was (a bad restore, another program's file)."""
    other = db.with_name("other")
    other.write_bytes(GARBAGE)
    other.replace(db)


def overwrite_with_garbage(db: Path) -> None:
    """Write garbage over the database file's first bytes, in place."""
    with db.open("r+b") as handle:
        handle.write(GARBAGE)


@pytest.mark.parametrize("damage", [replace_with_garbage, overwrite_with_garbage])
async def test_a_database_file_turned_to_garbage_mid_night_loses_nothing(
    damage: object, sim: NinaSimulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Test that the damage is found, told in health, and the night is stored once."""
    night = preset_night("simple")
    db = tmp_path / "nina.db"
    engine = make_engine(sim.port, db, session, tick_interval=0.2, reconcile_interval=0)
    reasons: list[str] = []
    engine.subscribe(lambda update: reasons.append(update.reason))
    await engine.start()
    try:
        await until(lambda: engine.health.connected, "connected")
        half = len(night.events) // 2
        await sim.play(night.events[:half], speed=SPEED)
        await until(lambda: engine.health.events.processed >= half, "the first half")
        damage(db)  # type: ignore[operator]
        await sim.play(night.events[half:], speed=SPEED)
        await until(lambda: engine.health.storage.recoveries == 1, "the file recovered")
        await until(lambda: lights(engine) == night.truth.frames_by_type["LIGHT"], "all lights")
        await engine.refresh()  # history once more: every event is stored already

        health = await engine.health_json()
        assert health["db"]["file_problems"] >= 1
        assert "nina.db" in health["db"]["last_file_problem"]
        assert health["db"]["recoveries"] == 1
        assert health["db"]["error"] is None and health["db"]["pending_events"] == 0
        assert health["db"]["events"] == len(night.events)  # each once
        assert "rebuild" in reasons
        aside = engine.recovered_db  # the garbage is kept for the user, never deleted
        assert aside is not None and aside.read_bytes()[: len(GARBAGE)] == GARBAGE
        assert db.read_bytes().startswith(SQLITE_HEADER)
        stored = (await engine.sessions())[0]
        assert stored["frames"]["by_type"] == night.truth.frames_by_type
    finally:
        await engine.stop()
    # ...and the file on disk holds the night after a restart.
    store = Store(db)
    assert store.counts()["events"] == len(night.events)
    store.close()


async def test_events_wait_in_memory_until_a_sound_file_can_be_opened(
    sim: NinaSimulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Test that while no new file can be made, events wait in memory, with the error shown."""
    night = preset_night("simple")
    db = tmp_path / "nina.db"
    blocker = tmp_path / "nina.db.rescue"  # where the rescued copy would go: made unusable
    engine = make_engine(sim.port, db, session, tick_interval=0.2, reconcile_interval=0)
    await engine.start()
    try:
        await until(lambda: engine.health.connected, "connected")
        half = len(night.events) // 2
        await sim.play(night.events[:half], speed=SPEED)
        await until(lambda: engine.health.events.processed >= half, "the first half")
        blocker.mkdir()
        (blocker / "in the way").write_bytes(b"")
        replace_with_garbage(db)
        await until(lambda: engine.health.storage.problems >= 2, "failed recoveries")
        processed = engine.health.events.processed
        await sim.play(night.events[half:], speed=SPEED)
        await until(lambda: lights(engine) == night.truth.frames_by_type["LIGHT"], "all lights")
        pipeline = engine.pipeline
        assert pipeline is not None
        # Every event processed since is in memory (the fold counts them), none in a file.
        await until(
            lambda: pipeline.writer.pending_events == engine.health.events.processed - processed,
            "every later event waiting in memory",
        )
        health = await engine.health_json()
        assert health["db"]["pending_events"] >= len(night.events) - half - 1
        assert health["db"]["error"] is not None and health["db"]["recoveries"] == 0
        assert "cannot open a new one" in health["db"]["last_file_problem"]
        assert pipeline.writer.storage_error is not None

        (blocker / "in the way").unlink()
        blocker.rmdir()
        await until(lambda: engine.health.storage.recoveries == 1, "the file recovered")
        await engine.refresh()
        health = await engine.health_json()
        assert health["db"]["error"] is None and health["db"]["pending_events"] == 0
        assert health["db"]["events"] == len(night.events)  # the history brought the rest
        stored = (await engine.sessions())[0]
        assert stored["frames"]["by_type"] == night.truth.frames_by_type
        assert engine.recovered_db is not None
        assert engine.recovered_db.read_bytes() == GARBAGE
    finally:
        await engine.stop()
