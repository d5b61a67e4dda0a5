"""REST and WebSocket client for the NINA Advanced API plugin (API "v2", and "v3").

This is the only module that knows the plugin's URLs and its REST answers. v2 wraps every
answer in an envelope (`{"Response", "Error", "StatusCode", "Success", "Type"}`) whose HTTP
status line is 200 even for errors, so every answer's `Success` is checked. v3 (an unreleased
branch, christian-photo/ninaAPI `v3`) answers bare JSON with real HTTP status codes and
`{"Error", "Message"}` on failure. No redirect is ever followed: a 3xx answer means something
other than the plugin is listening.

`detect_api()` picks the API a connection speaks (v3 when the plugin offers it, else v2) and
the client then reads the event socket, version, application start and history through it.
The other reads (equipment, sequence, thumbnails) stay on v2, which plugin v3 still serves.
"""

from __future__ import annotations

import asyncio
import codecs
from collections.abc import Callable, Mapping
from dataclasses import dataclass
import ipaddress
import re
from typing import Any, Final
from urllib.parse import quote

import aiohttp

from . import wire_v3
from .history_prefix import KnownHistory, KnownPrefix, PrefixHash
from .jsonstream import STREAMED, OnItems, load_streaming, load_streaming_from
from .jsontext import load_json
from .wire import HistoryEvents, HistoryImages, WireFormat

DEFAULT_PORT: Final = 1888
DEFAULT_REQUEST_TIMEOUT: Final = 10.0
# REST bodies: event and image history grow all night; 64 MiB is far beyond a real one.
DEFAULT_MAX_BODY_SIZE: Final = 64 * 1024 * 1024
# Socket frames: one event is a few kB; aiohttp refuses a larger frame before we parse it.
DEFAULT_MAX_MSG_SIZE: Final = 4 * 1024 * 1024
MIN_PLUGIN_VERSION: Final[tuple[int, ...]] = (2, 0, 0, 0)

API_PATH: Final = "/v2/api"
SOCKET_PATH: Final = "/v2/socket"
API_V3_PATH: Final = "/v3/api"
SOCKET_V3_PATH: Final = "/v3/ws/events"

API_V2: Final = "v2"
API_V3: Final = "v3"
#: v3's pager: page-size -1 is the whole list (the default is 20, and page 0 is empty).
_V3_ALL: Final = {"page-size": "-1"}

#: JPEG (thumbnails) and PNG (livestack) signatures, for a server that omits the type.
_PICTURE_MAGIC: Final = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")
_VERSION_RE: Final = re.compile(r"\d{1,9}(?:\.\d{1,9}){1,3}")
_HOST_FORBIDDEN: Final = frozenset("/\\?#@ \t\r\n")
# A reverse proxy (the only way to get TLS) answers these when NINA behind it is down.
_GATEWAY_DOWN: Final = frozenset({502, 503, 504})


class NinaError(Exception):
    """Base of every error raised by the NINA client."""


class NinaConnectionError(NinaError):
    """NINA could not be reached: refused, timeout, DNS, TLS, connection lost."""


class NinaNotPluginError(NinaError):
    """Something answered, but not the Advanced API plugin (HTML, non-JSON, wrong shape)."""


class NinaTooLargeError(NinaNotPluginError):
    """An answer over the client's byte cap (`limit`): refused before it was parsed."""

    def __init__(self, message: str, limit: int) -> None:
        """Initialize the error with its message and the cap that was hit."""
        super().__init__(message)
        self.limit = limit


class NinaApiError(NinaError):
    """The plugin answered with `Success: false`; `status_code` is the one in the body."""

    def __init__(self, status_code: int, error: str) -> None:
        """Initialize the error with the body's status code and error text."""
        super().__init__(f"NINA API error {status_code}: {error}")
        self.status_code = status_code
        self.error = error


def parse_plugin_version(value: object) -> tuple[int, ...]:
    """`"2.2.6.0"` → `(2, 2, 6, 0)`; two to four numeric parts.

    Raises NinaNotPluginError for anything else: a `/version` that does not answer a
    version is not the plugin.
    """
    if not isinstance(value, str) or not _VERSION_RE.fullmatch(value.strip()):
        raise NinaNotPluginError(f"not a plugin version: {value!r}")
    return tuple(int(part) for part in value.strip().split("."))


def is_supported_plugin_version(version: tuple[int, ...]) -> bool:
    """Return whether `version` is at least MIN_PLUGIN_VERSION (missing parts count as 0)."""
    width = max(len(version), len(MIN_PLUGIN_VERSION))
    padded = version + (0,) * (width - len(version))
    minimum = MIN_PLUGIN_VERSION + (0,) * (width - len(MIN_PLUGIN_VERSION))
    return padded >= minimum


def _redacted(host: str) -> str:
    """Return the host as it may appear in a message: a `user:password@` part is hidden."""
    return re.sub(r"^(.*://)?[^/@]*@", lambda m: f"{m.group(1) or ''}***@", host)


def _validate_host(host: str) -> str:
    """Return the host as it goes into a URL (IPv6 in brackets); ValueError if not bare."""
    value = host.strip()
    host = _redacted(host)  # what error messages may repeat
    if not value:
        raise ValueError("host must not be empty")
    if "://" in value:
        raise ValueError(
            f"host {host!r} must be a bare host name or IP address, without a scheme "
            "such as 'http://'"
        )
    if any(char in _HOST_FORBIDDEN for char in value):
        raise ValueError(
            f"host {host!r} must be a bare host name or IP address, without a path, "
            "query, user or spaces"
        )
    bare = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    if ":" in bare:
        try:
            address = ipaddress.ip_address(bare)
        except ValueError:
            raise ValueError(
                f"host {host!r} must not include a port; give the port separately"
            ) from None
        return f"[{address.compressed}]"
    if "[" in bare or "]" in bare:
        raise ValueError(f"host {host!r} is not a valid host name or IP address")
    return bare


def _decode_text(chunks: list[bytes], url: str) -> str:
    """UTF-8 (with or without BOM) → text, a chunk at a time.

    One decode of tens of MB would hold the GIL (and so the event loop) for its whole run.
    """
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        parts = [decoder.decode(chunk) for chunk in chunks]
        parts.append(decoder.decode(b"", final=True))
    except UnicodeDecodeError:
        raise NinaNotPluginError(f"{url} answered with non-UTF-8 data") from None
    return "".join(parts)


def _decode_envelope(
    chunks: list[bytes],
    url: str,
    on_items: OnItems | None = None,
    *,
    start: tuple[int, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Parse a plugin envelope; NaN tokens are accepted as Newtonsoft writes them.

    With `on_items`, the items of a list `Response` go to it in runs as they are decoded
    (see `jsonstream`), and `Response` holds `STREAMED`; from byte `start[0]` on, with the
    members before `Response` given in `start[1]`, when that beginning is known.
    """
    try:
        if on_items is None:
            decoded = load_json(_decode_text(chunks, url))
        elif start is None:
            decoded = load_streaming(chunks, "Response", on_items)
        else:
            at, head = start
            decoded = load_streaming_from(chunks, at, head, "Response", on_items)
    except UnicodeDecodeError:
        raise NinaNotPluginError(f"{url} answered with non-UTF-8 data") from None
    except (ValueError, RecursionError):
        snippet = b"".join(chunks[:1])[:60].decode("utf-8", "replace").strip()
        raise NinaNotPluginError(f"{url} did not answer JSON: {snippet!r}") from None
    if (
        not isinstance(decoded, dict)
        or not isinstance(decoded.get("Success"), bool)
        or ("Response" not in decoded and "Error" not in decoded)
    ):
        raise NinaNotPluginError(f"{url} answered JSON that is not the plugin envelope")
    return decoded


def _api_error(envelope: dict[str, Any], http_status: int) -> NinaApiError:
    status = envelope.get("StatusCode")
    if not isinstance(status, int) or isinstance(status, bool):
        status = http_status
    error = envelope.get("Error")
    return NinaApiError(status, error if isinstance(error, str) and error else "unknown error")


class _Missing:
    """Marker for an endpoint the plugin does not have (older versions)."""


_MISSING: Final = _Missing()


def is_missing(payload: object) -> bool:
    """Return whether `payload(missing_ok=True)` found no such endpoint (an older plugin)."""
    return isinstance(payload, _Missing)


@dataclass(frozen=True, slots=True)
class RawAnswer:
    """A REST answer read but not parsed yet: `payload()` may run on another thread.

    Large answers (the event history grows all night, tens of MB) are parsed off the event
    loop this way; the body stays in the chunks it arrived in.
    """

    url: str
    status: int
    chunks: list[bytes]

    @property
    def size(self) -> int:
        """Return the body's size in bytes."""
        return sum(len(chunk) for chunk in self.chunks)

    def payload(
        self,
        *,
        missing_ok: bool = False,
    ) -> Any:
        """Return the envelope's `Response`, checking `Success`; NinaError when unusable.

        With `missing_ok`, an endpoint the plugin does not have gives `_MISSING`.
        """
        envelope = self._envelope(missing_ok, None, None)
        return envelope if isinstance(envelope, _Missing) else envelope.get("Response")

    def stream_items(
        self, on_items: OnItems, start: tuple[int, dict[str, Any]] | None
    ) -> tuple[Any, dict[str, Any]]:
        """Return the `Response` (`STREAMED` for a list) and the members before it.

        The items of a list `Response` go to `on_items(items, offsets)` in runs, with where
        each starts in the body (`jsonstream.load_streaming`). `start`: (byte offset, members
        before `Response`) of a beginning known to be the same as an answer read before:
        decoding starts there (`jsonstream.load_streaming_from`).
        """
        envelope = self._envelope(False, on_items, start)
        assert not isinstance(envelope, _Missing)
        head: dict[str, Any] = {}
        for name, value in envelope.items():
            if name == "Response":
                break
            head[name] = value
        return envelope.get("Response"), head

    def _envelope(
        self,
        missing_ok: bool,
        on_items: OnItems | None,
        start: tuple[int, dict[str, Any]] | None,
    ) -> dict[str, Any] | _Missing:
        head = next((chunk.lstrip() for chunk in self.chunks if chunk.strip()), b"")
        if not head.startswith(b"{"):
            if missing_ok and self.status == 404:
                return _MISSING
            if self.status in _GATEWAY_DOWN:
                raise NinaConnectionError(
                    f"{self.url} answered HTTP {self.status}: NINA is not reachable"
                )
        envelope = _decode_envelope(self.chunks, self.url, on_items, start=start)
        if not envelope["Success"]:
            error = _api_error(envelope, self.status)
            if missing_ok and error.status_code == 404:
                return _MISSING
            raise error
        return envelope

    def v3_payload(self, *, missing: Any = _MISSING) -> Any:
        """Return a v3 answer: bare JSON on 2xx, `{"Error", "Message"}` with the real status else.

        `missing` is returned for a 404 instead of raising.
        """
        url, status = self.url, self.status
        if status == 404 and not isinstance(missing, _Missing):
            return missing
        if status in _GATEWAY_DOWN:
            raise NinaConnectionError(f"{url} answered HTTP {status}: NINA is not reachable")
        try:
            decoded = load_json(b"".join(self.chunks).decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise NinaNotPluginError(f"{url} answered HTTP {status} without JSON") from None
        if 200 <= status < 300:
            return decoded
        if isinstance(decoded, dict) and ("Error" in decoded or "Message" in decoded):
            message = decoded.get("Message") or decoded.get("Error")
            raise NinaApiError(status, message if isinstance(message, str) else "unknown error")
        raise NinaNotPluginError(f"{url} answered HTTP {status} with JSON that is not v3's")


@dataclass(frozen=True, slots=True)
class HistoryRead:
    """NINA's event and image history as read in the connection's API, not parsed yet.

    `parse()` belongs on the writer thread: a night's history is tens of MB.
    """

    events: RawAnswer
    images: RawAnswer
    api: str

    @property
    def size(self) -> int:
        """Return the event history's size in bytes."""
        return self.events.size

    def parse(self, known: KnownHistory | None = None) -> tuple[Any, Any, int]:
        """Return the two arguments of `Pipeline.ingest_history` and how many events NINA holds.

        A shorter history than last time means NINA restarted. `known`: what the last read
        knew of each answer's first bytes (`Pipeline.known_history`); where they are still the
        same, the items in them are not decoded again (see `history_prefix`).
        """
        if self.api == API_V3:
            events = self.events.v3_payload()
            images = self.images.v3_payload(missing=[])  # no image yet: 404
            length = len(events) if isinstance(events, list) else 0
            tagged_events, tagged_images = wire_v3.history_inputs(events, images)
            return tagged_events, tagged_images, length
        # Decoded item by item, off the event loop's GIL for long (see `jsonstream`); events
        # are built only for the items the pipeline takes in (see `HistoryEvents`).
        known = known or KnownHistory()
        events = _streamed(self.events, HistoryEvents, known.events)
        images = _streamed(self.images, HistoryImages, known.images)
        if isinstance(events, HistoryEvents):
            return events, images, len(events)
        return events, images, 0


def _streamed(
    answer: RawAnswer,
    new: Callable[[], HistoryEvents | HistoryImages],
    known: KnownPrefix | None,
) -> Any:
    """Decode a history answer item by item (from where `known` ends, if its bytes are the same).

    Returns the list as decoded (`new()`), or the `Response` when it is no list.
    """
    prefix = PrefixHash(answer.chunks)
    start = (known.size, known.head) if known and prefix.same_start(known) else None
    prefix.hash_ahead()  # what the next read will know of it, hashed beside the decoding
    items = new()
    items.source.hash = prefix
    items.source.whole = lambda: _streamed(answer, new, None)
    payload, items.source.head = answer.stream_items(items.extend, start)
    if payload is not STREAMED:
        return payload
    if known is not None and start is not None:
        items.source.skipped = known.count
    return items


class NinaClient:
    """One NINA instance's REST API and event socket.

    `session` is the caller's (Home Assistant's shared one); the client never closes it.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        host: str,
        port: int = DEFAULT_PORT,
        *,
        tls: bool = False,
        verify_tls: bool = True,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        max_msg_size: int = DEFAULT_MAX_MSG_SIZE,
    ) -> None:
        """Initialize the client; a bad host, port, timeout or size limit raises ValueError."""
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"port must be an integer from 1 to 65535, not {port!r}")
        if request_timeout <= 0:
            raise ValueError("request_timeout must be positive")
        if max_body_size <= 0 or max_msg_size <= 0:
            raise ValueError("size limits must be positive")
        url_host = _validate_host(host)
        self._session = session
        self._host = host.strip()
        self._port = port
        self._request_timeout = request_timeout
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._max_body_size = max_body_size
        self._max_msg_size = max_msg_size
        # ssl=False turns verification off; True uses the default verifying context.
        self._ssl: bool = verify_tls or not tls
        http, ws = ("https", "wss") if tls else ("http", "ws")
        self._v2_url = f"{http}://{url_host}:{port}{API_PATH}"
        self._v3_url = f"{http}://{url_host}:{port}{API_V3_PATH}"
        self._sockets = {
            API_V2: f"{ws}://{url_host}:{port}{SOCKET_PATH}",
            API_V3: f"{ws}://{url_host}:{port}{SOCKET_V3_PATH}",
        }
        self._api: str = API_V2

    @property
    def host(self) -> str:
        """Return the host as given (without surrounding spaces)."""
        return self._host

    @property
    def port(self) -> int:
        """Return the port of the REST API and the event socket."""
        return self._port

    @property
    def base_url(self) -> str:
        """REST base of the API in use, e.g. `http://nina.local:1888/v2/api`."""
        return self._v3_url if self._api == API_V3 else self._v2_url

    @property
    def socket_url(self) -> str:
        """Event socket of the API in use, e.g. `ws://nina.local:1888/v2/socket`."""
        return self._sockets[self._api]

    @property
    def api(self) -> str:
        """Return the API this client speaks: `v2` until `detect_api()` found v3."""
        return self._api

    @property
    def wire_format(self) -> WireFormat | None:
        """Return the reader of this API's frames; None for v2, which `wire` reads natively."""
        return wire_v3.WIRE_V3 if self._api == API_V3 else None

    async def detect_api(self) -> str:
        """Choose the API the plugin offers (v3 first, else v2); return the plugin version.

        Call it on every (re)connect: NINA may have restarted with another plugin version.
        A host that cannot be reached raises at once instead of being asked twice.
        """
        try:
            version = await self._v3_version()
        except NinaConnectionError:
            raise
        except NinaError:
            self._api = API_V2
            return await self.version()
        self._api = API_V3
        return version

    @property
    def max_msg_size(self) -> int:
        """Return the largest socket frame accepted, in bytes."""
        return self._max_msg_size

    # ---- REST -------------------------------------------------------------------

    async def version(self) -> str:
        """Return the plugin version `A.B.C.D`: the cheap health probe and the plugin check."""
        if self._api == API_V3:
            return await self._v3_version()
        payload = await self._get("/version")
        parse_plugin_version(payload)
        assert isinstance(payload, str)
        return payload.strip()

    async def _v3_version(self) -> str:
        payload = await self._get_v3("/version")
        version = payload.get("Version") if isinstance(payload, dict) else None
        parse_plugin_version(version)
        assert isinstance(version, str)
        return version.strip()

    async def nina_version(self) -> str:
        """Return the version of NINA itself."""
        payload = await self._get("/version/nina")
        if not isinstance(payload, str):
            raise NinaNotPluginError("/version/nina did not answer a string")
        return payload

    async def application_start(self) -> str | None:
        """When the NINA process started (plugin ≥ 2.2.6); None on older plugins."""
        if self._api == API_V3:
            answer = await self._get_v3("/time/application-start")
            payload = answer.get("Time") if isinstance(answer, dict) else None
            if not isinstance(payload, str):
                raise NinaNotPluginError("/time/application-start did not answer a time")
            return payload
        payload = await self._get("/application-start", missing_ok=True)
        if isinstance(payload, _Missing):
            return None
        if not isinstance(payload, str):
            raise NinaNotPluginError("/application-start did not answer a string")
        return payload

    async def event_history(self) -> Any:
        """Every event since NINA started, oldest first (`Time` in NINA's local time)."""
        return (await self.event_history_raw()).payload()

    async def event_history_raw(self) -> RawAnswer:
        """Read `/event-history` without parsing it (parse it off the loop: `payload()`)."""
        return await self._get_raw(self._v2_url + "/event-history")

    async def image_history(self, all_images: bool = True) -> Any:
        """Image records in capture order; without `all_images` only the latest one."""
        return (await self.image_history_raw(all_images)).payload()

    async def image_history_raw(self, all_images: bool = True) -> RawAnswer:
        """Read `/image-history` without parsing it (parse it off the loop: `payload()`)."""
        params = {"all": "true"} if all_images else None
        return await self._get_raw(self._v2_url + "/image-history", params=params)

    async def image_count(self) -> int:
        """Return how many frames NINA's image history holds (the newest is this minus one)."""
        count = await self._get("/image-history", {"count": "true"})
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise NinaNotPluginError(f"/image-history?count=true answered {count!r}")
        return int(count)

    async def read_history(self) -> HistoryRead:
        """Read the event and image history in the API in use; `parse()` it off the loop."""
        if self._api == API_V3:
            events = await self._get_raw(self._v3_url + "/events", _V3_ALL)
            images = await self._get_raw(self._v3_url + "/image/history", _V3_ALL)
            return HistoryRead(events, images, API_V3)
        events = await self.event_history_raw()
        images = await self.image_history_raw()
        return HistoryRead(events, images, API_V2)

    async def equipment_info(self) -> Any:
        """Return the current state of all equipment."""
        return await self._get("/equipment/info")

    async def v2_get(self, path: str, params: Mapping[str, str] | None = None) -> RawAnswer:
        """GET any v2 endpoint (equipment reads, control calls); read it with `payload()`."""
        return await self._get_raw(self._v2_url + path, dict(params) if params else None)

    async def sequence_state(self) -> Any:
        """Return the current state of the advanced sequencer."""
        return await self._get("/sequence/state")

    async def thumbnail(self, index: int) -> bytes | None:
        """JPEG thumbnail of image `index`; None when the plugin has none for it."""
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValueError(f"index must be a non-negative integer, not {index!r}")
        return await self._picture(f"/image/thumbnail/{index}")

    async def livestack_image(self, target: str, filter_name: str) -> bytes | None:
        """PNG of the Livestack plugin's latest stack of `target` in `filter_name`.

        None when the plugin has no such stack, or no Livestack plugin answers (the plugin
        then says so in an error envelope).
        """
        path = f"/livestack/image/{quote(target, safe='')}/{quote(filter_name, safe='')}"
        return await self._picture(path, {"stream": "true"})

    async def livestack_available(self) -> list[tuple[str, str]]:
        """(target, filter) of every stack the Livestack plugin holds, oldest first."""
        items = await self._get("/livestack/image/available", missing_ok=True)
        if not isinstance(items, list):  # _MISSING: a plugin older than its livestack routes
            return []
        return [
            (item["Target"], item["Filter"])
            for item in items
            if isinstance(item, dict)
            and isinstance(item.get("Target"), str)
            and isinstance(item.get("Filter"), str)
        ]

    async def _picture(self, path: str, params: dict[str, str] | None = None) -> bytes | None:
        """GET a picture endpoint: its bytes, or None when the plugin has none to give.

        The plugin answers a missing picture with a JSON error envelope (HTTP 200).
        """
        status, content_type, body = await self._fetch(self._v2_url + path, params)
        if content_type.startswith("image/") or body.startswith(_PICTURE_MAGIC):
            return body or None
        if not body.lstrip().startswith(b"{"):
            if status == 404:
                return None  # a plugin without the endpoint
            if status in _GATEWAY_DOWN:
                raise NinaConnectionError(f"{path} answered HTTP {status}: NINA is not reachable")
        envelope = _decode_envelope([body], self._v2_url + path)
        if not envelope["Success"]:
            return None
        raise NinaNotPluginError(f"{path} answered JSON instead of an image")

    async def _get(
        self,
        path: str,
        params: dict[str, str] | None = None,
        *,
        missing_ok: bool = False,
    ) -> Any:
        """GET an endpoint and return the envelope's `Response`."""
        return (await self._get_raw(self._v2_url + path, params)).payload(missing_ok=missing_ok)

    async def _get_v3(
        self, path: str, params: dict[str, str] | None = None, *, missing: Any = _MISSING
    ) -> Any:
        """GET a v3 endpoint and return its JSON (see `RawAnswer.v3_payload`)."""
        return (await self._get_raw(self._v3_url + path, params)).v3_payload(missing=missing)

    async def _get_raw(self, url: str, params: dict[str, str] | None = None) -> RawAnswer:
        """GET `url` (under one of the REST bases); its body, not parsed yet."""
        status, _, chunks = await self._fetch_chunks(url, params)
        return RawAnswer(url, status, chunks)

    async def _fetch(self, url: str, params: dict[str, str] | None) -> tuple[int, str, bytes]:
        """GET `url`: (HTTP status, content type, body)."""
        status, content_type, chunks = await self._fetch_chunks(url, params)
        return status, content_type, b"".join(chunks)

    async def _fetch_chunks(
        self, url: str, params: dict[str, str] | None
    ) -> tuple[int, str, list[bytes]]:
        """GET `url`: (HTTP status, content type, body in chunks)."""
        try:
            async with self._session.get(
                url,
                params=params,
                allow_redirects=False,
                ssl=self._ssl,
                timeout=self._timeout,
            ) as resp:
                if 300 <= resp.status < 400:
                    location = resp.headers.get("Location", "")
                    raise NinaNotPluginError(
                        f"{url} answered a redirect (HTTP {resp.status}) to {location!r}; "
                        "the NINA plugin never redirects"
                    )
                chunks = await self._read_limited(resp, url)
                return resp.status, resp.content_type, chunks
        except NinaError:
            raise
        except TimeoutError as err:
            raise NinaConnectionError(
                f"no answer from {url} within {self._request_timeout:g} s"
            ) from err
        except (aiohttp.ClientSSLError, aiohttp.ClientConnectorCertificateError) as err:
            raise NinaConnectionError(f"TLS error talking to {url}: {err}") from err
        except aiohttp.ClientResponseError as err:
            raise NinaNotPluginError(f"{url} did not answer valid HTTP: {err.message}") from err
        except (aiohttp.ClientError, OSError) as err:
            raise NinaConnectionError(f"cannot reach {url}: {err}") from err

    @property
    def max_body_size(self) -> int:
        """Return the largest REST answer accepted, in bytes (the history's hard cap)."""
        return self._max_body_size

    async def _read_limited(self, resp: aiohttp.ClientResponse, url: str) -> list[bytes]:
        limit = self._max_body_size
        length = resp.content_length
        if length is not None and length > limit:
            raise NinaTooLargeError(f"{url} answered {length} bytes, over the {limit} limit", limit)
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise NinaTooLargeError(f"{url} answered more than the {limit} byte limit", limit)
            chunks.append(chunk)
        return chunks

    # ---- event socket -------------------------------------------------------------

    async def _refuse_socket_redirect(self) -> None:
        """Refuse a socket URL that answers with a redirect.

        ws_connect always follows redirects, so ask the socket URL once without them:
        a redirect to another host must never get our handshake.
        """
        probe = self.socket_url.replace("ws", "http", 1)
        try:
            async with asyncio.timeout(self._request_timeout):
                async with self._session.get(probe, allow_redirects=False, ssl=self._ssl) as resp:
                    status = resp.status
        except (TimeoutError, aiohttp.ClientError, OSError) as err:
            raise NinaConnectionError(f"cannot reach {self.socket_url}: {err}") from err
        if 300 <= status < 400:
            raise NinaNotPluginError(f"{self.socket_url} redirected the WebSocket handshake")

    async def connect_socket(self, heartbeat: float) -> aiohttp.ClientWebSocketResponse:
        """Open the event socket.

        aiohttp pings every `heartbeat` seconds of silence and closes the socket with an
        ERROR message when no pong arrives within `heartbeat / 2`, so a half-open
        connection is noticed within about 1.5 * heartbeat. Frames over `max_msg_size`
        make aiohttp close the socket with an ERROR (code 1009) before anything is parsed.
        """
        if heartbeat <= 0:
            raise ValueError("heartbeat must be positive")
        url = self.socket_url
        await self._refuse_socket_redirect()
        try:
            async with asyncio.timeout(self._request_timeout):
                ws = await self._session.ws_connect(
                    url,
                    heartbeat=heartbeat,
                    max_msg_size=self._max_msg_size,
                    ssl=self._ssl,
                    autoclose=True,
                    autoping=True,
                    timeout=aiohttp.ClientWSTimeout(ws_close=self._request_timeout),
                )
        except TimeoutError as err:
            raise NinaConnectionError(
                f"no socket handshake from {url} within {self._request_timeout:g} s"
            ) from err
        except aiohttp.WSServerHandshakeError as err:
            if err.status in _GATEWAY_DOWN:
                raise NinaConnectionError(
                    f"{url} answered HTTP {err.status}: NINA is not reachable"
                ) from err
            raise NinaNotPluginError(
                f"{url} refused the WebSocket handshake (HTTP {err.status}: {err.message})"
            ) from err
        except (aiohttp.ClientSSLError, aiohttp.ClientConnectorCertificateError) as err:
            raise NinaConnectionError(f"TLS error talking to {url}: {err}") from err
        except aiohttp.ClientResponseError as err:
            raise NinaNotPluginError(f"{url} did not answer valid HTTP: {err.message}") from err
        except (aiohttp.ClientError, OSError) as err:
            raise NinaConnectionError(f"cannot reach {url}: {err}") from err
        # ws_connect offers no allow_redirects; refuse a socket reached through one.
        response = getattr(ws, "_response", None)
        if getattr(response, "history", ()):
            await ws.close()
            raise NinaNotPluginError(f"{url} redirected the WebSocket handshake")
        return ws
