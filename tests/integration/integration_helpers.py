"""Helpers shared by the integration tests (plain functions; fixtures live in conftest)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.nina_session.const import (
    CONF_DEDUP_WINDOW,
    CONF_HOST,
    CONF_INSTANCE,
    CONF_NAME,
    CONF_PORT,
    CONF_TLS,
    CONF_VERIFY_TLS,
    DOMAIN,
    EVENT_NINA_SESSION,
)
from custom_components.nina_session.coordinator import NinaSessionCoordinator
from custom_components.nina_session.engine.engine import EngineUpdate, NinaEngine
from custom_components.nina_session.engine.pipeline import Pipeline
from simulator import NinaSimulator, SimEvent

#: Bound on every "wait until" in these tests; never reached when things work.
WAIT = 15.0


async def wait_for(check: Callable[[], bool], what: str = "condition") -> None:
    """Yield to the loop until `check()` holds (bounded by WAIT; not a timing assert)."""
    try:
        async with asyncio.timeout(WAIT):
            while not check():
                await asyncio.sleep(0.01)
    except TimeoutError:
        pytest.fail(f"timed out waiting for {what}")


def entry_data(port: int, name: str | None = "Rig 1", instance: str = "rig_1") -> dict[str, Any]:
    """Return the config entry data the flow creates for a NINA on 127.0.0.1."""
    data: dict[str, Any] = {
        CONF_HOST: "127.0.0.1",
        CONF_PORT: port,
        CONF_TLS: False,
        CONF_VERIFY_TLS: True,
        CONF_INSTANCE: instance,
    }
    if name:
        data[CONF_NAME] = name
    return data


def make_entry(hass: HomeAssistant, port: int, **kwargs: Any) -> MockConfigEntry:
    """Add a config entry as the flow creates it.

    The dedup window is 0 because the simulator plays a night in milliseconds (identical plain
    events would merge within 1 s).
    """
    data = entry_data(port, **kwargs)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=data.get(CONF_NAME) or f"NINA 127.0.0.1:{port}",
        data=data,
        options={CONF_DEDUP_WINDOW: 0.0},
        unique_id=f"127.0.0.1:{port}",
    )
    entry.add_to_hass(hass)
    return entry


def enable_entity(hass: HomeAssistant, entity_id: str, instance: str = "rig_1") -> None:
    """Register an entity disabled by default as enabled, before its entry is set up.

    `entity_id` is `<platform>.<instance>_<key>`; a user who enabled it has the same entry.
    """
    platform, object_id = entity_id.split(".", 1)
    assert object_id.startswith(f"{instance}_")
    er.async_get(hass).async_get_or_create(
        platform, DOMAIN, object_id, suggested_object_id=object_id
    )


def coordinator_of(entry: MockConfigEntry) -> NinaSessionCoordinator:
    """Return the coordinator of a loaded entry."""
    coordinator = entry.runtime_data
    assert isinstance(coordinator, NinaSessionCoordinator)
    return coordinator


async def wait_connected(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Wait until the engine is connected and the coordinator has published it."""
    coordinator = coordinator_of(entry)
    # The engine tells subscribers as soon as the connection is up: no health poll needed.
    await wait_for(lambda: coordinator.data.health.connected, "the coordinator to see NINA")
    await hass.async_block_till_done()


async def play_live(
    hass: HomeAssistant, entry: MockConfigEntry, sim: NinaSimulator, events: Sequence[SimEvent]
) -> list[Event[Any]]:
    """Play events live (as fast as possible); wait until the engine has taken every one.

    Returns the `nina_session_event` bus events they caused. Two identical plain events
    stamped in the same microsecond can still merge (the engine's dedup), so callers that
    count compare with `engine.health.events.duplicates` in mind.
    """
    engine = coordinator_of(entry).engine
    counters = engine.health.events
    before = counters.processed + counters.duplicates + counters.rejected
    processed_before = counters.processed
    broadcast: list[int] = []

    def seen(update: EngineUpdate) -> None:
        # Subscribed after the coordinator: it has handled this update already.
        broadcast.append(update.result.applied_count if update.result else 0)

    unsubscribe = engine.subscribe(seen)
    bus = async_capture_events(hass, EVENT_NINA_SESSION)
    try:
        await sim.play(list(events), speed=0)
        await wait_for(
            lambda: (
                counters.processed + counters.duplicates + counters.rejected >= before + len(events)
                and sum(broadcast) >= counters.processed - processed_before
            ),
            "every event to be taken by the engine and published",
        )
    finally:
        unsubscribe()
    await hass.async_block_till_done()
    return bus


async def pass_the_grace(hass: HomeAssistant, engine: NinaEngine) -> None:
    """Run the engine clock past the grace period from now: a pending stop becomes a state."""
    pipeline = engine.pipeline
    assert pipeline is not None
    await engine.tick(dt_util.utcnow() + pipeline.options.grace + timedelta(seconds=1))
    await hass.async_block_till_done()


async def pass_the_idle_gap(hass: HomeAssistant, engine: NinaEngine) -> None:
    """Run the engine clock two idle gaps from now: the open session must close."""
    pipeline = engine.pipeline
    assert pipeline is not None
    closed = await engine.tick(dt_util.utcnow() + 2 * pipeline.options.idle_gap)
    assert closed is not None, _last_events(pipeline)
    await hass.async_block_till_done()


def _last_events(pipeline: Pipeline) -> str:
    """Say what the fold ended in and the latest stored events (when a session stays open)."""
    events = [event for _, event in pipeline.store.iter_events()][-14:]
    lines = [f"{e.time.isoformat()} {e.source.value:7} {e.name}" for e in events]
    return f"state {pipeline.state.value}, last events:\n" + "\n".join(lines)
