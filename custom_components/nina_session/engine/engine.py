"""The live engine: one NINA instance, its connection, its pipeline and its database.

Startup is load state → backfill → connect, but never blocking: `start()` opens the database
and returns; the connection loop backfills and connects in the background, so Home Assistant
never waits for an observatory PC that is switched off.

All database work runs in one single-thread executor (the one writer). Live frames go through
a bounded queue; a burst is handed to the pipeline as one batch, so it is one transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
import logging
import math
from pathlib import Path
import sqlite3
from typing import Any, TypeVar

import aiohttp

from .batch_result import BatchResult
from .client import (
    DEFAULT_MAX_BODY_SIZE,
    DEFAULT_REQUEST_TIMEOUT,
    HistoryRead,
    NinaClient,
    NinaError,
    NinaNotPluginError,
    NinaTooLargeError,
)
from .connection import DEFAULT_MAX_BACKLOG_BYTES, Backoff, ConnectionLoop
from .errors import FrameError
from .gc_deferral import collector_deferred
from .gradual_release import release_gradually
from .health import ConnectionHealth
from .models import Source
from .pipeline import Pipeline, PipelineOptions
from .replay import recording_line
from .reports import health_view, legacy_view, session_view, stats_view
from .sessions import Session
from .store import Store, StoreError
from .store_recovery import FileIdentity, file_problem, recover
from .wire import Foreign, HistoryEvents, HistoryImages

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

#: Live frames waiting for the pipeline; when full, reading the socket waits (back-pressure).
QUEUE_SIZE = 10_000
#: ...and their characters of text: past this, frames are refused (counted as `queue_full`)
#: and the next history read (at the next tick) brings back what they carried. A frame can be
#: up to 4 MiB, so a frame count alone bounds nothing (10,000 of them are 40 GiB).
QUEUE_BYTES = 16 * 1024 * 1024
#: Most frames handed to the pipeline in one transaction.
BATCH_SIZE = 1_000
#: Group commit: a frame that arrives alone within FLOWING seconds of the previous one waits
#: this long (seconds) for the frames right behind it, so a fast trickle is stored in batches
#: rather than one transaction per frame. A quiet stream's frames never wait, nor do they once
#: a wait caught nothing (frames that come one at a time, each after the last was handled),
#: until frames queue up again.
GROUP_WINDOW = 0.003
FLOWING = 0.03


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Settings of one engine: where NINA is, where its history goes, and timings."""

    host: str
    port: int
    db_path: Path
    options: PipelineOptions
    tls: bool = False
    verify_tls: bool = True
    backfill_on_connect: bool = True
    heartbeat: float = 30.0
    probe_interval: float = 60.0
    tick_interval: float = 60.0
    #: While connected (and backfilling), re-read NINA's history this often (s), checked on
    #: the tick: what the live stream lost or delivered out of order is repaired even when NINA
    #: crashes (clearing its history) before the next reconnect. 0: only on (re)connect.
    reconcile_interval: float = 900.0
    record_path: Path | None = None
    #: A failed history read is tried again after this many seconds, doubling up to
    #: `history_retry_ceiling`; the live stream goes on meanwhile.
    history_retry: float = 5.0
    history_retry_ceiling: float = 600.0
    #: Byte budgets of what waits in memory, shown in health (`budgets`). Expert settings:
    #: the hard cap on one REST answer, the event history included; the live frames waiting
    #: for the pipeline; those read while the history is read. The database's pending writes
    #: have theirs in `options.max_pending_bytes`.
    max_history_bytes: int = DEFAULT_MAX_BODY_SIZE
    max_queue_bytes: int = QUEUE_BYTES
    max_backlog_bytes: int = DEFAULT_MAX_BACKLOG_BYTES
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT


@dataclass(frozen=True, slots=True)
class EngineUpdate:
    """Told to subscribers after every change: processed events, connection, tick.

    `result` says what changed; a tick's holds the session the idle clock closed; a
    backfill's is told in sum with only its recent events (`BatchResult.for_loop`).
    """

    reason: str
    result: BatchResult | None = None


class NinaEngine:
    """Runs the whole live pipeline for one NINA instance."""

    def __init__(
        self,
        config: EngineConfig,
        session: aiohttp.ClientSession,
        *,
        clock: Callable[[], datetime] = _utc_now,
        loop_factory: Callable[..., ConnectionLoop] = ConnectionLoop,
    ) -> None:
        """Initialize the engine; nothing is opened or connected until `start()`."""
        self.config = config
        self.health = ConnectionHealth()
        self.health.history.max_bytes = config.max_history_bytes
        self.health.budgets.queue.max_bytes = config.max_queue_bytes
        self.health.budgets.pending_writes.max_bytes = config.options.max_pending_bytes
        self.client = NinaClient(
            session,
            config.host,
            config.port,
            tls=config.tls,
            verify_tls=config.verify_tls,
            request_timeout=config.request_timeout,
            max_body_size=config.max_history_bytes,
        )
        self._clock = clock
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nina_session_db")
        #: Live frames with their arrival time and size in bytes (the queue's byte budget).
        self._queue: asyncio.Queue[tuple[str | Foreign, datetime, int]] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers: list[Callable[[EngineUpdate], None]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._refresh: asyncio.Future[None] | None = None
        self._queued_bytes = 0
        self._refusing = False
        #: Frames were refused since the last history read began: read it at the next tick.
        self._repair_wanted = False
        self._started = clock()
        self._app_start: str | None = None
        self._history_length = 0
        self._backfill_lock = asyncio.Lock()
        self._last_backfill: datetime | None = None
        self._history_backoff = Backoff(
            initial=config.history_retry,
            ceiling=max(config.history_retry, config.history_retry_ceiling),
        )
        self._history_retry: asyncio.Task[None] | None = None
        self.pipeline: Pipeline | None = None
        self._store: Store | None = None
        #: The file the store opened: one replaced or overwritten under it is recovered.
        self._store_file: FileIdentity | None = None
        #: Where a damaged database was moved at start (None when it was fine).
        self.recovered_db: Path | None = None
        self._loop = loop_factory(
            self.client,
            self.health,
            on_connected=self._on_connected,
            on_message=self._on_message,
            on_health=self._on_health,
            on_refused=self._frame_refused,
            clock=clock,
            heartbeat=config.heartbeat,
            probe_interval=config.probe_interval,
            max_backlog_bytes=config.max_backlog_bytes,
        )

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self, *, connect: bool = True) -> None:
        """Open the database and load the saved state; connect in the background.

        connect=False leaves the connection to `connect()`: a host that must first have its
        listeners in place (HA's entities) would otherwise miss what the first backfill applies.
        """
        store, self.recovered_db = await self._run(
            lambda: Store.open_or_recover(self.config.db_path, now=self._clock())
        )
        self._store = store
        self._store_file = await self._run(FileIdentity.of, store.path)
        self.pipeline = await self._run(Pipeline, store, self.config.options, self.health.events)
        self._tasks = [
            asyncio.create_task(self._drain(), name="nina_session pipeline"),
            asyncio.create_task(self._ticker(), name="nina_session idle clock"),
        ]
        if connect:
            await self.connect()

    async def connect(self) -> None:
        """Start the connection loop in the background (no-op when it already runs)."""
        await self._loop.start()

    async def stop(self) -> None:
        """Close the socket, process what is queued, close the database; nothing left."""
        await self._loop.stop()
        await self._queue.join()
        if self._history_retry is not None:
            self._tasks.append(self._history_retry)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._refresh is not None and not self._refresh.done():
            self._refresh.cancel()
        if self._store is not None:
            await self._run(self._store.close)
            self._store = None
        self._executor.shutdown(wait=True)

    @property
    def subscriber_count(self) -> int:
        """Return how many subscribers are listening (each WebSocket subscription is one)."""
        return len(self._subscribers)

    def subscribe(self, callback: Callable[[EngineUpdate], None]) -> Callable[[], None]:
        """Call `callback` with every update; return the function that unsubscribes it."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    # -- plumbing ----------------------------------------------------------------------
    async def _run(self, func: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, func, *args)

    def _broadcast(self, update: EngineUpdate) -> None:
        for callback in list(self._subscribers):
            try:
                callback(update)
            except Exception:
                _LOGGER.exception("Subscriber failed on %s", update.reason)

    async def _on_message(self, text: str, received_at: datetime) -> None:
        budget = self.health.budgets.queue
        if self._queued_bytes + len(text) > budget.max_bytes:
            self.health.events.reject("queue_full")
            budget.refused += 1
            self._frame_refused()
            if not self._refusing:
                self._refusing = True
                _LOGGER.warning(
                    "Frames from NINA at %s wait for more than %d bytes: refusing frames "
                    "until they are processed; the next history read repairs them",
                    self.config.host, budget.max_bytes,
                )  # fmt: skip
            return
        self._refusing = False
        self._queued_bytes += len(text)
        budget.bytes = self._queued_bytes
        # Tagged with the connection's API now: a reconnect may speak another one.
        wire_format = self.client.wire_format
        limit = self.config.options.max_frame_bytes
        frame = text if wire_format is None else Foreign(wire_format, text, limit)
        await self._queue.put((frame, received_at, len(text)))

    def _frame_refused(self) -> None:
        """Note a refused live frame (a queue was full): the next tick reads the history."""
        self._repair_wanted = True

    def _on_health(self) -> None:
        """Tell subscribers the connection health changed (it already holds the change)."""
        self._broadcast(EngineUpdate("connection"))

    async def _on_connected(self) -> None:
        if self.pipeline is not None:
            await self._run(self.pipeline.clock.socket_opened, self._clock())
        if self.config.backfill_on_connect:
            # A failed read is counted in health and retried; the live stream goes on.
            with contextlib.suppress(NinaError):
                await self.backfill()

    async def _drain(self) -> None:
        """Hand queued frames to the pipeline in batches, in arrival order."""
        last_arrival, waiting_pays = -math.inf, True
        while True:
            first = await self._queue.get()
            arrival, last_arrival = last_arrival, asyncio.get_running_loop().time()
            if not self._queue.empty():
                waiting_pays = True  # frames queue up: a trickle again
            elif waiting_pays and last_arrival - arrival < FLOWING:
                await asyncio.sleep(GROUP_WINDOW)
                waiting_pays = not self._queue.empty()
            batch = [first]
            while len(batch) < BATCH_SIZE and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            self._queued_bytes -= sum(size for _, _, size in batch)
            self.health.budgets.queue.bytes = self._queued_bytes
            try:
                result = await self._run(self._process_frames, batch)
            except Exception:
                _LOGGER.exception("Processing %d frames failed", len(batch))
                result = None
            finally:
                for _ in batch:
                    self._queue.task_done()
            if result is not None and result.changed:
                self.health.last_event_at = batch[-1][1]
                self._broadcast(EngineUpdate("events", result))

    def _process_frames(self, batch: Sequence[tuple[str | Foreign, datetime, int]]) -> BatchResult:
        assert self.pipeline is not None
        frames = [(raw, received_at) for raw, received_at, _ in batch]
        if self.config.record_path is not None:
            with self.config.record_path.open("a", encoding="utf-8") as handle:
                for raw, received_at in frames:
                    handle.write(recording_line(raw, received_at) + "\n")
        return self.pipeline.ingest_frames(frames, Source.LIVE)

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self._next_tick_in())
            await self.tick()

    def _next_tick_in(self) -> float:
        """Seconds to the next tick: the interval, or sooner when a pending stop falls due."""
        interval = self.config.tick_interval
        deadline = self.pipeline.deadline if self.pipeline is not None else None
        if deadline is None:
            return interval
        return max(0.5, min(interval, (deadline - self._clock()).total_seconds() + 0.5))

    async def tick(self, now: datetime | None = None) -> Session | None:
        """Run the engine clock once: retry refused writes, close the session once idle.

        The engine calls this every `tick_interval`; `now` (default: the clock) lets a caller
        say what time it is. Returns the session it closed, if any.
        """
        pipeline = self.pipeline
        if pipeline is None:
            return None
        await self._check_store_file()
        if pipeline.writer.pending_events and await self._run(pipeline.retry_pending):
            self._broadcast(EngineUpdate("storage"))
        result = await self._run(pipeline.tick, now or self._clock())
        closed = result.closed[0] if result.closed else None
        if closed is not None:
            _LOGGER.info("Session %s ended (idle)", closed.id)
        if result.changed:
            self._broadcast(EngineUpdate("tick", result))
        await self._reconcile_if_due()
        return closed

    async def _check_store_file(self) -> None:
        """Recover a database file replaced, deleted or overwritten while in use.

        SQLite would go on writing where no one will read (see `store_recovery`). What the
        connection still reads is saved into a sound file, the damaged one is moved aside (the
        user is told: `recovered_db`), and a history read brings back what was lost meanwhile.
        Until a sound file can be opened, events wait in memory and the next tick tries again.
        """
        store = self._store
        if store is None:
            return
        problem = await self._run(file_problem, store.path, self._store_file)
        if problem is None:
            return
        storage = self.health.storage
        first = storage.recoveries == storage.problems  # not already failing to recover
        storage.problems += 1
        storage.last_problem = problem
        if first:
            _LOGGER.error(
                "The database of NINA at %s: %s; recovering it", self.config.host, problem
            )
        try:
            aside = await self._run(self._reopen_store)
        except (StoreError, OSError) as err:
            storage.last_problem = f"{problem}; cannot open a new one: {err}"
            log = _LOGGER.error if first else _LOGGER.debug
            log("Cannot recover %s (%s); events wait in memory", store.path.name, err)
            self._broadcast(EngineUpdate("storage"))
            return
        storage.recoveries += 1
        if aside is not None:
            self.recovered_db = aside
        self._broadcast(EngineUpdate("rebuild"))
        if self.health.connected and self.config.backfill_on_connect:
            with contextlib.suppress(NinaError):  # counted in health, retried with backoff
                await self.backfill()

    def _reopen_store(self) -> Path | None:
        """Swap in a sound database for the damaged one (writer thread); return the moved file."""
        pipeline, store = self.pipeline, self._store
        assert pipeline is not None and store is not None
        pipeline.writer.storage_error = self.health.storage.last_problem
        pipeline.writer.storage_failures += 1
        try:
            store, aside = recover(store, self._clock())
        except Exception:
            # Never on into a file no one will read: writes fail, events wait in memory
            # (within the pending byte budget) and the next tick tries again.
            with contextlib.suppress(sqlite3.Error):
                store.refuse_writes()
            raise
        self._store = pipeline.store = store
        self._store_file = FileIdentity.of(store.path)
        if pipeline.retry_pending():
            pipeline.writer.storage_error = None
        pipeline.rebuild()  # the fold follows what the new file holds
        return aside

    async def _reconcile_if_due(self) -> None:
        """Backfill while connected once `reconcile_interval` has passed since the last one.

        Sooner when the pipeline wants history (a live frame on a clock not measured yet, as
        on a new database): that read measures NINA's clock, and what counted twice before it
        (a late live copy of a stored history event) counts once.
        """
        interval = self.config.reconcile_interval
        if interval <= 0 or not self.config.backfill_on_connect or not self.health.connected:
            return
        if self._history_retry is not None and not self._history_retry.done():
            return  # a failed read is being retried with its own backoff
        last = self._last_backfill
        wanted = self._repair_wanted or (self.pipeline is not None and self.pipeline.history_wanted)
        if last is not None and not wanted and (self._clock() - last).total_seconds() < interval:
            return
        with contextlib.suppress(NinaError):  # counted in health, retried with backoff
            await self.backfill()

    # -- backfill and refresh ----------------------------------------------------------
    async def backfill(self) -> BatchResult:
        """Merge the plugin's event and image history into the store (no duplicates).

        Raises NinaError when the history cannot be read or used (unreachable, over the byte
        cap, not UTF-8, not JSON, of no usable shape, too slow); the failure is counted in
        health and, while connected, the read is retried with backoff.
        """
        async with self._backfill_lock:  # on connect, on the tick and on refresh: one at a time
            try:
                result = await self._backfill()
            except NinaError as err:
                self._history_failed(err)
                raise
        self._last_backfill = self._clock()
        history = self.health.history
        history.reads += 1
        history.consecutive_failures = 0
        history.last_read_at = self._last_backfill
        history.over_cap = False
        self._history_backoff.reset()
        return result

    async def _backfill(self) -> BatchResult:
        self._repair_wanted = False  # what is refused from now on, the next read repairs
        history = await self.client.read_history()
        app_start = await self.client.application_start()
        self.health.history.last_bytes = history.size
        # Parsed on the writer thread: a history of tens of MB must not stall the loop.
        result = await self._run(self._ingest_history, history, app_start)
        if result.changed:
            self._broadcast(EngineUpdate("backfill", result))
        return result

    def _ingest_history(self, history: HistoryRead, app_start: str | None) -> BatchResult:
        """Parse the history read and merge it (on the writer thread).

        Full GC passes over the parse and the merge stalled the loop: the collector waits,
        until the merge is freed (`_free_merge`).
        """
        pipeline = self.pipeline
        assert pipeline is not None
        deferred = contextlib.ExitStack()
        deferred.enter_context(collector_deferred())
        with deferred:
            events, images, length = history.parse(pipeline.known_history)
            restarted = (self._app_start is not None and app_start != self._app_start) or (
                length < self._history_length
            )
            self._app_start, self._history_length = app_start, length
            if restarted:
                pipeline.epoch += 1
                _LOGGER.info("NINA restarted: history epoch %d", pipeline.epoch)
            try:
                merged = pipeline.ingest_history(events, images)
            except FrameError as err:  # the whole history is unusable (not a list, an error)
                pipeline.counters.reject(err.reason)
                raise NinaNotPluginError(f"event history unusable: {err}") from err
            # The loop is told a summary and the recent events. Freeing the rest (a first
            # read's tens of thousands of objects: 20-30 ms) is this thread's next job, after
            # the answer: what was stored is told without waiting for it. The collector waits
            # for that too: back on, it would walk every object still held.
            told = merged.for_loop(self._clock())
            freeing = deferred.pop_all()
            try:
                self._executor.submit(_free_merge, merged, events, images, freeing)
            except RuntimeError:  # the engine is stopping: no next job
                _free_merge(merged, events, images, freeing)
            return told

    def _history_failed(self, err: NinaError) -> None:
        """Count a failed history read, show it in health and retry it with backoff."""
        history = self.health.history
        history.failures += 1
        history.consecutive_failures += 1
        history.last_error = str(err)
        history.over_cap = isinstance(err, NinaTooLargeError)
        if history.over_cap:
            history.over_cap_count += 1
            history.over_cap_at = self._clock()
        log = _LOGGER.warning if history.consecutive_failures == 1 else _LOGGER.debug
        log(
            "Reading the history of NINA at %s failed (%s); the live stream goes on",
            self.config.host,
            err,
        )
        self._broadcast(EngineUpdate("connection"))
        if self.health.connected or self._loop.running:
            if self._history_retry is None or self._history_retry.done():
                self._history_retry = asyncio.create_task(
                    self._retry_history(), name="nina_session history retry"
                )

    async def _retry_history(self) -> None:
        """Read the history again after a failure, with growing delays, until it works.

        Only while connected: every reconnect reads the history anyway.
        """
        while True:
            await asyncio.sleep(self._history_backoff.next_delay())
            if not self.health.connected or not self.config.backfill_on_connect:
                return
            try:
                await self.backfill()
            except NinaError:
                continue
            return

    async def refresh(self) -> None:
        """Force a re-sync: backfill, then recompute state. Concurrent calls coalesce."""
        if self._refresh is not None and not self._refresh.done():
            return await asyncio.shield(self._refresh)
        self._refresh = asyncio.ensure_future(self._do_refresh())
        return await asyncio.shield(self._refresh)

    async def _do_refresh(self) -> None:
        pipeline = self.pipeline
        assert pipeline is not None
        try:
            await self.backfill()
        except NinaError as err:
            _LOGGER.info("Refresh without backfill: %s", err)
        await self._queue.join()
        await self._run(pipeline.rebuild)
        self._broadcast(EngineUpdate("rebuild"))

    async def prune_history(self, before: datetime) -> tuple[int, int]:
        """Apply history retention: drop closed sessions that ended before `before`."""
        assert self._store is not None
        return await self._run(self._prune, self._store, before)

    def _prune(self, store: Store, before: datetime) -> tuple[int, int]:
        pruned = store.prune(before)
        if self.pipeline is not None:
            # A whole refold now starts after the pruned nights: the checkpoints did not.
            self.pipeline.checkpoints.forget()
        return pruned

    # -- reads (all on the writer thread) ----------------------------------------------
    def _relative_db(self) -> str:
        return self.config.db_path.name

    async def session(self) -> dict[str, Any] | None:
        """Return the open session's JSON (state `disconnected` while offline), or None."""
        assert self.pipeline is not None
        return await self._run(session_view, self.pipeline, self.health)

    def current_session(self) -> dict[str, Any] | None:
        """Return the in-memory open session (cheap; for entity state)."""
        return session_view(self.pipeline, self.health) if self.pipeline else None

    async def stored_session(self, session_id: str) -> dict[str, Any] | None:
        """Return a stored session by id, or None when there is none."""
        assert self._store is not None
        return await self._run(self._store.session, session_id)

    async def sessions(self, **query: Any) -> list[dict[str, Any]]:
        """Return stored sessions; `query` takes the keyword arguments of `Store.sessions`."""
        assert self._store is not None
        store = self._store
        return await self._run(lambda: store.sessions(**query))

    async def read_store(self, read: Callable[[Store], _T]) -> _T:
        """Run `read` on the store, on the writer thread (targets, night report, quality)."""
        assert self._store is not None
        return await self._run(read, self._store)

    async def legacy(self) -> dict[str, Any]:
        """Return the legacy session-state object older widgets read."""
        assert self.pipeline is not None
        return await self._run(legacy_view, self.pipeline, self.health, self._clock())

    async def health_json(self, db_path: str | None = None) -> dict[str, Any]:
        """Return the health JSON; `db_path` is reported as the database (default its name)."""
        assert self.pipeline is not None
        path = db_path or self._relative_db()
        return await self._run(health_view, self.pipeline, self.health, path)

    async def stats(self, db_path: str | None = None) -> dict[str, Any]:
        """Return the stats JSON; `db_path` is reported as the database (default its name)."""
        assert self.pipeline is not None
        path = db_path or self._relative_db()
        return await self._run(
            stats_view, self.pipeline, self.health, path, self._started, self._clock()
        )


def _free_merge(
    merged: BatchResult, events: object, images: object, deferred: contextlib.ExitStack
) -> None:
    """Free a history merge's events and decoded items a slice at a time (`gradual_release`).

    The writer thread's job after the merge (`NinaEngine._ingest_history`); the decoded image
    records freed in one go held the GIL for as long as a slice of thousands does. Then the
    collector may run again (`deferred` holds its deferral).
    """
    with deferred:
        merged.release()
        for decoded in (events, images):
            if isinstance(decoded, HistoryEvents | HistoryImages):
                release_gradually(decoded.items)
