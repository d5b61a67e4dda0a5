"""Load: a sustained event rate through the live engine over the simulator's socket.

The simulator (on its own thread, like NINA on another PC) emits `rate` events per second
for `seconds`: frames (exact identity), autofocus points, dithers and image-prepared notices
(non-frame events carry a `LoadSeq` number, so that distinct events a few milliseconds apart
are not merged by the one-second dedup window). The engine keeps its production settings.
Correctness is checked (every event stored once, every frame counted); timing is only
measured and printed: event-loop lag, arrival-to-stored latency and the largest backlog.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
import tempfile
import time
from zoneinfo import ZoneInfo

import aiohttp

from custom_components.nina_session.engine.engine import EngineConfig, EngineUpdate, NinaEngine
from custom_components.nina_session.engine.pipeline import PipelineOptions
from custom_components.nina_session.engine.store import Store
from simulator.night import SimEvent, net_time
from simulator.server import NinaSimulator

from .lag import LagMonitor, LagSummary, percentile
from .simthread import SimThread
from .waiting import until

Say = Callable[[str], None]
FILTERS = ("L", "R", "G", "B")
EXPOSURE = 60.0


@dataclass(frozen=True, slots=True)
class LoadConfig:
    """Settings of the load scenario."""

    rate: float = 200.0
    seconds: float = 600.0
    tz: str = "Europe/Berlin"
    drain_timeout: float = 120.0
    db_path: Path | None = None


@dataclass(slots=True)
class LoadReport:
    """What the load scenario counted and measured."""

    emitted: int
    stored: int
    lights_expected: dict[str, int]
    lights_stored: dict[str, int]
    dithers_expected: int
    dithers_stored: int
    duplicates: int
    rejected: int
    lag: LagSummary
    latency_p50_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    backlog_max: int
    send_seconds: float
    drain_seconds: float

    @property
    def ok(self) -> bool:
        """Return whether all events were stored once, none rejected, lights and dithers counted."""
        return (
            self.stored == self.emitted
            and self.lights_stored == self.lights_expected
            and self.dithers_stored == self.dithers_expected
            and self.duplicates == 0
            and self.rejected == 0
        )

    @property
    def summary(self) -> str:
        """Return the one-line summary the run ends with."""
        return (
            f"load: events={self.emitted} stored={self.stored} lost={self.emitted - self.stored} "
            f"rate={self.emitted / max(self.send_seconds, 1e-9):.0f}/s "
            f"loop_lag_p50={self.lag.p50_ms:.2f}ms p99={self.lag.p99_ms:.2f}ms "
            f"max={self.lag.max_ms:.2f}ms"
        )


def load_event(number: int, now: datetime) -> SimEvent:
    """Return the `number`th event of the stream, stamped `now` (NINA's local time)."""
    kind = number % 5
    if kind in (0, 1):
        stats = {
            "ExposureTime": EXPOSURE,
            "ImageType": "LIGHT",
            "Filter": FILTERS[number // 5 % len(FILTERS)],
            "TargetName": "M 31",
            "HFR": 2.0 + number % 7 / 10,
            "Stars": 1000 + number % 500,
            "RmsText": 'Tot: 0.62 (0.55")',
            "Date": net_time(now - timedelta(microseconds=500)),
            "Filename": f"load_{number:07d}.fits",
        }
        return SimEvent(now, "IMAGE-SAVE", {"ImageStatistics": stats})
    if kind == 2:
        return SimEvent(now, "AUTOFOCUS-POINT-ADDED", {"HFR": 2.5, "Position": number})
    if kind == 3:
        return SimEvent(now, "GUIDER-DITHER", {"LoadSeq": number})
    return SimEvent(now, "IMAGE-PREPARED", {"LoadSeq": number})


def expected_lights(count: int) -> dict[str, int]:
    """Return the lights per filter among the stream's first `count` events."""
    lights: dict[str, int] = {}
    for number in range(count):
        if number % 5 in (0, 1):
            name = FILTERS[number // 5 % len(FILTERS)]
            lights[name] = lights.get(name, 0) + 1
    return lights


def expected_dithers(count: int) -> int:
    """Return the dithers among the stream's first `count` events."""
    return sum(1 for number in range(count) if number % 5 == 3)


async def produce(sim: NinaSimulator, rate: float, seconds: float, tz: str) -> int:
    """On the simulator's loop: emit the stream at `rate` per second, catching up if late.

    Returns how many events went out: SEQUENCE-STARTING, then `rate * seconds` of the stream.
    """
    zone = ZoneInfo(tz)
    loop = asyncio.get_running_loop()
    await sim.emit(SimEvent(datetime.now(zone), "SEQUENCE-STARTING"))
    total = int(rate * seconds)
    start = loop.time()
    for number in range(total):
        wait = start + number / rate - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        await sim.emit(load_event(number, datetime.now(zone)))
    return total + 1


async def run_load(config: LoadConfig, say: Say = print) -> LoadReport:
    """Run the load scenario (on a temporary database unless one is given)."""
    if config.db_path is not None:
        return await _run(config, config.db_path, say)
    with tempfile.TemporaryDirectory(prefix="nina-load-") as folder:
        return await _run(config, Path(folder) / "load.db", say)


async def _run(config: LoadConfig, db_path: Path, say: Say) -> LoadReport:
    say(f"load: {config.rate:g} events/s for {config.seconds:g} s through the engine")
    simthread = SimThread(tz=config.tz)
    sim = await simthread.start()
    monitor = LagMonitor()
    latencies: list[float] = []
    backlog_max = 0

    def on_update(update: EngineUpdate) -> None:
        if update.reason == "events" and update.result is not None:
            now = datetime.now(UTC)
            latencies.extend((now - a.event.time).total_seconds() for a in update.result.applied)

    options = PipelineOptions("load", ZoneInfo(config.tz))
    engine_config = EngineConfig("127.0.0.1", sim.port, db_path, options, heartbeat=5.0)
    async with aiohttp.ClientSession() as session:
        engine = NinaEngine(engine_config, session)
        engine.subscribe(on_update)
        await engine.start()
        try:
            if not await until(lambda: engine.health.connected and sim.open_sockets >= 1, 30):
                raise TimeoutError("the engine did not connect to the simulator")
            monitor.start()
            began = time.monotonic()
            producer = asyncio.ensure_future(
                simthread.run(produce(sim, config.rate, config.seconds, config.tz))
            )
            counters = engine.health.events

            def sample_backlog() -> bool:
                nonlocal backlog_max
                done = counters.processed + counters.duplicates + counters.rejected
                backlog_max = max(backlog_max, counters.received - done)
                return producer.done()

            await until(sample_backlog, float("inf"), interval=0.05)
            emitted = await producer
            send_seconds = time.monotonic() - began
            if not await until(
                lambda: counters.processed + counters.duplicates >= emitted, config.drain_timeout
            ):
                say(f"  engine did not drain within {config.drain_timeout:g} s")
            drain_seconds = time.monotonic() - began - send_seconds
            await monitor.stop()
        finally:
            await engine.stop()
            await simthread.stop()
    store = Store(db_path)  # the engine has closed it; count what it wrote
    try:
        stored_events = store.counts()["events"]
        # Every session the run made: one crossing local noon is two observing nights.
        sessions = store.sessions(limit=500)
    finally:
        store.close()
    lights: dict[str, int] = {}
    dithers = 0
    for summary in sessions:
        for name, slot in summary.get("frames", {}).get("by_filter", {}).items():
            lights[name] = lights.get(name, 0) + slot["count"]
        dithers += summary.get("counts", {}).get("dithers", 0)
    lag = monitor.summary()
    report = LoadReport(
        emitted=emitted,
        stored=stored_events,
        lights_expected=expected_lights(emitted - 1),
        lights_stored=lights,
        dithers_expected=expected_dithers(emitted - 1),
        dithers_stored=dithers,
        duplicates=counters.duplicates,
        rejected=counters.rejected,
        lag=lag,
        latency_p50_ms=percentile(latencies, 0.5) * 1000,
        latency_p99_ms=percentile(latencies, 0.99) * 1000,
        latency_max_ms=max(latencies, default=0.0) * 1000,
        backlog_max=backlog_max,
        send_seconds=send_seconds,
        drain_seconds=drain_seconds,
    )
    say(
        f"  sent {report.emitted} events in {send_seconds:.1f} s, drained {drain_seconds:.2f} s "
        f"later; stored {report.stored}; duplicates {report.duplicates}, "
        f"rejected {report.rejected}"
    )
    say(f"  event-loop lag: {lag}")
    say(
        f"  arrival to stored: p50 {report.latency_p50_ms:.1f} ms, "
        f"p99 {report.latency_p99_ms:.1f} ms, max {report.latency_max_ms:.1f} ms; "
        f"largest backlog {report.backlog_max} frames"
    )
    say(report.summary)
    return report
