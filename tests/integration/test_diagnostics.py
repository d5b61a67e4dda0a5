"""Config entry diagnostics: complete, and without the user's host anywhere."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import json

from homeassistant.components.diagnostics import REDACTED
from homeassistant.core import HomeAssistant
from integration_helpers import coordinator_of, wait_connected, wait_for
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

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
    assert diagnostics["counters"]["backfilled"] == 25
    assert diagnostics["counters"]["by_type"]["IMAGE-SAVE"] == 2
    assert diagnostics["session"]["frames"]["total"] == 2
    assert diagnostics["equipment"]["sequence_running"] is True
