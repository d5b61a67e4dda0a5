"""The Livestack plugin as the Advanced API plugin exposes it: stacks, their PNGs, STACK-UPDATED.

Routes as in the plugin (ninaAPI 2.2.15, `LiveStack.cs`): `/livestack/image/available` lists
`{Target, Filter}` of every stack; `/livestack/image/{target}/{filter}?stream=true` streams
the stack's PNG, and answers an error envelope (HTTP 200) when there is no such stack. With
no Livestack plugin installed the plugin's history is missing and every read fails the same
way (`installed=False`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, tzinfo
import struct
import zlib

from aiohttp import web

from simulator.events import JsonDict, SimEvent

Emit = Callable[[SimEvent], Awaitable[None]]
Reply = Callable[[JsonDict], web.Response]


def _png(width: int, height: int, grey: int) -> bytes:
    """Return a valid grey PNG (8-bit), built by hand so the simulator needs no imaging lib."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes([grey]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


class SimLivestack:
    """Stacks per (target, filter); every update draws a new shade, so each picture differs."""

    def __init__(self, emit: Emit, reply: Reply, tz: tzinfo) -> None:
        """Emit STACK-UPDATED through `emit`; answer REST through `reply` (the server's)."""
        self._emit = emit
        self._reply = reply
        self.clock: Callable[[], datetime] = lambda: datetime.now(tz)
        #: False: NINA runs without the Livestack plugin.
        self.installed = True
        #: Frames stacked per (target, filter).
        self.stacks: dict[tuple[str, str], int] = {}
        #: The update (counted over all stacks) that last changed each stack.
        self._drawn: dict[tuple[str, str], int] = {}

    def routes(self) -> list[web.RouteDef]:
        """Return the v2 livestack routes and the `/sim/livestack` control."""
        return [
            web.get("/v2/api/livestack/image/available", self._available),
            web.get("/v2/api/livestack/image/{target}/{filter}", self._image),
            web.post("/sim/livestack", self._sim),
        ]

    def picture(self, target: str, filter_name: str) -> bytes:
        """Return the PNG served for a stack now."""
        return _png(8, 8, (40 + 23 * self._drawn[(target, filter_name)]) % 256)

    async def stack(self, target: str, filter_name: str) -> None:
        """Add a frame to a mono stack and send STACK-UPDATED as the plugin does."""
        count = self.stacks.get((target, filter_name), 0) + 1
        self.stacks[(target, filter_name)] = count
        self._drawn[(target, filter_name)] = sum(self.stacks.values())
        data: JsonDict = {
            "Filter": filter_name,
            "Target": target,
            "IsMonochrome": True,
            "StackCount": count,
        }
        await self._emit(SimEvent(self.clock(), "STACK-UPDATED", data))

    async def _available(self, request: web.Request) -> web.Response:
        if not self.installed:
            return self._reply(_unknown_error())
        items = [{"Filter": f, "Target": t} for t, f in self.stacks]
        return self._reply(
            {"Response": items, "Error": "", "StatusCode": 200, "Success": True, "Type": "API"}
        )

    async def _image(self, request: web.Request) -> web.Response:
        key = (request.match_info["target"], request.match_info["filter"])
        if not self.installed:
            return self._reply(_unknown_error())
        if key not in self.stacks:
            return self._reply(
                {
                    "Response": "",
                    "Error": "No image with specified filter and target found",
                    "StatusCode": 404,
                    "Success": False,
                    "Type": "API",
                }
            )
        return web.Response(body=self.picture(*key), content_type="image/png")

    async def _sim(self, request: web.Request) -> web.Response:
        """Drive it from a shell: target=..&filter=.. adds a frame; installed=0|1."""
        query = request.query
        if "installed" in query:
            self.installed = query["installed"] != "0"
        if "target" in query:
            await self.stack(query["target"], query.get("filter", "L"))
        return web.json_response({"stacks": len(self.stacks), "installed": self.installed})


def _unknown_error() -> JsonDict:
    # The plugin's LiveStackHistory is null without the Livestack plugin: a caught exception.
    return {
        "Response": "",
        "Error": "Unknown error",
        "StatusCode": 500,
        "Success": False,
        "Type": "API",
    }
