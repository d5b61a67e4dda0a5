"""Fixtures every run in Home Assistant's test harness needs.

Our integration enabled, a private config dir, fast reconnects and a NINA simulator. Shared by
tests/integration and the HA-level latency benchmark.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

from homeassistant.core import HomeAssistant
import pytest

from custom_components.nina_session.engine import connection
from simulator import NinaSimulator


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let HA load custom_components/nina_session."""


@pytest.fixture(autouse=True)
def config_dir(hass: HomeAssistant, tmp_path: Path) -> Path:
    """Each test's databases in its own temporary config dir (not the harness's)."""
    hass.config.config_dir = str(tmp_path)
    return tmp_path


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reconnect after milliseconds, not seconds, so a NINA coming up is seen at once."""
    monkeypatch.setattr(
        connection, "Backoff", partial(connection.Backoff, initial=0.01, ceiling=0.05, jitter=0)
    )


@pytest.fixture
async def sim(socket_enabled: None) -> AsyncIterator[NinaSimulator]:
    """Run a NINA simulator on 127.0.0.1 (random port)."""
    server = NinaSimulator(host="127.0.0.1", port=0)
    await server.start()
    yield server
    await server.stop()
