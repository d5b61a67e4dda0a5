"""Live latency at Home Assistant level: simulator send → HA entity state changed.

Run: `.venv/bin/python -m pytest bench/ha_latency_test.py -q -s -p no:cacheprovider`
(`python -m bench` runs it at the end, in a subprocess). A pytest module, not a `run(scale)`
benchmark, because it needs the Home Assistant test harness (`hass`, `socket_enabled`).

A real config entry is set up against the NINA simulator on 127.0.0.1. Then N IMAGE-SAVE frames
(N=2000, or 300 with NINA_BENCH_QUICK=1) go out one at a time, each with its own HFR, star
count, date and file name, so each one changes `sensor.rig_1_last_hfr` and none is merged by
the dedup (whose window is 0 here anyway): ours is the time from just before the simulator's
`send_raw` to the `state_changed` event of that sensor on HA's bus. That covers the real
connection loop, the engine's queue and writer thread, the broadcast, the coordinator and the
entity's state write. Baseline: the same frames sent to a bare aiohttp WebSocket client on the
same loop, until its `receive()` returns; half before the entry is set up, half after it is
unloaded, pooled. Only timing figures: nothing about them is asserted, only that every event
arrived. The figures are merged into bench/results.json (or $NINA_BENCH_OUT) as `latency_ha`.

The harness runs the event loop in asyncio debug mode, which Home Assistant does not (unless
asked to): every callback then records the stack that scheduled it, reading each line of it
from the source files, which added ~20 ms per event here. The loop is measured as Home
Assistant runs it; NINA_BENCH_ASYNCIO_DEBUG=1 keeps the harness's debug mode
(`asyncio_debug` in the figures says which). NINA_BENCH_DUMP=<file> writes every sample (s).
"""

from __future__ import annotations

# Import ours before the harness mounts its own `custom_components` package (toolchain.md).
import custom_components.nina_session  # noqa: F401  # isort: skip

import asyncio
from datetime import timedelta
import json
import logging
import os
from pathlib import Path
import time
from typing import Any

import aiohttp
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, HomeAssistant, callback
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry  # type: ignore[import-untyped]

from bench.common import percentile, until
from bench.latency import TIMEOUT, WARMUP, raw_round_trips
from bench.workload import stretch
from custom_components.nina_session.const import (
    CONF_DEDUP_WINDOW,
    CONF_HOST,
    CONF_INSTANCE,
    CONF_NAME,
    CONF_PORT,
    CONF_TLS,
    CONF_VERIFY_TLS,
    DOMAIN,
)
from custom_components.nina_session.coordinator import NinaSessionCoordinator
from simulator.night import SimEvent, socket_text
from simulator.server import NinaSimulator
from tests.integration.harness import auto_enable_custom_integrations, config_dir, fast_retries, sim  # noqa: F401  (fixtures)

ENTITY = "sensor.rig_1_last_hfr"
EVENTS = 300 if os.environ.get("NINA_BENCH_QUICK") == "1" else 2000
OUT = Path(os.environ.get("NINA_BENCH_OUT") or Path(__file__).resolve().parent / "results.json")


def _texts(count: int) -> list[str]:
    """`count` IMAGE-SAVE frames from a realistic night, each with its own HFR and Stars."""
    template = next(event for event in stretch(200, seed=5) if event.name == "IMAGE-SAVE")
    stats: dict[str, Any] = template.data["ImageStatistics"]
    out = []
    for index in range(count):
        when = template.time + timedelta(seconds=index)
        frame = {
            **stats,
            "HFR": round(1.5 + index * 0.001, 3),
            "Stars": 1000 + index,
            "Date": when.isoformat(),
            "Filename": f"bench_{index:05d}.fits",
        }
        out.append(socket_text(SimEvent(when, "IMAGE-SAVE", {"ImageStatistics": frame})))
    return out


async def _setup(hass: HomeAssistant, sim: NinaSimulator) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Rig 1",
        data={
            CONF_HOST: "127.0.0.1",
            CONF_PORT: sim.port,
            CONF_TLS: False,
            CONF_VERIFY_TLS: True,
            CONF_INSTANCE: "rig_1",
            CONF_NAME: "Rig 1",
        },
        options={CONF_DEDUP_WINDOW: 0.0},
        unique_id=f"127.0.0.1:{sim.port}",
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    coordinator = entry.runtime_data
    assert isinstance(coordinator, NinaSessionCoordinator)
    await until(lambda: coordinator.data.health.connected and sim.open_sockets == 1)
    return entry


async def _ha(hass: HomeAssistant, sim: NinaSimulator, texts: list[str]) -> list[float]:
    arrived = asyncio.Event()
    stamp = [0.0]

    @callback
    def changed(event: Event[Any]) -> None:
        if event.data["entity_id"] == ENTITY:
            stamp[0] = time.perf_counter()
            arrived.set()

    unsubscribe = hass.bus.async_listen(EVENT_STATE_CHANGED, changed)
    samples: list[float] = []
    try:
        for index, text in enumerate(texts):
            arrived.clear()
            start = time.perf_counter()
            await sim.send_raw(text)
            try:
                await asyncio.wait_for(arrived.wait(), TIMEOUT)
            except TimeoutError:
                pytest.fail(f"event {index} never changed {ENTITY}")
            samples.append(stamp[0] - start)
    finally:
        unsubscribe()
    state = hass.states.get(ENTITY)
    assert state is not None
    assert float(state.state) == pytest.approx(round(1.5 + (len(texts) - 1) * 0.001, 3))
    return samples[WARMUP:]


def _store(figures: dict[str, Any]) -> None:
    results: dict[str, Any] = {}
    if OUT.exists():
        results = json.loads(OUT.read_text(encoding="utf-8"))
    results["latency_ha"] = figures
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


@pytest.mark.timeout(900)
async def test_ha_latency(hass: HomeAssistant, sim: NinaSimulator) -> None:
    """Measure send → entity state_changed latency against a bare socket; store the figures."""
    for name in ("homeassistant", "custom_components.nina_session"):
        logging.getLogger(name).setLevel(logging.WARNING)  # -s shows every log line otherwise
    debug = os.environ.get("NINA_BENCH_ASYNCIO_DEBUG") == "1"
    asyncio.get_running_loop().set_debug(debug)  # see the module docstring
    texts = _texts(EVENTS + WARMUP)
    half = len(texts) // 2
    begin = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        raw = await raw_round_trips(sim, session, texts[: half + WARMUP])
    entry = await _setup(hass, sim)
    ours = await _ha(hass, sim, texts)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    await until(lambda: sim.open_sockets == 0)
    async with aiohttp.ClientSession() as session:
        raw += await raw_round_trips(sim, session, texts[half:])
    assert len(ours) == EVENTS

    figures: dict[str, Any] = {
        "level": "home_assistant",
        "events": len(ours),
        "asyncio_debug": debug,
    }
    print(f"\nHA latency: send → {ENTITY} state_changed, {len(ours)} events")
    for pct in (50, 95, 99):
        ours_ms = percentile(ours, pct) * 1e3
        raw_ms = percentile(raw, pct) * 1e3
        figures[f"p{pct}_ms"] = round(ours_ms, 3)
        figures[f"raw_p{pct}_ms"] = round(raw_ms, 3)
        figures[f"ratio_p{pct}"] = round(ours_ms / raw_ms, 2) if raw_ms > 0 else None
        print(
            f"  p{pct}: ours {ours_ms:8.3f} ms   raw socket {raw_ms:7.3f} ms   "
            f"ratio {figures[f'ratio_p{pct}']}x"
        )
    figures.update(
        raw_events=len(raw),
        max_ms=round(max(ours) * 1e3, 3),
        bench_seconds=round(time.perf_counter() - begin, 1),
    )
    _store(figures)
    if os.environ.get("NINA_BENCH_DUMP"):
        Path(os.environ["NINA_BENCH_DUMP"]).write_text(json.dumps(ours))
    print(f"  merged into {OUT} as latency_ha")
