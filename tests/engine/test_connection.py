"""ConnectionLoop and Backoff: reconnects, heartbeat, failures, with real sockets on 127.0.0.1.

Retry delays are checked through an injected sleep that records what it was asked for;
nothing here measures wall time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
import json
import logging
import random
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.nina_session.engine.client import NinaClient, NinaConnectionError
from custom_components.nina_session.engine.connection import Backoff, ConnectionLoop
from custom_components.nina_session.engine.health import ConnectionHealth
from simulator.night import SimEvent, socket_text
from simulator.server import NinaSimulator

LOGGER_NAME = "custom_components.nina_session.engine.connection"
START = datetime(2026, 11, 24, 18, 0, 0, tzinfo=UTC)


def event_frame(name: str, **data: Any) -> str:
    """Return a socket frame for event `name` with `data`, as the plugin sends it."""
    return json.dumps(
        {
            "Response": {"Event": name, **data},
            "Error": "",
            "StatusCode": 200,
            "Success": True,
            "Type": "Socket",
        }
    )


async def wait_until(predicate: Callable[[], bool], what: str, limit: float = 10.0) -> None:
    """Poll until `predicate()` holds; fail with `what` if it never does."""
    async with asyncio.timeout(limit):
        while not predicate():
            await asyncio.sleep(0.01)
    assert predicate(), what


class FakeClock:
    """A clock that moves one second per reading."""

    def __init__(self) -> None:
        """Start the clock at START."""
        self.now = START

    def __call__(self) -> datetime:
        """Advance the clock by one second and return the new time."""
        self.now += timedelta(seconds=1)
        return self.now


class RecordingSleep:
    """Records every requested delay; short ones return at once, long ones (probes) block."""

    def __init__(self, block_from: float = 100.0) -> None:
        """Block on delays of `block_from` seconds and longer."""
        self.delays: list[float] = []
        self._block_from = block_from

    @property
    def retries(self) -> list[float]:
        """The delays asked for between attempts (not the long probe intervals)."""
        return [delay for delay in self.delays if delay < self._block_from]

    async def __call__(self, delay: float) -> None:
        """Record `delay`; block forever if it is a probe's, else yield once."""
        self.delays.append(delay)
        if delay >= self._block_from:
            await asyncio.Event().wait()
        await asyncio.sleep(0)


class FakeNina:
    """Just enough of the plugin for the loop: `/v2/api/version` and `/v2/socket`."""

    def __init__(self) -> None:
        """Set up a healthy server that is not started yet."""
        self.version_ok = True
        self.answer_pings = True
        self.sockets: list[web.WebSocketResponse] = []
        self.socket_connections = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        """Serve the version and socket routes on 127.0.0.1, on `port` or a free one if it is 0."""
        app = web.Application()
        app.router.add_get("/v2/api/version", self._version)
        app.router.add_get("/v2/socket", self._socket)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Close the open sockets and shut the server down, if it runs."""
        if self._runner is not None:
            await self.drop()
            await self._runner.cleanup()
            self._runner = None

    async def _version(self, request: web.Request) -> web.StreamResponse:
        if not self.version_ok:
            body = {"Response": "", "Error": "down", "StatusCode": 500, "Success": False}
            return web.json_response(body)
        return web.json_response(
            {"Response": "2.2.6.0", "Error": "", "StatusCode": 200, "Success": True}
        )

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=self.answer_pings, max_msg_size=0)
        await ws.prepare(request)
        self.socket_connections += 1
        self.sockets.append(ws)
        try:
            async for _ in ws:
                pass  # client frames are ignored, pings too when answer_pings is off
        finally:
            self.sockets.remove(ws)
        return ws

    async def send(self, text: str) -> None:
        """Send `text` to every open socket."""
        for ws in list(self.sockets):
            await ws.send_str(text)

    async def send_bytes(self, data: bytes) -> None:
        """Send binary `data` to every open socket."""
        for ws in list(self.sockets):
            await ws.send_bytes(data)

    async def drop(self) -> None:
        """Close every open socket from the server side."""
        for ws in list(self.sockets):
            await ws.close()


class Recorder:
    """The engine's side of the loop: records the callbacks."""

    def __init__(self) -> None:
        """Start with nothing recorded and no frame set to fail."""
        self.frames: list[tuple[str, datetime]] = []
        self.connects = 0
        self.disconnects: list[str] = []
        self.order: list[str] = []
        self.fail_on: set[str] = set()

    async def on_connected(self) -> None:
        """Count the connection and note it in the order."""
        self.connects += 1
        self.order.append("connected")

    async def on_message(self, text: str, received_at: datetime) -> None:
        """Note the message in the order; raise for frames in `fail_on`, else record it."""
        self.order.append("message")
        if text in self.fail_on:
            raise RuntimeError("engine bug")
        self.frames.append((text, received_at))

    async def on_disconnected(self, reason: str) -> None:
        """Record the reason for the disconnect."""
        self.disconnects.append(reason)

    @property
    def texts(self) -> list[str]:
        """Return the texts of the recorded frames."""
        return [text for text, _ in self.frames]


@pytest.fixture
async def nina() -> AsyncIterator[FakeNina]:
    """Yield a started FakeNina; stop it afterwards."""
    server = FakeNina()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def recorder() -> Recorder:
    """Return a fresh Recorder."""
    return Recorder()


LoopFactory = Callable[..., Awaitable[ConnectionLoop]]


@pytest.fixture
async def make_loop(
    session: aiohttp.ClientSession, recorder: Recorder
) -> AsyncIterator[LoopFactory]:
    """Build and start loops with test-friendly defaults; stop them all afterwards."""
    loops: list[ConnectionLoop] = []

    async def build(
        port: int, health: ConnectionHealth | None = None, **kwargs: Any
    ) -> ConnectionLoop:
        kwargs.setdefault("backoff", Backoff(initial=0.01, ceiling=0.05, jitter=0.0))
        kwargs.setdefault("heartbeat", 2.0)  # no test here wants a spurious pong timeout
        kwargs.setdefault("probe_interval", 3600.0)
        kwargs.setdefault("on_connected", recorder.on_connected)
        kwargs.setdefault("on_message", recorder.on_message)
        kwargs.setdefault("on_disconnected", recorder.on_disconnected)
        client_kwargs = kwargs.pop("client_kwargs", {})
        loop = ConnectionLoop(
            NinaClient(session, "127.0.0.1", port, request_timeout=2.0, **client_kwargs),
            health if health is not None else ConnectionHealth(),
            **kwargs,
        )
        loops.append(loop)
        await loop.start()
        return loop

    yield build
    for loop in loops:
        await loop.stop()


async def unused_port() -> int:
    """Return a port on 127.0.0.1 that nobody listens on (a server's, after it stopped)."""
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port


def other_tasks() -> set[asyncio.Task[Any]]:
    """Return all tasks except the current one."""
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


def loop_tasks() -> set[asyncio.Task[Any]]:
    """Tasks that belong to a ConnectionLoop (its main task, socket reader, probe)."""
    return {
        task
        for task in other_tasks()
        if task.get_name().startswith("nina_session")
        or "ConnectionLoop" in task.get_coro().__qualname__  # type: ignore[union-attr]
    }


async def assert_nothing_left(baseline: set[asyncio.Task[Any]], nina: FakeNina | None) -> None:
    """No task of the loop is left; once the server saw the close, nothing else either."""
    assert loop_tasks() == set()
    if nina is not None:
        await wait_until(lambda: not nina.sockets, "server saw the socket close")
        await wait_until(lambda: other_tasks() <= baseline, "server handlers done")
    assert other_tasks() <= baseline


# ---- Backoff --------------------------------------------------------------------------------


def test_backoff_doubles_to_the_ceiling_and_never_stops() -> None:
    """Test that without jitter the delay doubles from 1 s to the 30 s ceiling and stays there."""
    backoff = Backoff(jitter=0.0)
    delays = [backoff.next_delay() for _ in range(100)]
    assert delays[:8] == [1, 2, 4, 8, 16, 30, 30, 30]
    assert set(delays[5:]) == {30}


def test_backoff_jitter_stays_within_its_fraction() -> None:
    """Test that jittered delays stay within 10 % of the doubling sequence, across resets."""
    backoff = Backoff(rng=random.Random(7))
    expected = [1, 2, 4, 8, 16, 30, 30, 30, 30, 30]
    for base in expected * 20:
        if base == 1:
            backoff.reset()
        delay = backoff.next_delay()
        assert base * 0.9 <= delay <= base * 1.1


def test_backoff_jitter_varies() -> None:
    """Test that jitter gives differing first delays across resets."""
    backoff = Backoff(rng=random.Random(1))
    samples = set()
    for _ in range(20):
        backoff.reset()
        samples.add(backoff.next_delay())
    assert len(samples) > 1


def test_backoff_reset() -> None:
    """Test that reset() brings the next delay back to the initial 1 s."""
    backoff = Backoff(jitter=0.0)
    for _ in range(6):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() == 1.0


@pytest.mark.parametrize(
    ("initial", "factor", "ceiling", "jitter"),
    [(0, 2, 30, 0.1), (1, 0.5, 30, 0.1), (1, 2, 0.5, 0.1), (1, 2, 30, 1.0), (1, 2, 30, -0.1)],
)
def test_backoff_rejects_nonsense(
    initial: float, factor: float, ceiling: float, jitter: float
) -> None:
    """Test that a zero start, shrinking factor, ceiling below start or bad jitter is refused."""
    with pytest.raises(ValueError):
        Backoff(initial, factor, ceiling, jitter)


# ---- failing attempts (fake clock) ---------------------------------------------------------------


async def test_refused_connections_back_off_never_give_up_and_flag_failing(
    make_loop: LoopFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Test that refused attempts back off to 30 s, go on, flag failing and warn only twice."""
    caplog.set_level(logging.DEBUG, logger=LOGGER_NAME)
    sleep = RecordingSleep()
    health = ConnectionHealth()
    baseline = other_tasks()
    loop = await make_loop(
        await unused_port(),
        health,
        sleep=sleep,
        clock=FakeClock(),
        backoff=Backoff(rng=random.Random(3)),
    )
    await wait_until(lambda: len(sleep.delays) >= 14, "14 retries")
    await loop.stop()

    expected = [1, 2, 4, 8, 16, 30, 30, 30, 30, 30, 30, 30, 30, 30]
    for base, delay in zip(expected, sleep.delays, strict=False):
        assert base * 0.9 <= delay <= base * 1.1
    assert health.consecutive_failures >= 14
    assert health.failing
    assert not health.connected
    assert health.since == START + timedelta(seconds=1)
    assert health.last_error is not None
    assert "cannot reach" in health.last_error
    assert health.as_dict()["current_error"] == health.last_error  # unreachable: current

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2  # unavailable once, failing once: not one per retry
    assert "unavailable" in warnings[0].getMessage()
    assert "10 connection attempts" in warnings[1].getMessage()
    await assert_nothing_left(baseline, None)
    assert not loop.running


async def test_failing_is_flagged_exactly_at_the_threshold(make_loop: LoopFactory) -> None:
    """Test that `failing` is set from the third failed attempt on when failing_after is 3."""
    sleep = RecordingSleep()
    health = ConnectionHealth()
    flags: list[bool] = []

    async def watching_sleep(delay: float) -> None:
        flags.append(health.failing)
        await sleep(delay)

    loop = await make_loop(await unused_port(), health, sleep=watching_sleep, failing_after=3)
    await wait_until(lambda: len(flags) >= 5, "5 retries")
    await loop.stop()
    assert flags[:5] == [False, False, True, True, True]


async def test_failing_clears_when_nina_comes_back(
    make_loop: LoopFactory, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    """Test that once NINA comes up after failures, failing clears and restoration is logged."""
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    server = FakeNina()
    server.port = await unused_port()
    health = ConnectionHealth()
    sleep = RecordingSleep()
    started = False

    async def sleep_then_maybe_start(delay: float) -> None:
        nonlocal started
        if len(sleep.delays) == 4 and not started:
            started = True
            await server.start()
        await sleep(delay)

    loop = await make_loop(server.port, health, sleep=sleep_then_maybe_start, failing_after=3)
    try:
        await wait_until(lambda: health.connected, "connected once NINA is up")
        assert not health.failing
        assert health.consecutive_failures == 0
        assert health.reconnects == 0  # the first connection is not a reconnect
        assert recorder.connects == 1
        assert any("restored" in r.getMessage() for r in caplog.records)
    finally:
        await loop.stop()
        await server.stop()


# ---- a live connection ----------------------------------------------------------------------


async def test_connects_backfills_first_then_streams(
    make_loop: LoopFactory, nina: FakeNina, recorder: Recorder
) -> None:
    """Test that on_connected runs before any frame, and frames arrive in order with UTC times."""
    health = ConnectionHealth()
    clock = FakeClock()
    await make_loop(nina.port, health, clock=clock)
    await wait_until(lambda: health.connected, "connected")
    assert health.plugin_version == "2.2.6.0"
    assert health.since is not None
    await nina.send(event_frame("GUIDER-DITHER"))
    await nina.send('{"Response": "FILTERWHEEL-INFO-UPDATED", "Success": true}')
    await wait_until(lambda: len(recorder.frames) == 2, "two frames")
    assert recorder.order == ["connected", "message", "message"]
    assert recorder.texts[0] == event_frame("GUIDER-DITHER")
    times = [at for _, at in recorder.frames]
    assert all(at.tzinfo is UTC for at in times)
    assert times[0] < times[1]
    assert health.events.received == 2
    assert health.last_message_at == times[1]


async def test_frames_arriving_during_backfill_wait_with_their_arrival_time(
    make_loop: LoopFactory, nina: FakeNina, recorder: Recorder
) -> None:
    """Test that frames during a slow backfill wait for it to end and keep their arrival time."""
    release = asyncio.Event()
    entered = asyncio.Event()
    clock = FakeClock()

    async def slow_backfill() -> None:
        entered.set()
        await release.wait()
        recorder.order.append("backfilled")

    await make_loop(nina.port, clock=clock, on_connected=slow_backfill)
    await asyncio.wait_for(entered.wait(), 10)
    await nina.send(event_frame("IMAGE-PREPARED"))
    await wait_until(lambda: clock.now > START, "frame stamped on arrival")
    stamped_at = clock.now
    await asyncio.sleep(0.05)
    assert recorder.frames == []  # held back until the backfill is done
    release.set()
    await wait_until(lambda: len(recorder.frames) == 1, "frame after backfill")
    assert recorder.order == ["backfilled", "message"]
    assert recorder.frames[0][1] == stamped_at


async def test_a_quiet_socket_is_not_dead(
    make_loop: LoopFactory, nina: FakeNina, recorder: Recorder
) -> None:
    """Test that a socket silent for three heartbeats but answering pings stays connected."""
    health = ConnectionHealth()
    await make_loop(nina.port, health, heartbeat=0.4)
    await wait_until(lambda: health.connected, "connected")
    await asyncio.sleep(1.2)  # three heartbeats without a single event
    assert health.connected
    assert recorder.connects == 1
    assert recorder.disconnects == []
    assert nina.socket_connections == 1


async def test_handler_errors_are_counted_and_do_not_stop_the_stream(
    make_loop: LoopFactory, nina: FakeNina, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    """Test that on_message errors are counted, logged as errors once, and reading goes on."""
    health = ConnectionHealth()
    bad = event_frame("MOUNT-PARKED")
    recorder.fail_on.add(bad)
    await make_loop(nina.port, health)
    await wait_until(lambda: health.connected, "connected")
    await nina.send(bad)
    await nina.send(bad)
    await nina.send(event_frame("MOUNT-UNPARKED"))
    await wait_until(lambda: len(recorder.frames) == 1, "the good frame")
    assert health.events.rejected == 2
    assert health.events.rejected_by_reason == {"handler_error": 2}
    assert health.connected
    assert nina.socket_connections == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1  # the first with its traceback, later ones at debug


async def test_garbage_text_is_passed_on_and_the_stream_continues(
    make_loop: LoopFactory, nina: FakeNina, recorder: Recorder
) -> None:
    """Test that non-JSON text is passed to on_message as it is, and later frames follow."""
    await make_loop(nina.port)
    await wait_until(lambda: len(nina.sockets) == 1, "connected")
    await nina.send("{not json")
    await nina.send(event_frame("GUIDER-START"))
    await wait_until(lambda: len(recorder.frames) == 2, "both frames")
    assert recorder.texts == ["{not json", event_frame("GUIDER-START")]


async def test_binary_frames_are_rejected(
    make_loop: LoopFactory, nina: FakeNina, recorder: Recorder
) -> None:
    """Test that a binary frame is counted as rejected and the text stream goes on."""
    health = ConnectionHealth()
    await make_loop(nina.port, health)
    await wait_until(lambda: health.connected, "connected")
    await nina.send_bytes(b"\x00\x01")
    await nina.send(event_frame("GUIDER-STOP"))
    await wait_until(lambda: len(recorder.frames) == 1, "the text frame")
    assert health.events.rejected_by_reason == {"binary": 1}
    assert health.events.received == 2
    assert nina.socket_connections == 1


async def test_frame_over_the_limit_is_rejected_and_the_loop_reconnects(
    make_loop: LoopFactory, nina: FakeNina, recorder: Recorder
) -> None:
    """Test that a frame over max_msg_size is rejected as too_large and the loop reconnects."""
    health = ConnectionHealth()
    await make_loop(nina.port, health, client_kwargs={"max_msg_size": 1024})
    await wait_until(lambda: health.connected, "connected")
    await nina.send("x" * 5000)
    await wait_until(lambda: recorder.connects == 2, "reconnected")
    await wait_until(lambda: health.connected, "connected again")
    await nina.send(event_frame("DOME-PARKED"))
    await wait_until(lambda: len(recorder.frames) == 1, "stream goes on")
    assert health.events.rejected_by_reason == {"too_large": 1}
    assert len(recorder.disconnects) == 1
    assert "1024" in recorder.disconnects[0]
    assert health.reconnects == 1


async def test_reconnects_after_the_server_drops_the_socket(
    make_loop: LoopFactory, nina: FakeNina, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    """Test that each server-side close reconnects, with one warning and one info log per drop."""
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    health = ConnectionHealth()
    await make_loop(nina.port, health)
    await wait_until(lambda: health.connected, "connected")
    for target in (2, 3, 4):

        def reconnected(target: int = target) -> bool:
            return recorder.connects == target

        await nina.drop()
        await wait_until(reconnected, "reconnected")
        await wait_until(lambda: health.connected, "connected again")
    assert health.reconnects == 3
    assert len(recorder.disconnects) == 3
    assert all("closed" in reason for reason in recorder.disconnects)
    assert health.consecutive_failures == 0
    # Recovered: the drop stays as history with its time, and is no current error.
    report = health.as_dict()
    assert report["current_error"] is None
    assert "closed" in report["last_error"]
    assert report["last_error_at"] is not None
    messages = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert sum(1 for level, text in messages if "lost" in text and level == logging.WARNING) == 3
    assert sum(1 for level, text in messages if "restored" in text and level == logging.INFO) == 3


async def test_half_open_socket_is_detected_by_heartbeat(
    make_loop: LoopFactory, nina: FakeNina, recorder: Recorder
) -> None:
    """Test that a server ignoring pings is dropped after the heartbeat and reconnected."""
    health = ConnectionHealth()
    nina.answer_pings = False
    await make_loop(nina.port, health, heartbeat=0.2)
    await wait_until(lambda: len(recorder.disconnects) >= 1, "silent socket given up")
    assert "heartbeat" in recorder.disconnects[0]
    nina.answer_pings = True
    await wait_until(lambda: health.connected and nina.answer_pings, "reconnected")
    await nina.send(event_frame("SAFETY-CHANGED", IsSafe=True))
    await wait_until(lambda: len(recorder.frames) == 1, "stream goes on")


async def test_failed_version_probe_reconnects(
    make_loop: LoopFactory, nina: FakeNina, recorder: Recorder
) -> None:
    """Test that a failing periodic version probe disconnects and the loop reconnects."""
    probes = asyncio.Queue[float]()

    async def sleep(delay: float) -> None:
        if delay == 60.0:
            await probes.get()  # a probe waits until the test lets it run
        await asyncio.sleep(0)

    health = ConnectionHealth()
    await make_loop(nina.port, health, sleep=sleep, probe_interval=60.0)
    await wait_until(lambda: health.connected, "connected")
    probes.put_nowait(0)  # a probe that succeeds
    await asyncio.sleep(0.1)
    assert recorder.disconnects == []
    nina.version_ok = False
    probes.put_nowait(0)  # a probe that fails
    await wait_until(lambda: len(recorder.disconnects) == 1, "probe failure noticed")
    assert "probe" in recorder.disconnects[0]
    nina.version_ok = True
    await wait_until(lambda: recorder.connects == 2, "reconnected")


async def test_backfill_connection_error_counts_as_a_failed_attempt(
    make_loop: LoopFactory, nina: FakeNina, recorder: Recorder
) -> None:
    """Test that a connection error in on_connected is retried with backoff, not reported lost."""
    health = ConnectionHealth()
    calls = 0

    async def flaky_backfill() -> None:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise NinaConnectionError("event history timed out")

    sleep = RecordingSleep()
    await make_loop(nina.port, health, on_connected=flaky_backfill, sleep=sleep)
    await wait_until(lambda: health.connected, "connected on the third attempt")
    assert calls == 3
    assert sleep.retries == [0.01, 0.02]
    assert health.reconnects == 0
    assert recorder.disconnects == []  # never connected before, nothing was lost
    await nina.send(event_frame("GUIDER-DITHER"))
    await wait_until(lambda: len(recorder.frames) == 1, "stream")


async def test_backfill_bug_does_not_block_the_live_stream(
    make_loop: LoopFactory, nina: FakeNina, recorder: Recorder
) -> None:
    """Test that any other error in on_connected still lets the live stream through."""

    async def broken_backfill() -> None:
        raise KeyError("bug")

    health = ConnectionHealth()
    await make_loop(nina.port, health, on_connected=broken_backfill)
    await wait_until(lambda: health.connected, "connected despite the backfill bug")
    await nina.send(event_frame("GUIDER-DITHER"))
    await wait_until(lambda: len(recorder.frames) == 1, "stream")


async def test_backoff_restarts_only_after_a_stable_connection(
    make_loop: LoopFactory, nina: FakeNina, recorder: Recorder
) -> None:
    """Test that backoff keeps growing over short connections and resets after a stable one."""
    sleep = RecordingSleep()
    health = ConnectionHealth()
    clock = FakeClock()
    await make_loop(
        nina.port,
        health,
        sleep=sleep,
        clock=clock,
        backoff=Backoff(jitter=0.0),
        stable_after=100.0,
    )
    for expected in ([1.0], [1.0, 2.0], [1.0, 2.0, 4.0]):
        await wait_until(lambda: health.connected, "connected")
        await nina.drop()

        def retried(expected: list[float] = expected) -> bool:
            return sleep.retries == expected

        await wait_until(retried, f"delays {expected}")
    await wait_until(lambda: health.connected, "connected")
    clock.now += timedelta(seconds=500)  # this connection holds long enough
    await nina.drop()
    await wait_until(lambda: len(sleep.retries) == 4, "fourth retry")
    assert sleep.retries == [1.0, 2.0, 4.0, 1.0]


# ---- start and stop -------------------------------------------------------------------------------


async def test_stop_while_connected_leaves_nothing_running(
    make_loop: LoopFactory, nina: FakeNina
) -> None:
    """Test that stop() while connected ends all tasks and the socket; stopping twice is fine."""
    baseline = other_tasks()
    health = ConnectionHealth()
    loop = await make_loop(nina.port, health)
    await wait_until(lambda: health.connected and loop.running, "connected")
    await loop.stop()
    assert not loop.running
    assert not health.connected
    await assert_nothing_left(baseline, nina)
    await loop.stop()  # twice is harmless


async def test_stop_during_backoff_leaves_nothing_running(make_loop: LoopFactory) -> None:
    """Test that stop() during a long backoff wait leaves no task behind."""
    baseline = other_tasks()
    loop = await make_loop(await unused_port(), backoff=Backoff(initial=3600.0, ceiling=3600.0))
    await asyncio.sleep(0.1)
    await loop.stop()
    await assert_nothing_left(baseline, None)


async def test_stop_during_a_slow_handler_leaves_nothing_running(
    make_loop: LoopFactory, nina: FakeNina, recorder: Recorder
) -> None:
    """Test that stop() while on_message hangs leaves no task behind."""
    entered = asyncio.Event()

    async def stuck(text: str, received_at: datetime) -> None:
        entered.set()
        await asyncio.Event().wait()

    baseline = other_tasks()
    health = ConnectionHealth()
    loop = await make_loop(nina.port, health, on_message=stuck)
    await wait_until(lambda: health.connected, "connected")
    await nina.send(event_frame("GUIDER-DITHER"))
    await asyncio.wait_for(entered.wait(), 10)
    await loop.stop()
    await assert_nothing_left(baseline, nina)


async def test_stop_from_a_callback_ends_the_loop(make_loop: LoopFactory, nina: FakeNina) -> None:
    """Test that stop() called from on_message ends the loop and leaves no task behind."""
    baseline = other_tasks()
    health = ConnectionHealth()
    loops: list[ConnectionLoop] = []

    async def stop_on_message(text: str, received_at: datetime) -> None:
        await loops[0].stop()

    loops.append(await make_loop(nina.port, health, on_message=stop_on_message))
    await wait_until(lambda: health.connected, "connected")
    await nina.send(event_frame("SEQUENCE-FINISHED"))
    await wait_until(lambda: not loops[0].running, "loop ended")
    assert not health.connected
    await assert_nothing_left(baseline, nina)


class _StuckHandler:
    """A frame handler that takes the first frame and then waits until released."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.handled: list[str] = []

    async def handle(self, text: str, received_at: datetime) -> None:
        self.entered.set()
        await self.release.wait()
        self.handled.append(text)

    async def first_frame_taken(self, nina: FakeNina, health: ConnectionHealth) -> None:
        """Connect, send one frame and wait until the handler holds it."""
        await wait_until(lambda: health.connected, "connected")
        await nina.send(event_frame("GUIDER-DITHER", Number=0))
        await asyncio.wait_for(self.entered.wait(), 10)


async def test_an_engine_that_falls_behind_has_frames_refused_not_the_socket(
    make_loop: LoopFactory, nina: FakeNina, recorder: Recorder
) -> None:
    """Test that past max_backlog frames are refused and counted; the socket stays open."""
    stuck = _StuckHandler()
    handled = stuck.handled
    refused: list[int] = []
    health = ConnectionHealth()
    await make_loop(
        nina.port,
        health,
        on_message=stuck.handle,
        max_backlog=3,
        on_refused=lambda: refused.append(1),
    )
    await stuck.first_frame_taken(nina, health)
    for number in range(1, 6):
        await nina.send(event_frame("GUIDER-DITHER", Number=number))
    # One frame in the stuck handler, three queued behind it: the last two are refused.
    await wait_until(lambda: health.events.received == 6, "frames read")
    stuck.release.set()
    await wait_until(lambda: len(handled) == 4, "the queued frames handled")
    assert health.events.rejected_by_reason == {"queue_full": 2} and len(refused) == 2
    await nina.send(event_frame("GUIDER-DITHER", Number=6))  # room again: taken
    await wait_until(lambda: len(handled) == 5, "a frame after the backlog drained")
    assert recorder.disconnects == [] and recorder.connects == 1 and health.connected


async def test_the_backlog_is_bounded_in_bytes(
    make_loop: LoopFactory, nina: FakeNina, recorder: Recorder
) -> None:
    """Test that large frames are refused once max_backlog_bytes characters wait."""
    stuck = _StuckHandler()
    handled = stuck.handled
    health = ConnectionHealth()
    await make_loop(nina.port, health, on_message=stuck.handle, max_backlog_bytes=25_000)
    await stuck.first_frame_taken(nina, health)
    for number in range(1, 6):
        await nina.send(event_frame("GUIDER-DITHER", Number=number, Pad="x" * 10_000))
    await wait_until(lambda: health.events.received == 6, "frames read")
    stuck.release.set()
    # One in the handler, two (about 20,000 characters) queued behind it, three refused.
    await wait_until(lambda: len(handled) == 3, "the queued frames handled")
    assert health.events.rejected_by_reason == {"queue_full": 3}
    assert recorder.disconnects == [] and health.connected


async def test_start_twice_runs_one_loop(make_loop: LoopFactory, nina: FakeNina) -> None:
    """Test that a second start() opens no second socket."""
    health = ConnectionHealth()
    loop = await make_loop(nina.port, health)
    await loop.start()
    await wait_until(lambda: health.connected, "connected")
    await asyncio.sleep(0.1)
    assert nina.socket_connections == 1


def test_health_as_dict_shape() -> None:
    """Test the shape of ConnectionHealth.as_dict() and of the detailed event counters."""
    health = ConnectionHealth(
        connected=True,
        since=datetime(2026, 11, 24, 18, 2, 11, 500_000, tzinfo=UTC),
        reconnects=2,
        plugin_version="2.2.6.0",
    )
    health.events.received = 5
    health.events.reject("binary")
    health.events.count_type("IMAGE-SAVE")
    assert health.as_dict() == {
        "connected": True,
        "since": "2026-11-24T18:02:11Z",
        "last_event_at": None,
        "reconnects": 2,
        "consecutive_failures": 0,
        "current_error": None,
        "last_error": None,
        "last_error_at": None,
        "plugin_version": "2.2.6.0",
        "events": {
            "received": 5,
            "processed": 0,
            "duplicates": 0,
            "rejected": 1,
            "backfilled": 0,
        },
        "history": {
            "reads": 0,
            "failures": 0,
            "consecutive_failures": 0,
            "last_error": None,
            "last_read_at": None,
            "last_bytes": None,
            "max_bytes": 0,
            "over_cap": False,
            "over_cap_count": 0,
            "over_cap_at": None,
        },
        "budgets": {
            "queue": {"max_bytes": 0, "bytes": 0, "refused": 0},
            "backlog": {"max_bytes": 0, "bytes": 0, "refused": 0},
            "pending_writes": {"max_bytes": 0, "bytes": 0, "refused": 0},
            "history": {"max_bytes": 0, "bytes": None, "refused": 0, "last_refused_at": None},
        },
    }
    assert health.events.as_dict(detailed=True)["by_type"] == {"IMAGE-SAVE": 1}
    assert health.events.as_dict(detailed=True)["rejected_by_reason"] == {"binary": 1}


# ---- against the NINA simulator ---------------------------------------------------------------


def sim_event(name: str, **data: Any) -> SimEvent:
    """Return a simulator event `name` with `data`, stamped now."""
    return SimEvent(time=datetime.now(UTC), name=name, data=data)


async def test_sim_reconnects_after_drops(
    make_loop: LoopFactory, sim: NinaSimulator, recorder: Recorder
) -> None:
    """Test that after a clean and an abrupt drop every sent frame arrives once, in order."""
    health = ConnectionHealth()
    await make_loop(sim.port, health)
    await wait_until(lambda: health.connected, "connected")
    assert health.plugin_version == sim.plugin_version
    sent: list[str] = []
    for target, abrupt in ((2, False), (3, True)):
        event = sim_event("GUIDER-DITHER")
        sent.append(socket_text(event))
        await sim.emit(event)
        await wait_until(lambda: len(recorder.frames) == len(sent), "event delivered")
        await sim.drop_sockets(abrupt=abrupt)

        def reconnected(target: int = target) -> bool:
            return recorder.connects == target and health.connected

        await wait_until(reconnected, "reconnected")
    event = sim_event("SAFETY-CHANGED", IsSafe=False)
    sent.append(socket_text(event))
    await sim.emit(event)
    await wait_until(lambda: len(recorder.frames) == 3, "stream after reconnects")
    assert recorder.texts == sent
    assert health.reconnects == 2
    assert len(recorder.disconnects) == 2
    assert sim.connections_accepted == 3


async def test_sim_reconnects_after_nina_restarts(
    make_loop: LoopFactory, sim: NinaSimulator, recorder: Recorder
) -> None:
    """Test that the loop reconnects after a NINA restart and after one with downtime."""
    health = ConnectionHealth()
    await make_loop(sim.port, health)
    await wait_until(lambda: health.connected, "connected")
    await sim.restart()
    await wait_until(lambda: recorder.connects == 2 and health.connected, "after restart")
    await sim.restart(downtime=0.3)  # port closed for a while: refused attempts
    await wait_until(lambda: recorder.connects == 3 and health.connected, "after downtime")
    await sim.emit(sim_event("SEQUENCE-STARTING"))
    await wait_until(lambda: len(recorder.frames) == 1, "stream after restarts")
    assert health.reconnects == 2
    assert sim.epoch == 2


async def test_sim_half_open_socket_is_detected_and_replaced(
    make_loop: LoopFactory, sim: NinaSimulator, recorder: Recorder
) -> None:
    """Test that a silent simulator socket is noticed by the heartbeat and replaced."""
    health = ConnectionHealth()
    await make_loop(sim.port, health, heartbeat=0.2)
    await wait_until(lambda: health.connected, "connected")
    sim.go_silent(True)  # no more frames, no pongs: the TCP connection still looks open
    await wait_until(lambda: len(recorder.disconnects) == 1, "half-open socket noticed")
    assert "heartbeat" in recorder.disconnects[0]
    assert sim.pings_received >= 1
    await wait_until(lambda: recorder.connects == 2 and health.connected, "new socket")
    await sim.emit(sim_event("GUIDER-START"))
    await wait_until(lambda: len(recorder.frames) == 1, "stream on the new socket")


async def test_sim_quiet_but_answering_socket_stays_up(
    make_loop: LoopFactory, sim: NinaSimulator, recorder: Recorder
) -> None:
    """Test that a quiet simulator socket that answers pings is kept over several heartbeats."""
    health = ConnectionHealth()
    await make_loop(sim.port, health, heartbeat=0.4)
    await wait_until(lambda: health.connected, "connected")
    await wait_until(lambda: sim.pings_received >= 3, "several heartbeats")
    assert recorder.disconnects == []
    assert sim.connections_accepted == 1


async def test_sim_garbage_frame_is_passed_on_and_the_stream_continues(
    make_loop: LoopFactory, sim: NinaSimulator, recorder: Recorder
) -> None:
    """Test that garbage and bare-message frames are passed on in order with later events."""
    health = ConnectionHealth()
    await make_loop(sim.port, health)
    await wait_until(lambda: health.connected, "connected")
    event = sim_event("IMAGE-PREPARED")
    await sim.send_raw("<<garbage>> {")
    await sim.send_raw('{"Response": "CAMERA-INFO-UPDATED", "Success": true}')
    await sim.emit(event)
    await wait_until(lambda: len(recorder.frames) == 3, "all three frames")
    assert recorder.texts == [
        "<<garbage>> {",
        '{"Response": "CAMERA-INFO-UPDATED", "Success": true}',
        socket_text(event),
    ]
    assert sim.connections_accepted == 1


async def test_sim_huge_frame_is_refused_and_the_loop_reconnects(
    make_loop: LoopFactory, sim: NinaSimulator, recorder: Recorder
) -> None:
    """Test that a frame over the default 4 MiB limit is rejected and the loop reconnects."""
    health = ConnectionHealth()
    await make_loop(sim.port, health)  # the default 4 MiB frame limit
    await wait_until(lambda: health.connected, "connected")
    await sim.send_raw('{"Response": "' + "x" * (5 * 1024 * 1024) + '"}')
    await wait_until(lambda: recorder.connects == 2 and health.connected, "reconnected")
    assert health.events.rejected_by_reason == {"too_large": 1}
    assert recorder.frames == []
    await sim.emit(sim_event("GUIDER-STOP"))
    await wait_until(lambda: len(recorder.frames) == 1, "stream goes on")


async def test_sim_refused_sockets_back_off_and_recover(
    make_loop: LoopFactory, sim: NinaSimulator, recorder: Recorder
) -> None:
    """Test that refused socket upgrades back off, flag failing from the tenth, then recover."""
    sim.refuse_connections(True)  # /version answers, the socket upgrade gets HTTP 503
    health = ConnectionHealth()
    sleep = RecordingSleep()
    flags: list[bool] = []

    async def sleep_and_maybe_recover(delay: float) -> None:
        if delay < 100:
            flags.append(health.failing)
            if len(sleep.retries) == 12:
                sim.refuse_connections(False)
        await sleep(delay)

    await make_loop(
        sim.port,
        health,
        sleep=sleep_and_maybe_recover,
        backoff=Backoff(rng=random.Random(5)),
    )
    await wait_until(lambda: health.connected, "connected once the socket is accepted")
    expected = [1, 2, 4, 8, 16, 30, 30, 30, 30, 30, 30, 30, 30]
    assert len(sleep.retries) == len(expected)
    for base, delay in zip(expected, sleep.retries, strict=True):
        assert base * 0.9 <= delay <= base * 1.1
    assert flags == [False] * 9 + [True] * 4  # failing from the tenth failure on
    assert not health.failing  # cleared by the successful connection
    assert health.consecutive_failures == 0
    assert recorder.connects == 1


async def test_sim_offline_nina_is_retried_forever(
    make_loop: LoopFactory, sim: NinaSimulator, recorder: Recorder
) -> None:
    """Test that an offline NINA is retried every 30 s without end and connected once up."""
    await sim.set_offline(True)  # NINA not running: connection refused
    health = ConnectionHealth()
    sleep = RecordingSleep()
    await make_loop(sim.port, health, sleep=sleep, backoff=Backoff(jitter=0.0))
    await wait_until(lambda: len(sleep.retries) >= 40, "many retries")
    failing_while_down = health.failing
    assert failing_while_down
    assert not health.connected
    assert health.consecutive_failures >= 40
    assert set(sleep.retries[5:40]) == {30.0}
    await sim.set_offline(False)
    await wait_until(lambda: health.connected, "connected when NINA starts")
    assert not health.failing
    assert recorder.connects == 1


async def test_sim_slow_nina_counts_as_a_failure(
    session: aiohttp.ClientSession, sim: NinaSimulator, recorder: Recorder
) -> None:
    """Test that answers slower than request_timeout count as failures until NINA is fast."""
    sim.set_delay(0.6)  # over the 0.2 s request timeout
    health = ConnectionHealth()
    sleep = RecordingSleep()
    loop = ConnectionLoop(
        NinaClient(session, "127.0.0.1", sim.port, request_timeout=0.2),
        health,
        on_connected=recorder.on_connected,
        on_message=recorder.on_message,
        sleep=sleep,
        heartbeat=2.0,
    )
    await loop.start()
    try:
        await wait_until(lambda: health.consecutive_failures >= 2, "timeouts")
        assert health.last_error is not None
        assert "within" in health.last_error
        sim.set_delay(0)
        await wait_until(lambda: health.connected, "connected once NINA answers")
    finally:
        await loop.stop()


async def test_sim_probe_records_the_plugin_version(
    make_loop: LoopFactory, sim: NinaSimulator
) -> None:
    """Test that the periodic probe picks up a changed plugin version while connected."""
    probes = asyncio.Queue[None]()

    async def sleep(delay: float) -> None:
        if delay == 60.0:
            await probes.get()
        await asyncio.sleep(0)

    health = ConnectionHealth()
    await make_loop(sim.port, health, sleep=sleep, probe_interval=60.0)
    await wait_until(lambda: health.connected, "connected")
    assert health.plugin_version == "2.2.9.0"
    sim.set_plugin_version("2.3.0.0")
    probes.put_nowait(None)
    await wait_until(lambda: health.plugin_version == "2.3.0.0", "probe saw the new version")
    assert health.connected


async def test_sim_old_plugin_is_warned_about_once(
    make_loop: LoopFactory, sim: NinaSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Test that a too old plugin is warned about once, not again on reconnect."""
    sim.set_plugin_version("1.0.4.2")
    health = ConnectionHealth()
    await make_loop(sim.port, health)
    await wait_until(lambda: health.connected, "connected")
    await sim.drop_sockets()
    await wait_until(lambda: health.reconnects == 1 and health.connected, "reconnected")
    old = [r for r in caplog.records if "older than supported" in r.getMessage()]
    assert len(old) == 1


async def test_sim_stop_leaves_nothing_running(make_loop: LoopFactory, sim: NinaSimulator) -> None:
    """Test that stop() ends the loop's tasks and the simulator's socket handlers."""
    baseline = other_tasks()
    health = ConnectionHealth()
    loop = await make_loop(sim.port, health)
    await wait_until(lambda: health.connected, "connected")
    await loop.stop()
    assert loop_tasks() == set()
    await wait_until(lambda: sim.open_sockets == 0, "simulator saw the close")
    await wait_until(lambda: other_tasks() <= baseline, "simulator handlers done")
