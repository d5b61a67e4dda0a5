"""Fixtures and helpers of the API tests (views, actions, WebSocket, triggers, logbook).

Built on the shared harness (`conftest.py`: `sim`, `setup_entry`; `integration_helpers`):
a config entry loaded against the real NINA simulator, so every test goes over the real
socket and REST API. Waits are bounded and wait for a condition, never for time:
`sync_engine` emits a unique sentinel event and waits until the engine applied it, so
everything emitted before it has been processed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
import itertools
from typing import Any
from zoneinfo import ZoneInfo

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from integration_helpers import WAIT, entry_data, wait_connected
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.nina_session.const import CONF_DEDUP_WINDOW, DOMAIN
from custom_components.nina_session.engine.engine import EngineUpdate, NinaEngine
from simulator import PRESETS, NinaSimulator, SimEvent, generate_night

BERLIN = ZoneInfo("Europe/Berlin")
_sentinels = itertools.count(1)


@asynccontextmanager
async def entry_loaded(
    hass: HomeAssistant, setup_entry: Callable[..., Awaitable[MockConfigEntry]]
) -> AsyncIterator[MockConfigEntry]:
    """One entry loaded against the simulator and connected (unloaded at the end).

    The `loaded_entry` fixture (conftest.py) wraps this.
    """
    entry = await setup_entry()
    await wait_connected(hass, entry)
    yield entry
    if entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def add_entry(
    hass: HomeAssistant, sim: NinaSimulator, instance: str, name: str
) -> MockConfigEntry:
    """Another entry against the same simulator (its own socket, database and device)."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=name,
        data=entry_data(sim.port, name=name, instance=instance),
        options={CONF_DEDUP_WINDOW: 0.0},
        unique_id=f"127.0.0.1:{sim.port}:{instance}",
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await wait_connected(hass, entry)
    return entry


def engine_of(entry: MockConfigEntry) -> NinaEngine:
    """Return the NINA engine of a loaded entry."""
    engine: NinaEngine = entry.runtime_data.engine
    return engine


async def sync_engine(sim: NinaSimulator, engine: NinaEngine) -> None:
    """Emit a unique sentinel event and wait until the engine applied it.

    The engine processes frames in arrival order, so everything emitted before has been
    processed (and broadcast to subscribers) by then.
    """
    marker = next(_sentinels)
    seen = asyncio.Event()

    def on_update(update: EngineUpdate) -> None:
        result = update.result
        if result is not None and any(
            item.event.name == "ROTATOR-MOVED" and item.event.data.get("To") == marker
            for item in result.applied
        ):
            seen.set()

    unsubscribe = engine.subscribe(on_update)
    try:
        await sim.emit(now_event("ROTATOR-MOVED", From=0, To=marker))
        async with asyncio.timeout(WAIT):
            await seen.wait()
    finally:
        unsubscribe()


async def play(
    sim: NinaSimulator, engine: NinaEngine, events: Iterable[SimEvent] | None = None
) -> None:
    """Play events (default: the `simple` preset night) at full speed and wait for them.

    The `simple` night: M 42, 3 Ha + 3 OIII lights of 120 s, sequence finished; its session
    stays open (idle) until the idle gap passes.
    """
    evs = list(events) if events is not None else generate_night(PRESETS["simple"]).events
    await sim.play(evs, speed=0)
    await sync_engine(sim, engine)


def burst_night(frames_per_filter: int = 600) -> list[SimEvent]:
    """Return a night of well over 2000 events.

    Each exposure sends IMAGE-SAVE and IMAGE-PREPARED.
    """
    spec = replace(PRESETS["simple"], lights_per_filter=frames_per_filter)
    return generate_night(spec).events


def now_event(name: str, **data: Any) -> SimEvent:
    """Return a simulator event `name` with `data`, stamped now (Berlin time)."""
    return SimEvent(datetime.now(BERLIN), name, data)
