"""Reliability tests: real simulator over 127.0.0.1, real SQLite files, no mocks."""

from __future__ import annotations

from collections.abc import AsyncIterator
import contextlib

import aiohttp
import pytest

from simulator.server import NinaSimulator


@pytest.fixture(autouse=True)
def _loopback_sockets(request: pytest.FixtureRequest) -> None:
    """Allow sockets when the homeassistant pytest plugin (pytest-socket) blocks them."""
    with contextlib.suppress(pytest.FixtureLookupError):
        request.getfixturevalue("socket_enabled")


@pytest.fixture
async def sim() -> AsyncIterator[NinaSimulator]:
    """Run a NINA simulator on 127.0.0.1 for the test."""
    async with NinaSimulator() as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """Provide an aiohttp client session, closed after the test."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session
