"""The recent-frames views against the simulator, in the real HA harness."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from homeassistant.core import HomeAssistant
from integration_helpers import play_live, wait_connected
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.nina_session.frames import RECENT_FRAMES
from simulator import THUMBNAIL_JPEG, NinaSimulator, preset_night

SetupEntry = Callable[..., Awaitable[MockConfigEntry]]
VIEWERS = 12
#: How NINA is asked for its frame count.
COUNT = "/v2/api/image-history?count=true"


async def test_frames_need_authentication(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    sim: NinaSimulator,
    setup_entry: SetupEntry,
) -> None:
    """Test that neither the list nor a thumbnail is served without a token."""
    entry = await setup_entry()
    await wait_connected(hass, entry)
    await play_live(hass, entry, sim, preset_night("simple", lights_per_filter=8).events)
    anonymous = await hass_client_no_auth()
    for path in ("/api/nina_session/frames", "/api/nina_session/frames/0"):
        response = await anonymous.get(path)
        assert response.status == HTTPStatus.UNAUTHORIZED, path
    assert not any("/image/thumbnail/" in path for path in sim.hits)


async def test_many_viewers_cause_one_download_per_frame(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    sim: NinaSimulator,
    setup_entry: SetupEntry,
) -> None:
    """Test that a dashboard on many screens downloads each thumbnail from NINA once."""
    entry = await setup_entry()
    await wait_connected(hass, entry)
    await play_live(hass, entry, sim, preset_night("simple", lights_per_filter=8).events)
    client = await hass_client()

    lists = await asyncio.gather(*(client.get("/api/nina_session/frames") for _ in range(VIEWERS)))
    answers = [await response.json() for response in lists]
    frames = answers[0]["frames"]
    assert all(answer == answers[0] for answer in answers)
    count = len(sim.images)
    assert frames == list(range(count - RECENT_FRAMES, count))
    assert sim.hits[COUNT] == 1

    async def view_strip() -> list[bytes]:
        responses = [await client.get(f"/api/nina_session/frames/{i}") for i in frames]
        assert all(r.status == HTTPStatus.OK for r in responses)
        return [await r.read() for r in responses]

    strips = await asyncio.gather(*(view_strip() for _ in range(VIEWERS)))
    assert all(picture == THUMBNAIL_JPEG for strip in strips for picture in strip)
    downloads = {i: sim.hits[f"/v2/api/image/thumbnail/{i}"] for i in frames}
    assert downloads == dict.fromkeys(frames, 1)


async def test_the_window_moves_with_live_frames_and_refuses_old_ones(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    sim: NinaSimulator,
    setup_entry: SetupEntry,
) -> None:
    """Test that new frames move the window without a recount, and old positions are 404."""
    entry = await setup_entry()
    await wait_connected(hass, entry)
    events = preset_night("simple", lights_per_filter=8).events  # 16 frames
    saves = [i for i, event in enumerate(events) if event.name == "IMAGE-SAVE"]
    half = saves[len(saves) // 2]
    await play_live(hass, entry, sim, events[:half])
    client = await hass_client()
    first = (await (await client.get("/api/nina_session/frames")).json())["frames"]
    await play_live(hass, entry, sim, events[half:])
    reads = sim.hits[COUNT]
    later = (await (await client.get("/api/nina_session/frames")).json())["frames"]
    count = len(sim.images)
    assert later == list(range(count - RECENT_FRAMES, count))
    assert later != first
    assert sim.hits[COUNT] == reads  # moved by IMAGE-SAVE, not read again
    response = await client.get(f"/api/nina_session/frames/{later[0] - 1}")
    assert response.status == HTTPStatus.NOT_FOUND
    assert (await client.get("/api/nina_session/frames/x")).status == HTTPStatus.NOT_FOUND
