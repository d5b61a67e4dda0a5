"""Home Assistant harness for nina_session: real config entries against the NINA simulator."""

from __future__ import annotations

# Import ours before the harness mounts its own `custom_components` package, so ours is the
# one Python caches (toolchain.md).
import custom_components.nina_session  # noqa: F401  # isort: skip

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
import logging
import socket
from typing import Any

from aiohttp import web
from api_helpers import entry_loaded
from harness import auto_enable_custom_integrations, config_dir, fast_retries, sim  # noqa: F401  (fixtures)
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from integration_helpers import make_entry
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from simulator import NinaSimulator

# The harness (like HA core's own tests) sets the SQLAlchemy engine logger to INFO, so every
# statement of the recorder's thread reaches stderr once pytest stops capturing at teardown,
# mixed into the progress dots. Failures still show our own logs; SQL is not ours to debug.
logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)


@pytest.fixture
async def setup_entry(
    hass: HomeAssistant, sim: NinaSimulator
) -> Callable[..., Awaitable[MockConfigEntry]]:
    """Add and set up an entry for the simulator; returns once HA finished the setup."""

    async def _setup(**kwargs: Any) -> MockConfigEntry:
        entry = make_entry(hass, sim.port, **kwargs)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        return entry

    return _setup


@pytest.fixture
async def loaded_entry(
    hass: HomeAssistant, setup_entry: Callable[..., Awaitable[MockConfigEntry]]
) -> AsyncIterator[MockConfigEntry]:
    """Load one entry against the simulator and wait until it is connected."""
    async with entry_loaded(hass, setup_entry) as entry:
        yield entry


@pytest.fixture
async def html_server(socket_enabled: None) -> AsyncIterator[int]:
    """Run a web server on 127.0.0.1 that answers HTML everywhere (not the plugin)."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="<html><body>router login</body></html>", content_type="text/html")

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port: int = runner.addresses[0][1]
    yield port
    await runner.cleanup()


@pytest.fixture
def free_port(socket_enabled: None) -> Iterator[int]:
    """Return a port on 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
