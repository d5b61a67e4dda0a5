"""Engine-level security: no redirect is followed, TLS is verified, no credentials in hosts.

Real servers on 127.0.0.1 (plain aiohttp apps and the NINA simulator), a real TLS server with
a self-signed certificate made here. The HA views' authentication is tested elsewhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
import ipaddress
import json
import logging
from pathlib import Path
import re
import ssl
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
import pytest

from custom_components.nina_session.engine.client import (
    NinaClient,
    NinaConnectionError,
    NinaNotPluginError,
)
from custom_components.nina_session.engine.engine import EngineConfig, NinaEngine
from custom_components.nina_session.engine.pipeline import PipelineOptions
from simulator.night import preset_night
from simulator.server import NinaSimulator, envelope

OPTIONS = PipelineOptions("rig1", ZoneInfo("Europe/Berlin"), dedup_window=timedelta(seconds=0.15))
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Server:
    """A small aiohttp app on 127.0.0.1 that records every request it gets."""

    def __init__(self) -> None:
        """Initialize the server; it gets its port in `start`."""
        self.hits: list[str] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(
        self, routes: dict[str, Handler], ssl_context: ssl.SSLContext | None = None
    ) -> int:
        """Serve `routes` on a free port (TLS with `ssl_context`); return the port."""

        @web.middleware
        async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
            self.hits.append(request.path)
            return await handler(request)

        app = web.Application(middlewares=[record])
        for path, handler in routes.items():
            app.router.add_get(path, handler)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self.port

    async def stop(self) -> None:
        """Stop serving, if started."""
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def servers() -> AsyncIterator[Callable[[], Server]]:
    """Yield a factory of recording servers; stop them all after the test."""
    made: list[Server] = []

    def make() -> Server:
        made.append(Server())
        return made[-1]

    yield make
    for server in made:
        await server.stop()


def api(response: object) -> Handler:
    """Return a handler answering `response` in the plugin's JSON envelope."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(text=json.dumps(envelope(response)), content_type="application/json")

    return handler


async def socket_ok(request: web.Request) -> web.StreamResponse:
    """Accept a WebSocket and read it until the client closes it."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for _ in ws:
        pass
    return ws


def nina_routes() -> dict[str, Handler]:
    """Return the routes of a minimal NINA plugin with an empty history."""
    return {
        "/v2/api/version": api("2.2.9.0"),
        "/v2/api/event-history": api([]),
        "/v2/api/image-history": api([]),
        "/v2/api/application-start": api("2026-11-24T18:00:00+01:00"),
        "/v2/socket": socket_ok,
    }


def engine_for(
    port: int, db: Path, session: aiohttp.ClientSession, **changes: object
) -> NinaEngine:
    """Return an engine for a NINA on 127.0.0.1:`port`, with `changes` to its config."""
    config = EngineConfig(host="127.0.0.1", port=port, db_path=db, options=OPTIONS,
                          heartbeat=1.0, **changes)  # type: ignore[arg-type]  # fmt: skip
    return NinaEngine(config, session)


async def wait_for(check: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait until `check()` holds; raise TimeoutError after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


# --------------------------------------------------------------------------- redirects


@pytest.mark.parametrize("path", ["/v2/api/version", "/v2/api/event-history"])
async def test_the_engine_never_follows_a_rest_redirect_to_another_host(
    path: str, servers: Callable[[], Server], session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Test that the engine never follows a REST redirect to another host and keeps retrying.

    A redirected `/version` fails the connection; a redirected history fails that read only
    (the live socket stays up, the read is retried).
    """
    other = servers()
    await other.start(nina_routes())

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"http://localhost:{other.port}{request.path_qs}")

    nina = servers()
    routes = {**nina_routes(), path: redirect}
    port = await nina.start(routes)
    engine = engine_for(port, tmp_path / "redirect.db", session, history_retry=0.1)
    history = path.endswith("event-history")

    def error() -> str:
        health = engine.health
        return (health.history.last_error if history else health.last_error) or ""

    await engine.start()
    try:
        await wait_for(lambda: "redirect" in error())
        await wait_for(lambda: nina.hits.count(path) >= 2)  # it retried, never followed
        assert engine.health.connected is history
    finally:
        await engine.stop()
    assert other.hits == []


async def test_a_socket_redirect_to_another_host_never_reaches_it(
    servers: Callable[[], Server], session: aiohttp.ClientSession
) -> None:
    """Test that a WebSocket redirect is refused without contacting the other host."""
    other = servers()
    await other.start(nina_routes())

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"http://localhost:{other.port}/v2/socket")

    nina = servers()
    port = await nina.start({**nina_routes(), "/v2/socket": redirect})
    client = NinaClient(session, "127.0.0.1", port, request_timeout=5.0)
    with pytest.raises(NinaNotPluginError, match="redirect"):
        await client.connect_socket(heartbeat=1.0)
    assert other.hits == []


async def test_a_socket_redirect_is_refused_and_the_engine_stays_disconnected(
    servers: Callable[[], Server], session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Test that the engine refuses a WebSocket redirect and stays disconnected."""
    other = servers()
    await other.start(nina_routes())

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"http://localhost:{other.port}/v2/socket")

    nina = servers()
    port = await nina.start({**nina_routes(), "/v2/socket": redirect})
    engine = engine_for(port, tmp_path / "ws-redirect.db", session)
    await engine.start()
    try:
        await wait_for(lambda: nina.hits.count("/v2/socket") >= 2)
        assert engine.health.last_error is not None and "redirect" in engine.health.last_error
        assert not engine.health.connected
    finally:
        await engine.stop()
    assert "/v2/api/event-history" not in other.hits  # nothing was read from the other host


# --------------------------------------------------------------------------- TLS


def self_signed(folder: Path) -> ssl.SSLContext:
    """Return a server TLS context with a new self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nina.local")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


async def test_tls_is_verified_by_default(
    servers: Callable[[], Server], session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Test that the client verifies TLS certificates unless verification is turned off."""
    proxy = servers()  # a reverse proxy with a self-signed certificate, as users set up
    port = await proxy.start(nina_routes(), ssl_context=self_signed(tmp_path))
    verified = NinaClient(session, "127.0.0.1", port, tls=True, request_timeout=5.0)
    assert verified.base_url.startswith("https://")
    with pytest.raises(NinaConnectionError, match=r"TLS|certificate|SSL"):
        await verified.version()
    with pytest.raises(NinaConnectionError):
        await verified.connect_socket(heartbeat=1.0)
    # Only an explicit opt-out accepts the unknown certificate.
    trusting = NinaClient(session, "127.0.0.1", port, tls=True, verify_tls=False)
    assert await trusting.version() == "2.2.9.0"
    ws = await trusting.connect_socket(heartbeat=1.0)
    await ws.close()


async def test_an_engine_with_tls_verifies_by_default(
    servers: Callable[[], Server], session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Test that an engine with TLS refuses a self-signed certificate unless told not to verify."""
    assert EngineConfig("h", 1, tmp_path / "x.db", OPTIONS, tls=True).verify_tls is True
    proxy = servers()
    port = await proxy.start(nina_routes(), ssl_context=self_signed(tmp_path))
    engine = engine_for(port, tmp_path / "tls.db", session, tls=True)
    await engine.start()
    try:
        await wait_for(lambda: engine.health.consecutive_failures >= 2)
        assert not engine.health.connected
        assert "TLS" in (engine.health.last_error or "")
    finally:
        await engine.stop()
    trusting = engine_for(port, tmp_path / "tls-off.db", session, tls=True, verify_tls=False)
    await trusting.start()
    try:
        await wait_for(lambda: trusting.health.connected)
    finally:
        await trusting.stop()


# --------------------------------------------------------------------------- secrets


SECRET = "s3cr3t-Pa55"
CREDENTIAL_HOSTS = [
    f"user:{SECRET}@nina.local",
    f"http://user:{SECRET}@nina.local",
    f"http://user:{SECRET}@nina.local:1888/v2/api",
    f"user:{SECRET}@[::1]",
]


@pytest.mark.parametrize("host", CREDENTIAL_HOSTS)
async def test_a_host_with_credentials_is_refused(
    host: str, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Test that a host with user credentials is refused by the client and the engine."""
    with pytest.raises(ValueError):
        NinaClient(session, host)
    with pytest.raises(ValueError):
        NinaEngine(EngineConfig(host, 1888, tmp_path / "x.db", OPTIONS), session)


@pytest.mark.parametrize("host", CREDENTIAL_HOSTS)
async def test_the_refusal_does_not_repeat_the_password(
    host: str, session: aiohttp.ClientSession
) -> None:
    """Test that the error refusing a host with credentials does not contain the password."""
    with pytest.raises(ValueError) as caught:
        NinaClient(session, host)
    assert SECRET not in str(caught.value)


async def test_nothing_logged_during_a_faulty_night_carries_credentials_or_userinfo(
    sim: NinaSimulator, session: aiohttp.ClientSession, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """Test that no log line of a night with faults carries credentials or userinfo."""
    caplog.set_level(logging.DEBUG)
    engine = engine_for(sim.port, tmp_path / "logs.db", session)
    await engine.start()
    try:
        await wait_for(lambda: engine.health.connected)
        night = preset_night("simple")
        await sim.play(night.events[:20], speed=400.0)
        await sim.drop_sockets(abrupt=True)
        await sim.send_raw("garbage")
        await sim.play(night.events[20:], speed=400.0)
        await wait_for(lambda: engine.health.connected and engine.health.reconnects >= 1)
    finally:
        await engine.stop()
    lines = [record.getMessage() for record in caplog.records]
    assert lines, "the engine logged something"
    for line in lines:
        assert not re.search(r"://[^/\s]*@", line), line  # no user:password@ in a URL
        assert "password" not in line.lower() and "authorization" not in line.lower()
