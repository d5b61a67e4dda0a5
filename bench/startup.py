"""Startup: `NinaEngine.start()` must open the database and return, never wait for NINA.

Measured on an existing database holding a night and a saved state (a Home Assistant
restart), median of `startup_rounds`:

- NINA down: nothing listens on the port (connection refused at once);
- NINA hung: a TCP server accepts and never answers (the request timeout is 10 s);
- NINA up: the simulator; the time until the engine reports connected is given beside it;
- a fresh database (schema migrations) with NINA down.

Two unmeasured warm-up rounds come first (imports, the first thread, file system caches).
Baseline: opening the same SQLite file bare (`sqlite3.connect` + WAL pragma + one read).
`stop()` in the hung case is timed too: unloading must not wait for NINA either.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
import socket
import sqlite3
import statistics
import time

import aiohttp

from bench.common import OPTIONS, Scale, Section, fmt_ms, ratio, scratch_dir, until
from bench.history import _ingest
from bench.workload import nights
from custom_components.nina_session.engine.client import DEFAULT_REQUEST_TIMEOUT
from custom_components.nina_session.engine.engine import EngineConfig, NinaEngine
from simulator.server import NinaSimulator

_WARMUP_ROUNDS = 2


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _bare_open(path: Path) -> float:
    start = time.perf_counter()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("SELECT COUNT(*) FROM schema_version").fetchone()
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


async def _start(
    session: aiohttp.ClientSession, port: int, db: Path, *, wait_connected: bool = False
) -> tuple[float, float, float]:
    """(start seconds, seconds until connected or 0, stop seconds)."""
    engine = NinaEngine(EngineConfig("127.0.0.1", port, db, OPTIONS), session)
    begin = time.perf_counter()
    await engine.start()
    started = time.perf_counter() - begin
    connected = 0.0
    if wait_connected:
        await until(lambda: engine.health.connected)
        connected = time.perf_counter() - begin
    begin = time.perf_counter()
    await engine.stop()
    return started, connected, time.perf_counter() - begin


async def _measure(scale: Scale, tmp: Path) -> dict[str, float]:
    db = tmp / "existing.db"
    _ingest(db, nights(1, seed=23))
    os.sync()  # the kernel's writeback of that night would slow the first rounds' fsyncs
    samples: dict[str, list[float]] = {
        key: [] for key in ("bare", "down", "fresh", "hung", "hung_stop", "up", "up_connected")
    }
    writers: list[asyncio.StreamWriter] = []

    async def hang(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)  # accept, read nothing, answer nothing

    hung = await asyncio.start_server(hang, "127.0.0.1", 0)
    hung_port = hung.sockets[0].getsockname()[1]
    async with NinaSimulator() as sim, aiohttp.ClientSession() as session:
        for index in range(-_WARMUP_ROUNDS, scale.startup_rounds):
            if index < 0:  # warm-up: imports, first thread, file system caches
                await _start(session, _closed_port(), db)
                await _start(session, _closed_port(), tmp / f"warm{index}.db")
                continue
            samples["bare"].append(_bare_open(db))
            samples["down"].append((await _start(session, _closed_port(), db))[0])
            fresh = await _start(session, _closed_port(), tmp / f"fresh{index}.db")
            samples["fresh"].append(fresh[0])
            started, _, stopped = await _start(session, hung_port, db)
            samples["hung"].append(started)
            samples["hung_stop"].append(stopped)
            started, connected, _ = await _start(session, sim.port, db, wait_connected=True)
            samples["up"].append(started)
            samples["up_connected"].append(connected)
    for writer in writers:
        writer.close()
    hung.close()
    await hung.wait_closed()
    return {key: statistics.median(values) * 1e3 for key, values in samples.items()}


def run(scale: Scale) -> Section:
    """Measure how fast `NinaEngine.start()` returns: NINA down, hung or up, or a new database."""
    section = Section("startup")
    with scratch_dir("startup") as tmp:
        ms = asyncio.run(_measure(scale, tmp))
    timeout_ms = DEFAULT_REQUEST_TIMEOUT * 1e3
    waits = max(ms["down"], ms["hung"], ms["up"], ms["hung_stop"]) >= timeout_ms / 2
    section.figures.update(
        setup_ms_nina_down=round(ms["down"], 2),
        setup_ms_nina_hung=round(ms["hung"], 2),
        setup_ms_nina_up=round(ms["up"], 2),
        setup_ms_fresh_db=round(ms["fresh"], 2),
        connected_ms_nina_up=round(ms["up_connected"], 2),
        stop_ms_nina_hung=round(ms["hung_stop"], 2),
        bare_sqlite_ms=round(ms["bare"], 3),
        ratio_nina_down_to_bare=ratio(ms["down"], ms["bare"]),
        ratio_nina_hung_to_bare=ratio(ms["hung"], ms["bare"]),
        waits_for_network=waits,
    )
    for label, key in (
        ("start(), NINA down (port closed)", "down"),
        ("start(), NINA hung (accepts, never answers)", "hung"),
        ("start(), NINA up (simulator)", "up"),
        ("start(), fresh database, NINA down", "fresh"),
    ):
        section.row(f"{label} vs bare sqlite open", fmt_ms(ms[key]), fmt_ms(ms["bare"]),
                    ratio(ms[key], ms["bare"]))  # fmt: skip
    section.row("stop(), NINA hung", fmt_ms(ms["hung_stop"]), "", None)
    section.row("NINA up: start() until connected", fmt_ms(ms["up_connected"]), "", None)
    if waits:
        section.notes.append("start() or stop() waited for the network (>= half the timeout)")
    return section
