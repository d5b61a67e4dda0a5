"""A history of tens of MB is parsed off the event loop: the loop stays responsive.

The simulator serves a ~30 MB history over a real socket; a heartbeat coroutine on the
engine's loop records the longest gap between its ticks while the engine reads it. Parsing
that body on the loop (as before) stalls the loop for at least one `json.loads` of it; off the
loop, in pieces, the gaps are those of the interpreter's thread switching and garbage
collection. The bound is relative to the `json.loads` time measured here, on this machine, so
a slow or busy machine does not make the test flaky.
"""

from __future__ import annotations

import asyncio
import gc
import json
from pathlib import Path
import threading
import time
from typing import Any

import aiohttp
import pytest

from custom_components.nina_session.engine import (
    batch_result as batch_module,
    engine as engine_module,
)
from custom_components.nina_session.engine.client import HistoryRead
from custom_components.nina_session.engine.gradual_release import release_gradually
from simulator.night import preset_night
from simulator.server import NinaSimulator
from simulator.wire import history_item, image_record
from tests.engine.test_engine_live import make_engine, until

#: Items without a `Time` are refused by the wire model at once: the test measures reading
#: and parsing, not the store. Each is a real event's shape and size (~250 bytes).
PADDING_ITEM = (
    '{"Event":"IMAGE-SAVE","ImageStatistics":{"ExposureTime":300.0,"ImageType":"LIGHT",'
    '"Filter":"Ha","Temperature":-10.0,"HFR":2.1,"Stars":%d,"Mean":512.5,"Median":500,'
    '"Gain":100,"Offset":50,"IsBayered":false,"RmsText":"Tot: 0.62"}}'
)
REAL_ITEMS = [
    '{"Event":"SEQUENCE-STARTING","Time":"2026-11-24T19:00:00+01:00"}',
    '{"Event":"GUIDER-START","Time":"2026-11-24T19:02:00+01:00"}',
]


def large_history(megabytes: int) -> bytes:
    """Return a valid `/event-history` answer of about `megabytes` MB."""
    count = megabytes * 1_000_000 // len(PADDING_ITEM)
    items = [*REAL_ITEMS, *(PADDING_ITEM % i for i in range(count))]
    body = '{"Success":true,"Type":"API","Error":"","StatusCode":200,"Response":[%s]}'
    return (body % ",".join(items)).encode()


async def test_a_large_history_does_not_stall_the_event_loop(
    sim: NinaSimulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Test that the loop keeps ticking while a ~30 MB history is read and parsed."""
    body = large_history(30)
    started = time.perf_counter()
    json.loads(body)
    parse_seconds = time.perf_counter() - started  # what an on-loop parse would block
    sim.serve_history(body)
    engine = make_engine(sim.port, tmp_path / "nina.db", session, reconcile_interval=0)
    loop = asyncio.get_running_loop()
    gaps: list[float] = []
    done = False

    async def heartbeat() -> None:
        last = loop.time()
        while not done:
            await asyncio.sleep(0.005)
            now = loop.time()
            gaps.append(now - last)
            last = now

    beat = asyncio.create_task(heartbeat())
    await engine.start()
    try:
        await until(lambda: engine.health.history.reads >= 1, "the backfill", timeout=120)
        done = True
        await beat
        assert engine.health.history.last_bytes == len(body)
        assert (await engine.health_json())["db"]["events"] == len(REAL_ITEMS)
        figure = f"json.loads {parse_seconds * 1000:.0f} ms, longest gap {max(gaps) * 1000:.0f} ms"
        assert max(gaps) < parse_seconds / 2, figure
    finally:
        done = True
        await beat
        await engine.stop()


async def test_a_merge_is_freed_on_the_writer_thread_after_its_answer(
    sim: NinaSimulator,
    session: aiohttp.ClientSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Test that a backfill answers, then its writer thread frees what the merge decoded.

    The decoded event and image items, the merge's parsed columns and its events are emptied
    a slice at a time by the writer's next job, never on the loop, and none before the merge
    is told.
    """
    night = preset_night("full")
    sim.history.extend(history_item(event) for event in night.events)
    sim.images.extend(image_record(event) for event in night.events if event.name == "IMAGE-SAVE")
    decoded: list[Any] = []
    parse = HistoryRead.parse

    def parse_and_keep(read: HistoryRead, known: Any = None) -> tuple[Any, Any, int]:
        parsed = parse(read, known)
        decoded.extend(parsed[:2])
        return parsed

    freed_on: list[str] = []
    steps: list[str] = []

    def release(items: list[Any]) -> None:
        freed_on.append(threading.current_thread().name)
        steps.append("freed")
        release_gradually(items)

    for_loop = batch_module.BatchResult.for_loop

    def told(result: batch_module.BatchResult, now: Any) -> batch_module.BatchResult:
        steps.append("told")
        return for_loop(result, now)

    monkeypatch.setattr(HistoryRead, "parse", parse_and_keep)
    monkeypatch.setattr(engine_module, "release_gradually", release)
    monkeypatch.setattr(batch_module, "release_gradually", release)
    monkeypatch.setattr(batch_module.BatchResult, "for_loop", told)
    engine = make_engine(sim.port, tmp_path / "nina.db", session, backfill_on_connect=False)
    await engine.start()
    try:
        result = await engine.backfill()
        assert result.summary is not None and result.summary.applied == len(night.events)
        # The writer thread's next job: the merge is freed by then.
        await engine._run(lambda: None)  # noqa: SLF001  # a barrier on the writer thread
        events, images = decoded
        assert len(events.items) == len(images.items) == 0
        assert freed_on and all(name.startswith("nina_session_db") for name in freed_on)
        # The decoded events and image records, and the merge's five parsed columns (its
        # events are a `FoldedBatch`, which frees itself).
        assert len(freed_on) == 7
        assert steps == ["told"] + ["freed"] * 7
        assert gc.isenabled()  # the collector waited for the merge to be freed, no longer
    finally:
        await engine.stop()
