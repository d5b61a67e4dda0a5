"""An aiohttp server that behaves like the N.I.N.A. Advanced API plugin (API v2).

With `api="v3"` it is the unreleased plugin v3 instead, and only that (`simulator/v3.py`):
`/v3/ws/events` and the `/v3/api` reads the integration makes. The v2 description follows.
`GET /v2/socket` pushes events, `/v2/api/...` answers REST in the plugin's envelope (HTTP 200
even for errors), `/sim/...` drives faults from a shell or a demo. Everything a test needs is
also a method: `emit`, `play`, `drop_sockets`, `restart`, `go_silent`, `send_raw`, ...
Binds only the given host (127.0.0.1 by default).
"""

from __future__ import annotations

import asyncio
import base64
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
import json
import logging
from typing import Any, Self
from zoneinfo import ZoneInfo

from aiohttp import WSMsgType, web

from simulator import v3
from simulator.equipment import SimEquipment
from simulator.events import JsonDict, SimEvent
from simulator.livestack import SimLivestack
from simulator.night import Night
from simulator.truth import truth_from_events
from simulator.wire import WireRenderer, WireShape, image_record, naive_utc_time, net_time, to_rest

_LOGGER = logging.getLogger(__name__)

# A 16x16 grey baseline JPEG with a diagonal line: every thumbnail is this picture.
THUMBNAIL_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4"
    "UG1RV19iZ2hnPk1xeXBkeFxlZ2P/wAALCAAQABABAREA/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QA"
    "tRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0"
    "NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2"
    "t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/9oACAEBAAA/AOe/4/8A/r7/APR3/wBn/wCh"
    "f733qlFW/wDj/wD+vv8A9Hf/AGf/AKF/vfe//9k="
)

INDEX_OUT_OF_RANGE = ("Index out of range", 400)
UNKNOWN_ERROR = ("Unknown error", 500)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def envelope(response: Any) -> JsonDict:
    """Wrap a successful REST answer in the plugin's envelope."""
    return {"Response": response, "Error": "", "StatusCode": 200, "Success": True, "Type": "API"}


def error_envelope(message: str, code: int) -> JsonDict:
    """Return a failed REST answer: the HTTP status stays 200, the code lives in the body."""
    return {"Response": "", "Error": message, "StatusCode": code, "Success": False, "Type": "API"}


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(eq=False)
class _Peer:
    ws: web.WebSocketResponse
    request: web.Request
    silent: bool = False


@dataclass
class _State:
    """Sequencer state, followed from the emitted events (the equipment's: `SimEquipment`)."""

    sequence: str = "CREATED"  # CREATED, RUNNING, FINISHED
    target: str | None = None


class NinaSimulator:
    """A fake NINA + Advanced API plugin. `await start()`, then drive it; `await stop()`."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        plugin_version: str = "2.2.9.0",
        *,
        nina_version: str = "3.1.2.9001",
        tz: str = "Europe/Berlin",
        wire: WireShape | None = None,
        api: str = "v2",
    ) -> None:
        """Set up a simulator for `host:port` (0: any free port); `start()` binds it.

        wire: how v2 history, REST and socket frames are written (default: the plain shapes).
        api: "v2" (the released plugin) or "v3" (plugin v3 only, no v2 routes at all).
        """
        self.api = api
        self._v3 = v3.RENDERINGS["v3"] if api == "v3" else None
        self.host = host
        self._port = port
        self.plugin_version = plugin_version
        self.nina_version = nina_version
        self.tz: tzinfo = ZoneInfo(tz)
        self.application_start = datetime.now(self.tz) - timedelta(minutes=5)
        self.history: list[JsonDict] = []  # /event-history, oldest first
        self.images: list[JsonDict] = []  # /image-history
        self.emitted: list[SimEvent] = []  # ground truth: everything emitted, all epochs
        self.client_messages: list[str] = []  # text frames sent by clients
        self.connections_accepted = 0
        self.pings_received = 0
        self.epoch = 0  # bumped by every restart()
        self._state = _State()
        # Equipment readings, control calls and their events (simulator/equipment.py).
        self.equipment = SimEquipment(self.emit, self._reply, self.tz)
        self.livestack = SimLivestack(self.emit, self._reply, self.tz)
        #: REST reads per path and query, to measure what a client downloads (e.g. a cache).
        self.hits: Counter[str] = Counter()
        self.equipment.sequence_running = lambda: self._state.sequence == "RUNNING"
        self._peers: set[_Peer] = set()
        self._peers_changed = asyncio.Condition()
        self._silent_new = False
        self._refuse = False
        self._delay = 0.0
        self._duplicate_left = 0
        self._reorder_left = 0
        self._lose_left = 0
        self._held: list[str] = []
        self._history_body: bytes | None = None
        self._history_endless = False
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._render = WireRenderer(wire)

    @property
    def wire(self) -> WireShape:
        """Return the wire shape events are rendered in."""
        return self._render.shape

    def set_wire(self, shape: WireShape) -> None:
        """Render events emitted from now on (and REST answers) in `shape`."""
        self._render = WireRenderer(shape)

    # ------------------------------------------------------------------ lifecycle
    @property
    def port(self) -> int:
        """Return the bound port (the free one picked when 0 was asked)."""
        return self._port

    @property
    def base_url(self) -> str:
        """`http://host:port` (REST lives under `/v2/api`)."""
        return f"http://{self.host}:{self._port}"

    @property
    def api_url(self) -> str:
        """Return the REST base URL, `http://host:port/v2/api` (or `/v3/api`)."""
        return f"{self.base_url}/{self.api}/api"

    @property
    def socket_url(self) -> str:
        """Return the event socket's URL, `ws://host:port/v2/socket` (or `/v3/ws/events`)."""
        path = "/v3/ws/events" if self.api == "v3" else "/v2/socket"
        return f"ws://{self.host}:{self._port}{path}"

    @property
    def online(self) -> bool:
        """Return whether the port is open (not `set_offline`)."""
        return self._server is not None

    async def start(self) -> None:
        """Start serving the plugin's API and the `/sim` controls on the port."""
        app = web.Application(middlewares=[self._delay_middleware])
        if self.api == "v3":
            app.add_routes([web.get("/v3/ws/events", self._socket), *v3.routes(self)])
        else:
            app.add_routes(
                [
                    web.get("/v2/socket", self._socket),
                    web.get("/v2/api/version", self._version),
                    web.get("/v2/api/version/nina", self._nina_version),
                    web.get("/v2/api/application-start", self._application_start),
                    web.get("/v2/api/event-history", self._event_history),
                    web.get("/v2/api/image-history", self._image_history),
                    web.get("/v2/api/image/thumbnail/{index}", self._thumbnail),
                    web.get("/v2/api/sequence/state", self._sequence_state),
                    *self.equipment.routes(),
                    *self.livestack.routes(),
                ]
            )
        app.add_routes(
            [
                web.post("/sim/drop", self._sim_drop),
                web.post("/sim/restart", self._sim_restart),
                web.post("/sim/silent", self._sim_silent),
                web.post("/sim/refuse", self._sim_refuse),
                web.post("/sim/delay", self._sim_delay),
                web.post("/sim/raw", self._sim_raw),
                web.post("/sim/version", self._sim_version),
                web.get("/sim/truth", self._sim_truth),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await self._listen()

    async def stop(self) -> None:
        """Stop serving: cancel control tasks, cut every socket, close the port."""
        for task in list(self._tasks):
            task.cancel()
        await self.drop_sockets(abrupt=True)
        await self._unlisten()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        """Start the simulator."""
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop the simulator."""
        await self.stop()

    async def _listen(self) -> None:
        assert self._runner is not None
        assert self._runner.server is not None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._runner.server, self.host, self._port, reuse_address=True
        )
        self._port = self._server.sockets[0].getsockname()[1]

    async def _unlisten(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            server.abort_clients()

    async def set_offline(self, on: bool) -> None:
        """NINA not running: the port is closed (connection refused), every connection is cut.

        Back online, the simulator listens on the same port again.
        """
        if on and self.online:
            self._peers.clear()
            await self._unlisten()
        elif not on and not self.online:
            await self._listen()

    # ------------------------------------------------------------------ events
    async def emit(self, ev: SimEvent) -> None:
        """Record the event as NINA would (history, image history) and push it to every socket."""
        self.emitted.append(ev)
        self._follow(ev)
        stats = ev.data.get("ImageStatistics")
        if ev.name == "IMAGE-SAVE" and isinstance(stats, dict) and ev.in_image_history:
            self.images.append(self._v3.image_record(ev) if self._v3 else image_record(ev))
        # v3 renders its own shapes; v2 follows the wire options (placeholders, key order...).
        item = self._v3.history_item(ev) if self._v3 else self._render.history_item(ev)
        if item is not None:  # None: this API does not store the event
            self.history.append(item)
        text = self._v3.socket_text(ev) if self._v3 else self._render.socket_text(ev)
        if text is not None:  # None: this API does not send it at all
            await self._send(text)

    async def play(
        self,
        events: Night | Iterable[SimEvent],
        speed: float = 60.0,
        *,
        rebase: bool = True,
        follow_epochs: bool = True,
    ) -> None:
        """Replay events in (simulated time / speed); speed 0 plays as fast as possible.

        rebase: move the night to now, so history times and image dates agree with the arrival
        times a client stamps (times between events shrink by `speed`); event data such as
        ExposureTime is untouched. follow_epochs: where the epoch goes up, NINA crashes (offline
        for part of the gap) and restarts with empty history before the next event, its
        application-start taken from `Night.application_starts` when a Night is given. A Night
        whose spec names a wire shape is rendered in it (the server keeps it afterwards).
        """
        starts = events.application_starts if isinstance(events, Night) else []
        if isinstance(events, Night) and events.spec.wire is not None:
            self.set_wire(events.spec.wire)
        evs = list(events.events if isinstance(events, Night) else events)
        if not evs:
            return
        loop = asyncio.get_running_loop()
        mono0 = loop.time()
        zone = evs[0].time.tzinfo or UTC
        sim0 = evs[0].time.astimezone(UTC)  # all arithmetic in UTC: exact across DST
        wall0 = last_wall = datetime.now(UTC)

        def mapped(t: datetime) -> datetime:
            if not rebase:
                return t
            if speed > 0:
                return (wall0 + (t.astimezone(UTC) - sim0) / speed).astimezone(zone)
            return datetime.now(zone)

        async def until(t: datetime) -> None:
            if speed <= 0:
                await asyncio.sleep(0)
                return
            delay = mono0 + (t.astimezone(UTC) - sim0).total_seconds() / speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)

        prev = evs[0]
        for ev in evs:
            if follow_epochs and ev.epoch > prev.epoch:
                gap = ev.time.astimezone(UTC) - prev.time.astimezone(UTC)
                await until(prev.time.astimezone(UTC) + gap * 0.4)
                await self.set_offline(True)
                up = starts[ev.epoch] if ev.epoch < len(starts) else ev.time - gap * 0.2
                await until(up)
                await self.restart(at=mapped(up))
            await until(ev.time)
            out = ev
            if rebase:
                now = mapped(ev.time)
                if now <= last_wall:
                    now = (last_wall + timedelta(microseconds=1)).astimezone(zone)
                last_wall = now
                out = rebased(ev, now, 1 / speed if speed > 0 else 1.0)
            await self.emit(out)
            prev = ev
        await self.flush()

    async def send_raw(self, text: str) -> None:
        """Send a frame as-is (garbage, huge, unknown) to every listening socket."""
        await self._broadcast(text)

    def duplicate_next(self, n: int) -> None:
        """Send each of the next n socket messages twice."""
        self._duplicate_left = n

    def lose_next(self, n: int) -> None:
        """Let the next `n` events reach NINA's history but never the socket (lost messages)."""
        self._lose_left = n

    def reorder_next(self, n: int) -> None:
        """Hold the next n socket messages and send them in reverse order (n=2: a swap)."""
        self._reorder_left = n

    async def flush(self) -> None:
        """Send messages still held by reorder_next (reversed)."""
        held, self._held, self._reorder_left = self._held, [], 0
        for text in reversed(held):
            await self._send_copies(text)

    async def _send(self, text: str) -> None:
        if self._lose_left > 0:
            self._lose_left -= 1
            return
        if self._reorder_left > 0:
            self._held.append(text)
            self._reorder_left -= 1
            if self._reorder_left == 0:
                await self.flush()
            return
        await self._send_copies(text)

    async def _send_copies(self, text: str) -> None:
        copies = 1
        if self._duplicate_left > 0:
            self._duplicate_left -= 1
            copies = 2
        for _ in range(copies):
            await self._broadcast(text)

    async def _broadcast(self, text: str) -> None:
        for peer in list(self._peers):
            if peer.silent or peer.ws.closed:
                continue
            try:
                await peer.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                self._peers.discard(peer)

    # ------------------------------------------------------------------ faults
    async def drop_sockets(self, *, abrupt: bool = False) -> None:
        """Close every socket: with a close frame, or (abrupt) by cutting the TCP connection."""
        peers, self._peers = list(self._peers), set()
        if abrupt:
            for peer in peers:
                if peer.request.transport is not None:
                    peer.request.transport.abort()
            return
        await asyncio.gather(
            *(peer.ws.close(code=1001, message=b"going away") for peer in peers),
            return_exceptions=True,
        )

    async def restart(
        self, clear_history: bool = True, *, at: datetime | None = None, downtime: float = 0.0
    ) -> None:
        """NINA restarts: sockets cut, history emptied, new application-start (`at` or now).

        downtime: seconds offline (port closed) before coming back.
        """
        await self.drop_sockets(abrupt=True)
        if downtime > 0:
            await self.set_offline(True)
            await asyncio.sleep(downtime)
        if clear_history:
            self.history.clear()
            self.images.clear()
        self._held.clear()
        self._reorder_left = self._duplicate_left = 0
        self.application_start = at or datetime.now(self.tz)
        self.epoch += 1
        self._state = _State()
        self.equipment.restart()
        await self.set_offline(False)

    def go_silent(self, on: bool, *, include_new: bool = False) -> None:
        """Half-open: open sockets get no more frames and no PONG for their PINGs.

        include_new: sockets accepted later are silent too (until go_silent(False)).
        """
        for peer in self._peers:
            peer.silent = on
        self._silent_new = on and include_new

    def serve_history(self, body: bytes | None = None, *, endless: bool = False) -> None:
        """Answer `/event-history` with `body` as it is, or one that never ends (`endless`).

        For broken histories: huge, not UTF-8, of any shape, never finished. Neither: the
        real history again.
        """
        self._history_body = body
        self._history_endless = endless

    def refuse_connections(self, on: bool) -> None:
        """Answer socket upgrades with HTTP 503."""
        self._refuse = on

    def set_delay(self, seconds: float) -> None:
        """Delay every /v2/api answer."""
        self._delay = max(0.0, seconds)

    def set_plugin_version(self, version: str) -> None:
        """Change the version `/v2/api/version` reports."""
        self.plugin_version = version

    @property
    def open_sockets(self) -> int:
        """Return the number of event sockets still open."""
        return sum(1 for peer in self._peers if not peer.ws.closed)

    async def wait_for_sockets(self, n: int = 1) -> None:
        """Wait until n sockets are open (bound it with `asyncio.timeout`).

        A client's connect may return before the server has registered the socket; frames
        emitted in between would not reach it.
        """
        async with self._peers_changed:
            await self._peers_changed.wait_for(lambda: self.open_sockets >= n)

    # ------------------------------------------------------------------ state
    def _follow(self, ev: SimEvent) -> None:
        st, name, data = self._state, ev.name, ev.data
        self.equipment.follow(ev)
        if name == "SEQUENCE-STARTING":
            st.sequence = "RUNNING"
        elif name == "SEQUENCE-FINISHED":
            st.sequence = "FINISHED"
        elif name in {"TS-TARGETSTART", "TS-NEWTARGETSTART"}:
            st.target = data.get("TargetName")
            st.sequence = "RUNNING"  # Target Scheduler nights may never send SEQUENCE-STARTING
        elif name == "IMAGE-SAVE" and isinstance(data.get("ImageStatistics"), dict):
            if data["ImageStatistics"].get("TargetName"):
                st.target = data["ImageStatistics"]["TargetName"]

    # ------------------------------------------------------------------ HTTP handlers
    def _reply(self, payload: JsonDict) -> web.Response:
        # As NINA's Newtonsoft writes it: letters as they are, in UTF-8 ("Jürgen", not "\u00fc").
        text = json.dumps(self._render.rest(payload), allow_nan=False, ensure_ascii=False)
        return web.Response(text=text, content_type="application/json")

    @web.middleware
    async def _delay_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(("/v2/api", "/v3/api")):
            self.hits[request.path_qs] += 1
        if self._delay > 0 and request.path.startswith(("/v2/api", "/v3/api")):
            await asyncio.sleep(self._delay)
        return await handler(request)

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        if self._refuse:
            return web.Response(status=503, text="Service Unavailable")
        ws = web.WebSocketResponse(autoping=False, timeout=2.0, max_msg_size=0)
        await ws.prepare(request)
        peer = _Peer(ws, request, silent=self._silent_new)
        self._peers.add(peer)
        self.connections_accepted += 1
        async with self._peers_changed:
            self._peers_changed.notify_all()
        try:
            async for msg in ws:
                if msg.type is WSMsgType.PING:
                    self.pings_received += 1
                    if not peer.silent:
                        await ws.pong(msg.data)
                elif msg.type is WSMsgType.TEXT:
                    self.client_messages.append(msg.data)  # e.g. enable-consumer-events: inert
        finally:
            self._peers.discard(peer)
        return ws

    async def _version(self, request: web.Request) -> web.Response:
        return self._reply(envelope(self.plugin_version))

    async def _nina_version(self, request: web.Request) -> web.Response:
        return self._reply(envelope(self.nina_version))

    async def _application_start(self, request: web.Request) -> web.Response:
        return self._reply(envelope(net_time(self.application_start)))

    async def _event_history(self, request: web.Request) -> web.StreamResponse:
        if self._history_endless:
            return await self._endless_history(request)
        if self._history_body is not None:
            return web.Response(body=self._history_body, content_type="application/json")
        return self._reply(envelope(self.history))

    async def _endless_history(self, request: web.Request) -> web.StreamResponse:
        """Send a history that never ends: about 6 MB/s of items until the client gives up."""
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"Success":true,"Type":"API","Response":[')
        item = b'{"Event":"GUIDER-DITHER","Time":"2026-11-24T19:00:00+01:00"},' * 1000
        try:
            while True:
                await response.write(item)
                await asyncio.sleep(0.01)
        except (ConnectionError, RuntimeError):
            return response

    async def _image_history(self, request: web.Request) -> web.Response:
        images = self.images
        if "imageType" in request.query:
            wanted = request.query["imageType"]
            images = [r for r in images if r.get("ImageType") == wanted]
        if _flag(request, "count"):
            return self._reply(envelope(len(images)))
        if _flag(request, "all"):
            return self._reply(envelope(images))
        try:
            index = int(request.query.get("index", len(images) - 1))
        except ValueError:
            return self._reply(error_envelope(*UNKNOWN_ERROR))
        if not 0 <= index < len(images):
            return self._reply(error_envelope(*INDEX_OUT_OF_RANGE))
        return self._reply(envelope([images[index]]))

    async def _thumbnail(self, request: web.Request) -> web.Response:
        if not self.images:
            return self._reply(error_envelope("No thumbnails available", 400))
        images = self.images
        if "imageType" in request.query:
            images = [r for r in images if r.get("ImageType") == request.query["imageType"]]
        try:
            index = int(request.match_info["index"])
        except ValueError:
            return self._reply(error_envelope(*UNKNOWN_ERROR))
        if not 0 <= index < len(images):
            return self._reply(error_envelope(*UNKNOWN_ERROR))  # the plugin's ElementAt throws
        return web.Response(body=THUMBNAIL_JPEG, content_type="image/jpeg")

    async def _sequence_state(self, request: web.Request) -> web.Response:
        st = self._state
        running, finished = st.sequence == "RUNNING", st.sequence == "FINISHED"
        target_status = "RUNNING" if running else ("FINISHED" if finished else "CREATED")
        target = {
            "Name": f"{st.target or 'Target'}_Container",
            "Status": target_status,
            "Items": [],
            "Conditions": [],
            "Triggers": [],
        }
        areas = [
            ("Start", "FINISHED" if running or finished else "CREATED", []),
            ("Target Area", target_status, [target]),
            ("End", "FINISHED" if finished else "CREATED", []),
        ]
        payload: list[JsonDict] = [{"GlobalTriggers": []}]
        payload += [
            {"Name": f"{name}_Container", "Status": status, "Items": items, "Conditions": []}
            for name, status, items in areas
        ]
        return self._reply(envelope(payload))

    # ------------------------------------------------------------------ /sim control
    async def _sim_drop(self, request: web.Request) -> web.Response:
        await self.drop_sockets(abrupt=_flag(request, "abrupt"))
        return web.json_response({"ok": True, "open_sockets": self.open_sockets})

    async def _sim_restart(self, request: web.Request) -> web.Response:
        downtime = float(request.query.get("downtime", "0") or 0)
        clear = request.query.get("clear", "1") not in {"0", "false"}
        if downtime > 0:  # going offline cuts this very request: answer first
            self._spawn(self.restart(clear, downtime=downtime))
        else:
            await self.restart(clear)
        return web.json_response({"ok": True, "epoch": self.epoch + (downtime > 0)})

    async def _sim_silent(self, request: web.Request) -> web.Response:
        self.go_silent(_flag(request, "on"), include_new=_flag(request, "new"))
        return web.json_response({"ok": True})

    async def _sim_refuse(self, request: web.Request) -> web.Response:
        self.refuse_connections(_flag(request, "on"))
        return web.json_response({"ok": True})

    async def _sim_delay(self, request: web.Request) -> web.Response:
        self.set_delay(float(request.query.get("seconds", "0") or 0))
        return web.json_response({"ok": True})

    async def _sim_raw(self, request: web.Request) -> web.Response:
        await self.send_raw(await request.text())
        return web.json_response({"ok": True})

    async def _sim_version(self, request: web.Request) -> web.Response:
        self.set_plugin_version(request.query.get("v", self.plugin_version))
        return web.json_response({"ok": True, "version": self.plugin_version})

    async def _sim_truth(self, request: web.Request) -> web.Response:
        truth = truth_from_events(self.emitted)
        body = {
            "emitted": len(self.emitted),
            "epoch": self.epoch,
            "connections_accepted": self.connections_accepted,
            "open_sockets": self.open_sockets,
            "history": len(self.history),
            "images": len(self.images),
            "truth": {
                **asdict(truth),
                "frames_total": truth.frames_total,
                "integration_seconds": truth.integration_seconds,
            },
        }
        return web.json_response(to_rest(body))

    def _spawn(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await coro
            except Exception:
                _LOGGER.exception("simulator control task failed")

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


# Times inside TS event data, kept at their (scaled) distance from the event by `rebased`.
_TS_TIMES = {"TS-TARGETSTART": "TargetEndTime", "TS-NEWTARGETSTART": "TargetEndTime",
             "TS-WAITSTART": "WaitEndTime"}  # fmt: skip


def rebased(ev: SimEvent, when: datetime, scale: float) -> SimEvent:
    """Move the event to `when`; image Date and TS end times keep their (scaled) distance.

    A time without an offset (the scheduler's TargetEndTime) is UTC and stays written so.
    """
    zone = ev.time.tzinfo or UTC
    when = when.astimezone(zone)

    def shift(text: Any) -> Any:
        if not isinstance(text, str):
            return text
        try:
            stamp = datetime.fromisoformat(text)
        except ValueError:
            return text
        naive = stamp.tzinfo is None
        aware = stamp.replace(tzinfo=UTC) if naive else stamp
        moved = when.astimezone(UTC) + (aware - ev.time) * scale
        return naive_utc_time(moved) if naive else net_time(moved.astimezone(zone))

    data = ev.data
    if ev.name == "IMAGE-SAVE" and isinstance(data.get("ImageStatistics"), dict):
        stats = dict(data["ImageStatistics"])
        if "Date" in stats:
            stats["Date"] = shift(stats["Date"])
        data = {**data, "ImageStatistics": stats}
    elif ev.name in _TS_TIMES and _TS_TIMES[ev.name] in data:
        key = _TS_TIMES[ev.name]
        data = {**data, key: shift(data[key])}
    return replace(ev, time=when, data=data)
