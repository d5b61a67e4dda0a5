"""Live latency at engine level: simulator send → engine subscriber callback.

The simulator (same event loop) sends pre-serialized socket frames one at a time; the next
goes out only when the previous one arrived, so this is the latency of a quiet live stream
(what a user waiting for a frame to show up sees), not of a burst. Ours: from just before the
simulator's `send_raw` to the engine's subscriber callback, through the real connection loop,
the engine's queue, the writer thread (parse → … → store, one transaction per frame) and the
broadcast. Baseline: the same send to a bare aiohttp WebSocket client on the same loop, until
its `receive()` returns. Baseline samples are taken before and after the engine's, pooled.

Not measured here: the Home Assistant entity update on top (coordinator → state write); that
needs the HA test harness and is a later step.

Events come from a realistic night; non-frame events get a `BenchSeq` number in their data so
that two equal events less than the dedup window apart (sent milliseconds apart here, hours
apart in a real night) are not merged: a merged event would never reach the subscriber.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
import os
from pathlib import Path
import time

import aiohttp

from bench.common import OPTIONS, Scale, Section, fmt_ms, percentile, ratio, scratch_dir, until
from bench.workload import stretch
from custom_components.nina_session.engine.batch_result import BatchResult
from custom_components.nina_session.engine.engine import EngineConfig, EngineUpdate, NinaEngine
from custom_components.nina_session.engine.wire import Foreign
from simulator.night import SimEvent, socket_text
from simulator.server import NinaSimulator

WARMUP = 20
TIMEOUT = 5.0


def _texts(count: int) -> list[str]:
    out = []
    for index, event in enumerate(stretch(count, seed=5)):
        sent = event
        if event.name != "IMAGE-SAVE":
            sent = SimEvent(event.time, event.name, {**event.data, "BenchSeq": index})
        out.append(socket_text(sent))
    return out


async def raw_round_trips(
    sim: NinaSimulator, session: aiohttp.ClientSession, texts: list[str]
) -> list[float]:
    """Return the simulator → plain socket client round trips of `texts`, warm-up dropped.

    The baseline of both latency benchmarks: what any client of the socket gets.
    """
    samples: list[float] = []
    async with session.ws_connect(sim.socket_url) as ws:
        await until(lambda: sim.open_sockets == 1)
        for text in texts:
            start = time.perf_counter()
            await sim.send_raw(text)
            msg = await asyncio.wait_for(ws.receive(), TIMEOUT)
            samples.append(time.perf_counter() - start)
            assert msg.data == text
    await until(lambda: sim.open_sockets == 0)
    return samples[WARMUP:]


async def _engine(
    sim: NinaSimulator, session: aiohttp.ClientSession, texts: list[str], db: Path
) -> tuple[list[float], list[float], int]:
    """(send → callback samples, writer-thread samples, lost events)."""
    config = EngineConfig(sim.host, sim.port, db, OPTIONS, backfill_on_connect=False)
    engine = NinaEngine(config, session)
    # Bench-only instrumentation: how much of the latency is the writer thread's work.
    work: list[float] = []
    process = engine._process_frames  # noqa: SLF001  # wrapped to time the writer thread

    def timed_process(batch: list[tuple[str | Foreign, datetime, int]]) -> BatchResult:
        start = time.perf_counter()
        try:
            return process(batch)
        finally:
            work.append(time.perf_counter() - start)

    setattr(engine, "_process_frames", timed_process)  # noqa: B010
    arrived: asyncio.Event = asyncio.Event()
    stamp = [0.0]

    def on_update(update: EngineUpdate) -> None:
        if update.reason == "events":
            stamp[0] = time.perf_counter()
            arrived.set()

    engine.subscribe(on_update)
    await engine.start()
    await until(lambda: engine.health.connected and sim.open_sockets == 1)
    samples: list[float] = []
    lost = 0
    try:
        for text in texts:
            arrived.clear()
            start = time.perf_counter()
            await sim.send_raw(text)
            try:
                await asyncio.wait_for(arrived.wait(), TIMEOUT)
            except TimeoutError:
                lost += 1
                continue
            samples.append(stamp[0] - start)
    finally:
        await engine.stop()
    return samples[WARMUP:], work[WARMUP:], lost


async def _measure(scale: Scale, tmp: Path) -> tuple[list[float], list[float], list[float], int]:
    texts = _texts(scale.latency_events + WARMUP)
    half = len(texts) // 2
    os.sync()  # earlier benchmarks' writeback would otherwise land on our commits
    async with NinaSimulator() as sim, aiohttp.ClientSession() as session:
        raw = await raw_round_trips(sim, session, texts[: half + WARMUP])
        ours, work, lost = await _engine(sim, session, texts, tmp / "latency.db")
        raw += await raw_round_trips(sim, session, texts[half:])
    return raw, ours, work, lost


def run(scale: Scale) -> Section:
    """Measure live send → subscriber callback latency against a bare socket."""
    section = Section("latency")
    with scratch_dir("latency") as tmp:
        raw, ours, work, lost = asyncio.run(_measure(scale, tmp))
    figures: dict[str, float] = {}
    for pct in (50, 95, 99):
        ours_ms = percentile(ours, pct) * 1e3
        raw_ms = percentile(raw, pct) * 1e3
        figures[f"p{pct}_ms"] = round(ours_ms, 3)
        figures[f"raw_p{pct}_ms"] = round(raw_ms, 3)
        figures[f"p{pct}_ratio_to_raw"] = ratio(ours_ms, raw_ms) or 0.0
        section.row(
            f"p{pct} send → subscriber vs raw socket",
            fmt_ms(ours_ms),
            fmt_ms(raw_ms),
            figures[f"p{pct}_ratio_to_raw"],
        )
    for pct in (50, 99):
        figures[f"writer_p{pct}_ms"] = round(percentile(work, pct) * 1e3, 3)
    section.row(
        "  of which writer thread (pipeline, 1 frame/txn) p50 | p99",
        f"{fmt_ms(figures['writer_p50_ms'])} | {fmt_ms(figures['writer_p99_ms'])}",
        "",
        None,
    )
    section.figures.update(
        level="engine",
        events=len(ours),
        raw_events=len(raw),
        lost=lost,
        max_ms=round(max(ours) * 1e3, 3),
        **figures,
    )
    if lost:
        section.notes.append(f"{lost} events never reached the subscriber (merged or timed out)")
    section.notes.append("latency is engine level (subscriber callback), not HA entity level")
    return section
