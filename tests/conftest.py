"""Fixtures every test folder shares: a NINA simulator and an aiohttp client session.

The integration tests use their own `sim` (tests/integration/harness.py), which also lets
the Home Assistant harness open sockets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from simulator.server import NinaSimulator


@pytest.fixture
async def sim() -> AsyncIterator[NinaSimulator]:
    """Yield a simulator started on a free port of 127.0.0.1; stop it afterwards."""
    async with NinaSimulator(host="127.0.0.1", port=0) as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """Yield an aiohttp client session, closed afterwards."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session
