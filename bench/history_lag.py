"""Event-loop lag while the engine reads a very large event history.

`python -m bench.history_lag [MEGABYTES] [--real]`, or `... --attack [FRAMES]` (JSON on stdout). The simulator serves a
valid `/event-history` of about MEGABYTES MB (default 57, the largest history seen in the
hostile-input round) over a real socket; a ticker on the engine's loop sleeps 5 ms at a time
and records the longest gap between its ticks while the engine reads, parses and merges it.
Peak resident memory is the kernel's high-water mark (VmHWM), reset just before the
engine starts (so building the test body does not count); sampling it on the loop would
itself release and retake the GIL and add to the lag measured.

By default the items are real events' shape and size without a `Time` (the wire model
refuses them at once, so the figure is the read and the parse); `--real` gives every item a
time, so every one is normalized, de-duplicated and stored too. Those times end just before
now, as when Home Assistant starts while NINA's night goes on: the engine hands the loop a
summary and only the last minutes' events (`engine.history_summary`). A subscriber does per
event what Home Assistant's coordinator does (builds its bus event's data), so the lag
includes what the loop is handed.

`--attack` is the hanging-history attack instead: the history request never ends (about
6 MB/s of items until the client's timeout) while FRAMES (default 200) socket frames of just
under the 4 MiB frame limit arrive as fast as the socket takes them. Every byte budget is hit
at once: the history's cap, the backlog of frames read during the backfill, the live queue.
Reported: peak memory, loop lag, frames refused, and whether the socket stayed up.

It runs in a fresh interpreter so the peak memory is this read's alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
import gc
import json
from pathlib import Path
import resource
import sys
import tempfile
import time
from typing import Any

import aiohttp

from bench.common import OPTIONS, rss_mb
from custom_components.nina_session.engine.engine import EngineConfig, EngineUpdate, NinaEngine
from simulator.server import NinaSimulator

#: One IMAGE-SAVE history item as older plugins write it (~250 bytes); `%d` keeps them apart.
ITEM = (
    '{"Event":"IMAGE-SAVE",%s"ImageStatistics":{"ExposureTime":300.0,"ImageType":"LIGHT",'
    '"Filter":"Ha","Temperature":-10.0,"HFR":2.1,"Stars":%d,"Mean":512.5,"Median":500,'
    '"Gain":100,"Offset":50,"IsBayered":false,"RmsText":"Tot: 0.62"}}'
)
ENVELOPE = '{"Success":true,"Type":"API","Error":"","StatusCode":200,"Response":[%s]}'


def reset_peak_rss() -> float:
    """Reset the kernel's resident high-water mark to the current size; return that size (MB).

    Linux's /proc/self/clear_refs ("5"). Where that is not possible, the peak stays the
    process's lifetime peak, which is an over-estimate.
    """
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    return rss_mb()


def peak_rss_mb() -> float:
    """Return the resident high-water mark since `reset_peak_rss` (MB)."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def history_body(megabytes: float, *, timed: bool = False) -> bytes:
    """Return a valid `/event-history` answer of about `megabytes` MB.

    `timed`: every item has a `Time` (a GUIDER-DITHER every 10 s up to now), so every one is
    stored.
    """
    count = int(megabytes * 1_000_000) // (len(ITEM) + 8)
    start = datetime.now(UTC) - timedelta(seconds=10 * count)
    if timed:
        pad = "x" * 200
        items = (
            f'{{"Event":"GUIDER-DITHER","Time":"{(start + timedelta(seconds=10 * i)).isoformat()}",'
            f'"Pad":"{pad}"}}'
            for i in range(count)
        )
    else:
        items = (ITEM % ("", i) for i in range(count))
    return (ENVELOPE % ",".join(items)).encode()


class LoopLag:
    """How late a 5 ms sleep on the event loop wakes up: what Home Assistant would feel."""

    def __init__(self) -> None:
        """Start with nothing measured."""
        self.gaps: list[float] = []
        self._task: asyncio.Task[None] | None = None
        self._done = False

    def start(self) -> None:
        """Tick on the running loop until `stop`."""
        self._task = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        """Stop ticking; the gaps stay."""
        self._done = True
        if self._task is not None:
            await self._task

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while not self._done:
            await asyncio.sleep(0.005)
            now = loop.time()
            self.gaps.append(now - last)
            last = now

    def max_ms(self) -> float:
        """Return the longest gap, in ms."""
        return round(max(self.gaps) * 1000, 1)

    def p99_ms(self) -> float:
        """Return the 99th percentile gap, in ms."""
        ordered = sorted(self.gaps)
        return round(ordered[int(len(ordered) * 0.99)] * 1000, 1)


async def measure(body: bytes) -> dict[str, Any]:
    """Serve `body` as the history, let an engine read it; return lag and memory figures."""
    gc.collect()
    async with NinaSimulator() as sim, aiohttp.ClientSession() as session:
        sim.serve_history(body)
        with tempfile.TemporaryDirectory() as scratch:
            config = EngineConfig(
                host="127.0.0.1",
                port=sim.port,
                db_path=Path(scratch) / "nina.db",
                options=OPTIONS,
                reconcile_interval=0,
                request_timeout=120.0,
            )
            engine = NinaEngine(config, session)
            told = {"events": 0}
            engine.subscribe(lambda update: _like_home_assistant(update, told))
            lag = LoopLag()
            before = reset_peak_rss()
            lag.start()
            started = time.perf_counter()
            await engine.start()
            try:
                while engine.health.history.reads + engine.health.history.failures < 1:
                    await asyncio.sleep(0.05)
                seconds = time.perf_counter() - started
            finally:
                await lag.stop()
                stop_started = time.perf_counter()
                await engine.stop()
                stop_seconds = time.perf_counter() - stop_started
            return {
                "history_bytes": len(body),
                "read_ok": engine.health.history.reads == 1,
                "read_s": round(seconds, 2),
                "stop_s": round(stop_seconds, 2),
                "lag_max_ms": lag.max_ms(),
                "lag_p99_ms": lag.p99_ms(),
                "rss_before_mb": round(before, 1),
                "rss_peak_mb": round(peak_rss_mb(), 1),
                "stored_events": engine.health.events.backfilled,
                "events_handed_to_loop": told["events"],
            }


def _like_home_assistant(update: EngineUpdate, told: dict[str, int]) -> None:
    """Do on the loop, per event handed to it, what the coordinator does: its bus event's data."""
    if update.result is None:
        return
    for item in update.result.applied:
        event = item.event
        told["events"] += 1
        {
            "type": event.name,
            "time": event.time.isoformat(),
            "data": event.data,
            "session_id": item.session_id,
            "source": event.source.value,
        }


#: A GUIDER-DITHER socket frame padded to just under the 4 MiB frame limit.
BIG_FRAME = (
    '{"Response":{"Event":"GUIDER-DITHER","Pad":"%s"},"Success":true,"Type":"Socket","Error":""}'
    % ("x" * (4 * 1024 * 1024 - 200))
)


async def attack(frames: int) -> dict[str, Any]:
    """Run the hanging-history attack; return memory, lag and refusal figures."""
    gc.collect()
    async with NinaSimulator() as sim, aiohttp.ClientSession() as session:
        sim.serve_history(endless=True)
        with tempfile.TemporaryDirectory() as scratch:
            config = EngineConfig(
                host="127.0.0.1",
                port=sim.port,
                db_path=Path(scratch) / "nina.db",
                options=OPTIONS,
                reconcile_interval=0,
                history_retry=3600.0,
            )
            engine = NinaEngine(config, session)
            lag = LoopLag()
            before = reset_peak_rss()
            lag.start()
            started = time.perf_counter()
            await engine.start()
            try:
                async with asyncio.timeout(30):
                    await sim.wait_for_sockets(1)
                for _ in range(frames):
                    await sim.send_raw(BIG_FRAME)
                events = engine.health.events
                while events.received < frames or engine.health.history.failures < 1:
                    await asyncio.sleep(0.05)
                while not engine.health.connected:  # live again after the failed read
                    await asyncio.sleep(0.05)
                seconds = time.perf_counter() - started
                # A frame the backlog took is counted on arrival and refused later, on the
                # writer thread: wait (up to 30 s) until each is accounted for, or the
                # figures race the writer (196 of 200 under load in CI).
                settled = time.monotonic() + 30
                while events.rejected < frames and time.monotonic() < settled:
                    await asyncio.sleep(0.05)
                health = await engine.health_json()
            finally:
                await lag.stop()
                await engine.stop()
            return {
                "frames_sent": frames,
                "frame_bytes": len(BIG_FRAME),
                "attack_s": round(seconds, 2),
                "history_error": health["history"]["last_error"],
                "refused": health["events"]["rejected"],
                "budgets": health["budgets"],
                "connected_after": health["connected"],
                "connections": sim.connections_accepted,
                "lag_max_ms": lag.max_ms(),
                "rss_before_mb": round(before, 1),
                "rss_peak_mb": round(peak_rss_mb(), 1),
            }


def main(argv: list[str]) -> None:
    """Build the history (or the attack), measure, print the figures as JSON."""
    number = next((a for a in argv if not a.startswith("-")), None)
    if "--attack" in argv:
        print(json.dumps(asyncio.run(attack(int(number or 200)))))
        return
    body = history_body(float(number or 57), timed="--real" in argv)
    print(json.dumps(asyncio.run(measure(body))))


if __name__ == "__main__":
    main(sys.argv[1:])
