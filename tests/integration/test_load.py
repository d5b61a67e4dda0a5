"""Load at Home Assistant level: 200 events/s into a real config entry, HA's loop lag measured.

`soak/load.py` drives the bare engine; here the same stream (`soak.load.produce`) goes through
everything Home Assistant runs for it: the entry's engine, the coordinator, a bus event per
NINA event, the entities' state writes. The simulator runs on its own thread and loop
(`soak.simthread.SimThread`, as NINA on another PC), so HA's loop carries only HA's work, and
`soak.lag.LagMonitor` ticks on `hass.loop` while the events flow. The entry keeps the
production options (1 s dedup window: the stream's events are distinct by design).

Only correctness is asserted: every event stored once, the session's and the sensor's frame
counts equal what was sent, no duplicates, lag samples taken. The loop lag and the rate are
logged at INFO, never asserted (timing is reported, not asserted). Note the harness runs the
loop in asyncio debug mode, which production HA does not.

Twenty seconds by default; `NINA_LOAD_SECONDS` sets the duration. The full ten minutes
(`make soak LOAD=1 HA=1`):

    NINA_LOAD_SECONDS=600 .venv/bin/python -m pytest tests/integration/test_load.py \
        --log-cli-level=INFO
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
import logging
import os
import time
from typing import Any
from zoneinfo import ZoneInfo

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, HomeAssistant, callback
from integration_helpers import coordinator_of, entry_data, wait_connected
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.nina_session.const import DOMAIN, EVENT_NINA_SESSION
from soak.lag import LagMonitor
from soak.load import expected_dithers, expected_lights, produce
from soak.simthread import SimThread
from soak.waiting import until

_LOGGER = logging.getLogger(__name__)

RATE = 200.0
SECONDS = float(os.environ.get("NINA_LOAD_SECONDS") or 20)
#: Bound on the engine and coordinator catching up after the last event was sent.
DRAIN_BOUND = 120.0
FRAMES = "sensor.rig_1_frames_this_session"


def _identity(data: dict[str, Any]) -> tuple[str, object]:
    """Return what tells the stream's events apart: file name, focuser position or number."""
    payload = data["data"]
    stats = payload.get("ImageStatistics")
    key = stats.get("Filename") if stats else payload.get("Position", payload.get("LoadSeq"))
    return data["type"], key


def _zone_near_midnight(now: datetime) -> str:
    """Return a fixed-offset zone where `now` is within half an hour of local midnight."""
    hours = -round(now.hour + now.minute / 60) % 24  # UTC+hours is at midnight
    hours = hours - 24 if hours > 14 else hours  # Etc zones reach from UTC-12 to UTC+14
    # POSIX sign: Etc/GMT-5 is five hours ahead of UTC.
    return "Etc/UTC" if hours == 0 else f"Etc/GMT{-hours:+d}"


def test_zone_near_midnight_is_far_from_noon() -> None:
    """Test that the zone chosen for the load puts every hour of the day near midnight."""
    for hour in range(24):
        for minute in (0, 29, 31, 59):
            now = datetime(2026, 12, 3, hour, minute, tzinfo=UTC)
            local = now.astimezone(ZoneInfo(_zone_near_midnight(now)))
            assert local.hour in (23, 0), (now, local)


@pytest.mark.timeout(SECONDS + 2 * DRAIN_BOUND)
async def test_200_events_per_second_through_home_assistant(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """Test that 200 events/s through a real entry are all stored once and counted by HA."""
    assert asyncio.get_running_loop() is hass.loop
    for name in ("homeassistant", "custom_components.nina_session"):
        logging.getLogger(name).setLevel(logging.WARNING)  # one line per run, not per setup
    # The observing night ends at local noon, where a new session opens and the open session
    # holds only the frames sent after it: run where it is now near midnight, far from noon.
    tz = _zone_near_midnight(datetime.now(UTC))
    await hass.config.async_set_time_zone(tz)
    simthread = SimThread(tz=tz)
    sim = await simthread.start()
    monitor = LagMonitor()
    bus: Counter[tuple[str, object]] = Counter()
    state_writes = 0

    @callback
    def on_nina_event(event: Event[Any]) -> None:
        bus[_identity(event.data)] += 1

    @callback
    def on_state_changed(_event: Event[Any]) -> None:
        nonlocal state_writes
        state_writes += 1

    unsubscribers = [
        hass.bus.async_listen(EVENT_NINA_SESSION, on_nina_event),
        hass.bus.async_listen(EVENT_STATE_CHANGED, on_state_changed),
    ]
    producer: asyncio.Future[int] | None = None
    try:
        entry = MockConfigEntry(
            domain=DOMAIN, title="Rig 1", data=entry_data(sim.port), unique_id=f"load:{sim.port}"
        )
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        await wait_connected(hass, entry)
        engine = coordinator_of(entry).engine
        counters = engine.health.events

        monitor.start()
        began = time.monotonic()
        producer = asyncio.ensure_future(simthread.run(produce(sim, RATE, SECONDS, tz)))
        emitted = await producer
        send_seconds = time.monotonic() - began

        def drained() -> bool:
            taken = counters.processed + counters.duplicates + counters.rejected
            return taken >= emitted and bus.total() >= counters.processed

        if not await until(drained, DRAIN_BOUND):
            pytest.fail(f"not drained: {counters.processed} of {emitted} processed")
        drain_seconds = time.monotonic() - began - send_seconds
        await monitor.stop()
        await hass.async_block_till_done()

        stored = (await engine.health_json())["db"]["events"]
        session = coordinator_of(entry).data.session or {}
        frames = hass.states.get(FRAMES)
        lag = monitor.summary()
        _LOGGER.info(
            "HA load: sent %d events in %.1f s (%.0f/s), drained %.2f s later; stored %d, "
            "bus events %d, state writes %d, duplicates %d, rejected %d; "
            "HA loop lag (debug=%s): %s",
            emitted,
            send_seconds,
            emitted / send_seconds,
            drain_seconds,
            stored,
            bus.total(),
            state_writes,
            counters.duplicates,
            counters.rejected,
            hass.loop.get_debug(),
            lag,
        )

        lights = expected_lights(emitted - 1)  # the stream after SEQUENCE-STARTING
        assert emitted == 1 + int(RATE * SECONDS)
        assert stored == emitted
        assert counters.processed == emitted
        assert counters.duplicates == 0 and counters.rejected == 0
        assert bus.total() == emitted and max(bus.values()) == 1  # each published once
        by_filter = session["frames"]["by_filter"]
        assert {name: slot["count"] for name, slot in by_filter.items()} == lights
        assert session["counts"]["dithers"] == expected_dithers(emitted - 1)
        assert frames is not None and int(frames.state) == sum(lights.values())
        assert lag.samples > 0

        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
    finally:
        if producer is not None and not producer.done():
            producer.cancel()
        await monitor.stop()
        for unsubscribe in unsubscribers:
            unsubscribe()
        await simthread.stop()
