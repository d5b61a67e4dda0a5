"""The simulator as plugin v3 only: v3's socket and REST shapes, and no v2 at all."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
import json
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from simulator.night import SimEvent
from simulator.server import NinaSimulator

BERLIN_EVENING = datetime(2026, 11, 24, 19, 5, 0, 123456, tzinfo=ZoneInfo("Europe/Berlin"))


@pytest.fixture(autouse=True)
def _loopback_sockets(request: pytest.FixtureRequest) -> None:
    """Allow sockets when the homeassistant pytest plugin (pytest-socket) blocks them."""
    with contextlib.suppress(pytest.FixtureLookupError):
        request.getfixturevalue("socket_enabled")


async def test_v3_simulator_speaks_v3_only(session: aiohttp.ClientSession) -> None:
    """Test that api="v3" serves v3's bare frames and history, and no v2 route."""
    async with NinaSimulator(plugin_version="3.0.0.0", api="v3") as sim:
        assert sim.socket_url.endswith("/v3/ws/events")
        async with session.get(f"{sim.base_url}/v2/api/version") as resp:
            assert resp.status == 404
        async with session.get(f"{sim.api_url}/version") as resp:
            assert await resp.json() == {"Version": "3.0.0.0"}
        async with session.get(f"{sim.api_url}/image/history") as resp:
            assert resp.status == 404  # no images yet, as v3 says it
        async with session.ws_connect(sim.socket_url) as ws:
            await sim.wait_for_sockets(1)
            await sim.emit(SimEvent(BERLIN_EVENING, "MOUNT-CENTER"))  # v2 only: not sent
            await sim.emit(
                SimEvent(BERLIN_EVENING, "FILTERWHEEL-CHANGED",
                         {"Previous": {"Name": "L", "Id": 0}, "New": {"Name": "Ha", "Id": 4}})
            )  # fmt: skip
            frame = json.loads((await asyncio.wait_for(ws.receive(), 5)).data)
        assert frame == {
            "Event": "filterwheel-filter-changed",
            "Data": {"From": {"Name": "L", "Position": 0}, "To": {"Name": "Ha", "Position": 4}},
        }
        async with session.get(f"{sim.api_url}/events", params={"page-size": "-1"}) as resp:
            (item,) = await resp.json()
        assert item["Event"] == "filterwheel-filter-changed"
        assert item["Timestamp"] == "2026-11-24T18:05:00.1234562Z"  # .NET ticks, in UTC
        async with session.get(f"{sim.api_url}/events") as resp:
            assert await resp.json() == []  # page 0 of v3's pager is empty
