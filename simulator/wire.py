"""The plugin's wire shapes of a simulated event: socket frame, history item, image record.

The plain helpers (`socket_message`, `history_item`, ...) write what older plugin builds send
and what most tests pin. `WireShape` switches on what real rigs on plugin 2.2.12.1+ show
(nested history objects as `[]`, whole numbers as `0` over REST, Hashtable key order, naive
TS and log times, shorter fractions); `WireRenderer` applies a shape, and the server renders
through one, so this module is the one place that knows how a shape looks on the wire.
"""

from __future__ import annotations

from collections.abc import Iterable
import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import json
import math
import random
from typing import Any

from simulator.events import JsonDict, SimEvent

# Events the plugin reads from NINA's log file: their history Time is the log line's local
# time, which has four fraction digits and no offset.
LOG_DERIVED = frozenset({"ERROR-PLATESOLVE", "ERROR-AF", "DOME-STOPPED", "MOUNT-CENTER"})


def _fraction(dt: datetime, digits: int) -> str:
    # The 7th digit (100 ns ticks, which Python lacks) is derived from the microseconds.
    ticks = f"{dt.microsecond:06d}{dt.microsecond * 7 % 10}"[:digits].rstrip("0")
    return f".{ticks}" if ticks else ""


def net_time(dt: datetime, digits: int = 7) -> str:
    """Format an aware datetime as .NET writes a local DateTime: round-trip, 7 fraction digits.

    Like Newtonsoft (`FFFFFFF`) and System.Text.Json, trailing zeros of the fraction are trimmed;
    `digits` cuts the fraction shorter (less than 10**-digits s off).
    """
    offset = dt.strftime("%z")
    return f"{dt:%Y-%m-%dT%H:%M:%S}{_fraction(dt, digits)}{offset[:3]}:{offset[3:]}"


def naive_time(dt: datetime, digits: int = 7) -> str:
    """Format the wall time of `dt` with no offset, as .NET writes an unspecified-kind DateTime."""
    return f"{dt:%Y-%m-%dT%H:%M:%S}{_fraction(dt, digits)}"


def naive_utc_time(dt: datetime) -> str:
    """Format `dt` as the Target Scheduler's times arrive: UTC with the offset dropped."""
    return naive_time(dt.astimezone(UTC))


def socket_message(ev: SimEvent) -> JsonDict:
    """Return the message the plugin pushes on `/v2/socket` for this event."""
    return {
        "Response": {"Event": ev.name, **copy.deepcopy(ev.data)},
        "Error": "",
        "StatusCode": 200,
        "Success": True,
        "Type": "Socket",
    }


def history_item(ev: SimEvent) -> JsonDict:
    """Return the `/event-history` item: IMAGE-SAVE items are sparse (only Event and Time)."""
    data = {} if ev.name == "IMAGE-SAVE" else copy.deepcopy(ev.data)
    return {"Event": ev.name, **data, "Time": net_time(ev.time)}


def image_record(ev: SimEvent) -> JsonDict:
    """Return the `/image-history` record of an IMAGE-SAVE event (its ImageStatistics)."""
    stats = ev.data.get("ImageStatistics") if ev.name == "IMAGE-SAVE" else None
    if not isinstance(stats, dict):
        raise TypeError(f"{ev.name} carries no ImageStatistics")
    return copy.deepcopy(stats)


def to_rest(value: Any, *, whole_numbers: bool = False) -> Any:
    """Prepare a payload as the plugin's REST side (System.Text.Json) writes it.

    Non-finite floats become the strings "NaN"/"Infinity"/"-Infinity"; null members are omitted;
    with `whole_numbers`, a whole double is written as an integer (`0`, not `0.0`).
    """
    if isinstance(value, float):
        if not math.isfinite(value):
            return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return int(value) if whole_numbers and value.is_integer() else value
    if isinstance(value, dict):
        return {
            k: to_rest(v, whole_numbers=whole_numbers) for k, v in value.items() if v is not None
        }
    if isinstance(value, list | tuple):
        return [to_rest(v, whole_numbers=whole_numbers) for v in value]
    return value


def socket_text(ev: SimEvent) -> str:
    """Return the socket frame text (Newtonsoft style: compact, bare NaN, raw UTF-8)."""
    return _newtonsoft(socket_message(ev))


def _newtonsoft(message: JsonDict) -> str:
    """Encode as the plugin's Newtonsoft writer does: no indentation, no spaces."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def to_jsonl_lines(
    events: Iterable[SimEvent], receive_delay: timedelta = timedelta(milliseconds=50)
) -> list[str]:
    """Replay format: `{"t": <receive time, ISO 8601 UTC>, "frame": <socket message>}` a line."""
    lines = []
    for ev in events:
        received = (ev.time + receive_delay).astimezone(UTC).isoformat()
        lines.append(json.dumps({"t": received, "frame": socket_message(ev)}, ensure_ascii=False))
    return lines


@dataclass(frozen=True)
class WireShape:
    """How the simulated plugin writes its wire. All off: the plain shapes older tests pin."""

    # Plugin >= 2.2.12.1: every member of a nested object in /event-history is `[]`
    # ("Previous":{"Name":[],"Id":[]}); the socket keeps the real values.
    history_placeholders: bool = False
    # REST (System.Text.Json) writes a whole double as `0`; the socket (Newtonsoft) as `0.0`.
    whole_numbers: bool = False
    # The socket Response and the history items are Hashtables: their keys come in any order.
    shuffled_keys: bool = False
    # History Time of TS-* events is naive UTC; of log-derived events naive local (4 digits).
    plugin_times: bool = False
    # History times sometimes carry fewer than 7 fraction digits.
    short_fractions: bool = False
    seed: int = 0  # of the key orders and fraction lengths

    @classmethod
    def real(cls, seed: int = 0) -> WireShape:
        """Return the shape of plugin 2.2.15 as captured on real rigs: every switch on."""
        return cls(True, True, True, True, True, seed)


class WireRenderer:
    """Renders events in one `WireShape`; its random choices follow the shape's seed."""

    def __init__(self, shape: WireShape | None = None) -> None:
        """Render in `shape` (default: the plain shapes)."""
        self.shape = shape or WireShape()
        self._rng = random.Random(self.shape.seed)

    def socket_text(self, ev: SimEvent) -> str:
        """Return the socket frame text of the event."""
        if not self.shape.shuffled_keys:
            return socket_text(ev)
        message = socket_message(ev)
        message["Response"] = self._shuffled(message["Response"])
        return _newtonsoft(message)

    def history_item(self, ev: SimEvent) -> JsonDict:
        """Return the event's `/event-history` item (before the REST encoding of `rest`)."""
        item = history_item(ev)
        item["Time"] = self._time(ev)
        if self.shape.history_placeholders:
            for key, value in item.items():
                if isinstance(value, dict):
                    item[key] = {member: [] for member in value}
        return self._shuffled(item) if self.shape.shuffled_keys else item

    def rest(self, payload: Any) -> Any:
        """Return a REST payload as the plugin encodes it (NaN as text, whole numbers)."""
        return to_rest(payload, whole_numbers=self.shape.whole_numbers)

    def _time(self, ev: SimEvent) -> str:
        shape = self.shape
        digits = self._rng.choice((7, 7, 7, 7, 6, 5, 4, 3)) if shape.short_fractions else 7
        if shape.plugin_times and ev.name.startswith("TS-"):
            return naive_time(ev.time.astimezone(UTC), digits)
        if shape.plugin_times and ev.name in LOG_DERIVED:
            return naive_time(ev.time, min(digits, 4))
        return net_time(ev.time, digits)

    def _shuffled(self, obj: JsonDict) -> JsonDict:
        keys = list(obj)
        self._rng.shuffle(keys)
        return {key: obj[key] for key in keys}
