"""Trickle: a long session's frames one by one, early cost vs late cost, direct and live.

A live stream hands the engine one frame at a time. What the engine stores per frame must not
grow with the session: a night of 20,000 frames must cost per frame at its end what it cost at
its start. Two measurements of the same `trickle_frames` events of one session (generated
nights squeezed together, so it stays one session and gathers a long state history):

- **drain** (`frames_per_s`, `cost_ratio_late_vs_early`): what a live NINA does. The
  simulator sends every frame as its own WebSocket message over a real socket, back to back
  (a burst: each send yields to the loop, so the engine reads frames one by one as they come),
  into a real `NinaEngine`: connection loop, queue, the drain's group commit, the writer
  thread. Frames/s is from the first send to the last frame stored; the cost per frame is the
  writer thread's time per frame over the first and last `trickle_window` frames. The
  simulator shares the process and event loop with the engine, so its sending is charged to
  us (NINA runs on another PC). Non-frame events carry a `BenchSeq` so that equal events sent
  milliseconds apart (hours apart in the night) are not merged as duplicates.
- **direct** (`direct_frames_per_s`, `direct_cost_ratio_late_vs_early`): the seed's figure,
  `Pipeline.ingest_frames` with one frame per call (one transaction per frame) through the
  session spread over ten hours of event time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
import multiprocessing
from multiprocessing.connection import Connection
from pathlib import Path
import time

import aiohttp

from bench.common import OPTIONS, Scale, Section, fmt_n, fmt_s, ratio, scratch_dir, until
from bench.workload import Frame, live_frame, stretch
from custom_components.nina_session.engine.batch_result import BatchResult
from custom_components.nina_session.engine.engine import EngineConfig, NinaEngine
from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.store import Store
from custom_components.nina_session.engine.wire import Foreign
from simulator.night import SimEvent, socket_text
from simulator.server import NinaSimulator

#: How long the session lasts: its events are spread evenly over this.
SESSION = timedelta(hours=10)


def session_events(count: int) -> list[SimEvent]:
    """`count` events spread evenly over `SESSION`, in order, as one session.

    The events of consecutive generated nights (autofocus runs, flips, pauses, flats: the
    state changes a long session accumulates), squeezed into one ten-hour stretch, so no
    idle gap or night boundary splits it.
    """
    events = stretch(count, seed=17)
    start = events[0].time
    step = SESSION / count
    return [SimEvent(start + step * i, e.name, e.data) for i, e in enumerate(events)]


def session_frames(count: int) -> list[Frame]:
    """`session_events(count)` as live frames (text, receive time)."""
    return [live_frame(event) for event in session_events(count)]


def socket_texts(events: Sequence[SimEvent]) -> list[str]:
    """Return the events as socket texts, non-frame events numbered (`BenchSeq`): never merged."""
    return [
        socket_text(
            e if e.name == "IMAGE-SAVE" else SimEvent(e.time, e.name, {**e.data, "BenchSeq": i})
        )
        for i, e in enumerate(events)
    ]


def per_frame_costs(batches: Sequence[tuple[int, float]], count: int) -> list[float]:
    """Spread each batch's time evenly over its frames: the cost of every frame, in order."""
    costs: list[float] = []
    for size, seconds in batches:
        costs.extend([seconds / size] * size)
    assert len(costs) == count, (len(costs), count)
    return costs


def _direct(frames: Sequence[Frame]) -> tuple[list[float], list[float], int]:
    """(wall, CPU) seconds per frame and sessions made, one frame per transaction."""
    costs: list[float] = []
    cpu: list[float] = []  # this process's CPU time: steadier when other processes compete
    with scratch_dir("trickle") as tmp:
        store = Store(tmp / "trickle.db")
        pipeline = Pipeline(store, OPTIONS)
        for frame in frames:
            start, start_cpu = time.perf_counter(), time.process_time()
            pipeline.ingest_frames([frame])
            costs.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        sessions = store.counts()["sessions"]
        store.close()
    return costs, cpu, sessions


class _Drained:
    """What the live run measured: elapsed seconds, the writer's batches, sessions made."""

    def __init__(self) -> None:
        self.elapsed = 0.0
        self.batches: list[tuple[int, float]] = []  # (frames, writer-thread seconds)
        # The same batches in the writer thread's own CPU seconds: steadier than wall time
        # when other processes compete for the cores (a loaded machine stretches a few
        # batches, and each window holds only two or three of them).
        self.batches_cpu: list[tuple[int, float]] = []
        self.sessions = 0
        self.processed = 0


def _nina(count: int, pipe: Connection) -> None:
    """Run the simulator's process (NINA's PC): serve, send the session's frames when told."""

    async def serve() -> None:
        texts = socket_texts(session_events(count))
        async with NinaSimulator() as sim:
            pipe.send(sim.port)
            if await asyncio.get_running_loop().run_in_executor(None, pipe.recv) != "go":
                return  # the engine side failed before it was ready
            for text in texts:
                await sim.send_raw(text)
                await asyncio.sleep(0)  # one message each, as NINA writes them
            pipe.send("sent")
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # "stop"

    asyncio.run(serve())


async def _drain(count: int, db: Path) -> _Drained:
    """Have a simulator process send `count` frames into a live engine; time them stored."""
    out = _Drained()
    handled = [0]
    here, there = multiprocessing.get_context("spawn").Pipe()
    nina = multiprocessing.get_context("spawn").Process(target=_nina, args=(count, there))
    nina.start()
    loop = asyncio.get_running_loop()
    try:
        port = await loop.run_in_executor(None, here.recv)
        async with aiohttp.ClientSession() as session:
            config = EngineConfig("127.0.0.1", port, db, OPTIONS, backfill_on_connect=False)
            engine = NinaEngine(config, session)
            # Bench-only instrumentation: the writer thread's time per batch.
            process = engine._process_frames  # noqa: SLF001

            def timed_process(batch: list[tuple[str | Foreign, datetime, int]]) -> BatchResult:
                start, start_cpu = time.perf_counter(), time.thread_time()
                try:
                    return process(batch)
                finally:
                    out.batches_cpu.append((len(batch), time.thread_time() - start_cpu))
                    out.batches.append((len(batch), time.perf_counter() - start))
                    handled[0] += len(batch)

            setattr(engine, "_process_frames", timed_process)  # noqa: B010
            await engine.start()
            await until(lambda: engine.health.connected)
            start = time.perf_counter()
            here.send("go")
            while handled[0] < count:
                await asyncio.sleep(0.0005)
            out.elapsed = time.perf_counter() - start
            assert engine.pipeline is not None
            out.processed = engine.pipeline.counters.processed
            await engine.stop()
    finally:
        here.send("stop")
        nina.join(timeout=10)
        if nina.is_alive():
            nina.terminate()
    store = Store(db)
    out.sessions = store.counts()["sessions"]
    store.close()
    return out


def run(scale: Scale) -> Section:
    """Measure a long session's frames one by one: through the live drain, and directly."""
    section = Section("trickle")
    events = session_events(scale.trickle_frames)
    n, window = len(events), scale.trickle_window
    with scratch_dir("trickle_drain") as tmp:
        live = asyncio.run(_drain(n, tmp / "drain.db"))
    costs = per_frame_costs(live.batches, n)
    costs_cpu = per_frame_costs(live.batches_cpu, n)
    direct, direct_cpu, direct_sessions = _direct([live_frame(e) for e in events])

    drain_rate = n / live.elapsed
    late_vs_early = ratio(sum(costs[-window:]), sum(costs[:window]))
    direct_total = sum(direct)
    direct_rate = n / direct_total
    direct_early = sum(direct[:window]) / window
    direct_late = sum(direct[-window:]) / window
    frames_per_txn = n / len(live.batches)
    section.figures.update(
        frames=n,
        window=window,
        sessions=live.sessions,
        frames_per_s=round(drain_rate),
        transactions=len(live.batches),
        frames_per_transaction=round(frames_per_txn, 1),
        early_ms_per_frame=round(sum(costs[:window]) / window * 1e3, 3),
        late_ms_per_frame=round(sum(costs[-window:]) / window * 1e3, 3),
        cost_ratio_late_vs_early=late_vs_early,
        cost_ratio_late_vs_early_cpu=ratio(sum(costs_cpu[-window:]), sum(costs_cpu[:window])),
        processed=live.processed,
        direct_frames_per_s=round(direct_rate),
        direct_sessions=direct_sessions,
        direct_early_ms_per_frame=round(direct_early * 1e3, 3),
        direct_late_ms_per_frame=round(direct_late * 1e3, 3),
        direct_cost_ratio_late_vs_early=ratio(direct_late, direct_early),
        direct_cost_ratio_late_vs_early_cpu=ratio(
            sum(direct_cpu[-window:]), sum(direct_cpu[:window])
        ),
        drain_vs_direct=ratio(drain_rate, direct_rate),
    )
    section.row(
        f"{fmt_n(n)} frames over a socket, live drain ({frames_per_txn:.1f} per transaction)",
        f"{fmt_s(live.elapsed)} ({fmt_n(drain_rate)}/s)",
        f"{fmt_s(direct_total)} ({fmt_n(direct_rate)}/s)",
        ratio(drain_rate, direct_rate),
    )
    section.row(
        f"drain, writer per frame: last {fmt_n(window)} vs first {fmt_n(window)}",
        fmt_s(sum(costs[-window:]) / window),
        fmt_s(sum(costs[:window]) / window),
        late_vs_early,
    )
    section.row(
        "  same, writer thread's CPU time",
        fmt_s(sum(costs_cpu[-window:]) / window),
        fmt_s(sum(costs_cpu[:window]) / window),
        section.figures["cost_ratio_late_vs_early_cpu"],  # type: ignore[arg-type]
    )
    section.row(
        f"direct, 1 per transaction: last {fmt_n(window)} vs first {fmt_n(window)}",
        fmt_s(direct_late),
        fmt_s(direct_early),
        section.figures["direct_cost_ratio_late_vs_early"],  # type: ignore[arg-type]
    )
    section.notes.append("baseline of the first row: the same frames directly, one per transaction")
    for name, made in (("drain", live.sessions), ("direct", direct_sessions)):
        if made != 1:
            section.notes.append(f"the {name} stream made {made} sessions, not one")
    return section
