"""Client helpers for tests that talk to the simulator over its real sockets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from simulator.server import NinaSimulator


async def api(session: aiohttp.ClientSession, sim: NinaSimulator, path: str, **params: str) -> Any:
    """GET a REST path and return the decoded envelope (always HTTP 200)."""
    async with session.get(sim.api_url + path, params=params) as resp:
        assert resp.status == 200  # always, errors included
        return json.loads(await resp.text())


async def receive(ws: aiohttp.ClientWebSocketResponse) -> aiohttp.WSMessage:
    """Receive the next socket message, failing after 5 seconds."""
    return await asyncio.wait_for(ws.receive(), 5)
