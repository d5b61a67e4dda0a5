"""Backfill: a long NINA event history over real HTTP, vs just downloading and parsing it.

The simulator (`simulator.NinaSimulator`, aiohttp on 127.0.0.1, same event loop) holds an
event history and image history of consecutive nights; NINA would serve the same after a
long run. Ours is `NinaEngine.backfill()` on a fresh database: the three GETs it makes
(event history, image history, application start), parsing, and the pipeline's
`ingest_history` in the writer thread. The baseline is the same three GETs through the same
`NinaClient` (HTTP, body read, `json.loads`, envelope check) and nothing else. Both include
the simulator's own serialization time, as a download from NINA includes NINA's.

The engine's connection loop is replaced by an idle one, so nothing else talks to the
simulator meanwhile. A second backfill into the same database (all duplicates, as after every
reconnect) is reported too.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
import statistics
from typing import Any

import aiohttp

from bench.common import (
    OPTIONS,
    Scale,
    Section,
    Timing,
    fmt_n,
    fmt_s,
    ratio,
    scratch_dir,
    stopwatch,
)
from bench.workload import stretch
from custom_components.nina_session.engine.client import NinaClient
from custom_components.nina_session.engine.connection import ConnectionLoop
from custom_components.nina_session.engine.engine import EngineConfig, NinaEngine
from simulator.night import history_item, image_record
from simulator.server import NinaSimulator


class IdleLoop(ConnectionLoop):
    """A connection loop that never connects: the benchmark drives the engine itself."""

    async def start(self) -> None:
        """Do nothing: the loop never connects."""


def idle_loop(*args: Any, **kwargs: Any) -> ConnectionLoop:
    """Return an IdleLoop (the engine's `loop_factory`)."""
    return IdleLoop(*args, **kwargs)


async def _download(client: NinaClient) -> Timing:
    elapsed = stopwatch()
    await client.event_history()
    await client.image_history()
    await client.application_start()
    return elapsed()


async def _measure(scale: Scale, tmp: Path) -> tuple[dict[str, Timing], int, int]:
    events = stretch(scale.backfill_events, seed=3)
    async with NinaSimulator() as sim, aiohttp.ClientSession() as session:
        sim.history.extend(history_item(event) for event in events)
        sim.images.extend(image_record(event) for event in events if event.name == "IMAGE-SAVE")
        client = NinaClient(session, sim.host, sim.port)
        applied = 0
        counter = iter(range(1_000_000))
        times: dict[str, list[Timing]] = {"download": [], "backfill": [], "again": []}

        async def backfill() -> None:
            nonlocal applied
            config = EngineConfig(sim.host, sim.port, tmp / f"b{next(counter)}.db", OPTIONS)
            engine = NinaEngine(config, session, loop_factory=idle_loop)
            await engine.start()
            for key in ("backfill", "again"):
                elapsed = stopwatch()
                result = await engine.backfill()
                times[key].append(elapsed())
                if key == "backfill":
                    applied = result.applied_count
            await engine.stop()

        await _download(client)  # warm-up: connection pool, first-call costs
        for index in range(scale.backfill_rounds):
            if index % 2 == 0:
                times["download"].append(await _download(client))
                await backfill()
            else:
                await backfill()
                times["download"].append(await _download(client))
        medians = {
            key: Timing(
                statistics.median(t.wall for t in values),
                statistics.median(t.cpu for t in values),
            )
            for key, values in times.items()
        }
        return medians, applied, len(sim.images)


def run(scale: Scale) -> Section:
    """Measure a backfill, and a second one (all duplicates), against downloading the history."""
    section = Section("backfill")
    with scratch_dir("backfill") as tmp:
        times, applied, images = asyncio.run(_measure(scale, tmp))
    n = scale.backfill_events
    ours, again, base = times["backfill"], times["again"], times["download"]
    to_download = ratio(ours.wall, base.wall)
    again_ratio = ratio(again.wall, base.wall)
    section.figures.update(
        events=n,
        image_records=images,
        applied=applied,
        events_per_s=round(n / ours.wall),
        ratio_to_download=to_download,
        ratio_to_download_cpu=ratio(ours.cpu, base.cpu),
        repeat_ratio_to_download=again_ratio,
        repeat_ratio_to_download_cpu=ratio(again.cpu, base.cpu),
        download_ms=round(base.wall * 1e3, 1),
        backfill_ms=round(ours.wall * 1e3, 1),
    )
    section.row(
        f"{fmt_n(n)} events over HTTP vs download+parse",
        f"{fmt_s(ours.wall)} ({fmt_n(n / ours.wall)}/s)",
        fmt_s(base.wall),
        to_download,
    )
    section.row("  same, CPU time", fmt_s(ours.cpu), fmt_s(base.cpu), ratio(ours.cpu, base.cpu))
    section.row(
        "same history again (all duplicates) vs download+parse",
        fmt_s(again.wall),
        fmt_s(base.wall),
        again_ratio,
    )
    if applied != n:
        section.notes.append(f"backfill applied {applied} of {n} events")
    return section
