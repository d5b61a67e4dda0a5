"""The connection loop: keeps one event socket to NINA open, forever.

Each attempt probes which API the plugin speaks (v3 or v2) and its version, opens that
API's socket, lets the engine backfill (`on_connected`) and then hands every text frame to
`on_message` with its UTC arrival time. When the socket closes, errors, misses a heartbeat pong or a periodic `/version`
probe fails, the loop reports the loss, waits a backoff delay and tries again. It never
gives up; after `failing_after` failed attempts in a row it flags the link as failing.

A quiet socket is normal (a ten-minute exposure sends nothing), so silence is never
taken for a dead link: WebSocket ping/pong and the `/version` probe decide that.

Frames are read by their own task while the engine backfills or handles a frame, so
heartbeat pongs are always consumed and every frame is stamped when it arrived.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
import logging
import random
from typing import Final

import aiohttp

from .client import NinaClient, NinaError, is_supported_plugin_version, parse_plugin_version
from .health import ByteBudget, ConnectionHealth

_LOGGER = logging.getLogger(__name__)

# Frames read but not handed to the engine yet (it backfills, or falls behind a flood), in
# number and in characters of text; past either, frames are refused and counted (`queue_full`),
# and the next history read brings back what they carried. Never a reconnect: a flood would
# turn into a reconnect-and-backfill loop.
DEFAULT_MAX_BACKLOG: Final = 10_000
DEFAULT_MAX_BACKLOG_BYTES: Final = 16 * 1024 * 1024
# How long a stopping loop waits for the socket's closing handshake.
_CLOSE_TIMEOUT: Final = 2.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Backoff:
    """Exponential retry delays: 1, 2, 4, … capped at `ceiling`, each ± `jitter` * delay."""

    def __init__(
        self,
        initial: float = 1.0,
        factor: float = 2.0,
        ceiling: float = 30.0,
        jitter: float = 0.1,
        rng: random.Random | None = None,
    ) -> None:
        """Initialize the delays; parameters that cannot work raise ValueError."""
        if initial <= 0 or factor < 1 or ceiling < initial or not 0 <= jitter < 1:
            raise ValueError("need initial > 0, factor >= 1, ceiling >= initial, 0 <= jitter < 1")
        self._initial = initial
        self._factor = factor
        self._ceiling = ceiling
        self._jitter = jitter
        self._rng = rng if rng is not None else random.Random()
        self._current = initial

    def next_delay(self) -> float:
        """Return the delay before the next attempt; it grows until the ceiling, never stops."""
        base = self._current
        self._current = min(self._ceiling, self._current * self._factor)
        spread = base * self._jitter
        return base + self._rng.uniform(-spread, spread) if spread else base

    def reset(self) -> None:
        """Start again from `initial` (after a connection that held)."""
        self._current = self._initial


@dataclass(frozen=True, slots=True)
class _Frame:
    text: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class _Closed:
    reason: str


class _Backlog:
    """Frames read and not handed on yet, bounded in number and in characters of text."""

    def __init__(self, max_frames: int, budget: ByteBudget) -> None:
        self._queue: asyncio.Queue[_Frame | _Closed] = asyncio.Queue()
        self._max_frames = max_frames
        #: Shown in health: its limit, the characters waiting now, the frames refused.
        self._budget = budget
        budget.bytes = 0

    def offer(self, frame: _Frame) -> bool:
        """Queue `frame` if it fits; return whether it did."""
        size = len(frame.text)
        budget = self._budget
        if self._queue.qsize() >= self._max_frames or budget.bytes + size > budget.max_bytes:
            return False
        budget.bytes += size
        self._queue.put_nowait(frame)
        return True

    def close(self, closed: _Closed) -> None:
        """Queue the end of the connection (always taken)."""
        self._queue.put_nowait(closed)

    async def get(self) -> _Frame | _Closed:
        """Return the next frame or the end, waiting for one."""
        item = await self._queue.get()
        if isinstance(item, _Frame):
            self._budget.bytes -= len(item.text)
        return item


class _AttemptResult:
    """What one connection attempt came to."""

    def __init__(self) -> None:
        self.connected_at: datetime | None = None
        self.reason = "not connected"


class ConnectionLoop:
    """Keeps the event socket of one NINA instance open until `stop()`.

    `on_connected` runs after each (re)connect, before any frame is handed on: the engine
    backfills there (frames arriving meanwhile are kept with their arrival time). If it
    raises a NinaError the attempt counts as failed and is retried; any other exception is
    logged and the live stream goes on. `on_message` gets each text frame and its UTC
    arrival time; its exceptions are logged and counted (rejected, `handler_error`), never
    fatal. `on_disconnected` is called once per established connection that is lost.
    `on_health` is called (synchronously) each time the health changed: connected, an attempt
    ended (failure counts, `failing`), a plugin version read. `on_refused` is called
    (synchronously) for each frame refused because the backlog was full (`max_backlog`
    frames or `max_backlog_bytes` characters waiting): the owner reads history to repair it.

    `sleep` paces both the retry delays and the `/version` probe while connected, so a
    test can drive both with a fake clock.

    The backoff restarts from its first delay only after a connection that lasted
    `stable_after` seconds (by `clock`), so a server that accepts and drops at once is
    not hammered every second.
    """

    def __init__(
        self,
        client: NinaClient,
        health: ConnectionHealth,
        *,
        on_connected: Callable[[], Awaitable[None]],
        on_message: Callable[[str, datetime], Awaitable[None]],
        on_disconnected: Callable[[str], Awaitable[None]] | None = None,
        on_health: Callable[[], None] | None = None,
        on_refused: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = _utc_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        backoff: Backoff | None = None,
        heartbeat: float = 30.0,
        probe_interval: float = 60.0,
        failing_after: int = 10,
        stable_after: float = 30.0,
        max_backlog: int = DEFAULT_MAX_BACKLOG,
        max_backlog_bytes: int = DEFAULT_MAX_BACKLOG_BYTES,
    ) -> None:
        """Initialize the loop; nothing connects until `start()`."""
        if heartbeat <= 0 or probe_interval <= 0:
            raise ValueError("heartbeat and probe_interval must be positive")
        if failing_after < 1 or max_backlog < 1 or max_backlog_bytes < 1:
            raise ValueError("failing_after and the backlog limits must be at least 1")
        self._client = client
        self._health = health
        self._on_connected = on_connected
        self._on_message = on_message
        self._on_disconnected = on_disconnected
        self._on_health = on_health
        self._on_refused = on_refused
        self._clock = clock
        self._sleep = sleep
        self._backoff = backoff if backoff is not None else Backoff()
        self._heartbeat = heartbeat
        self._probe_interval = probe_interval
        self._failing_after = failing_after
        self._stable_after = stable_after
        self._max_backlog = max_backlog
        self._max_backlog_bytes = max_backlog_bytes
        health.budgets.backlog.max_bytes = max_backlog_bytes
        self._refusing = False
        self._task: asyncio.Task[None] | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ever_connected = False
        self._outage_logged = False
        self._old_version_logged = False
        self._handler_error_logged = False

    @property
    def running(self) -> bool:
        """True between `start()` and `stop()`."""
        return self._task is not None and not self._task.done()

    @property
    def _where(self) -> str:
        return f"{self._client.host}:{self._client.port}"

    async def start(self) -> None:
        """Start the loop in a background task; it runs until `stop()`."""
        if self.running:
            return
        self._task = asyncio.create_task(self._run(), name=f"nina_session connection {self._where}")

    async def stop(self) -> None:
        """Cancel the loop, close the socket and wait until nothing of it is left running."""
        task, self._task = self._task, None
        if task is not None and task is asyncio.current_task():
            task.cancel()  # stop() from a callback: the loop ends at its next await
            return
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
        await self._close_socket()
        self._health.connected = False

    # ---- the loop -----------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while True:
                result = _AttemptResult()
                try:
                    await self._attempt(result)
                except asyncio.CancelledError:
                    raise
                except NinaError as err:
                    result.reason = str(err)
                except Exception as err:
                    _LOGGER.exception("Unexpected error in the NINA connection to %s", self._where)
                    result.reason = f"unexpected error: {err!r}"
                finally:
                    await self._close_socket()
                await self._attempt_ended(result)
                delay = self._backoff.next_delay()
                _LOGGER.debug("Retrying NINA at %s in %.1f s", self._where, delay)
                await self._sleep(delay)
        finally:
            self._health.connected = False

    async def _attempt(self, result: _AttemptResult) -> None:
        """One attempt: probe, connect, backfill, then read until the socket is lost."""
        version = await self._client.detect_api()  # v3 or v2: socket and history follow it
        self._record_version(version)
        ws = await self._client.connect_socket(heartbeat=self._heartbeat)
        self._ws = ws
        queue = _Backlog(self._max_backlog, self._health.budgets.backlog)
        reader = asyncio.create_task(self._read_socket(ws, queue), name="nina_session socket")
        prober: asyncio.Task[None] | None = None
        try:
            try:
                await self._on_connected()
            except NinaError as err:
                result.reason = f"backfill after connecting failed: {err}"
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("Backfill after connecting to NINA at %s failed", self._where)
            result.connected_at = self._clock()
            self._connection_up(result.connected_at)
            prober = asyncio.create_task(self._probe(queue), name="nina_session probe")
            while True:
                item = await queue.get()
                if isinstance(item, _Closed):
                    result.reason = item.reason
                    return
                await self._dispatch(item)
        finally:
            for task in (reader, prober):
                if task is not None:
                    task.cancel()
            await asyncio.gather(
                *(task for task in (reader, prober) if task is not None),
                return_exceptions=True,
            )
            self._health.budgets.backlog.bytes = 0  # what waited goes with the connection

    async def _read_socket(self, ws: aiohttp.ClientWebSocketResponse, queue: _Backlog) -> None:
        """Read frames into `queue`, stamped on arrival; always end with one `_Closed`."""
        try:
            closed = await self._read_frames(ws, queue)
        except Exception as err:
            # Last resort: whatever broke the reading, the attempt waits for a `_Closed` and
            # would hang without one. The reason becomes the health's `last_error`.
            _LOGGER.debug("Reading the NINA socket failed", exc_info=True)
            closed = _Closed(f"socket read failed: {err!r}")
        queue.close(closed)

    async def _read_frames(self, ws: aiohttp.ClientWebSocketResponse, queue: _Backlog) -> _Closed:
        while True:
            msg = await ws.receive()
            if msg.type is aiohttp.WSMsgType.TEXT:
                now = self._clock()
                self._health.events.received += 1
                self._health.last_message_at = now
                if queue.offer(_Frame(msg.data, now)):
                    self._refusing = False
                else:
                    self._refuse(len(msg.data))
            elif msg.type is aiohttp.WSMsgType.BINARY:
                self._health.events.received += 1
                self._health.last_message_at = self._clock()
                self._health.events.reject("binary")
                _LOGGER.debug("Ignored a binary frame of %d bytes from NINA", len(msg.data))
            elif msg.type is aiohttp.WSMsgType.ERROR:
                return self._describe_error(msg.data)
            elif msg.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSING,
                aiohttp.WSMsgType.CLOSED,
            ):
                return _Closed(f"socket closed by NINA (code {ws.close_code})")

    def _refuse(self, size: int) -> None:
        """Count a frame the full backlog refused; the owner repairs it from history."""
        self._health.events.reject("queue_full")
        self._health.budgets.backlog.refused += 1
        if not self._refusing:
            self._refusing = True
            _LOGGER.warning(
                "NINA at %s sends faster than it is processed (%d frames or %d bytes waiting): "
                "refusing frames until it catches up; the next history read repairs them",
                self._where, self._max_backlog, self._max_backlog_bytes,
            )  # fmt: skip
        else:
            _LOGGER.debug("Refused a frame of %d bytes from NINA: backlog full", size)
        if self._on_refused is not None:
            try:
                self._on_refused()
            except Exception:
                _LOGGER.exception("Error in the NINA refused-frame handler")

    def _describe_error(self, error: object) -> _Closed:
        if (
            isinstance(error, aiohttp.WebSocketError)
            and error.code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
        ):
            self._health.events.received += 1
            self._health.events.reject("too_large")
            _LOGGER.debug("NINA sent a frame over %d bytes: %s", self._client.max_msg_size, error)
            return _Closed(f"frame larger than {self._client.max_msg_size} bytes refused")
        if isinstance(error, aiohttp.ServerTimeoutError):
            return _Closed(f"no heartbeat answer within {self._heartbeat * 1.5:g} s ({error})")
        return _Closed(f"socket error: {error}")

    async def _probe(self, queue: _Backlog) -> None:
        """While connected, check `/version` now and then; a failure ends the connection."""
        while True:
            await self._sleep(self._probe_interval)
            try:
                version = await self._client.version()
            except NinaError as err:
                queue.close(_Closed(f"version probe failed: {err}"))
                return
            except Exception as err:
                _LOGGER.exception("Unexpected error probing NINA at %s", self._where)
                queue.close(_Closed(f"version probe failed: {err!r}"))
                return
            self._record_version(version)

    async def _dispatch(self, frame: _Frame) -> None:
        try:
            await self._on_message(frame.text, frame.received_at)
        except asyncio.CancelledError:
            raise
        except Exception:
            self._health.events.reject("handler_error")
            if not self._handler_error_logged:
                self._handler_error_logged = True
                _LOGGER.exception("Error handling a NINA frame (further ones logged at debug)")
            else:
                _LOGGER.debug("Error handling a NINA frame", exc_info=True)

    # ---- bookkeeping -----------------------------------------------------------------

    def _health_changed(self) -> None:
        if self._on_health is None:
            return
        try:
            self._on_health()
        except Exception:
            _LOGGER.exception("Error in the NINA health handler")

    def _record_version(self, version: str) -> None:
        changed = self._health.plugin_version != version
        self._health.plugin_version = version
        if changed:
            self._health_changed()
        if not self._old_version_logged and not is_supported_plugin_version(
            parse_plugin_version(version)
        ):
            self._old_version_logged = True
            _LOGGER.warning(
                "NINA Advanced API plugin %s at %s is older than supported; update it",
                version,
                self._where,
            )

    def _connection_up(self, now: datetime) -> None:
        health = self._health
        if self._ever_connected:
            health.reconnects += 1
        health.connected = True
        health.since = now
        health.consecutive_failures = 0
        health.failing = False
        if self._outage_logged:
            _LOGGER.info("Connection to NINA at %s restored", self._where)
        elif not self._ever_connected:
            _LOGGER.info(
                "Connected to NINA at %s (plugin %s, API %s)",
                self._where,
                health.plugin_version,
                self._client.api,
            )
        self._ever_connected = True
        self._outage_logged = False
        self._health_changed()

    async def _attempt_ended(self, result: _AttemptResult) -> None:
        health = self._health
        now = self._clock()
        health.last_error, health.last_error_at = result.reason, now
        if result.connected_at is not None:
            health.connected = False
            health.since = now
            if (now - result.connected_at).total_seconds() >= self._stable_after:
                self._backoff.reset()
            if not self._outage_logged:
                self._outage_logged = True
                _LOGGER.warning("Connection to NINA at %s lost: %s", self._where, result.reason)
            if self._on_disconnected is not None:
                try:
                    await self._on_disconnected(result.reason)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    _LOGGER.exception("Error in the NINA disconnect handler")
            self._health_changed()
            return
        health.consecutive_failures += 1
        if health.since is None:
            health.since = now
        if not self._outage_logged:
            self._outage_logged = True
            _LOGGER.warning("NINA at %s is unavailable: %s", self._where, result.reason)
        else:
            _LOGGER.debug("NINA at %s still unavailable: %s", self._where, result.reason)
        if not health.failing and health.consecutive_failures >= self._failing_after:
            health.failing = True
            _LOGGER.warning(
                "NINA at %s failed %d connection attempts in a row; still retrying",
                self._where,
                health.consecutive_failures,
            )
        self._health_changed()

    async def _close_socket(self) -> None:
        ws, self._ws = self._ws, None
        if ws is None or ws.closed:
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await ws.close()
