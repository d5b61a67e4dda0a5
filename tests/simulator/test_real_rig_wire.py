"""Real-rig shapes over the simulator's real HTTP and WebSocket (plugin 2.2.15 wire)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
import itertools
import json
import re
from typing import Any

import aiohttp
import pytest

from simulator.__main__ import build_parser, nights_for
from simulator.events import SimEvent
from simulator.night import Night, preset_night
from simulator.server import NinaSimulator, rebased
from simulator.wire import WireShape
from tests.simulator.client import api, receive

FRACTION = re.compile(r"T\d\d:\d\d:\d\d(?:\.(\d+))?")


@pytest.fixture(autouse=True)
def _loopback_sockets(request: pytest.FixtureRequest) -> None:
    """Allow sockets when the homeassistant pytest plugin (pytest-socket) blocks them."""
    with contextlib.suppress(pytest.FixtureLookupError):
        request.getfixturevalue("socket_enabled")


async def play_and_listen(
    sim: NinaSimulator, session: aiohttp.ClientSession, night: Night
) -> list[dict[str, Any]]:
    """Play `night` unrebased as fast as possible; return the socket frames a client got."""
    async with session.ws_connect(sim.socket_url) as ws:
        await sim.wait_for_sockets(1)
        await sim.play(night, speed=0, rebase=False)
        return [json.loads((await receive(ws)).data) for _ in night.events]


def fraction_digits(stamp: str) -> int:
    """Return how many fraction digits a time string carries."""
    match = FRACTION.search(stamp)
    assert match, stamp
    return len(match.group(1) or "")


async def test_scheduler_night_socket_frames(
    sim: NinaSimulator, session: aiohttp.ClientSession
) -> None:
    """Test the socket: no SEQUENCE-STARTING, real nested values, 0.0, any key order."""
    night = preset_night("target_scheduler")
    got = await play_and_listen(sim, session, night)
    responses = [frame["Response"] for frame in got]
    assert [r["Event"] for r in responses] == [ev.name for ev in night.events]
    assert "SEQUENCE-STARTING" not in {r["Event"] for r in responses}
    assert sim.wire == WireShape.real(seed=6)  # the night brought its wire shape
    assert len({next(iter(r)) for r in responses}) > 1  # "Event" is not always first
    ts = next(r for r in responses if r["Event"] == "TS-NEWTARGETSTART")
    assert isinstance(ts["Rotation"], float) and ts["Coordinates"]["Epoch"] == "J2000"
    change = next(r for r in responses if r["Event"] == "FILTERWHEEL-CHANGED")
    assert change["Previous"] == {"Name": "L", "Id": 0}
    # The sky turns unsafe during the last autofocus; the panel flats come after.
    names = [r["Event"] for r in responses]
    focus = len(names) - 1 - names[::-1].index("AUTOFOCUS-STARTING")
    unsafe = names.index("SAFETY-CHANGED", focus)
    assert responses[unsafe]["IsSafe"] is False
    assert "AUTOFOCUS-FINISHED" not in names[focus:]
    assert focus < unsafe < names.index("FLAT-LIGHT-TOGGLED", focus)


async def test_scheduler_night_event_history(
    sim: NinaSimulator, session: aiohttp.ClientSession
) -> None:
    """Test the history: naive UTC TS times, naive local log times, [] placeholders, 0."""
    night = preset_night("target_scheduler")
    await play_and_listen(sim, session, night)
    history = (await api(session, sim, "/event-history"))["Response"]
    assert [item["Event"] for item in history] == [ev.name for ev in night.events]
    for item, ev in zip(history, night.events, strict=True):
        stamp = datetime.fromisoformat(item["Time"])
        if ev.name.startswith("TS-"):
            assert stamp.tzinfo is None  # UTC with the offset dropped
            assert abs(stamp.replace(tzinfo=UTC) - ev.time) < timedelta(milliseconds=1)
        elif ev.name == "MOUNT-CENTER":  # from NINA's log: local, no offset, 4 digits at most
            assert stamp.tzinfo is None and fraction_digits(item["Time"]) <= 4
            assert abs(stamp.replace(tzinfo=ev.time.tzinfo) - ev.time) < timedelta(milliseconds=1)
        else:
            assert abs(stamp - ev.time) < timedelta(milliseconds=1)
    change = next(item for item in history if item["Event"] == "FILTERWHEEL-CHANGED")
    assert change["Previous"] == change["New"] == {"Name": [], "Id": []}
    target = next(item for item in history if item["Event"] == "TS-TARGETSTART")
    coordinates = ("RA", "RAString", "RADegrees", "Dec", "DecString", "Epoch")
    assert target["Coordinates"] == {key: [] for key in coordinates}
    assert target["TargetName"] == night.spec.targets[0]
    assert target["Rotation"] == 0 and isinstance(target["Rotation"], int)
    assert datetime.fromisoformat(target["TargetEndTime"]).tzinfo is None
    wait = next(item for item in history if item["Event"] == "TS-WAITSTART")
    assert datetime.fromisoformat(wait["WaitEndTime"]).tzinfo is not None
    saves = [item for item in history if item["Event"] == "IMAGE-SAVE"]
    assert all(set(item) == {"Event", "Time"} for item in saves)
    orders = {tuple(item) for item in history if item["Event"] == "TS-TARGETSTART"}
    assert len(orders) > 1  # Hashtable order
    digits = [fraction_digits(item["Time"]) for item in history]
    assert digits.count(7) > len(digits) // 4 and min(digits) <= 4


async def test_guider_start_twice_within_milliseconds_in_history(
    sim: NinaSimulator, session: aiohttp.ClientSession
) -> None:
    """Test that the history shows each GUIDER-START twice, a few milliseconds apart."""
    await play_and_listen(sim, session, preset_night("target_scheduler"))
    history = (await api(session, sim, "/event-history"))["Response"]
    starts = [i for i, item in enumerate(history) if item["Event"] == "GUIDER-START"]
    assert len(starts) >= 8
    for first, second in itertools.batched(starts, 2, strict=True):
        assert second == first + 1
        gap = datetime.fromisoformat(history[second]["Time"]) - datetime.fromisoformat(
            history[first]["Time"]
        )
        assert timedelta(0) < gap < timedelta(milliseconds=20)


async def test_images_rest_whole_numbers_and_calibration_stats(
    sim: NinaSimulator, session: aiohttp.ClientSession
) -> None:
    """Test /image-history: whole numbers as integers, flats with HFR 0 and Stars -1."""
    night = preset_night("target_scheduler")
    await play_and_listen(sim, session, night)
    images = (await api(session, sim, "/image-history", all="true"))["Response"]
    assert len(images) == night.truth.frames_total
    light = images[0]
    assert light["ExposureTime"] == 180 and isinstance(light["ExposureTime"], int)
    flats = [image for image in images if image["ImageType"] == "FLAT"]
    assert flats and all(f["HFR"] == 0 and f["Stars"] == -1 for f in flats)
    async with session.get(f"{sim.base_url}/sim/truth") as resp:
        truth = (await resp.json())["truth"]
    assert truth["autofocus_failed"] == night.truth.autofocus_failed == 1
    assert truth["autofocus_runs"] == night.truth.autofocus_runs
    assert truth["pauses"] == 1
    assert [tuple(state) for state in truth["states"]] == night.truth.states


async def test_flats_missing_from_image_history(
    sim: NinaSimulator, session: aiohttp.ClientSession
) -> None:
    """Test panel on, flats, panel off with no image records: sparse, unpaired history saves."""
    night = preset_night("flats_unrecorded")
    got = await play_and_listen(sim, session, night)
    live = [f["Response"] for f in got if f["Response"]["Event"] == "IMAGE-SAVE"]
    assert len(live) == 24
    assert {r["ImageStatistics"]["ImageType"] for r in live} == {"FLAT"}  # the socket knows
    assert (await api(session, sim, "/image-history", count="true"))["Response"] == 0
    assert (await api(session, sim, "/image-history", all="true"))["Response"] == []
    flat_count = await api(session, sim, "/image-history", count="true", imageType="FLAT")
    assert flat_count["Response"] == 0
    history = (await api(session, sim, "/event-history"))["Response"]
    names = [item["Event"] for item in history]
    on = names.index("FLAT-LIGHT-TOGGLED")
    off = names.index("FLAT-LIGHT-TOGGLED", on + 1)
    saves = [i for i, name in enumerate(names) if name == "IMAGE-SAVE"]
    assert len(saves) == 24 and all(on < i < off for i in saves)
    assert all(set(history[i]) == {"Event", "Time"} for i in saves)


async def test_plain_server_keeps_plain_shapes(
    sim: NinaSimulator, session: aiohttp.ClientSession
) -> None:
    """Test that a night without a wire shape leaves the server's plain shapes as they were."""
    night = preset_night("full")
    events = [ev for ev in night.events if ev.name in {"TS-TARGETSTART", "MOUNT-CENTER"}]
    for ev in events:
        await sim.emit(ev)
    history = (await api(session, sim, "/event-history"))["Response"]
    for item, ev in zip(history, events, strict=True):
        assert datetime.fromisoformat(item["Time"]) == ev.time  # aware, exact
        assert item == {"Event": ev.name, **ev.data, "Time": item["Time"]}
        assert list(item)[0] == "Event"
    assert isinstance(history[0]["Rotation"], float)


def test_rebased_keeps_scheduler_times_in_their_shape() -> None:
    """Test that rebasing moves a naive UTC TargetEndTime and an offset WaitEndTime alike."""
    night = preset_night("target_scheduler")
    start = next(ev for ev in night.events if ev.name == "TS-TARGETSTART")
    wait = next(ev for ev in night.events if ev.name == "TS-WAITSTART")
    when = datetime(2027, 1, 5, 20, 0, tzinfo=UTC)
    moved = rebased(start, when, 0.5)
    end = datetime.fromisoformat(moved.data["TargetEndTime"])
    original = datetime.fromisoformat(start.data["TargetEndTime"]).replace(tzinfo=UTC)
    assert end.tzinfo is None
    assert end.replace(tzinfo=UTC) - when == (original - start.time) * 0.5
    moved_wait = rebased(wait, when, 0.5)
    wait_end = datetime.fromisoformat(moved_wait.data["WaitEndTime"])
    assert wait_end.utcoffset() == timedelta(hours=1)
    assert wait_end - when == (datetime.fromisoformat(wait.data["WaitEndTime"]) - wait.time) / 2
    assert isinstance(moved, SimEvent) and moved.time == when


def test_command_line_serves_the_new_nights() -> None:
    """Test that `--night target_scheduler` and `--night flats_unrecorded` pick those nights."""
    args = build_parser().parse_args(["--night", "target_scheduler", "--seed", "9"])
    (night,) = nights_for(args, 0)
    assert night.spec.scheduler_night and night.spec.wire is not None
    assert night.spec.seed == 9
    args = build_parser().parse_args(["--night", "flats_unrecorded"])
    (night,) = nights_for(args, 0)
    assert not any(ev.in_image_history for ev in night.events if ev.name == "IMAGE-SAVE")
