"""The simulator over real sockets on 127.0.0.1 (aiohttp client)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
from datetime import datetime
import json
import math
import re
import signal
import sys

import aiohttp
import pytest

from simulator.night import Night, SimEvent, image_record, preset_night, to_rest
from simulator.server import NinaSimulator
from tests.simulator.client import api, receive


@pytest.fixture(autouse=True)
def _loopback_sockets(request: pytest.FixtureRequest) -> None:
    """Allow sockets when the homeassistant pytest plugin (pytest-socket) blocks them."""
    with contextlib.suppress(pytest.FixtureLookupError):
        request.getfixturevalue("socket_enabled")


@pytest.fixture(scope="module")
def simple() -> Night:
    """Return the `simple` preset night (generated once for the module)."""
    return preset_night("simple")


async def eventually(check: Callable[[], bool]) -> None:
    """Wait up to 2 seconds for `check()` to hold."""
    for _ in range(200):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never became true")


async def test_rest_envelopes(sim: NinaSimulator, session: aiohttp.ClientSession) -> None:
    """Test the version and application-start answers in the plugin's envelope."""
    assert await api(session, sim, "/version") == {
        "Response": "2.2.9.0",
        "Error": "",
        "StatusCode": 200,
        "Success": True,
        "Type": "API",
    }
    sim.set_plugin_version("2.1.0.0")
    assert (await api(session, sim, "/version"))["Response"] == "2.1.0.0"
    assert (await api(session, sim, "/version/nina"))["Response"] == "3.1.2.9001"
    started = (await api(session, sim, "/application-start"))["Response"]
    assert re.match(r"^\d{4}-\d\d-\d\dT[\d:.]+[+-]\d\d:\d\d$", started)
    assert datetime.fromisoformat(started).tzinfo is not None
    assert sim.base_url == f"http://127.0.0.1:{sim.port}"
    assert sim.socket_url == f"ws://127.0.0.1:{sim.port}/v2/socket"


async def test_history_after_emits(
    sim: NinaSimulator, session: aiohttp.ClientSession, simple: Night
) -> None:
    """Test that emitted events fill the event history and the image history (all its queries)."""
    events = simple.events[:40]
    for ev in events:
        await sim.emit(ev)
    history = (await api(session, sim, "/event-history"))["Response"]
    assert [item["Event"] for item in history] == [ev.name for ev in events]
    saves = [item for item in history if item["Event"] == "IMAGE-SAVE"]
    assert saves
    assert all(set(item) == {"Event", "Time"} for item in saves)  # sparse
    change = next(item for item in history if item["Event"] == "FILTERWHEEL-CHANGED")
    assert change["Previous"] == {"Name": "Ha", "Id": 0}
    assert all(datetime.fromisoformat(item["Time"]).tzinfo for item in history)

    records = [image_record(ev) for ev in events if ev.name == "IMAGE-SAVE"]
    everything = (await api(session, sim, "/image-history", all="true"))["Response"]
    assert everything == to_rest(records)  # full statistics, NaN as "NaN"
    assert (await api(session, sim, "/image-history", count="true"))["Response"] == len(records)
    latest = (await api(session, sim, "/image-history"))["Response"]
    assert latest == to_rest(records[-1:])
    first = (await api(session, sim, "/image-history", index="0"))["Response"]
    assert first == to_rest(records[:1])
    lights = await api(session, sim, "/image-history", all="true", imageType="LIGHT")
    assert len(lights["Response"]) == len(records)
    flats = await api(session, sim, "/image-history", count="true", imageType="FLAT")
    assert flats["Response"] == 0


async def test_rest_errors_are_http_200(sim: NinaSimulator, session: aiohttp.ClientSession) -> None:
    """Test that REST errors answer HTTP 200 with the error in the envelope."""
    empty = await api(session, sim, "/image-history")
    assert empty == {
        "Response": "",
        "Error": "Index out of range",
        "StatusCode": 400,
        "Success": False,
        "Type": "API",
    }
    assert (await api(session, sim, "/image-history", count="true"))["Response"] == 0
    assert (await api(session, sim, "/image-history", all="true"))["Response"] == []
    no_thumb = await api(session, sim, "/image/thumbnail/0")
    assert (no_thumb["Success"], no_thumb["StatusCode"]) == (False, 400)


async def test_nan_bare_on_socket_string_in_rest(
    sim: NinaSimulator, session: aiohttp.ClientSession, simple: Night
) -> None:
    """Test that NaN is bare on the socket and the string "NaN" over REST."""
    save = next(ev for ev in simple.events if ev.name == "IMAGE-SAVE")
    stats = {**save.data["ImageStatistics"], "Temperature": math.nan}
    async with session.ws_connect(sim.socket_url) as ws:
        await sim.wait_for_sockets(1)
        await sim.emit(SimEvent(save.time, "IMAGE-SAVE", {"ImageStatistics": stats}))
        msg = await receive(ws)
    assert '"Temperature":NaN' in msg.data
    frame = json.loads(msg.data)
    assert frame["Type"] == "Socket"
    assert math.isnan(frame["Response"]["ImageStatistics"]["Temperature"])
    rest = await api(session, sim, "/image-history")
    assert rest["Response"][0]["Temperature"] == "NaN"


async def test_socket_pushes_in_order_and_ignores_client_text(
    sim: NinaSimulator, session: aiohttp.ClientSession, simple: Night
) -> None:
    """Test that the socket pushes events in order and only records text from the client."""
    async with session.ws_connect(sim.socket_url) as ws:
        await ws.send_str("enable-consumer-events")
        await eventually(lambda: sim.client_messages == ["enable-consumer-events"])
        for ev in simple.events[:5]:
            await sim.emit(ev)
        got = [json.loads((await receive(ws)).data)["Response"]["Event"] for _ in range(5)]
    assert got == [ev.name for ev in simple.events[:5]]
    assert sim.connections_accepted == 1


async def test_thumbnail(sim: NinaSimulator, session: aiohttp.ClientSession, simple: Night) -> None:
    """Test that a thumbnail is a JPEG, and an index out of range an error."""
    await sim.emit(next(ev for ev in simple.events if ev.name == "IMAGE-SAVE"))
    async with session.get(f"{sim.api_url}/image/thumbnail/0") as resp:
        assert resp.status == 200
        assert resp.content_type == "image/jpeg"
        body = await resp.read()
    assert body[:3] == b"\xff\xd8\xff"
    assert body[-2:] == b"\xff\xd9"
    out_of_range = await api(session, sim, "/image/thumbnail/5")
    assert (out_of_range["Success"], out_of_range["StatusCode"]) == (False, 500)


async def test_restart_clears_history_and_changes_start(
    sim: NinaSimulator, session: aiohttp.ClientSession, simple: Night
) -> None:
    """Test that a restart cuts the socket, clears history and moves the application start."""
    for ev in simple.events[:30]:
        await sim.emit(ev)
    before = (await api(session, sim, "/application-start"))["Response"]
    async with session.ws_connect(sim.socket_url) as ws:
        await sim.wait_for_sockets(1)
        await sim.restart()
        msg = await receive(ws)
        assert msg.type in {aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR}
    assert (await api(session, sim, "/event-history"))["Response"] == []
    assert (await api(session, sim, "/image-history", count="true"))["Response"] == 0
    after = (await api(session, sim, "/application-start"))["Response"]
    assert after != before
    assert datetime.fromisoformat(after) > datetime.fromisoformat(before)
    assert sim.epoch == 1
    assert len(sim.emitted) == 30  # the ground truth keeps everything
    async with session.ws_connect(sim.socket_url) as ws:
        await sim.wait_for_sockets(1)
        await sim.emit(simple.events[30])
        assert json.loads((await receive(ws)).data)["Response"]["Event"] == simple.events[30].name
    assert sim.connections_accepted == 2


async def test_restart_with_downtime_refuses_connections(
    sim: NinaSimulator, session: aiohttp.ClientSession
) -> None:
    """Test that offline refuses connections, and a restart comes back on the same port."""
    await sim.set_offline(True)
    with pytest.raises(aiohttp.ClientConnectorError):
        await api(session, sim, "/version")
    await sim.set_offline(False)
    assert (await api(session, sim, "/version"))["Success"] is True
    port = sim.port
    await sim.restart(downtime=0.01)
    assert sim.port == port
    assert (await api(session, sim, "/version"))["Success"] is True


async def test_drop_closes_sockets(sim: NinaSimulator, session: aiohttp.ClientSession) -> None:
    """Test that dropping closes every socket with 1001, or cuts it when abrupt."""
    async with session.ws_connect(sim.socket_url) as a, session.ws_connect(sim.socket_url) as b:
        await sim.wait_for_sockets(2)
        await sim.drop_sockets()
        for ws in (a, b):
            msg = await receive(ws)
            assert msg.type is aiohttp.WSMsgType.CLOSE
            assert msg.data == 1001
    async with session.ws_connect(sim.socket_url) as c:
        await sim.wait_for_sockets(1)
        await sim.drop_sockets(abrupt=True)
        assert (await receive(c)).type in {aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR}
    assert sim.connections_accepted == 3


async def test_silent_socket_answers_no_ping(
    sim: NinaSimulator, session: aiohttp.ClientSession, simple: Night
) -> None:
    """Test that a silent socket gets no pong and no frames, while a new one is healthy."""
    async with session.ws_connect(sim.socket_url, autoping=False) as ws:
        await sim.wait_for_sockets(1)
        await ws.ping(b"1")
        assert (await receive(ws)).type is aiohttp.WSMsgType.PONG
        sim.go_silent(True)
        await ws.ping(b"2")
        await sim.emit(simple.events[0])
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.receive(), 0.3)
        await eventually(lambda: sim.pings_received == 2)
        # a new connection (the client's reconnect) is healthy
        async with session.ws_connect(sim.socket_url, autoping=False) as fresh:
            await sim.wait_for_sockets(2)
            await fresh.ping(b"3")
            assert (await receive(fresh)).type is aiohttp.WSMsgType.PONG
            await sim.emit(simple.events[1])
            event = json.loads((await receive(fresh)).data)["Response"]["Event"]
            assert event == simple.events[1].name
        sim.go_silent(False)
        await sim.emit(simple.events[2])
        assert json.loads((await receive(ws)).data)["Response"]["Event"] == simple.events[2].name


async def test_refuse_connections(sim: NinaSimulator, session: aiohttp.ClientSession) -> None:
    """Test that refused socket upgrades get HTTP 503 while REST still answers."""
    sim.refuse_connections(True)
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await session.ws_connect(sim.socket_url)
    assert err.value.status == 503
    assert sim.connections_accepted == 0
    assert (await api(session, sim, "/version"))["Success"] is True  # REST still answers
    sim.refuse_connections(False)
    async with session.ws_connect(sim.socket_url):
        pass
    assert sim.connections_accepted == 1


async def test_garbage_is_sent_as_is(sim: NinaSimulator, session: aiohttp.ClientSession) -> None:
    """Test that raw frames are sent unchanged and stay out of the history."""
    frames = [
        "{not json",
        '{"Response": "CAMERA-INFO-UPDATED", "Type": "Socket"}',
        json.dumps({"Response": {"Event": "SOMETHING-NEW", "X": 1}, "Type": "Socket"}),
        "x" * 1_000_000,
    ]
    async with session.ws_connect(sim.socket_url, max_msg_size=0) as ws:
        await sim.wait_for_sockets(1)
        for text in frames:
            await sim.send_raw(text)
        assert [(await receive(ws)).data for _ in frames] == frames
    assert sim.history == []  # raw frames are not NINA events


async def test_duplicate_and_reorder(
    sim: NinaSimulator, session: aiohttp.ClientSession, simple: Night
) -> None:
    """Test that duplicate_next sends twice and reorder_next swaps, with flush sending the rest."""
    evs = simple.events[:6]
    async with session.ws_connect(sim.socket_url) as ws:
        await sim.wait_for_sockets(1)
        sim.duplicate_next(1)
        await sim.emit(evs[0])
        sim.reorder_next(2)
        for ev in evs[1:4]:
            await sim.emit(ev)
        sim.reorder_next(2)
        await sim.emit(evs[4])
        await sim.flush()  # only one held: sent as is
        got = [json.loads((await receive(ws)).data)["Response"]["Event"] for _ in range(6)]
    expected = [evs[0], evs[0], evs[2], evs[1], evs[3], evs[4]]
    assert got == [ev.name for ev in expected]
    assert [item["Event"] for item in sim.history] == [ev.name for ev in evs[:5]]


async def test_slow_rest(sim: NinaSimulator, session: aiohttp.ClientSession) -> None:
    """Test that set_delay slows the REST answers but not the control endpoints."""
    sim.set_delay(0.5)
    with pytest.raises(TimeoutError):
        async with session.get(f"{sim.api_url}/version", timeout=aiohttp.ClientTimeout(total=0.1)):
            pass
    async with session.get(f"{sim.base_url}/sim/truth") as resp:  # control stays fast
        assert (await resp.json())["emitted"] == 0
    sim.set_delay(0)
    assert (await api(session, sim, "/version"))["Success"] is True


async def test_play_fast(sim: NinaSimulator, session: aiohttp.ClientSession, simple: Night) -> None:
    """Test that playing at speed 0 sends every event, rebased to now, with consistent truth."""
    before = datetime.now().astimezone()
    async with session.ws_connect(sim.socket_url) as ws:
        await sim.wait_for_sockets(1)
        await sim.play(simple, speed=0)
        got = [json.loads((await receive(ws)).data)["Response"]["Event"] for _ in simple.events]
    assert got == [ev.name for ev in simple.events]
    history = (await api(session, sim, "/event-history"))["Response"]
    assert len(history) == len(simple.events)
    times = [datetime.fromisoformat(item["Time"]) for item in history]
    assert times == sorted(times)
    assert times[0] >= before  # rebased to now
    images = (await api(session, sim, "/image-history", all="true"))["Response"]
    saves = [t for t, item in zip(times, history, strict=True) if item["Event"] == "IMAGE-SAVE"]
    for saved, image in zip(saves, images, strict=True):
        assert 0 <= (saved - datetime.fromisoformat(image["Date"])).total_seconds() < 1
    async with session.get(f"{sim.base_url}/sim/truth") as resp:
        truth = await resp.json()
    assert truth["emitted"] == len(simple.events)
    assert truth["truth"]["lights_by_filter"] == simple.truth.lights_by_filter
    assert truth["truth"]["frames_by_type"] == simple.truth.frames_by_type
    assert truth["truth"]["dithers"] == simple.truth.dithers


async def test_play_scaled_keeps_order(sim: NinaSimulator, simple: Night) -> None:
    """Test that playing at a scaled speed keeps the order and increasing times."""
    span = (simple.end - simple.start).total_seconds()
    await sim.play(simple.events, speed=span / 0.2)
    assert [ev.name for ev in sim.emitted] == [ev.name for ev in simple.events]
    assert [ev.time for ev in sim.emitted] == sorted(ev.time for ev in sim.emitted)


async def test_play_follows_nina_restart(
    sim: NinaSimulator, session: aiohttp.ClientSession
) -> None:
    """Test that playing a night with a restart cuts the socket and restarts NINA between epochs."""
    night = preset_night("full")
    start_before = sim.application_start
    async with session.ws_connect(sim.socket_url) as ws:
        await sim.wait_for_sockets(1)
        await sim.play(night, speed=0, rebase=False)
        received = 0
        while (await receive(ws)).type is aiohttp.WSMsgType.TEXT:
            received += 1
    epoch0 = sum(1 for ev in night.events if ev.epoch == 0)
    assert received == epoch0  # the socket died with NINA
    assert sim.epoch == 1
    assert sim.application_start != start_before
    assert sim.application_start == night.application_starts[1]
    history = (await api(session, sim, "/event-history"))["Response"]
    assert len(history) == len(night.events) - epoch0
    assert history[0]["Event"] == "CAMERA-CONNECTED"
    assert sim.emitted == night.events  # rebase=False keeps the events as generated
    async with session.get(f"{sim.base_url}/sim/truth") as resp:
        truth = (await resp.json())["truth"]
    assert truth["nina_restarts"] == 1
    assert truth["targets"] == night.truth.targets
    assert truth["frames_total"] == night.truth.frames_total


async def test_control_endpoints(
    sim: NinaSimulator, session: aiohttp.ClientSession, simple: Night
) -> None:
    """Test the /sim endpoints: refuse, raw, silent, drop, restart, version, delay, truth."""
    base = f"{sim.base_url}/sim"
    async with session.post(f"{base}/refuse", params={"on": "1"}) as resp:
        assert resp.status == 200
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await session.ws_connect(sim.socket_url)
    await session.post(f"{base}/refuse", params={"on": "0"})
    async with session.ws_connect(sim.socket_url, autoping=False) as ws:
        await sim.wait_for_sockets(1)
        await session.post(f"{base}/raw", data="hello")
        assert (await receive(ws)).data == "hello"
        await session.post(f"{base}/silent", params={"on": "1"})
        await ws.ping()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.receive(), 0.3)
        await session.post(f"{base}/silent", params={"on": "0"})
        await session.post(f"{base}/drop")
        assert (await receive(ws)).type is aiohttp.WSMsgType.CLOSE
    await sim.emit(simple.events[0])
    async with session.post(f"{base}/restart") as resp:
        assert (await resp.json())["epoch"] == 1
    assert sim.history == []
    async with session.post(f"{base}/version", params={"v": "2.2.6.0"}) as resp:
        assert (await resp.json())["version"] == "2.2.6.0"
    async with session.post(f"{base}/delay", params={"seconds": "0"}) as resp:
        assert resp.status == 200
    async with session.get(f"{base}/truth") as resp:
        body = await resp.json()
    assert body["emitted"] == 1
    assert body["epoch"] == 1
    assert body["connections_accepted"] == 1


async def test_equipment_and_sequence(
    sim: NinaSimulator, session: aiohttp.ClientSession, simple: Night
) -> None:
    """Test that equipment info and sequence state follow the emitted events."""
    info = (await api(session, sim, "/equipment/info"))["Response"]
    assert info["Camera"]["Connected"] is False
    state = (await api(session, sim, "/sequence/state"))["Response"]
    assert state[0] == {"GlobalTriggers": []}
    for ev in simple.events[:15]:
        await sim.emit(ev)
    info = (await api(session, sim, "/equipment/info"))["Response"]
    assert info["Camera"]["Connected"] is True
    assert info["Mount"]["AtPark"] is False
    assert info["Guider"]["State"] == "Guiding"
    camera = (await api(session, sim, "/equipment/camera/info"))["Response"]
    assert camera == info["Camera"]
    state = (await api(session, sim, "/sequence/state"))["Response"]
    assert [area["Status"] for area in state[1:]] == ["FINISHED", "RUNNING", "CREATED"]


async def test_a_parked_mount_stays_parked_through_frames(
    sim: NinaSimulator, session: aiohttp.ClientSession, simple: Night
) -> None:
    """Test that frames no longer move a mount parked by a call: only an unpark does.

    Frames pointed the mount at their target, so a mount parked from Home Assistant during a
    night was unparked again by the next light frame (and the demo's park did not stick).
    """
    lights = [ev for ev in simple.events if ev.name == "IMAGE-SAVE"]
    first_light = simple.events.index(lights[0])
    for ev in simple.events[: first_light + 1]:
        await sim.emit(ev)
    await sim.equipment.connect("MOUNT")

    async def at_park() -> bool:
        return bool((await api(session, sim, "/equipment/mount/info"))["Response"]["AtPark"])

    assert not await at_park()  # the night's first light pointed the power-on parked mount
    assert (await api(session, sim, "/equipment/mount/park"))["Success"]
    for ev in lights[1:3]:
        await sim.emit(ev)
    assert await at_park()
    assert (await api(session, sim, "/equipment/mount/unpark"))["Success"]
    await sim.emit(lights[3])
    assert not await at_park()


async def test_command_line_runs_and_stops_on_ctrl_c(session: aiohttp.ClientSession) -> None:
    """Test that `python -m simulator` plays the night, serves it and exits 0 on Ctrl-C."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "simulator", "--port", "0", "--speed", "0", "--night", "simple"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        while not any("still serving" in line for line in lines):
            line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
            assert line, "".join(lines)
            lines.append(line)
        api_url = next(line.split()[-1] for line in lines if "REST:" in line)
        async with session.get(f"{api_url}/event-history") as resp:
            history = json.loads(await resp.text())["Response"]
        assert len(history) == len(preset_night("simple").events)
        proc.send_signal(signal.SIGINT)
        rest = (await asyncio.wait_for(proc.stdout.read(), 20)).decode()
        assert await asyncio.wait_for(proc.wait(), 20) == 0
        assert "stopped" in rest
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
