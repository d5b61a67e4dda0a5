"""The client picks the plugin's API (v3 when offered, else v2) and reads v3's REST answers."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.nina_session.engine.client import (
    API_V2,
    API_V3,
    NinaApiError,
    NinaConnectionError,
)
from custom_components.nina_session.engine.wire import Foreign, parse_event_history
from custom_components.nina_session.engine.wire_v3 import WIRE_V3
from tests.engine.test_client import (
    Handler,
    ServerFactory,
    make_client,
    raw,
    reply,
    serve,  # noqa: F401  # the fixture
    unused_port,
)


def bare(payload: Any, status: int = 200) -> Handler:
    """Return a handler answering `payload` as v3 does: bare JSON, real HTTP status."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response(payload, status=status)

    return handler


async def test_v3_plugin_is_spoken_in_v3(
    session: aiohttp.ClientSession, serve: ServerFactory
) -> None:
    """Test that a plugin answering /v3/api/version is read through v3: version and socket."""
    port = await serve({"/v3/api/version": bare({"Version": "3.0.0.0"})})
    client = make_client(session, port)
    assert client.api == API_V2  # until asked
    assert await client.detect_api() == "3.0.0.0"
    assert (client.api, client.wire_format) == (API_V3, WIRE_V3)
    assert client.socket_url == f"ws://127.0.0.1:{port}/v3/ws/events"
    assert client.base_url == f"http://127.0.0.1:{port}/v3/api"
    assert await client.version() == "3.0.0.0"


@pytest.mark.parametrize(
    "v3_answer",
    [
        None,  # no route: aiohttp's text 404
        bare({"Error": "Not Found", "Message": "no such route"}, status=404),
        raw("<html>404</html>", content_type="text/html", status=404),
        bare({"Version": "not a version"}),
    ],
)
async def test_v2_plugin_falls_back_to_v2(
    session: aiohttp.ClientSession, serve: ServerFactory, v3_answer: Handler | None
) -> None:
    """Test that anything but a v3 version answer leaves the client on v2."""
    routes = {"/v2/api/version": reply("2.2.15.0")}
    if v3_answer is not None:
        routes["/v3/api/version"] = v3_answer
    port = await serve(routes)
    client = make_client(session, port)
    assert await client.detect_api() == "2.2.15.0"
    assert (client.api, client.wire_format) == (API_V2, None)
    assert client.socket_url == f"ws://127.0.0.1:{port}/v2/socket"


async def test_detection_is_redone_per_connection(
    session: aiohttp.ClientSession, serve: ServerFactory
) -> None:
    """Test that a plugin that no longer offers v3 (NINA restarted) is spoken to in v2 again."""
    offers_v3 = [True]

    async def v3_version(request: web.Request) -> web.StreamResponse:
        if offers_v3[0]:
            return web.json_response({"Version": "3.0.0.0"})
        raise web.HTTPNotFound

    port = await serve({"/v3/api/version": v3_version, "/v2/api/version": reply("2.2.15.0")})
    client = make_client(session, port)
    assert await client.detect_api() == "3.0.0.0"
    offers_v3[0] = False
    assert await client.detect_api() == "2.2.15.0"
    assert client.api == API_V2


async def test_unreachable_host_is_not_asked_twice(session: aiohttp.ClientSession) -> None:
    """Test that a refused v3 probe raises at once instead of falling back to v2."""
    with pytest.raises(NinaConnectionError, match="/v3/api/version"):
        await make_client(session, await unused_port()).detect_api()


async def test_v3_history_is_read_whole_and_tagged(
    session: aiohttp.ClientSession, serve: ServerFactory
) -> None:
    """Test that v3 history is read whole (page-size -1) and comes tagged for the pipeline.

    An empty image history (v3 answers 404) is no images; the count is of the events.
    """
    seen: list[dict[str, str]] = []
    events = [{"Event": "sequence-started", "Timestamp": "2026-11-24T18:00:00Z"}]

    async def event_list(request: web.Request) -> web.StreamResponse:
        seen.append(dict(request.query))
        return web.json_response(events)

    port = await serve(
        {
            "/v3/api/version": bare({"Version": "3.0.0.0"}),
            "/v3/api/events": event_list,
            "/v3/api/image/history": bare({"Error": "Not Found", "Message": "No images"}, 404),
            "/v3/api/time/application-start": bare({"Time": "2026-11-24T17:55:01.5+01:00"}),
        }
    )
    client = make_client(session, port)
    await client.detect_api()
    history = await client.read_history()
    assert seen == [{"page-size": "-1"}]
    events, images, length = history.parse()  # on the writer thread in the engine
    assert length == 1
    assert isinstance(events, Foreign) and isinstance(images, Foreign)
    wires, rejected = parse_event_history(events)
    assert ([w.name for w in wires], rejected) == (["SEQUENCE-STARTING"], 0)
    assert await client.application_start() == "2026-11-24T17:55:01.5+01:00"


async def test_v3_error_body_is_an_api_error(
    session: aiohttp.ClientSession, serve: ServerFactory
) -> None:
    """Test that v3's `{Error, Message}` with a real status raises the API error it says."""
    port = await serve(
        {
            "/v3/api/version": bare({"Version": "3.0.0.0"}),
            "/v3/api/events": bare({"Error": "Bad Request", "Message": "page-size"}, 400),
        }
    )
    client = make_client(session, port)
    await client.detect_api()
    history = await client.read_history()  # read whole; its answer is checked as it is parsed
    with pytest.raises(NinaApiError) as caught:
        history.parse()
    assert (caught.value.status_code, caught.value.error) == (400, "page-size")


async def test_v2_history_read_is_unchanged(
    session: aiohttp.ClientSession, serve: ServerFactory
) -> None:
    """Test that on v2 the events and image records come parsed item by item."""
    events = [{"Event": "SEQUENCE-STARTING", "Time": "2026-11-24T19:02:11+01:00"}]
    port = await serve(
        {
            "/v2/api/version": reply("2.2.15.0"),
            "/v2/api/event-history": reply(events),
            "/v2/api/image-history": reply([{"Filename": "a.fits"}]),
        }
    )
    client = make_client(session, port)
    await client.detect_api()
    parsed_events, images, length = (await client.read_history()).parse()
    assert length == 1
    assert images.items == [{"Filename": "a.fits"}]
    assert parse_event_history(parsed_events) == parse_event_history(events)
    assert json.dumps(images.items)  # plain JSON, nothing tagged
