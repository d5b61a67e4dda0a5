"""The livestack image against the simulator's Livestack plugin, in the real HA harness."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import logging

from homeassistant.core import HomeAssistant
from integration_helpers import coordinator_of, enable_entity, wait_connected, wait_for
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from simulator import NinaSimulator

SetupEntry = Callable[..., Awaitable[MockConfigEntry]]

LIVESTACK = "image.rig_1_livestack"


def _state(hass: HomeAssistant) -> str:
    current = hass.states.get(LIVESTACK)
    assert current is not None
    return current.state


async def _stack(
    hass: HomeAssistant, entry: MockConfigEntry, sim: NinaSimulator, target: str, filt: str
) -> None:
    """Stack one frame in the simulator; wait until the engine took its STACK-UPDATED."""
    counters = coordinator_of(entry).engine.health.events
    before = counters.processed
    await sim.livestack.stack(target, filt)
    await wait_for(lambda: counters.processed > before, "STACK-UPDATED to be processed")
    await hass.async_block_till_done()  # the fetch it started


async def test_livestack_image_follows_stack_updates(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    sim: NinaSimulator,
    setup_entry: SetupEntry,
) -> None:
    """Test that each STACK-UPDATED fetches that stack's PNG and the image serves it."""
    enable_entity(hass, LIVESTACK)
    entry = await setup_entry()
    await wait_connected(hass, entry)
    assert _state(hass) == "unavailable"  # nothing stacked yet
    client = await hass_client()

    await _stack(hass, entry, sim, "M 31", "Ha")
    first = hass.states.get(LIVESTACK)
    assert first is not None and first.state != "unavailable"
    assert first.attributes["target"] == "M 31"
    assert first.attributes["filter"] == "Ha"
    response = await client.get(f"/api/image_proxy/{LIVESTACK}")
    assert response.status == 200
    assert response.content_type == "image/png"
    assert await response.read() == sim.livestack.picture("M 31", "Ha")

    await _stack(hass, entry, sim, "M 31", "OIII")
    second = hass.states.get(LIVESTACK)
    assert second is not None and second.state != first.state  # a new picture, a new time
    assert second.attributes["filter"] == "OIII"
    response = await client.get(f"/api/image_proxy/{LIVESTACK}")
    assert await response.read() == sim.livestack.picture("M 31", "OIII")


async def test_livestack_image_reads_the_newest_stack_on_connect(
    hass: HomeAssistant, sim: NinaSimulator, setup_entry: SetupEntry
) -> None:
    """Test that a stack made before HA connected is shown (read from the available list)."""
    await sim.livestack.stack("NGC 7000", "L")
    enable_entity(hass, LIVESTACK)
    entry = await setup_entry()
    await wait_connected(hass, entry)
    await hass.async_block_till_done()
    current = hass.states.get(LIVESTACK)
    assert current is not None and current.state != "unavailable"
    assert current.attributes["target"] == "NGC 7000"


async def test_livestack_image_without_the_plugin_is_unavailable_and_says_so_once(
    hass: HomeAssistant,
    sim: NinaSimulator,
    setup_entry: SetupEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Test that a NINA without the Livestack plugin leaves the image unavailable, logged once."""
    sim.livestack.installed = False
    enable_entity(hass, LIVESTACK)
    caplog.set_level(logging.INFO, logger="custom_components.nina_session.image")
    entry = await setup_entry()
    await wait_connected(hass, entry)
    await hass.async_block_till_done()
    await _stack(hass, entry, sim, "M 31", "Ha")
    await _stack(hass, entry, sim, "M 31", "Ha")
    assert _state(hass) == "unavailable"
    lines = [r for r in caplog.records if "livestack image is unavailable" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in lines]
