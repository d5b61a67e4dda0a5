"""The livestack image against the simulator's Livestack plugin, in the real HA harness."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import logging

from homeassistant.core import HomeAssistant
from integration_helpers import enable_entity, wait_connected, wait_for
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


def _asked_for_stacks(sim: NinaSimulator) -> int:
    """Return how often NINA was asked for a livestack picture."""
    prefix = "/v2/api/livestack/image/"
    return sum(
        n for path, n in sim.hits.items() if path.startswith(prefix) and "available" not in path
    )


async def _stack(
    hass: HomeAssistant, entry: MockConfigEntry, sim: NinaSimulator, target: str, filt: str
) -> None:
    """Stack one frame in the simulator; wait until the image shows that stack.

    Not until the engine counted the STACK-UPDATED: it counts on the writer thread before it
    hands the event to the loop, so the fetch may not have started yet.
    """
    before = hass.states.get(LIVESTACK)

    def shown() -> bool:
        now = hass.states.get(LIVESTACK)
        return (
            now is not None
            and now.state not in ("unavailable", before.state if before else None)
            and now.attributes.get("target") == target
            and now.attributes.get("filter") == filt
        )

    await sim.livestack.stack(target, filt)
    await wait_for(shown, f"the {target} {filt} stack to be shown")
    await hass.async_block_till_done()


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
    for _ in range(2):  # each STACK-UPDATED asks NINA again, and is refused again
        asked = _asked_for_stacks(sim)
        await sim.livestack.stack("M 31", "Ha")
        await wait_for(lambda: _asked_for_stacks(sim) > asked, "NINA to be asked for the stack")  # noqa: B023
        await hass.async_block_till_done()
    assert _state(hass) == "unavailable"
    lines = [r for r in caplog.records if "livestack image is unavailable" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in lines]
