"""Config entry diagnostics: complete, and without the user's host anywhere."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import json
import socket

from homeassistant.components.diagnostics import REDACTED
from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant
from integration_helpers import coordinator_of, entry_data, wait_connected, wait_for
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.nina_session.const import DOMAIN
from simulator import NinaSimulator, preset_night

SetupEntry = Callable[..., Awaitable[MockConfigEntry]]


async def test_diagnostics_are_redacted(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    sim: NinaSimulator,
    setup_entry: SetupEntry,
) -> None:
    """Test that diagnostics are complete and redact the host everywhere (errors, title)."""
    await sim.play(preset_night("simple").events[:25], speed=0)
    entry = await setup_entry(name=None)  # the default title carries the host
    await wait_connected(hass, entry)
    await sim.set_offline(True)
    await sim.drop_sockets(abrupt=True)
    health = coordinator_of(entry).engine.health
    await wait_for(lambda: "127.0.0.1" in (health.last_error or ""), "an error naming the URL")

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    assert "127.0.0.1" not in json.dumps(diagnostics)
    assert diagnostics["entry"]["data"]["host"] == REDACTED
    assert diagnostics["entry"]["data"]["port"] == sim.port
    assert diagnostics["entry"]["unique_id"] == REDACTED
    assert diagnostics["entry"]["title"] == f"NINA {REDACTED}:{sim.port}"
    assert diagnostics["entry"]["options"] == {"dedup_window_seconds": 0.0}
    assert diagnostics["instance_id"] == "rig_1"
    assert "cannot reach http://**REDACTED**:" in diagnostics["health"]["last_error"]
    health = diagnostics["health"]
    assert health["plugin_version"] == "2.2.9.0"
    assert health["db"]["path"] == f"{entry.entry_id}.db"
    assert health["db"]["sessions"] == 1
    # The expert byte budgets (not in the options flow), what they hold and what they refused.
    budgets = health["budgets"]
    assert budgets["queue"]["max_bytes"] == 16 * 1024 * 1024
    assert budgets["backlog"]["max_bytes"] == 16 * 1024 * 1024
    assert budgets["pending_writes"] == {"max_bytes": 32 * 1024 * 1024, "bytes": 0, "refused": 0}
    assert budgets["history"]["max_bytes"] == 64 * 1024 * 1024
    assert budgets["history"]["refused"] == 0 and budgets["history"]["bytes"] > 0
    assert diagnostics["counters"]["backfilled"] == 25
    assert diagnostics["counters"]["by_type"]["IMAGE-SAVE"] == 2
    assert diagnostics["session"]["frames"]["total"] == 2
    assert diagnostics["equipment"]["sequence_running"] is True


def closed_port() -> int:
    """Return a port of 127.0.0.1 that nothing listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def setup_unreachable(hass: HomeAssistant, host: str) -> MockConfigEntry:
    """Set up an entry for a NINA at `host` that cannot be reached."""
    port = closed_port()
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"NINA {host}:{port}",
        data={**entry_data(port), CONF_HOST: host},
        options={"dedup_window_seconds": 0.0},
        unique_id=f"{host}:{port}",
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    return entry


async def test_diagnostics_redact_a_shortened_ipv6_address(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, socket_enabled: None
) -> None:
    """Test that an IPv6 address typed in full is redacted in its short form in errors too."""
    host = "0:0:0:0:0:0:0:1"  # shows up as ::1 in URLs and connection errors
    entry = await setup_unreachable(hass, host)
    health = coordinator_of(entry).engine.health
    await wait_for(lambda: "::1" in (health.last_error or ""), "an error naming [::1]")

    diagnostics = json.dumps(await get_diagnostics_for_config_entry(hass, hass_client, entry))

    assert REDACTED in diagnostics
    for spelling in ("::1", host, "0000:0000"):
        assert spelling not in diagnostics, spelling


async def test_diagnostics_redact_addresses_the_host_resolved_to(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, socket_enabled: None
) -> None:
    """Test that an error naming the address a host name resolved to does not show it."""
    entry = await setup_unreachable(hass, "nina.local")
    port = entry.data["port"]
    engine = coordinator_of(entry).engine
    health = engine.health
    await wait_for(lambda: health.consecutive_failures > 0, "a failed attempt")
    await engine._loop.stop()  # noqa: SLF001  (no further attempt overwrites the error)
    # The harness resolves no names; this is aiohttp's text when the name resolved.
    health.last_error = (
        f"cannot reach http://nina.local:{port}/v2/api/version: Cannot connect to host "
        f"nina.local:{port} ssl:default [Multiple exceptions: [Errno 111] Connect call failed "
        f"('192.168.20.7', {port}), [Errno 111] Connect call failed "
        f"('fd00:1:2::7', {port}, 0, 0)]"
    )

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    text = json.dumps(diagnostics)
    for spelling in ("192.168.20.7", "fd00:1:2::7", "nina.local"):
        assert spelling not in text, spelling
    assert f"('{REDACTED}', {port})" in diagnostics["health"]["last_error"]
