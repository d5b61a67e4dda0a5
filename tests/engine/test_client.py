"""NinaClient against small aiohttp servers on 127.0.0.1: the protocol's edge cases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import json
import math
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.nina_session.engine.client import (
    MIN_PLUGIN_VERSION,
    NinaApiError,
    NinaClient,
    NinaConnectionError,
    NinaError,
    NinaNotPluginError,
    is_supported_plugin_version,
    parse_plugin_version,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ServerFactory = Callable[[dict[str, Handler]], Awaitable[int]]

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60 + b"\xff\xd9"


def envelope(response: Any, *, success: bool = True, error: str = "", status: int = 200) -> str:
    """Return `response` in the plugin's REST envelope, as JSON text."""
    return json.dumps(
        {
            "Response": response,
            "Error": error,
            "StatusCode": status,
            "Success": success,
            "Type": "API",
        }
    )


def reply(response: Any, **kwargs: Any) -> Handler:
    """Return a handler that answers with `response` in the REST envelope."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(text=envelope(response, **kwargs), content_type="application/json")

    return handler


def raw(body: str | bytes, content_type: str = "text/plain", status: int = 200) -> Handler:
    """Return a handler that answers with `body` as it is."""

    async def handler(request: web.Request) -> web.StreamResponse:
        data = body.encode() if isinstance(body, str) else body
        return web.Response(body=data, content_type=content_type, status=status)

    return handler


@pytest.fixture
async def serve() -> AsyncIterator[ServerFactory]:
    """Start an aiohttp app on 127.0.0.1 with GET routes {path: handler}; returns its port."""
    runners: list[web.AppRunner] = []

    async def start(routes: dict[str, Handler]) -> int:
        app = web.Application()
        for path, handler in routes.items():
            app.router.add_get(path, handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port: int = runner.addresses[0][1]
        return port

    yield start
    for runner in runners:
        await runner.cleanup()


async def unused_port() -> int:
    """Return a port on 127.0.0.1 that nobody listens on (a server's, after it stopped)."""
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port


def make_client(session: aiohttp.ClientSession, port: int, **kwargs: Any) -> NinaClient:
    """Return a client for 127.0.0.1:`port`, with a 2 s request timeout by default."""
    kwargs.setdefault("request_timeout", 2.0)
    return NinaClient(session, "127.0.0.1", port, **kwargs)


# ---- construction -------------------------------------------------------------------


async def test_urls(session: aiohttp.ClientSession) -> None:
    """Test the REST and socket URLs for the default port, TLS, and a host with spaces."""
    client = NinaClient(session, "nina.local")
    assert client.base_url == "http://nina.local:1888/v2/api"
    assert client.socket_url == "ws://nina.local:1888/v2/socket"
    client = NinaClient(session, " nina.local ", 1889, tls=True)
    assert client.base_url == "https://nina.local:1889/v2/api"
    assert client.socket_url == "wss://nina.local:1889/v2/socket"
    assert client.host == "nina.local"
    assert client.port == 1889


@pytest.mark.parametrize("host", ["::1", "[::1]", "0:0:0:0:0:0:0:1"])
async def test_ipv6_host(session: aiohttp.ClientSession, host: str) -> None:
    """Test that an IPv6 host, bare, bracketed or written out, becomes [::1] in the URL."""
    assert NinaClient(session, host).base_url == "http://[::1]:1888/v2/api"


@pytest.mark.parametrize(
    ("host", "words"),
    [
        ("http://nina.local", "scheme"),
        ("ws://nina.local:1888/v2/socket", "scheme"),
        ("nina.local/v2/api", "path"),
        ("nina.local?x=1", "path"),
        ("user@nina.local", "path"),
        ("nina.local:1888", "port"),
        ("", "empty"),
        ("   ", "empty"),
        ("nina local", "path"),
    ],
)
async def test_host_with_scheme_or_path_is_refused(
    session: aiohttp.ClientSession, host: str, words: str
) -> None:
    """Test that hosts with a scheme, path, user, port or space, or empty ones, are refused."""
    with pytest.raises(ValueError, match=words):
        NinaClient(session, host)


@pytest.mark.parametrize("port", [0, 65536, -1, True])
async def test_bad_port_is_refused(session: aiohttp.ClientSession, port: int) -> None:
    """Test that ports out of range, and a bool, are refused."""
    with pytest.raises(ValueError, match="port"):
        NinaClient(session, "nina.local", port)


# ---- versions -------------------------------------------------------------------------


def test_parse_plugin_version() -> None:
    """Test that dotted versions of 2 to 4 numbers parse and anything else is not the plugin."""
    assert parse_plugin_version("2.2.6.0") == (2, 2, 6, 0)
    assert parse_plugin_version(" 2.1 ") == (2, 1)
    for garbage in ["", "abc", "2", "2.x.0", "2.2.6.0.1", "<html>", None, 2.2, "v2.2.6"]:
        with pytest.raises(NinaNotPluginError):
            parse_plugin_version(garbage)


def test_supported_version() -> None:
    """Test that plugin versions from 2.0 on are supported and 1.x is not."""
    assert MIN_PLUGIN_VERSION == (2, 0, 0, 0)
    assert is_supported_plugin_version((2, 2, 6, 0))
    assert is_supported_plugin_version((2, 0))
    assert not is_supported_plugin_version((1, 0, 4, 2))


async def test_version(session: aiohttp.ClientSession, serve: ServerFactory) -> None:
    """Test that version() returns the plugin's version string."""
    port = await serve({"/v2/api/version": reply("2.2.6.0")})
    assert await make_client(session, port).version() == "2.2.6.0"


async def test_version_garbage_is_not_the_plugin(
    session: aiohttp.ClientSession, serve: ServerFactory
) -> None:
    """Test that a version answer that is not a string means it is not the plugin."""
    port = await serve({"/v2/api/version": reply({"Version": 2})})
    with pytest.raises(NinaNotPluginError):
        await make_client(session, port).version()


async def test_nina_version(session: aiohttp.ClientSession, serve: ServerFactory) -> None:
    """Test that nina_version() returns NINA's own version string."""
    port = await serve({"/v2/api/version/nina": reply("3.1.2.9001")})
    assert await make_client(session, port).nina_version() == "3.1.2.9001"


# ---- the envelope -----------------------------------------------------------------------


async def test_success_false_with_http_200_is_an_api_error(
    session: aiohttp.ClientSession, serve: ServerFactory
) -> None:
    """Test that Success false under HTTP 200 is an API error with the body's status and error."""
    port = await serve(
        {"/v2/api/sequence/state": reply("", success=False, error="No sequence", status=409)}
    )
    with pytest.raises(NinaApiError) as info:
        await make_client(session, port).sequence_state()
    assert info.value.status_code == 409
    assert info.value.error == "No sequence"


async def test_error_envelope_with_http_error_status_keeps_body_status(
    session: aiohttp.ClientSession, serve: ServerFactory
) -> None:
    """Test that an error envelope under HTTP 500 raises NinaApiError with status 500."""

    async def handler(request: web.Request) -> web.StreamResponse:
        body = envelope("", success=False, error="Unknown error", status=500)
        return web.Response(text=body, status=500, content_type="application/json")

    port = await serve({"/v2/api/equipment/info": handler})
    with pytest.raises(NinaApiError) as info:
        await make_client(session, port).equipment_info()
    assert info.value.status_code == 500


async def test_html_answer_is_not_the_plugin(
    session: aiohttp.ClientSession, serve: ServerFactory
) -> None:
    """Test that an HTML page, such as a router login, is not the plugin."""
    port = await serve(
        {"/v2/api/version": raw("<html><body>Router login</body></html>", "text/html")}
    )
    with pytest.raises(NinaNotPluginError, match="JSON"):
        await make_client(session, port).version()


@pytest.mark.parametrize(
    "body",
    [
        "not json at all",
        "[1, 2, 3]",
        '{"Response": "2.2.6.0"}',
        '{"Success": "yes", "Response": "2.2.6.0"}',
        '{"Success": true}',
        "null",
        "[" * 100_000,
    ],
)
async def test_wrong_shape_is_not_the_plugin(
    session: aiohttp.ClientSession, serve: ServerFactory, body: str
) -> None:
    """Test that non-JSON, non-envelope or too deeply nested bodies are not the plugin."""
    port = await serve({"/v2/api/event-history": raw(body, "application/json")})
    with pytest.raises(NinaNotPluginError):
        await make_client(session, port).event_history()


async def test_invalid_utf8_is_not_the_plugin(
    session: aiohttp.ClientSession, serve: ServerFactory
) -> None:
    """Test that a body that is not valid UTF-8 is not the plugin."""
    port = await serve({"/v2/api/version": raw(b"\xff\xfe\xfa", "application/json")})
    with pytest.raises(NinaNotPluginError):
        await make_client(session, port).version()


async def test_http_404_html_is_not_the_plugin(
    session: aiohttp.ClientSession, serve: ServerFactory
) -> None:
    """Test that a 404 from a server without the route is not the plugin."""
    port = await serve({})
    with pytest.raises(NinaNotPluginError):
        await make_client(session, port).version()


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_proxy_with_nina_down_is_a_connection_error(
    session: aiohttp.ClientSession, serve: ServerFactory, status: int
) -> None:
    """Test that a proxy's 502/503/504 is a connection error for REST, thumbnail and socket."""
    down = raw("<html>Bad Gateway</html>", "text/html", status=status)
    port = await serve(
        {"/v2/api/version": down, "/v2/api/image/thumbnail/0": down, "/v2/socket": down}
    )
    client = make_client(session, port)
    with pytest.raises(NinaConnectionError, match=str(status)):
        await client.version()
    with pytest.raises(NinaConnectionError, match=str(status)):
        await client.thumbnail(0)
    with pytest.raises(NinaConnectionError, match=str(status)):
        await client.connect_socket(heartbeat=5.0)


async def test_nan_tokens_are_accepted(
    session: aiohttp.ClientSession, serve: ServerFactory
) -> None:
    """Test that bare NaN tokens in a response are read as float NaN."""
    body = (
        '{"Response": [{"Temperature": NaN, "HFR": 2.1}], "Error": "", '
        '"StatusCode": 200, "Success": true, "Type": "API"}'
    )
    port = await serve({"/v2/api/image-history": raw(body, "application/json")})
    history = await make_client(session, port).image_history()
    assert math.isnan(history[0]["Temperature"])
    assert history[0]["HFR"] == 2.1


async def test_utf8_bom_is_accepted(session: aiohttp.ClientSession, serve: ServerFactory) -> None:
    """Test that a UTF-8 BOM before the JSON is accepted."""
    port = await serve(
        {"/v2/api/version": raw(b"\xef\xbb\xbf" + envelope("2.2.6.0").encode(), "text/json")}
    )
    assert await make_client(session, port).version() == "2.2.6.0"


# ---- endpoints ------------------------------------------------------------------------------


async def test_history_endpoints_and_parameters(
    session: aiohttp.ClientSession, serve: ServerFactory
) -> None:
    """Test the history, equipment and sequence endpoints and the image history `all` query."""
    seen: list[dict[str, str]] = []

    async def images(request: web.Request) -> web.StreamResponse:
        seen.append(dict(request.query))
        return web.Response(text=envelope([{"Filename": "a.fits"}]))

    events = [{"Event": "SEQUENCE-STARTING", "Time": "2026-11-24T19:02:11.1234567+01:00"}]
    port = await serve(
        {
            "/v2/api/event-history": reply(events),
            "/v2/api/image-history": images,
            "/v2/api/equipment/info": reply({"Camera": {"Connected": True}}),
            "/v2/api/sequence/state": reply([{"Name": "Start"}]),
        }
    )
    client = make_client(session, port)
    assert await client.event_history() == events
    assert await client.image_history() == [{"Filename": "a.fits"}]
    assert await client.image_history(all_images=False) == [{"Filename": "a.fits"}]
    assert seen == [{"all": "true"}, {}]
    assert await client.equipment_info() == {"Camera": {"Connected": True}}
    assert await client.sequence_state() == [{"Name": "Start"}]


async def test_application_start(session: aiohttp.ClientSession, serve: ServerFactory) -> None:
    """Test that application_start() returns NINA's start time text."""
    port = await serve({"/v2/api/application-start": reply("2026-11-24T17:55:01.5+01:00")})
    assert await make_client(session, port).application_start() == "2026-11-24T17:55:01.5+01:00"


async def test_application_start_missing_on_older_plugins(
    session: aiohttp.ClientSession, serve: ServerFactory
) -> None:
    """Test that application_start() is None on a 404, as an envelope or a bare page."""
    port_envelope = await serve(
        {"/v2/api/application-start": reply("", success=False, error="Not found", status=404)}
    )
    port_html = await serve({})
    assert await make_client(session, port_envelope).application_start() is None
    assert await make_client(session, port_html).application_start() is None


async def test_application_start_other_errors_raise(
    session: aiohttp.ClientSession, serve: ServerFactory
) -> None:
    """Test that application_start() raises NinaApiError for errors other than a 404."""
    port = await serve(
        {"/v2/api/application-start": reply("", success=False, error="boom", status=500)}
    )
    with pytest.raises(NinaApiError):
        await make_client(session, port).application_start()


async def test_thumbnail(session: aiohttp.ClientSession, serve: ServerFactory) -> None:
    """Test that thumbnail() returns JPEG bytes, None when missing, and refuses a negative index."""
    port = await serve(
        {
            "/v2/api/image/thumbnail/0": raw(JPEG, "image/jpeg"),
            "/v2/api/image/thumbnail/1": reply(
                "", success=False, error="No thumbnails available", status=400
            ),
        }
    )
    client = make_client(session, port)
    assert await client.thumbnail(0) == JPEG
    assert await client.thumbnail(1) is None
    assert await client.thumbnail(2) is None  # no such route: a 404
    with pytest.raises(ValueError, match="index"):
        await client.thumbnail(-1)


async def test_thumbnail_html_is_not_the_plugin(
    session: aiohttp.ClientSession, serve: ServerFactory
) -> None:
    """Test that an HTML answer for a thumbnail is not the plugin."""
    port = await serve({"/v2/api/image/thumbnail/0": raw("<html></html>", "text/html")})
    with pytest.raises(NinaNotPluginError):
        await make_client(session, port).thumbnail(0)


# ---- limits, redirects, transport failures --------------------------------------------------


async def test_body_over_the_limit_is_refused(
    session: aiohttp.ClientSession, serve: ServerFactory
) -> None:
    """Test that bodies over max_body_size are refused, with or without Content-Length."""
    big = envelope(["x" * 100] * 50)

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(10):
            await response.write(b" " * 500)
        await response.write(envelope("2.2.6.0").encode())
        await response.write_eof()
        return response

    port = await serve({"/v2/api/event-history": raw(big), "/v2/api/version": chunked})
    client = make_client(session, port, max_body_size=1024)
    with pytest.raises(NinaNotPluginError, match="limit"):
        await client.event_history()
    with pytest.raises(NinaNotPluginError, match="limit"):
        await client.version()  # no Content-Length: counted while reading


async def test_redirect_to_another_host_is_not_followed(
    session: aiohttp.ClientSession, serve: ServerFactory
) -> None:
    """Test that a redirect to another host is refused without requesting it."""
    hits: list[str] = []

    async def elsewhere(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        return web.Response(text=envelope("2.2.6.0"))

    other = await serve({"/v2/api/version": elsewhere})

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"http://localhost:{other}/v2/api/version")

    port = await serve({"/v2/api/version": redirect})
    with pytest.raises(NinaNotPluginError, match="redirect"):
        await make_client(session, port).version()
    assert hits == []


async def test_refused_connection(session: aiohttp.ClientSession) -> None:
    """Test that a refused connection raises NinaConnectionError."""
    with pytest.raises(NinaConnectionError):
        await make_client(session, await unused_port()).version()


async def test_timeout_is_a_connection_error(
    session: aiohttp.ClientSession, serve: ServerFactory
) -> None:
    """Test that a server slower than request_timeout raises NinaConnectionError."""
    release = asyncio.Event()

    async def stuck(request: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.Response(text=envelope("2.2.6.0"))

    port = await serve({"/v2/api/version": stuck})
    try:
        with pytest.raises(NinaConnectionError, match="within"):
            await make_client(session, port, request_timeout=0.2).version()
    finally:
        release.set()


async def test_dns_failure_is_a_connection_error(session: aiohttp.ClientSession) -> None:
    """Test that a host that does not resolve raises NinaConnectionError."""
    client = NinaClient(session, "nina.invalid", request_timeout=2.0)
    with pytest.raises(NinaConnectionError):
        await client.version()


async def test_non_http_answer_is_not_the_plugin(session: aiohttp.ClientSession) -> None:
    """Test that a server answering with an SSH banner instead of HTTP is not the plugin."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(NinaNotPluginError):
            await make_client(session, port).version()
    finally:
        server.close()
        await server.wait_closed()


async def test_tls_against_plain_http_is_a_connection_error(
    session: aiohttp.ClientSession, serve: ServerFactory
) -> None:
    """Test that TLS against a plain HTTP server raises NinaConnectionError."""
    port = await serve({"/v2/api/version": reply("2.2.6.0")})
    client = make_client(session, port, tls=True, verify_tls=False)
    with pytest.raises(NinaConnectionError):
        await client.version()


def test_error_hierarchy() -> None:
    """Test that all client errors derive from NinaError and API errors show status and text."""
    for cls in (NinaConnectionError, NinaNotPluginError, NinaApiError):
        assert issubclass(cls, NinaError)
    error = NinaApiError(409, "busy")
    assert "409" in str(error)
    assert "busy" in str(error)


# ---- the event socket ------------------------------------------------------------------------


def socket_handler(frames: list[str | bytes], *, autoping: bool = True) -> Handler:
    """Return a socket handler that sends `frames` and then reads until the client closes."""

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=autoping, max_msg_size=0)
        await ws.prepare(request)
        for frame in frames:
            if isinstance(frame, bytes):
                await ws.send_bytes(frame)
            else:
                await ws.send_str(frame)
        # Without autoping the pings arrive here and are never answered.
        async for _ in ws:
            pass
        await ws.close()
        return ws

    return handler


async def test_socket_receives_text_frames(
    session: aiohttp.ClientSession, serve: ServerFactory
) -> None:
    """Test that connect_socket() delivers the server's text frame unchanged."""
    frame = '{"Response": {"Event": "GUIDER-DITHER"}, "Success": true, "Type": "Socket"}'
    port = await serve({"/v2/socket": socket_handler([frame])})
    ws = await make_client(session, port).connect_socket(heartbeat=5.0)
    try:
        msg = await ws.receive()
        assert msg.type is aiohttp.WSMsgType.TEXT
        assert msg.data == frame
    finally:
        await ws.close()


async def test_socket_frame_over_the_limit_is_refused(
    session: aiohttp.ClientSession, serve: ServerFactory
) -> None:
    """Test that a socket frame over max_msg_size arrives as a MESSAGE_TOO_BIG error."""
    port = await serve({"/v2/socket": socket_handler(["x" * 5000, "small"])})
    ws = await make_client(session, port, max_msg_size=4096).connect_socket(heartbeat=5.0)
    try:
        msg = await ws.receive()
        assert msg.type is aiohttp.WSMsgType.ERROR
        assert isinstance(msg.data, aiohttp.WebSocketError)
        assert msg.data.code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    finally:
        await ws.close()


async def test_socket_half_open_is_detected_by_heartbeat(
    session: aiohttp.ClientSession, serve: ServerFactory
) -> None:
    """Test that a server that never answers pings gives a heartbeat timeout error."""
    port = await serve({"/v2/socket": socket_handler([], autoping=False)})
    ws = await make_client(session, port).connect_socket(heartbeat=0.2)
    try:
        msg = await ws.receive()
        assert msg.type is aiohttp.WSMsgType.ERROR
        assert isinstance(msg.data, aiohttp.ServerTimeoutError)
    finally:
        await ws.close()


async def test_socket_on_a_non_socket_path_is_not_the_plugin(
    session: aiohttp.ClientSession, serve: ServerFactory
) -> None:
    """Test that an HTML page where the socket should be fails the handshake as not the plugin."""
    port = await serve({"/v2/socket": raw("<html></html>", "text/html")})
    with pytest.raises(NinaNotPluginError, match="handshake"):
        await make_client(session, port).connect_socket(heartbeat=5.0)


async def test_socket_refused(session: aiohttp.ClientSession) -> None:
    """Test that a refused socket connection raises NinaConnectionError."""
    with pytest.raises(NinaConnectionError):
        await make_client(session, await unused_port()).connect_socket(heartbeat=5.0)
