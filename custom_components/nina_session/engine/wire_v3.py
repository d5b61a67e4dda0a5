"""The Advanced API plugin's v3 shapes, read into the same values as v2 (`wire.py`).

This is the only module that knows v3's event shapes (its URLs and REST answers are the
client's). Read from christian-photo/ninaAPI, branch `v3`
(commit 8a848c01b4df265fc67dccb486b524d81eae83ae, plugin 3.0.0.0, unreleased):

- socket `/v3/ws/events` pushes bare `{"Event": "image-saved", "Data": {...}}` (no envelope;
  `Data` left out when null; NaN written as the string "NaN"). Names are lower-case
  (`WebSocketEvents.cs`); device links are `<device>-connected` / `-disconnected`.
- `/v3/api/events?page-size=-1` lists `{"Event", "Data", "Timestamp"}`, `Timestamp` in UTC.
  `image-saved` is never stored there (ImageWatcher only sends it); `/v3/api/image/history`
  holds the frames, dated by `ExposureSave` (NINA local time with offset) instead of `Date`.
- Target Scheduler events carry the message's CustomHeaders as `Data`: ProjectName,
  Coordinates, Rotation (and TargetName, SecondsUntilNextTarget on a wait) but not the
  content v2 took TargetName, TargetEndTime and WaitEndTime from.
- NINA's log events (ERROR-AF, ERROR-PLATESOLVE, MOUNT-CENTER, DOME-STOPPED) and
  API-CAPTURE-FINISHED exist on v2 only.

Events keep v2 names and v2 data keys (`FILTERWHEEL-CHANGED` with Previous/New, IMAGE-SAVE with
ImageStatistics), so nothing after parsing knows which version a frame came in. A v3 name with
no v2 twin is upper-cased and passes as a generic event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from .errors import FrameError
from .wire import (
    MESSAGE_EVENT,
    Foreign,
    ImageRecord,
    WireEvent,
    decode_frame,
    make_event,
    parse_image_record,
)

_DEVICES: Final = {
    "camera": "CAMERA", "dome": "DOME", "filterwheel": "FILTERWHEEL", "flatdevice": "FLAT",
    "focuser": "FOCUSER", "guider": "GUIDER", "mount": "MOUNT", "rotator": "ROTATOR",
    "safetymonitor": "SAFETY", "switch": "SWITCH", "weather": "WEATHER",
}  # fmt: skip

#: v3 name → v2 name, where they differ by more than case.
V2_NAMES: Final[Mapping[str, str]] = {
    "image-saved": "IMAGE-SAVE",
    "sequence-started": "SEQUENCE-STARTING",
    "sequence-custom-event": MESSAGE_EVENT,
    "filterwheel-filter-changed": "FILTERWHEEL-CHANGED",
    "flatdevice-light-toggled": "FLAT-LIGHT-TOGGLED",
    "flatdevice-opened": "FLAT-COVER-OPENED",
    "flatdevice-closed": "FLAT-COVER-CLOSED",
    "flatdevice-brightness-changed": "FLAT-BRIGHTNESS-CHANGED",
    "user-focused": "FOCUSER-USER-FOCUSED",
    "autofocus-started": "AUTOFOCUS-STARTING",
    "autofocus-point": "AUTOFOCUS-POINT-ADDED",
    "autofocus-ended": "AUTOFOCUS-FINISHED",
    "guider-guiding-started": "GUIDER-START",
    "guider-guiding-stopped": "GUIDER-STOP",
    "mount-flip-started": "MOUNT-BEFORE-FLIP",
    "mount-flip-finished": "MOUNT-AFTER-FLIP",
    "safetymonitor-safety-changed": "SAFETY-CHANGED",
    "livestack-status-update": "STACK-STATUS",
    "livestack-stack-updated": "STACK-UPDATED",
    "ts-wait-started": "TS-WAITSTART",
    "ts-newtarget-started": "TS-NEWTARGETSTART",
    "ts-target-started": "TS-TARGETSTART",
    "ts-target-complete": "TS-TARGETCOMPLETE",
    "ts-container-stopped": "TS-CONTAINERSTOPPED",
    **{f"{device}-{link}": f"{name}-{link.upper()}"
       for device, name in _DEVICES.items() for link in ("connected", "disconnected")},
}  # fmt: skip


def v2_name(name: str) -> str:
    """Return the v2 name of v3 event `name` (upper-cased when v2 has no twin)."""
    key = name.strip().lower()
    return V2_NAMES.get(key) or key.upper()


def _previous_new(data: Mapping[str, Any]) -> dict[str, Any]:
    """v3's From/To pair is v2's Previous/New."""
    rest = {key: value for key, value in data.items() if key not in ("From", "To")}
    return {**rest, "Previous": data.get("From"), "New": data.get("To")}


def _filter(value: Any) -> Any:
    """v3 `FilterData` {Name, Position} → v2 {Name, Id}."""
    if not isinstance(value, Mapping):
        return value
    return {"Name": value.get("Name"), "Id": value.get("Position")}


def _filter_changed(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"Previous": _filter(data.get("From")), "New": _filter(data.get("To"))}


def image_statistics(record: Mapping[str, Any]) -> dict[str, Any]:
    """v3 `ImageResponse` → v2 `ImageStatistics`: the same keys, dated `Date`."""
    stats = {key: value for key, value in record.items() if key != "ExposureSave"}
    if "ExposureSave" in record:
        stats["Date"] = record["ExposureSave"]
    return stats


def _image_saved(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"ImageStatistics": image_statistics(data)}


def _autofocus_point(data: Mapping[str, Any]) -> dict[str, Any]:
    """NINA's `DataPoint` is {X: focuser position, Y: HFR}."""
    if "HFR" in data or "Position" in data:
        return dict(data)
    return {"HFR": data.get("Y"), "Position": data.get("X")}


_DATA: Final[Mapping[str, Callable[[Mapping[str, Any]], dict[str, Any]]]] = {
    "IMAGE-SAVE": _image_saved,
    "FILTERWHEEL-CHANGED": _filter_changed,
    "FLAT-BRIGHTNESS-CHANGED": _previous_new,
    "AUTOFOCUS-POINT-ADDED": _autofocus_point,
}


def to_v2(name: Any, data: Any) -> tuple[Any, dict[str, Any]]:
    """Return the v2 name and data of a v3 event (`name` unchecked: make_event checks it)."""
    if not isinstance(name, str):
        return name, {}
    v2 = v2_name(name)
    if v2 == MESSAGE_EVENT:
        return v2, {"Message": data}
    if data is None:
        return v2, {}
    if not isinstance(data, Mapping):
        return v2, {"Data": data}
    if v2 == "ROTATOR-MOVED" and data.get("Mechanical") is True:
        v2 = "ROTATOR-MOVED-MECHANICAL"
    if v2.startswith("ROTATOR-MOVED"):
        return v2, {key: value for key, value in data.items() if key != "Mechanical"}
    convert = _DATA.get(v2)
    return v2, convert(data) if convert else dict(data)


def _utc_text(value: Any) -> Any:
    """Return a v3 `Timestamp` with its UTC said, where the text has no offset."""
    if not isinstance(value, str):
        return value
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return value  # the normalizer rejects it with its own reason
    return value if parsed.tzinfo is not None else value.strip() + "Z"


def parse_message(message: Any, received_at: datetime) -> WireEvent:
    """Read a decoded v3 socket message → event."""
    if not isinstance(message, Mapping):
        raise FrameError("bad_shape", f"v3 frame is {type(message).__name__}")
    name, data = to_v2(message.get("Event"), message.get("Data"))
    return make_event(name, data, None, received_at)


def _history_item(item: Any) -> WireEvent:
    if not isinstance(item, Mapping) or not isinstance(item.get("Timestamp"), str):
        raise FrameError("bad_history_item", "v3 history item without a Timestamp")
    name, data = to_v2(item.get("Event"), item.get("Data"))
    return make_event(name, data, _utc_text(item["Timestamp"]), None)


def _list(payload: Any, what: str) -> list[Any]:
    if not isinstance(payload, list):
        raise FrameError("bad_shape", f"v3 {what} is not a list")
    return payload


def _instant(text: str | None) -> datetime | None:
    """Return a history time for ordering only (offset-less counts as UTC)."""
    try:
        parsed = datetime.fromisoformat(text.strip()) if text else None
    except ValueError:
        return None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _merge(events: list[WireEvent], saves: list[WireEvent]) -> list[WireEvent]:
    """Both lists oldest first → one list oldest first; each keeps its own order."""
    merged: list[WireEvent] = []
    i = j = 0
    while i < len(events) and j < len(saves):
        event_at, save_at = _instant(events[i].time_text), _instant(saves[j].time_text)
        if event_at is not None and save_at is not None and save_at < event_at:
            merged.append(saves[j])
            j += 1
        else:
            merged.append(events[i])
            i += 1
    return merged + events[i:] + saves[j:]


class WireV3:
    """The `WireFormat` of plugin v3 (see `history_inputs` for what the history takes)."""

    name = "v3"

    def socket_event(self, raw: Any, received_at: datetime, max_bytes: int) -> WireEvent:
        """Raw v3 socket text (or its decoded message) → event."""
        message = decode_frame(raw, max_bytes=max_bytes) if isinstance(raw, str | bytes) else raw
        return parse_message(message, received_at)

    def event_history(self, payload: Any) -> tuple[list[WireEvent], int]:
        """(`/events` list, `/image/history` list) → events with one sparse IMAGE-SAVE per image.

        v3 never stores image-saved in its event history; the frames are only in the image
        history. Each record gets a sparse IMAGE-SAVE at its `ExposureSave`, as v2's history
        has, so the pipeline pairs them the same way (one per record, by order).
        """
        history, images = payload
        events: list[WireEvent] = []
        rejected = 0
        for item in _list(history, "event history"):
            try:
                events.append(_history_item(item))
            except FrameError:
                rejected += 1
        saves = [
            WireEvent("IMAGE-SAVE", {}, _text(record.get("ExposureSave")), None)
            for record in (images if isinstance(images, list) else [])
            if isinstance(record, Mapping)
        ]
        return _merge(events, saves), rejected

    def image_history(self, payload: Any) -> tuple[list[ImageRecord], int]:
        """`/image/history` list → records in capture order."""
        records: list[ImageRecord] = []
        rejected = 0
        for item in _list(payload, "image history"):
            if not isinstance(item, Mapping):
                rejected += 1
                continue
            records.append(parse_image_record(image_statistics(item)))
        return records, rejected


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


WIRE_V3: Final = WireV3()


def socket_frame(text: str | bytes | Any, max_bytes: int) -> Foreign:
    """Tag one v3 socket frame for the pipeline."""
    return Foreign(WIRE_V3, text, max_bytes)


def history_inputs(events: Any, images: Any) -> tuple[Foreign, Foreign]:
    """Tag v3's event and image history for `Pipeline.ingest_history(events, images)`."""
    return Foreign(WIRE_V3, (events, images)), Foreign(WIRE_V3, images)
