"""The whole engine against a plugin that speaks only v3, over real sockets on 127.0.0.1.

The same night is played to a v2 simulator and to a v3-only one; the engine must come to the
same sessions. "The same night" is the night as v3 can tell it: v3 does not send NINA's log
events (MOUNT-CENTER here), so both runs get the night without them.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import aiohttp

from custom_components.nina_session.engine.client import API_V2, API_V3
from simulator import Night, NightSpec, generate_night
from simulator.server import NinaSimulator
from simulator.v3 import v3_name
from tests.engine.test_engine_live import lights, make_engine, until

SPEED = 800.0  # about 5 s for the night; same-content events stay > 0.15 s (dedup) apart


def v3_night() -> Night:
    """Return a Target Scheduler night with a flip, a cloud pause and calibration frames."""
    spec = NightSpec(
        date=date(2026, 11, 24), seed=7, targets=("M 31", "NGC 7000"), filters=("L", "Ha"),
        light_exposure=120.0, lights_per_filter=3, dither_every=2, meridian_flip=True,
        cloud_pause=True, darks=2, dark_exposure=60.0, bias=3, use_target_scheduler=True,
    )  # fmt: skip
    night = generate_night(spec)
    told = [ev for ev in night.events if v3_name(ev.name) is not None]
    assert len(told) < len(night.events)  # the night had v2-only events to leave out
    return Night(night.spec, told, night.truth, night.application_starts)


def without_times(session: dict[str, Any]) -> dict[str, Any]:
    """Return what a session says apart from its times (each run is played at its own now)."""
    current = {k: v for k, v in session["current"].items() if k != "last_image_at"}
    history = [(entry["state"], entry["cause"]) for entry in session["state_history"]]
    kept = ("state", "targets", "frames", "integration_seconds", "quality", "counts")
    return {**{key: session[key] for key in kept}, "current": current, "history": history}


async def run_night(api: str, night: Night, db: Path, session: aiohttp.ClientSession) -> Any:
    """Play `night` to a simulator speaking `api`; return sessions, unknown names, API used.

    Half the night is played before the engine connects (backfill), the rest live, then the
    socket is dropped (a second backfill) and the engine refreshed.
    """
    async with NinaSimulator(host="127.0.0.1", port=0, plugin_version="3.0.0.0", api=api) as sim:
        half = len(night.events) // 2
        await sim.play(night.events[:half], speed=SPEED)
        engine = make_engine(sim.port, db, session)
        await engine.start()
        await until(lambda: engine.health.connected, f"{api}: connected")
        await sim.play(night.events[half:], speed=SPEED)
        await until(lambda: lights(engine) == night.truth.frames_by_type["LIGHT"], "all lights")
        await sim.drop_sockets()
        await until(lambda: engine.health.reconnects >= 1 and engine.health.connected, "back")
        await engine.refresh()
        sessions = [without_times(s) for s in await engine.sessions(newest_first=False)]
        unknown = dict(engine.health.events.unknown_by_type)
        used = engine.client.api
        await engine.stop()
    return sessions, unknown, used


async def test_a_v3_plugin_gives_the_same_sessions_as_v2(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Test that the engine reads a v3-only plugin to the very sessions a v2 one gives."""
    night = v3_night()
    v2_sessions, v2_unknown, v2_api = await run_night("v2", night, tmp_path / "v2.db", session)
    v3_sessions, v3_unknown, v3_api = await run_night("v3", night, tmp_path / "v3.db", session)
    assert (v2_api, v3_api) == (API_V2, API_V3)
    assert len(v2_sessions) == 1
    (only,) = v2_sessions
    assert only["frames"]["by_type"] == night.truth.frames_by_type
    assert only["targets"] == night.truth.targets
    assert v3_sessions == v2_sessions
    assert v2_unknown == v3_unknown == {}  # every name either API sent is in the vocabulary
