"""`python -m simulator --loop --day S`: a quiet day between looped nights (`make demo`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
import itertools
import re
import time

import aiohttp
import pytest

from simulator import PRESETS, generate_night
from simulator.__main__ import build_parser, compressed, run
from simulator.events import SimEvent


async def test_loop_leaves_a_quiet_day_between_nights(capsys: pytest.CaptureFixture[str]) -> None:
    """Test that a looped night starts only after the day: nights moved to now stay apart.

    Without it every looped night ran into the one before, and the demo showed one endless
    session (12 h of integration, three meridian flips after 15 minutes).
    """
    args = build_parser().parse_args(
        ["--port", "0", "--speed", "0", "--night", "simple", "--loop", "--day", "0.6"]
    )
    task = asyncio.create_task(run(args))
    output, first_done, second_playing = "", None, None
    deadline = time.monotonic() + 30
    try:
        while second_playing is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            output += capsys.readouterr().out
            if first_done is None and "  done:" in output:
                first_done = time.monotonic()
            if output.count("playing ") >= 2:
                second_playing = time.monotonic()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert first_done is not None and second_playing is not None, output
    assert second_playing - first_done >= 0.5
    assert "day: 0.6 s of quiet before the next night" in output


async def test_history_nights_are_served_before_the_live_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Test `--history-nights 2`: two finished earlier nights in NINA's history, then tonight.

    The demo needs them so a client's backfill stores finished nights (their report, the
    targets across nights) as soon as it connects.
    """
    args = build_parser().parse_args(
        ["--port", "0", "--speed", "0", "--night", "simple", "--history-nights", "2"]
    )
    task = asyncio.create_task(run(args))
    output = ""
    try:
        while "played; still serving" not in output:
            await asyncio.sleep(0.02)
            output += capsys.readouterr().out
            assert not task.done(), output
        api = re.search(r"REST:\s+(\S+)", output)
        assert api is not None, output
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{api[1]}/event-history") as response:
                history = (await response.json())["Response"]
            async with session.get(f"{api[1]}/application-start") as response:
                started = datetime.fromisoformat((await response.json())["Response"])
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    nights = [line for line in output.splitlines() if line.startswith("history: ")]
    assert len(nights) == 2, output
    times = [datetime.fromisoformat(item["Time"]) for item in history]
    assert times == sorted(times)
    # Three nights, each an observing night (noon to noon) of its own, tonight's last.
    nights_of = [(t - timedelta(hours=12)).date() for t in times]
    assert len(set(nights_of)) == 3
    assert started < times[0]
    tonight = max(nights_of)
    earlier = [t for t, n in zip(times, nights_of, strict=True) if n < tonight]
    assert earlier and max(earlier) < datetime.now(UTC)


def test_history_nights_are_squeezed_like_the_live_ones() -> None:
    """Test that an earlier night played at `--speed 240` has no pause a 5-minute idle gap cuts.

    At its natural pace the full night waits and pauses for longer than the demo's idle gap,
    and the client stored it as several sessions: the "last night" report showed an empty one.
    """
    night = generate_night(PRESETS["full"])

    def longest_gap(events: list[SimEvent]) -> timedelta:
        return max(b.time - a.time for a, b in itertools.pairwise(events))

    assert longest_gap(night.events) > timedelta(minutes=5)
    squeezed = compressed(night, 240)
    assert longest_gap(squeezed) < timedelta(minutes=5)
    assert squeezed[0].time == night.start and len(squeezed) == len(night.events)
    exposures = [
        ev.data["ImageStatistics"]["ExposureTime"] for ev in squeezed if ev.name == "IMAGE-SAVE"
    ]
    assert exposures == [
        ev.data["ImageStatistics"]["ExposureTime"] for ev in night.events if ev.name == "IMAGE-SAVE"
    ]
