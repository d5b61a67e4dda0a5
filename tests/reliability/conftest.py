"""Reliability tests: real simulator over 127.0.0.1, real SQLite files, no mocks."""

from __future__ import annotations

import contextlib

import pytest


@pytest.fixture(autouse=True)
def _loopback_sockets(request: pytest.FixtureRequest) -> None:
    """Allow sockets when the homeassistant pytest plugin (pytest-socket) blocks them."""
    with contextlib.suppress(pytest.FixtureLookupError):
        request.getfixturevalue("socket_enabled")
