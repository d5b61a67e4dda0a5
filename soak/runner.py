"""The soak: a week of generated nights through the live engine under a seeded fault schedule.

How time works. Live socket events carry no time: the engine stamps them on arrival, while
the plugin's history carries NINA's `Time`. So the simulator stamps every event with *now* as
it emits it (rebased, like `NinaSimulator.play(rebase=True)`), and the engine's clock and the
simulator's stamps share one offset that moves each night onto its own evening: sessions,
observing nights and the idle gap see real dates, while a night plays in seconds.

The player keeps the night's rhythm at `speed` (a 300 s exposure takes 0.15 s at 2000x) with
two exceptions that keep the compressed night physically possible:

- two *identical* events (same name and data, e.g. IMAGE-PREPARED of consecutive bias frames,
  seconds apart at night) are kept at least `spacing` apart, more than the engine's dedup
  window plus any arrival delay; otherwise the engine would be right to merge them;
- consecutive frames are kept at least `frame_spacing` apart (default 1.1 s: a real camera
  needs exposure plus download, and the generated nights never save two frames within 1 s).
  `--frame-spacing 0` squeezes frames too, as a stress beyond what a camera does.

Faults are drawn from a seeded RNG before the run (kinds, positions, durations), so a seed
always gives the same schedule; only the scheduler's timing varies between runs.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
import functools
import json
from pathlib import Path
import random
import sqlite3
import tempfile
import time
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from custom_components.nina_session.engine.connection import Backoff, ConnectionLoop
from custom_components.nina_session.engine.engine import EngineConfig, EngineUpdate, NinaEngine
from custom_components.nina_session.engine.health import EventCounters
from custom_components.nina_session.engine.pipeline import PipelineOptions
from simulator.night import Night, SimEvent, generate_week
from simulator.server import NinaSimulator, rebased
from simulator.wire import WireShape

from .lag import LagMonitor, LagSummary
from .simthread import SimThread
from .verdict import INJECTED, NightPlayed, Verdict, content_identity, judge
from .waiting import sleep_until, until

Say = Callable[[str], None]
Heal = Callable[[], Awaitable[None]]

FAULT_KINDS: tuple[str, ...] = (
    "drop",  # socket closed cleanly (close frame)
    "drop_abrupt",  # TCP connection cut
    "nina_restart",  # NINA restarts: sockets cut, history cleared, offline for a moment
    "half_open",  # the socket goes silent: no frames, no pongs (heartbeat must notice)
    "garbage",  # frames that are not plugin messages
    "unknown",  # unknown event names and plain-string messages (kept as events)
    "huge",  # a frame over the pipeline's size limit (refused before parsing)
    "giant",  # a frame over the client's WebSocket limit (socket closed, reconnect)
    "duplicate",  # the next messages are sent twice
    "reorder",  # two close messages swapped
    "engine_restart",  # the engine stops; a new one starts on the same database later
    "refuse",  # socket cut and upgrades refused (HTTP 503) for a while
    "slow_api",  # socket cut and every REST answer delayed (slow backfill)
    "stall",  # our event loop blocked (HA busy): the next plain event is read, and stamped, late
)

#: Frames that are not plugin messages; each must be counted as rejected, none stored.
GARBAGE: tuple[str, ...] = (
    "this is not json",
    '{"Response": {"Event": "IMAGE-SAVE", "ImageStatistics": {"Exposure',
    "[1, 2, 3]",
    "null",
    "",
    '{"Event": "SEQUENCE-STARTING"}',
    '{"Response": 42, "Success": true, "Type": "Socket"}',
    '{"Response": {"NoEvent": 1}, "Success": true, "Type": "Socket"}',
    '{"Response": {"Event": 7}, "Success": true, "Type": "Socket"}',
    '{"Response": {"Event": "  "}, "Success": true, "Type": "Socket"}',
    '{"Response": "", "Error": "boom", "StatusCode": 500, "Success": false, "Type": "Socket"}',
    '{"Response": {"Event": "GUIDER-DITHER", "Time": 5}, "Success": true, "Type": "Socket"}',
    '{"Response": {"Event": "GUIDER-DITHER", "Time": "yesterday"}, "Success": true}',
    '{"Response": [{"Event": "GUIDER-DITHER"}], "Success": true, "Type": "Socket"}',
    '{"Response": {"Event": "X", "v": NaN}, "Success": tru',
)

HUGE_BYTES = 1_200_000  # over PipelineOptions.max_frame_bytes (1 MiB), under the client's 4 MiB
GIANT_BYTES = 4_500_000  # over the client's max_msg_size: aiohttp closes the socket


@dataclass(frozen=True, slots=True)
class SoakConfig:
    """Settings of a soak run: nights, pace, dedup window, faults."""

    nights: int = 7
    seed: int = 0
    start: date = date(2026, 11, 20)
    tz: str = "Europe/Berlin"
    #: Simulated seconds per real second between events (identical events excepted).
    speed: float = 2000.0
    #: The engine's dedup window (s); live-vs-history twins arrive far closer than this.
    dedup_window: float = 0.25
    #: Least real time between two identical events (s); must exceed the window clearly.
    spacing: float = 0.75
    #: Least real time between two frames (s); 0 lets frames follow `speed` alone.
    frame_spacing: float = 1.1
    heartbeat: float = 0.5
    #: The engine's periodic history read while connected (real s). 2 s is some 70 night
    #: minutes at 2000x: rarer than the integration's 15 minutes, not a crutch.
    reconcile_interval: float = 2.0
    #: NINA's clock minus ours (s): the simulator stamps history and image dates this far off.
    nina_clock_skew: float = 0.0
    faults_per_night: int = 12
    #: Play the shortest `nights` of a generated week (quick runs) instead of the first ones.
    shortest: bool = False
    #: About half the nights are Target Scheduler nights as real rigs record them (no
    #: SEQUENCE-STARTING, waits, homing, history placeholders, naive UTC scheduler times).
    scheduler_nights: bool = True
    #: Longest wait for the engine to have everything before NINA restarts (s).
    catch_up_timeout: float = 30.0
    db_path: Path | None = None
    verbose: bool = False

    @classmethod
    def quick(cls, **changes: Any) -> SoakConfig:
        """Return the quick run: the two shortest nights, every fault kind at least once.

        It takes under a minute.
        """
        return replace(cls(nights=2, faults_per_night=14, shortest=True), **changes)


@dataclass(frozen=True, slots=True)
class Fault:
    """One planned fault: injected before event `index` of night `night`."""

    night: int
    index: int  # injected just before this event of the night
    kind: str
    duration: int = 0  # events until it is healed (engine back, refusals off, ...)
    detail: int = 0  # kind-specific: copies, garbage choice, downtime (ms)


@dataclass(slots=True)
class SoakReport:
    """What a soak run found, and how the engine fared."""

    verdict: Verdict
    faults: Counter[str]
    seconds: float
    lag: LagSummary
    rejected_by_reason: dict[str, int]
    reconnects: int
    engine_starts: int
    lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Return whether the verdict is clean."""
        return self.verdict.ok

    @property
    def summary(self) -> str:
        """Return the one-line summary the run ends with."""
        v = self.verdict
        return (
            f"soak: faults={sum(self.faults.values())} events={v.events} lost={v.lost} "
            f"duplicated={v.duplicated} wrong_state={v.wrong_state}"
        )


# --------------------------------------------------------------------------- planning


_FRAME = "IMAGE-SAVE with statistics"


def spacing_rule(event: SimEvent, config: SoakConfig) -> tuple[str, float]:
    """(key, least real gap to the previous event with that key).

    Events the engine cannot tell apart (its fingerprint: nested objects left out, as history
    hides them) are spaced beyond the dedup window: a filter change and a repeat of it to the
    same filter, seconds apart at night, would be milliseconds apart at the soak's speed.
    """
    if event.name == "IMAGE-SAVE" and isinstance(event.data.get("ImageStatistics"), dict):
        return _FRAME, config.frame_spacing
    return "".join(content_identity(event.name, event.data)), config.spacing


class Pacer:
    """When each event may be sent: the night's rhythm at `speed`, within the spacing rules."""

    def __init__(self, config: SoakConfig) -> None:
        """Start with nothing sent."""
        self.config = config
        self.last: float | None = None
        self.last_by_key: dict[str, float] = {}

    def due(self, event: SimEvent, previous: SimEvent | None) -> float:
        """Return when `event` may be sent: the night's gap at `speed`, within the spacing rules."""
        if self.last is None or previous is None:
            return self.last or 0.0
        due = self.last + (event.time - previous.time).total_seconds() / self.config.speed
        key, gap = spacing_rule(event, self.config)
        if key in self.last_by_key:
            due = max(due, self.last_by_key[key] + gap)
        return due

    def sent(self, event: SimEvent, at: float) -> None:
        """Record that `event` was sent at `at`."""
        self.last = at
        self.last_by_key[spacing_rule(event, self.config)[0]] = at


def planned_times(events: Sequence[SimEvent], config: SoakConfig) -> list[float]:
    """Real seconds after the first event at which each event is sent, without faults."""
    pacer = Pacer(config)
    out: list[float] = []
    for index, event in enumerate(events):
        due = pacer.due(event, events[index - 1] if index else None)
        pacer.sent(event, due)
        out.append(due)
    return out


def plan_faults(nights: Sequence[Night], config: SoakConfig) -> list[Fault]:
    """Plan the seeded fault schedule: every kind at least once when there are enough slots."""
    # Kinds come from one stream of shuffled rounds of every kind, so night n gets the same
    # faults whatever the number of nights played.
    stream_rng = random.Random(f"soak-kinds-{config.seed}")
    slots = len(nights) * config.faults_per_night
    kinds: list[str] = []
    while len(kinds) < slots:
        kinds += stream_rng.sample(FAULT_KINDS, len(FAULT_KINDS))
    faults: list[Fault] = []
    for number, night in enumerate(nights):
        rng = random.Random(f"soak-faults-{config.seed}-{number}")
        mine = kinds[number * config.faults_per_night : (number + 1) * config.faults_per_night]
        events = night.events
        times = planned_times(events, config)
        close = [
            i
            for i in range(3, len(events) - 3)
            if times[i + 1] - times[i] < config.dedup_window / 4
            and events[i + 1].epoch == events[i].epoch
        ]
        taken: set[int] = set()
        blocked: set[int] = set()  # the second message of a swap must not wait for a fault
        for kind in mine:
            pool = close if kind == "reorder" else range(3, len(events) - 3)
            if kind == "stall":  # frames carry their own time: a late read changes nothing
                pool = [i for i in pool if events[i].name != "IMAGE-SAVE"]
            free = [i for i in pool if i not in taken | blocked]
            if kind == "reorder":
                free = [i for i in free if i + 1 not in taken]
            if not free:
                continue
            index = rng.choice(free)
            taken.add(index)
            if kind == "reorder":
                blocked.add(index + 1)
            duration = rng.randint(2, 12) if kind in _HEALED else 0
            detail = {
                "duplicate": rng.randint(1, 6),
                "garbage": rng.randrange(2**16),
                "nina_restart": rng.randint(100, 500),
                "unknown": rng.randrange(2**16),
                "stall": rng.randint(400, 1500),  # ms; the soak's dedup window is 250 ms
            }.get(kind, 0)
            faults.append(Fault(number, index, kind, duration, detail))
    faults.sort(key=lambda f: (f.night, f.index))
    return faults


def pick_nights(config: SoakConfig) -> list[Night]:
    """Return the nights to play: a generated week's first ones, or its shortest in date order."""

    def week(nights: int) -> list[Night]:
        return generate_week(config.start, nights=nights, seed=config.seed, tz=config.tz,
                             scheduler_nights=config.scheduler_nights)  # fmt: skip

    if not config.shortest:
        return week(config.nights)
    short = sorted(week(max(7, config.nights)), key=lambda night: len(night.events))
    short = short[: config.nights]
    return sorted(short, key=lambda night: night.start)


_SETTLE = 3.0  # s without a new stored event, connected: nothing more is coming
_HEALED = frozenset({"half_open", "engine_restart", "refuse", "slow_api"})


async def _emit_now(sim: NinaSimulator, event: SimEvent, offset: timedelta, speed: float) -> None:
    """On the simulator's loop: stamp the event with the shared clock and emit it."""
    # The simulator's own rebasing (in UTC: exact across DST), image Date kept in step.
    await sim.emit(rebased(event, datetime.now(UTC) + offset, 1 / speed))


# --------------------------------------------------------------------------- the engine


class EngineHarness:
    """The engine under test, restartable on the same database, with a shifted clock."""

    def __init__(self, config: SoakConfig, db_path: Path, port: int) -> None:
        """Prepare an engine for the simulator on `port`, storing into `db_path`."""
        self.config = config
        self.db_path = db_path
        self.port = port
        self.offset = timedelta(0)
        self.engine: NinaEngine | None = None
        self.retired: list[EventCounters] = []
        self.reconnects = 0
        self.starts = 0
        #: Session id -> how often an engine announced its end (every engine started so far).
        self.ended: Counter[str] = Counter()
        self._session: aiohttp.ClientSession | None = None
        self.options = PipelineOptions(
            "soak", ZoneInfo(config.tz), dedup_window=timedelta(seconds=config.dedup_window)
        )

    def clock(self) -> datetime:
        """Return the engine's clock: now, shifted to the night being played."""
        return datetime.now(UTC) + self.offset

    async def start(self) -> None:
        """Start a new engine on the database (fast backoff, short heartbeat)."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        config = EngineConfig(
            host="127.0.0.1",
            port=self.port,
            db_path=self.db_path,
            options=self.options,
            heartbeat=self.config.heartbeat,
            probe_interval=2.0,
            tick_interval=1.0,
            reconcile_interval=self.config.reconcile_interval,
        )
        backoff = Backoff(initial=0.05, ceiling=0.4, rng=random.Random(self.starts))
        factory = functools.partial(ConnectionLoop, backoff=backoff, stable_after=1.0)
        self.engine = NinaEngine(config, self._session, clock=self.clock, loop_factory=factory)
        self.engine.subscribe(self._count_ends)
        self.starts += 1
        await self.engine.start()

    def _count_ends(self, update: EngineUpdate) -> None:
        """Count the session ends subscribers are told of (a batch's or the idle clock's)."""
        if update.result is not None:
            self.ended.update(session.id for session in update.result.closed)

    async def stop(self) -> None:
        """Stop the engine, keeping its counters and reconnects."""
        engine, self.engine = self.engine, None
        if engine is not None:
            await engine.stop()
            self.retired.append(engine.health.events)
            self.reconnects += engine.health.reconnects

    async def close(self) -> None:
        """Stop the engine and close its HTTP session."""
        await self.stop()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def counters(self) -> list[EventCounters]:
        """Return the event counters of every engine started so far."""
        live = [self.engine.health.events] if self.engine is not None else []
        return [*self.retired, *live]

    def stored(self) -> int:
        """Count stored events other than the injected ones (own read-only connection)."""
        if not self.db_path.exists():
            return 0
        uri = f"file:{self.db_path}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=5.0)) as db:
            marks = ",".join("?" * len(INJECTED))
            # Only the "?" placeholders are interpolated; the names are bound parameters.
            row = db.execute(
                f"SELECT COUNT(*) FROM session_events WHERE name NOT IN ({marks})",  # noqa: S608
                tuple(INJECTED),
            ).fetchone()
        return int(row[0])


# --------------------------------------------------------------------------- the run


class Soak:
    """One soak run: the nights, their faults, the simulator's thread and the engine."""

    def __init__(self, config: SoakConfig, say: Say) -> None:
        """Pick the nights and plan their faults."""
        self.config = config
        self.say = say
        self.nights = pick_nights(config)
        self.faults = plan_faults(self.nights, config)
        self.injected_counts: Counter[str] = Counter()
        self.played: list[NightPlayed] = []
        self.heals: dict[int, list[Heal]] = {}
        self.watchers: set[asyncio.Task[None]] = set()
        self.unknown_seq = 0
        #: Seconds to block our loop after sending the next plain event (a "stall" fault).
        self.stall_next = 0.0
        self.simthread = SimThread(tz=config.tz)
        self.harness: EngineHarness | None = None
        self.engine_down = False

    @property
    def sim(self) -> NinaSimulator:
        """Return the simulator (it runs on its own thread)."""
        return self.simthread.sim

    @property
    def h(self) -> EngineHarness:
        """Return the engine harness (`run` creates it)."""
        assert self.harness is not None
        return self.harness

    def log(self, text: str) -> None:
        """Say `text` in verbose mode only."""
        if self.config.verbose:
            self.say(text)

    async def run(self, db_path: Path) -> SoakReport:
        """Play every night against the engine on `db_path`, then judge the database."""
        began = time.monotonic()
        monitor = LagMonitor()
        await self.simthread.start()
        self.harness = EngineHarness(self.config, db_path, self.sim.port)
        first = self.nights[0]
        self.h.offset = first.start.astimezone(UTC) - datetime.now(UTC)
        monitor.start()
        try:
            await self.h.start()
            for number, night in enumerate(self.nights):
                await self.play_night(number, night)
            await self.simthread.run(self.sim.flush())
            await self.catch_up("end")
        finally:
            for watcher in self.watchers:
                watcher.cancel()
            await asyncio.gather(*self.watchers, return_exceptions=True)
            await monitor.stop()
            await self.h.close()
            emitted = list(self.sim.emitted)
            await self.simthread.stop()
        self.split_emitted(emitted)
        seconds = time.monotonic() - began
        verdict = judge(db_path, self.played, self.h.options, self.say, self.h.ended)
        reasons: Counter[str] = Counter()
        for counters in self.h.counters():
            reasons.update(counters.rejected_by_reason)
        return SoakReport(
            verdict=verdict,
            faults=self.injected_counts,
            seconds=seconds,
            lag=monitor.summary(),
            rejected_by_reason=dict(sorted(reasons.items())),
            reconnects=self.h.reconnects,
            engine_starts=self.h.starts,
        )

    def split_emitted(self, emitted: list[SimEvent]) -> None:
        """Give each played night its share of what the simulator emitted (rebased times).

        The truth is on our clock: a skewed NINA stamped its events `nina_clock_skew` late.
        """
        skew = self.skew
        cursor = 0
        for played, night in zip(self.played, self.nights, strict=True):
            share = emitted[cursor : cursor + len(night.events)]
            played.events = [replace(e, time=e.time - skew) for e in share] if skew else share
            cursor += len(night.events)

    @property
    def skew(self) -> timedelta:
        """Return NINA's clock minus ours."""
        return timedelta(seconds=self.config.nina_clock_skew)

    # -- one night ----------------------------------------------------------------------
    async def play_night(self, number: int, night: Night) -> None:
        """Play one night at pace with its faults, then check the engine caught up."""
        cfg = self.config
        played = NightPlayed(night.spec.date.isoformat(), [])
        self.played.append(played)
        # NINA is started for the evening: empty history, the night's own clock.
        await self.catch_up("before the night")
        self.h.offset = night.start.astimezone(UTC) - datetime.now(UTC)
        await self.simthread.run(self.sim.restart(clear_history=True,
                                                  at=night.application_starts[0]))  # fmt: skip
        self.sim.set_wire(night.spec.wire or WireShape())  # the night's rig writes its shapes
        faults = {f.index: f for f in self.faults if f.night == number}
        loop = asyncio.get_running_loop()
        pacer = Pacer(cfg)
        self.say(
            f"night {played.date}: {len(night.events)} events, "
            f"{sum(night.truth.frames_by_type.values())} frames, "
            f"{sum(1 for f in faults.values())} faults"
        )
        for index, event in enumerate(night.events):
            for heal in self.heals.pop(index, []):
                await heal()
            if index and event.epoch > night.events[index - 1].epoch:
                await self.nina_restart(300, "crash in the generated night")
            fault = faults.get(index)
            if fault is not None:
                await self.inject(fault, played)
            target = pacer.due(event, night.events[index - 1] if index else None)
            await sleep_until(target)
            nina_now = self.h.offset + self.skew
            if self.stall_next and event.name != "IMAGE-SAVE":
                self.send_while_stalled(_emit_now(self.sim, event, nina_now, cfg.speed))
            else:
                await self.simthread.run(_emit_now(self.sim, event, nina_now, cfg.speed))
            pacer.sent(event, loop.time())
        await self.heal_all()
        await self.simthread.run(self.sim.flush())
        # The night's last word: one more reconnect while NINA still holds the night's
        # history, so whatever the engine can correct from it (times, order) it has seen.
        await self.catch_up("night end")
        engine = self.h.engine
        if engine is not None:
            before = engine.health.reconnects
            await self.simthread.run(self.sim.drop_sockets())
            # Reconnected once the backfill is done.
            await until(lambda: engine.health.reconnects != before, self.config.catch_up_timeout)
            await self.catch_up("night end, after a reconnect")

    def send_while_stalled(self, emit: Coroutine[Any, Any, None]) -> None:
        """Send an event, then block our loop (the engine's) as a busy HA would.

        Blocking on purpose: the frame waits in the socket until the stall ends, so the engine
        stamps it `stall_next` seconds late, far outside the dedup window.
        """
        self.simthread.run_blocking(emit)
        time.sleep(self.stall_next)
        self.log(f"  stalled our loop {self.stall_next:.2f} s after sending a plain event")
        self.stall_next = 0.0

    async def heal_all(self) -> None:
        """End every fault still active (NINA restarts and nights end on a working link)."""
        for index in sorted(self.heals):
            for heal in self.heals.pop(index):
                await heal()

    # -- faults -------------------------------------------------------------------------
    async def catch_up(self, why: str) -> bool:
        """Wait until the engine is connected and has stored every emitted event.

        Gives up when the store has not grown for `_SETTLE` seconds while connected (an event
        is lost for good; the verdict will say so) or after `catch_up_timeout`.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.catch_up_timeout
        last_count, last_change = -1, loop.time()
        while loop.time() < deadline:
            engine = self.h.engine
            expected = len(self.sim.emitted)
            stored = await asyncio.to_thread(self.h.stored)
            if stored != last_count:
                last_count, last_change = stored, loop.time()
            if engine is not None and engine.health.connected:
                if stored >= expected:
                    return True
                if loop.time() - last_change > _SETTLE:
                    self.say(f"  engine settled with {expected - stored} events missing ({why})")
                    return False
            await asyncio.sleep(0.02)
        self.say(f"  engine did not catch up within {self.config.catch_up_timeout:g} s ({why})")
        return False

    async def nina_restart(self, downtime_ms: int, why: str) -> None:
        """Restart NINA once active faults are healed and the engine has caught up."""
        await self.simthread.run(self.sim.flush())
        await self.heal_all()
        await self.ensure_engine_up()
        await self.catch_up(why)
        self.injected_counts["nina_restart" if why == "fault" else "nina_crash_in_night"] += 1
        self.log(f"  NINA restarts ({why}), offline {downtime_ms} ms")
        at = (self.h.clock() + self.skew).astimezone(self.sim.tz)
        await self.simthread.run(
            self.sim.restart(clear_history=True, at=at, downtime=downtime_ms / 1000)
        )

    async def ensure_engine_up(self) -> None:
        """Start the engine again if an engine_restart fault stopped it."""
        if self.engine_down:
            await self.h.start()
            self.engine_down = False

    def heal_at(self, index: int, heal: Heal) -> None:
        """Run `heal` just before event `index` of the night."""
        self.heals.setdefault(index, []).append(heal)

    async def inject(self, fault: Fault, played: NightPlayed) -> None:
        """Inject one fault; a lasting one schedules its healing."""
        kind, sim, run = fault.kind, self.sim, self.simthread.run
        self.log(f"  fault {kind} before event {fault.index}")
        if kind == "nina_restart":
            await self.nina_restart(fault.detail, "fault")
            return
        self.injected_counts[kind] += 1
        if kind in ("drop", "drop_abrupt"):
            await run(sim.drop_sockets(abrupt=kind == "drop_abrupt"))
        elif kind == "half_open":
            # One silence at a time: un-silencing is for every socket, so a second silence
            # could be lifted by the first one's healing before the engine noticed it.
            pending = [w for w in self.watchers if not w.done()]
            if pending:
                await self.heal_all()  # a refusal would keep the engine from reconnecting
                await asyncio.wait(pending)

            def silence() -> int:
                # Atomically on the simulator's loop: the sockets silenced now are exactly
                # the ones accepted so far.
                sim.go_silent(True)
                return sim.connections_accepted

            accepted = await self.simthread.call(silence)

            async def heal_silence() -> None:
                # Only once the engine has dropped the silent socket (it opened a new one): a
                # stall that heals by itself would deliver the frames (TCP retransmits),
                # whereas a silent socket here drops them for good. In the background: other
                # faults (refusals) may delay the new connection.
                await until(lambda: sim.connections_accepted > accepted, float("inf"))
                await self.simthread.call(lambda: sim.go_silent(False))

            self.watchers.add(asyncio.create_task(heal_silence()))
        elif kind == "garbage":
            choice = random.Random(fault.detail)
            for text in choice.sample(GARBAGE, 4):
                await run(sim.send_raw(text))
        elif kind == "unknown":
            self.unknown_seq += 1
            data = {"SoakSeq": self.unknown_seq, "Detail": fault.detail}
            message = f"soak message {self.unknown_seq}"
            frame = {"Response": {"Event": "SOAK-UNKNOWN", **data}, "Error": "",
                     "StatusCode": 200, "Success": True, "Type": "Socket"}  # fmt: skip
            await run(sim.send_raw(json.dumps(frame)))
            await run(sim.send_raw(json.dumps({**frame, "Response": message})))
            played.injected.append(content_identity("SOAK-UNKNOWN", data))
            played.injected.append(content_identity("MESSAGE", {"Message": message}))
        elif kind in ("huge", "giant"):
            size = HUGE_BYTES if kind == "huge" else GIANT_BYTES
            blob = "x" * size
            frame = {"Response": {"Event": "SOAK-HUGE", "Blob": blob}, "Success": True}
            await run(sim.send_raw(json.dumps(frame)))
        elif kind == "duplicate":
            await self.simthread.call(lambda: sim.duplicate_next(fault.detail))
        elif kind == "reorder":
            await self.simthread.call(lambda: sim.reorder_next(2))
        elif kind == "stall":
            self.stall_next = fault.detail / 1000
        elif kind == "engine_restart":
            if not self.engine_down:
                await self.h.stop()
                self.engine_down = True
                self.heal_at(fault.index + fault.duration, self.ensure_engine_up)
        elif kind == "refuse":
            await self.simthread.call(lambda: sim.refuse_connections(True))
            await run(sim.drop_sockets(abrupt=True))

            async def heal_refuse() -> None:
                await self.simthread.call(lambda: sim.refuse_connections(False))

            self.heal_at(fault.index + fault.duration, heal_refuse)
        elif kind == "slow_api":
            await self.simthread.call(lambda: sim.set_delay(0.25))
            await run(sim.drop_sockets())

            async def heal_delay() -> None:
                await self.simthread.call(lambda: sim.set_delay(0.0))

            self.heal_at(fault.index + fault.duration, heal_delay)
        else:  # pragma: no cover - FAULT_KINDS and this list go together
            raise ValueError(kind)


async def run_soak(config: SoakConfig, say: Say = print) -> SoakReport:
    """Run the soak and print what it did; the report's `summary` is the final line."""
    soak = Soak(config, say)
    say(
        f"soak: {config.nights} nights from {config.start} ({config.tz}), seed {config.seed}, "
        f"speed {config.speed:g}x, dedup window {config.dedup_window:g} s, "
        f"spacing {config.spacing:g} s (frames {config.frame_spacing:g} s), "
        f"heartbeat {config.heartbeat:g} s"
        + (f", NINA's clock {config.nina_clock_skew:+g} s" if config.nina_clock_skew else "")
    )
    say(f"fault schedule: {len(soak.faults)} faults, " + ", ".join(
        f"{kind} {count}" for kind, count in sorted(Counter(f.kind for f in soak.faults).items())
    ))  # fmt: skip
    if config.db_path is not None:
        report = await soak.run(config.db_path)
    else:
        with tempfile.TemporaryDirectory(prefix="nina-soak-") as folder:
            report = await soak.run(Path(folder) / "soak.db")
    verdict = report.verdict
    say("faults injected: " + ", ".join(f"{k} {v}" for k, v in sorted(report.faults.items())))
    say(
        f"events compared: {verdict.events} emitted by the simulator against the store "
        f"(+ {verdict.injected_stored} of {verdict.injected_sent} injected unknown events "
        f"kept); max stamp error {verdict.max_stamp_error * 1000:.1f} ms"
    )
    if config.verbose:
        say("largest stamp errors: " + ", ".join(
            f"{name} {error * 1000:.1f} ms ({night})" for error, name, night in verdict.worst_stamps
        ))  # fmt: skip
    say(f"session ends: {verdict.ends_announced} announced, {verdict.sessions_ended} stored")
    say(
        "rejected frames: "
        + (", ".join(f"{k} {v}" for k, v in report.rejected_by_reason.items()) or "none")
    )
    say(
        f"engine: {report.engine_starts} starts, {report.reconnects} reconnects; "
        f"loop lag {report.lag}; {report.seconds:.1f} s"
    )
    say(report.summary)
    return report
