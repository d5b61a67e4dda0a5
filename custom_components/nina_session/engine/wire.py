"""Wire models of the Advanced API plugin's v2 shapes.

This is the only module that knows the v2 envelope and field names; `wire_v3` sits beside it
and knows v3. It turns raw socket text and decoded REST payloads into `WireEvent` and
`ImageRecord` values, or raises `FrameError`. A `WireEvent`'s name and data are always in the
v2 vocabulary (`vocabulary.py`), whatever version the plugin spoke.

Input in another version arrives wrapped in `Foreign` (frame or history plus the
`WireFormat` that reads it): the parse functions below hand it to its reader, so the pipeline
calls the same functions for every version and never knows which one a frame came in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
import json
import math
from operator import itemgetter
import re
from typing import Any, Final, Protocol

from .errors import FrameError
from .history_prefix import Decoded
from .jsontext import load_json, may_hold_surrogates

_DECODER = json.JSONDecoder()

# A socket frame is at most a few KiB (IMAGE-SAVE with full statistics); 1 MiB is absurd.
MAX_FRAME_BYTES = 1_048_576

#: Real event data is nested three levels at most; deeper is garbage (and would recurse).
MAX_DEPTH = 32

#: Name given to socket messages whose `Response` is a plain string (sequence "send WebSocket
#: event" instruction, `*-INFO-UPDATED` notices). They are kept as generic events.
MESSAGE_EVENT = "MESSAGE"


#: Not frozen, though read-only by convention: one is built per frame, and a frozen dataclass's
#: `__init__` (a call per field) cost four times a plain one's on the hot path.
@dataclass(slots=True)
class WireEvent:
    """One event as the plugin described it, before normalization."""

    name: str
    data: Mapping[str, Any]
    #: NINA's own `Time` text (history items); None for live socket events.
    time_text: str | None
    #: When we received it (UTC), for live events and replays; None for history items.
    received_at: datetime | None
    #: The data is known to be strict JSON without history placeholders (`[]`): normalizing
    #: it needs no walk (see `parse_socket_frame`). A hint about the text, not content.
    plain: bool = field(default=False, compare=False)
    #: The data exactly as received, as compact JSON text, when the store may keep that text
    #: instead of encoding the data again (see `received_text`); else None.
    text: str | None = field(default=None, compare=False)


#: Not frozen, though read-only by convention (see `WireEvent`).
@dataclass(slots=True)
class ImageRecord:
    """The statistics of one saved image (`ImageStatistics` / an image-history record)."""

    image_type: str | None
    exposure: float | None
    filter: str | None
    target: str | None
    camera: str | None
    telescope: str | None
    date_text: str | None
    filename: str | None
    hfr: float | None
    stars: int | None
    rms_text: str | None
    temperature: float | None


class WireFormat(Protocol):
    """Reads one API version's frames and histories into the values this module defines."""

    @property
    def name(self) -> str:
        """The API's name, e.g. `v3` (recordings say which reader their frames need)."""

    def socket_event(self, raw: Any, received_at: datetime, max_bytes: int) -> WireEvent:
        """Read raw socket text (or a decoded message) → event; FrameError if unusable."""

    def event_history(self, payload: Any) -> tuple[list[WireEvent], int]:
        """Read the event history → (events oldest first, number of rejected items)."""

    def image_history(self, payload: Any) -> tuple[list[ImageRecord], int]:
        """Read the image history → (records in capture order, number of rejected items)."""


@dataclass(frozen=True, slots=True)
class Foreign:
    """A socket frame or history payload in another API version, with the reader for it."""

    wire_format: WireFormat
    payload: Any
    #: Size limit for a raw socket frame (history payloads ignore it).
    max_bytes: int = MAX_FRAME_BYTES


def _number(value: Any) -> float | None:
    """Return a finite float, or None for missing/NaN/"NaN"/non-numeric values."""
    kind = type(value)  # exact types first: this runs for every statistic of every frame
    if kind is float:
        return value if math.isfinite(value) else None
    if value is None or kind is bool:
        return None
    if kind is int or kind is str or isinstance(value, int | float | str):
        try:
            number = float(value)
        except (ValueError, OverflowError):  # text that is no number; an integer past 1e308
            return None
        return number if math.isfinite(number) else None
    return None


#: Integers up to this size are exact as floats: `_integer` gives them back as they are.
_EXACT_INTEGER = 1 << 53


def _integer(value: Any) -> int | None:
    if type(value) is int and -_EXACT_INTEGER <= value <= _EXACT_INTEGER:
        return value  # what the float's int would give: no float made and unmade
    number = _number(value)
    return None if number is None else int(number)


def _text(value: Any) -> str | None:
    if type(value) is str or isinstance(value, str):
        return value.strip() or None
    return None


def _depth(value: Any, level: int = 0) -> int:
    """Nesting depth of JSON data, giving up just past MAX_DEPTH.

    Only containers are descended into, and exact types are tested first: most values are
    scalars, and an ABC check per value was most of this walk's cost.
    """
    if level > MAX_DEPTH:
        return level
    kind = type(value)
    if kind is dict or (kind is not list and isinstance(value, Mapping)):
        items = value.values()
    elif kind is list or isinstance(value, list):
        items = value
    else:
        return level
    deepest = level + 1
    for item in items:
        inner = type(item)
        if inner is str or inner is float or inner is int or inner is bool or item is None:
            continue
        deepest = max(deepest, _depth(item, level + 1))
    return deepest


#: The keys of an `ImageStatistics` object that a frame is made of, in `parse_image_record`'s
#: order: fetched with one call (a `get` each was a fifth of the record).
_IMAGE_KEYS: Final = (
    "ImageType",
    "ExposureTime",
    "Filter",
    "TargetName",
    "CameraName",
    "TelescopeName",
    "Date",
    "Filename",
    "HFR",
    "Stars",
    "RmsText",
    "Temperature",
)
_image_values: Final = itemgetter(*_IMAGE_KEYS)


def parse_image_record(stats: Any) -> ImageRecord:
    """Read an `ImageStatistics` object; every key may be missing (older plugins).

    Only what a frame is made of is read: a record's `Gain`, `Offset` and image statistics
    (`Mean`, `StDev`...) are in no frame, so nothing reads them.
    """
    # An exact type test first: the ABC check alone cost a fifth of the whole record.
    if type(stats) is not dict and not isinstance(stats, Mapping):
        raise FrameError("bad_shape", "image statistics is not an object")
    try:  # NINA's records hold every key: one C call fetches them all
        values = _image_values(stats)
    except KeyError:
        values = tuple(map(stats.get, _IMAGE_KEYS))
    (
        image_type,
        exposure,
        filter_name,
        target,
        camera,
        telescope,
        date_text,
        filename,
        hfr,
        stars,
        rms_text,
        temperature,
    ) = values
    # Set field by field, not through the generated `__init__` (as `NinaEvent.build`): one is
    # made per frame, and the call cost a fifth of the record.
    record = _new_object(ImageRecord)
    # A value of the type NINA writes is read inline, exactly as its reader (`_text`,
    # `_number`, `_integer`) reads that type; any other value (None, a "NaN" text, a whole
    # number written as `0`, a bool...) goes through the reader. The twelve calls were about
    # half the record's time; one test of all twelve types (`map(type, ...)`) cost more than
    # it saved.
    if type(image_type) is str:  # upper() of a text is empty only when the text is
        record.image_type = image_type.strip().upper() or None
    else:
        image_type = _text(image_type)
        record.image_type = image_type.upper() if image_type else None
    record.exposure = (
        (exposure if _isfinite(exposure) else None) if type(exposure) is float
        else _number(exposure)
    )  # fmt: skip
    record.filter = (
        (filter_name.strip() or None) if type(filter_name) is str else _text(filter_name)
    )
    record.target = (target.strip() or None) if type(target) is str else _text(target)
    record.camera = (camera.strip() or None) if type(camera) is str else _text(camera)
    record.telescope = (telescope.strip() or None) if type(telescope) is str else _text(telescope)
    record.date_text = (date_text.strip() or None) if type(date_text) is str else _text(date_text)
    record.filename = (filename.strip() or None) if type(filename) is str else _text(filename)
    record.hfr = (hfr if _isfinite(hfr) else None) if type(hfr) is float else _number(hfr)
    record.stars = (
        stars if type(stars) is int and -_EXACT_INTEGER <= stars <= _EXACT_INTEGER
        else _integer(stars)
    )  # fmt: skip
    record.rms_text = (rms_text.strip() or None) if type(rms_text) is str else _text(rms_text)
    record.temperature = (
        (temperature if _isfinite(temperature) else None) if type(temperature) is float
        else _number(temperature)
    )  # fmt: skip
    return record


_new_object = object.__new__
_isfinite = math.isfinite


def unwrap_envelope(message: Any, *, expected_type: str | None = None) -> Any:
    """Return the envelope's `Response`, checking `Success` (the HTTP status is always 200)."""
    if not isinstance(message, Mapping) or "Response" not in message:
        raise FrameError("bad_shape", "not a plugin envelope")
    if message.get("Success") is False:
        raise FrameError(
            "plugin_error", f"{message.get('StatusCode')}: {message.get('Error') or 'unknown'}"
        )
    if expected_type is not None and message.get("Type") not in (None, expected_type):
        raise FrameError("bad_shape", f"envelope type {message.get('Type')!r}")
    return message["Response"]


def make_event(
    name: Any,
    data: Mapping[str, Any],
    time_text: Any,
    received_at: datetime | None,
    *,
    deep: bool = True,
    plain: bool = False,
    text: str | None = None,
) -> WireEvent:
    """Build a checked event: a name, sane nesting, a text time (every version's readers).

    `deep=False`: the caller knows the data is nested within the limit (`_plain_text`);
    `plain` and `text`: see `WireEvent`.
    """
    if not isinstance(name, str) or not name.strip():
        raise FrameError("missing_event", "object has no Event name")
    if time_text is not None and not isinstance(time_text, str):
        raise FrameError("bad_time", f"time is {type(time_text).__name__}")
    if deep and _depth(data) > MAX_DEPTH:
        raise FrameError("too_deep", f"{name} data nested deeper than {MAX_DEPTH}")
    return WireEvent(name.strip().upper(), data, time_text, received_at, plain, text)


def _event_from_object(obj: Mapping[str, Any], received_at: datetime | None) -> WireEvent:
    if type(obj) is dict:
        # A copy less its Event and Time: the same keys in the same order as the
        # comprehension below gives, in under half its time (one C copy and two pops).
        data = obj.copy()
        name = data.pop("Event", None)
        return make_event(name, data, data.pop("Time", None), received_at)
    data = {key: value for key, value in obj.items() if key not in ("Event", "Time")}
    return make_event(obj.get("Event"), data, obj.get("Time"), received_at)


def parse_socket_message(message: Any, received_at: datetime) -> WireEvent:
    """Turn one decoded socket message (or a `Foreign` frame) into an event."""
    if isinstance(message, Foreign):
        return message.wire_format.socket_event(message.payload, received_at, message.max_bytes)
    response = unwrap_envelope(message)
    if isinstance(response, str):
        return WireEvent(MESSAGE_EVENT, {"Message": response}, None, received_at)
    if not isinstance(response, Mapping):
        raise FrameError("bad_shape", f"Response is {type(response).__name__}")
    return _event_from_object(response, received_at)


def decode_frame(raw: str | bytes, *, max_bytes: int = MAX_FRAME_BYTES) -> Any:
    """Decode socket text, refusing absurd sizes before parsing. NaN tokens are accepted."""
    if len(raw) > max_bytes:
        raise FrameError("too_large", f"{len(raw)} bytes")
    try:
        return load_json(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise FrameError("not_json", str(err)[:80]) from err
    except RecursionError as err:  # absurdly nested: refused, not raised
        raise FrameError("too_deep", "nesting too deep") from err


#: A number that may decode to infinity: one with an exponent (`1e999`), or more integer
#: digits than a finite float has (309 or more). Such text is walked. Also finds text like
#: `"10e5"` inside strings: a false alarm costs only the walk.
_HUGE_NUMBER = re.compile(r"[0-9](?:[eE][-+]?[0-9]|[0-9]{308})")
_HUGE_NUMBER_BYTES = re.compile(rb"[0-9](?:[eE][-+]?[0-9]|[0-9]{308})")


def _plain_text(raw: str | bytes) -> bool:
    """Return whether decoding `raw` gives data that needs no walk (false negatives are fine).

    No NaN or Infinity token and no number that overflows (no non-finite number), no array
    (no history placeholder), and fewer objects than MAX_DEPTH (no nesting too deep): each a
    C-speed scan of the text, where the walks visit every value of every frame.
    """
    if isinstance(raw, str):
        return (
            "NaN" not in raw and "Infinity" not in raw and "[" not in raw
            and raw.count("{") <= MAX_DEPTH and _HUGE_NUMBER.search(raw) is None
        )  # fmt: skip
    return (
        b"NaN" not in raw and b"Infinity" not in raw and b"[" not in raw
        and raw.count(b"{") <= MAX_DEPTH and _HUGE_NUMBER_BYTES.search(raw) is None
    )  # fmt: skip


#: How the plugin (Newtonsoft, no indentation) starts every socket frame.
_ENVELOPE_HEAD = '{"Response":'
_EVENT_HEAD = '{"Event":"'
#: ... and ends every frame that succeeded.
_SOCKET_TAIL = ',"Error":"","StatusCode":200,"Success":true,"Type":"Socket"}'
_HEAD_LENGTH = len(_ENVELOPE_HEAD)
_TAIL_LENGTH = len(_SOCKET_TAIL)


class _NotFinite(Exception):
    """A NaN or Infinity token, or a number past the float range: the data needs the walk."""


def _finite(token: str) -> float:
    number = float(token)
    if number - number != 0.0:  # inf - inf and nan - nan are nan
        raise _NotFinite(token)
    return number


def _not_finite(token: str) -> float:
    raise _NotFinite(token)


#: Decodes only finite numbers: what it returns needs no walk for NaN or infinity, and that
#: costs a call per float token where a scan of the text for them cost more than the decode.
_FINITE_DECODER = json.JSONDecoder(parse_float=_finite, parse_constant=_not_finite)


def _decode_plain(raw: str | bytes, max_bytes: int) -> tuple[Any, str] | None:
    """Decode a successful frame written the plugin's way that needs no walk; else None.

    Returns its `Response` and the text of it. The `Response` is decoded from its own span
    of the text, so that span is known without encoding the data again; the rest of the
    envelope must be the plugin's success tail (`_SOCKET_TAIL`). "The plugin's way":
    compact, `Response` first. "No walk": only finite numbers, no array (no history
    placeholder), fewer objects than MAX_DEPTH, no lone surrogate possible. Anything else
    (errors included) is decoded whole by the caller.
    """
    if (
        type(raw) is not str or len(raw) > max_bytes or not raw.startswith(_ENVELOPE_HEAD)
        or not raw.endswith(_SOCKET_TAIL) or "[" in raw or raw.count("{") > MAX_DEPTH
        or may_hold_surrogates(raw)
    ):  # fmt: skip
        return None
    try:
        response, end = _FINITE_DECODER.raw_decode(raw, _HEAD_LENGTH)
    except (ValueError, _NotFinite):
        return None
    if end != len(raw) - _TAIL_LENGTH:
        return None
    return response, raw[_HEAD_LENGTH:end]


def _keys(data: Mapping[str, Any]) -> int:
    """Count the keys of data and of the objects nested in it (arrays hold none: plain)."""
    count = len(data)
    for value in data.values():
        if type(value) is dict:
            count += _keys(value)
    return count


def received_text(response_text: str, name: Any, data: dict[str, Any]) -> str | None:
    """Return the data's JSON text cut from the received `Response` text, or None.

    The cut is the `Response` object without its leading `Event` member. It is kept only
    when it holds as many keys as `data` (the `Response` had no `Time`, which the data
    leaves out, no second `Event`, no repeated key, which SQLite would read differently) and
    is compact (no space after a key: the store keeps no indentation). The caller has made
    sure it holds no lone surrogate (`may_hold_surrogates`).
    """
    if type(name) is not str or not response_text.startswith(_EVENT_HEAD):
        return None
    after = len(_EVENT_HEAD) + len(name)
    if response_text[len(_EVENT_HEAD) : after] != name or not response_text.startswith('"', after):
        return None  # an escape in the name: its text differs from the decoded name
    rest = response_text[after + 1 :]
    if rest == "}":
        return "{}"
    if not rest.startswith(","):
        return None
    text = "{" + rest[1:]
    if '": ' in text or text.count('":') != _keys(data):
        return None
    return text


def parse_socket_frame(
    raw: str | bytes, received_at: datetime, *, max_bytes: int = MAX_FRAME_BYTES
) -> WireEvent:
    """Raw socket text → event (the live path)."""
    decoded = _decode_plain(raw, max_bytes)
    if decoded is None:
        return _parse_decoded(raw, decode_frame(raw, max_bytes=max_bytes), received_at)
    response, response_text = decoded
    if type(response) is not dict:
        return parse_socket_message({"Response": response}, received_at)
    # The decoded Response is ours: it becomes the data once its Event and Time are out.
    timed = "Time" in response
    name = response.pop("Event", None)
    time_text = response.pop("Time", None)
    text = None if timed else received_text(response_text, name, response)
    return make_event(name, response, time_text, received_at, deep=False, plain=True, text=text)


def _parse_decoded(raw: str | bytes, message: Any, received_at: datetime) -> WireEvent:
    """Turn decoded socket text into an event; walk its data unless the text needs none."""
    if isinstance(message, Foreign) or not _plain_text(raw):
        return parse_socket_message(message, received_at)
    response = unwrap_envelope(message)
    if not isinstance(response, dict):
        return parse_socket_message(message, received_at)
    data = {key: value for key, value in response.items() if key not in ("Event", "Time")}
    return make_event(
        response.get("Event"), data, response.get("Time"), received_at, deep=False, plain=True
    )


#: The stored text of empty data (`WireEvent.text`): what the store would encode it to.
NO_DATA_TEXT = "{}"


def _history_list(payload: Any) -> list[Any]:
    if isinstance(payload, Mapping) and "Response" in payload:
        payload = unwrap_envelope(payload)
    if not isinstance(payload, list):
        raise FrameError("bad_shape", "history is not a list")
    return payload


@dataclass(slots=True)
class HistoryEvents:
    """An `/event-history` list as decoded item by item (`add`); events built on demand.

    An item is kept as decoded: its data is the event's data, so the built event would hold
    as much. Events are built (`events`) only for the items a read takes in: a re-read of the
    same NINA process resumes past most of them (`history_resume`), and when its answer
    started with the bytes of the last one read, its first `source.skipped` items were not
    even decoded (`history_prefix`).
    """

    items: list[Mapping[str, Any]] = field(default_factory=list)
    #: Items that are no event at all (not an object, no text `Time`): not in `items`.
    rejected: int = 0
    source: Decoded = field(default_factory=Decoded)

    def __len__(self) -> int:
        """Return how many items the history held, rejected and skipped ones included."""
        return self.source.skipped + len(self.items) + self.rejected

    def add(self, item: Any, offset: int = -1) -> None:
        """Keep one history item (and where its text starts), or count it as rejected."""
        # An exact type test first: the ABC check cost as much as the rest of this together.
        is_object = type(item) is dict or isinstance(item, Mapping)
        if not is_object or not isinstance(item.get("Time"), str):
            self.rejected += 1
            return
        self.items.append(item)
        self.source.offsets.append(offset)

    def extend(self, items: list[Any], offsets: list[int]) -> None:
        """Keep a run of decoded history items (and where each one's text starts)."""
        # Decoded JSON holds exact dicts and strs: two C loops prove the run all good (half
        # the time of a comprehension's type tests), `dict.get` refusing any other item. A
        # rejected item is rare: then each goes through `add`.
        try:
            good = set(map(type, map(dict.get, items, repeat("Time")))) == {str}
        except TypeError:
            good = False
        if not good:
            for item, offset in zip(items, offsets, strict=True):
                self.add(item, offset)
            return
        self.items += items
        self.source.offsets += offsets

    def tail(self, start: int) -> HistoryEvents:
        """Return the items from item `start` on (not before the skipped ones; none rejected)."""
        at = start - self.source.skipped
        if at < 0 or self.rejected:
            raise ValueError(f"items before {self.source.skipped} were not decoded")
        return HistoryEvents(self.items[at:], 0, self.source.tail(at))

    def events(self) -> tuple[list[WireEvent], int]:
        """Build the items' events; return them and how many items were rejected."""
        history = self.columns()
        return history.wire_events(), history.rejected

    def columns(self) -> HistoryColumns:
        """Read the items column by column, building events only for those with data."""
        names: list[str] = []
        times: list[str | None] = []
        events: list[WireEvent | None] = []
        add_name, add_time, add_event = names.append, times.append, events.append
        rejected = self.rejected
        upper_of: dict[str, str] = {}  # each name as made once: one str for all its events
        for item in self.items:
            # Most history items are only `Event` and `Time` (`Time` is a text: see `add`):
            # their data is empty, needs no copy or walk, and its text is known.
            if len(item) == 2 and type(name := item.get("Event")) is str:
                upper = upper_of.get(name)
                if upper is None:
                    upper = upper_of[name] = name.strip().upper()
                if upper:
                    add_name(upper)
                    add_time(item["Time"])
                    add_event(None)
                    continue
            try:
                event = _event_from_object(item, None)
            except FrameError:
                rejected += 1
                continue
            add_name(event.name)
            add_time(event.time_text)
            add_event(event)
        return HistoryColumns(names, times, events, rejected)


@dataclass(slots=True)
class HistoryColumns:
    """An event history read column by column (`HistoryEvents.columns`), oldest first.

    Most items are only a name and a time: those build no `WireEvent` (at a night's tens of
    thousands of items, building them cost as much as the rest of their normalizing).
    """

    names: list[str]
    #: Each item's `Time` text (None only for an event of another API without one).
    times: list[str | None]
    #: The event of an item with data; None for one of only a name and a time, whose event
    #: is `sparse_event`'s.
    events: list[WireEvent | None]
    rejected: int = 0

    @classmethod
    def of(cls, events: list[WireEvent], rejected: int) -> HistoryColumns:
        """Return built events (another API's history, a decoded list) as columns."""
        names = [event.name for event in events]
        return cls(names, [event.time_text for event in events], list(events), rejected)

    def wire_events(self) -> list[WireEvent]:
        """Return every item's event, building those of the sparse items."""
        return [
            sparse_event(name, time) if event is None else event
            for name, time, event in zip(self.names, self.times, self.events, strict=True)
        ]


def sparse_event(name: str, time_text: str | None) -> WireEvent:
    """Return the event of a history item of only a name and a time (no data)."""
    return WireEvent(name, {}, time_text, None, True, NO_DATA_TEXT)


def parse_event_history(payload: Any) -> tuple[list[WireEvent], int]:
    """Parse the `/event-history` list (or its envelope, or `HistoryEvents` as decoded).

    Returns (events, number of rejected items).
    """
    history = read_event_history(payload)
    return history.wire_events(), history.rejected


def read_event_history(payload: Any) -> HistoryColumns:
    """Read the `/event-history` like `parse_event_history`, column by column."""
    if isinstance(payload, Foreign):
        return HistoryColumns.of(*payload.wire_format.event_history(payload.payload))
    if isinstance(payload, HistoryEvents):
        return payload.columns()
    parsed = HistoryEvents()
    for item in _history_list(payload):
        parsed.add(item)
    return parsed.columns()


@dataclass(slots=True)
class HistoryImages:
    """An `/image-history` list as decoded item by item (`add`), with where each item starts.

    When its answer started with the bytes of the last one read (`history_prefix`), its first
    `source.skipped` records were not decoded: `items` holds those after them.
    """

    items: list[Any] = field(default_factory=list)
    source: Decoded = field(default_factory=Decoded)

    def __len__(self) -> int:
        """Return how many records the answer held, skipped ones included."""
        return self.source.skipped + len(self.items)

    def add(self, item: Any, offset: int = -1) -> None:
        """Keep one image-history item and where its text starts."""
        self.items.append(item)
        self.source.offsets.append(offset)

    def extend(self, items: list[Any], offsets: list[int]) -> None:
        """Keep a run of image-history items and where each one's text starts."""
        self.items += items
        self.source.offsets += offsets

    def tail(self, start: int) -> HistoryImages:
        """Return the records from record `start` on (not before the skipped ones)."""
        at = start - self.source.skipped
        if at < 0:
            raise ValueError(f"records before {self.source.skipped} were not decoded")
        return HistoryImages(self.items[at:], self.source.tail(at))


def parse_image_history(payload: Any) -> tuple[list[ImageRecord], int]:
    """Parse the `/image-history?all=true` list (or its envelope, or `HistoryImages`).

    Returns (records, rejected count).
    """
    if isinstance(payload, Foreign):
        return payload.wire_format.image_history(payload.payload)
    items = payload.items if isinstance(payload, HistoryImages) else _history_list(payload)
    records: list[ImageRecord] = []
    rejected = 0
    for item in items:
        try:
            records.append(parse_image_record(item))
        except FrameError:
            rejected += 1
    return records, rejected
