"""How plugin v3 (christian-photo/ninaAPI branch `v3`, 3.0.0.0) would tell a simulated event.

The night generator speaks v2 (`night.py`); this module renders each event as the v3 plugin
sends it on `/v3/ws/events`, stores it in `/v3/api/events` and `/v3/api/image/history`.
Written from the plugin's v3 sources, independently of the integration's reader
(`custom_components/.../wire_v3.py`), so a test of one against the other means something:

- frames are bare `{"Event", "Data"}` (no envelope), names lower-case; `Data` left out when null;
- history items are `{"Event", "Data", "Timestamp"}` with `Timestamp` in UTC (`...Z`);
- only `SubmitAndStoreEvent` calls reach the history: image-saved, image-prepared,
  autofocus-point, user-focused, livestack-stack-updated, sequence-entity-failed (and the
  custom event) are sent but never stored;
- NINA's log events (ERROR-AF, ERROR-PLATESOLVE, MOUNT-CENTER, DOME-STOPPED) and
  API-CAPTURE-FINISHED are v2 only: v3 does not send them at all;
- Target Scheduler events carry the message's CustomHeaders only: no TargetName or
  TargetEndTime on a target start, SecondsUntilNextTarget instead of WaitEndTime on a wait.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from simulator.night import (
    JsonDict,
    SimEvent,
    history_item,
    image_record,
    net_time,
    socket_text,
    to_rest,
)

if TYPE_CHECKING:
    from simulator.server import NinaSimulator

_DEVICES = {"FLAT": "flatdevice", "SAFETY": "safetymonitor"}

_RENAMED = {
    "IMAGE-SAVE": "image-saved",
    "SEQUENCE-STARTING": "sequence-started",
    "FILTERWHEEL-CHANGED": "filterwheel-filter-changed",
    "FLAT-LIGHT-TOGGLED": "flatdevice-light-toggled",
    "FLAT-COVER-OPENED": "flatdevice-opened",
    "FLAT-COVER-CLOSED": "flatdevice-closed",
    "FLAT-BRIGHTNESS-CHANGED": "flatdevice-brightness-changed",
    "FOCUSER-USER-FOCUSED": "user-focused",
    "AUTOFOCUS-STARTING": "autofocus-started",
    "AUTOFOCUS-POINT-ADDED": "autofocus-point",
    "AUTOFOCUS-FINISHED": "autofocus-ended",
    "GUIDER-START": "guider-guiding-started",
    "GUIDER-STOP": "guider-guiding-stopped",
    "MOUNT-BEFORE-FLIP": "mount-flip-started",
    "MOUNT-AFTER-FLIP": "mount-flip-finished",
    "SAFETY-CHANGED": "safetymonitor-safety-changed",
    "ROTATOR-MOVED-MECHANICAL": "rotator-moved",
    "STACK-STATUS": "livestack-status-update",
    "STACK-UPDATED": "livestack-stack-updated",
    "TS-WAITSTART": "ts-wait-started",
    "TS-NEWTARGETSTART": "ts-newtarget-started",
    "TS-TARGETSTART": "ts-target-started",
}
_V2_ONLY = frozenset(
    {"ERROR-AF", "ERROR-PLATESOLVE", "MOUNT-CENTER", "DOME-STOPPED", "API-CAPTURE-FINISHED"}
)
_NOT_STORED = frozenset(
    {"image-saved", "image-prepared", "autofocus-point", "user-focused",
     "livestack-stack-updated", "sequence-entity-failed"}
)  # fmt: skip


def v3_name(name: str) -> str | None:
    """Return the v3 name of a v2 event, None when v3 does not send it."""
    if name in _V2_ONLY:
        return None
    device, _, link = name.partition("-")
    if link in ("CONNECTED", "DISCONNECTED"):
        return f"{_DEVICES.get(device, device.lower())}-{link.lower()}"
    return _RENAMED.get(name, name.lower())


def image_response(stats: JsonDict) -> JsonDict:
    """v2 ImageStatistics → v3 ImageResponse (dated `ExposureSave`, with BitDepth)."""
    record = {key: value for key, value in stats.items() if key != "Date"}
    if "Date" in stats:
        record["ExposureSave"] = stats["Date"]
    record.setdefault("BitDepth", 16)
    return record


def _from_to(data: JsonDict) -> JsonDict:
    return {"From": data.get("Previous"), "To": data.get("New")}


def _filter_data(value: Any) -> Any:
    return {"Name": value.get("Name"), "Position": value.get("Id")} if value else value


def _ts_headers(ev: SimEvent) -> JsonDict:
    """Return the TS message's CustomHeaders (the plugin sends only those)."""
    data = ev.data
    headers = {key: data[key] for key in ("ProjectName", "Coordinates", "Rotation") if key in data}
    if ev.name == "TS-WAITSTART":
        end = data.get("WaitEndTime")
        if isinstance(end, str):
            seconds = (datetime.fromisoformat(end) - ev.time).total_seconds()
            headers["SecondsUntilNextTarget"] = round(seconds)
        if "TargetName" in data:
            headers["TargetName"] = data["TargetName"]
    return headers


_DATA: dict[str, Callable[[SimEvent], Any]] = {
    "IMAGE-SAVE": lambda ev: image_response(ev.data["ImageStatistics"]),
    "FILTERWHEEL-CHANGED": lambda ev: {
        "From": _filter_data(ev.data.get("Previous")),
        "To": _filter_data(ev.data.get("New")),
    },
    "FLAT-BRIGHTNESS-CHANGED": lambda ev: _from_to(ev.data),
    "AUTOFOCUS-POINT-ADDED": lambda ev: {"X": ev.data.get("Position"), "Y": ev.data.get("HFR")},
    "ROTATOR-MOVED": lambda ev: {**ev.data, "Mechanical": False},
    "ROTATOR-MOVED-MECHANICAL": lambda ev: {**ev.data, "Mechanical": True},
    "TS-WAITSTART": _ts_headers,
    "TS-NEWTARGETSTART": _ts_headers,
    "TS-TARGETSTART": _ts_headers,
}


def v3_event(ev: SimEvent) -> JsonDict | None:
    """Return the v3 socket message of `ev`, None when v3 does not send it."""
    name = v3_name(ev.name)
    if name is None:
        return None
    render = _DATA.get(ev.name)
    data = render(ev) if render else (dict(ev.data) or None)
    return {"Event": name} if data is None else {"Event": name, "Data": data}


def v3_history_item(ev: SimEvent) -> JsonDict | None:
    """Return the `/v3/api/events` item of `ev`, None when v3 does not store it."""
    message = v3_event(ev)
    if message is None or message["Event"] in _NOT_STORED:
        return None
    stamp = net_time(ev.time.astimezone(UTC))
    return {**message, "Timestamp": stamp.removesuffix("+00:00") + "Z"}


def v3_image_record(ev: SimEvent) -> JsonDict:
    """Return the `/v3/api/image/history` record of an IMAGE-SAVE event."""
    return image_response(ev.data["ImageStatistics"])


def v3_socket_text(ev: SimEvent) -> str | None:
    """Return the v3 frame text (NaN as the string "NaN", as v3's serializer writes it)."""
    message = v3_event(ev)
    return None if message is None else json.dumps(to_rest(message), ensure_ascii=False)


@dataclass(frozen=True)
class Rendering:
    """How one API version tells an event: socket text, history item, image record.

    None from `socket_text` or `history_item`: that version does not send or store the event.
    """

    socket_text: Callable[[SimEvent], str | None]
    history_item: Callable[[SimEvent], JsonDict | None]
    image_record: Callable[[SimEvent], JsonDict]


RENDERINGS = {
    "v2": Rendering(socket_text, history_item, image_record),
    "v3": Rendering(v3_socket_text, v3_history_item, v3_image_record),
}


def _json(payload: Any, status: int = 200) -> web.Response:
    text = json.dumps(to_rest(payload), allow_nan=False)
    return web.Response(text=text, status=status, content_type="application/json")


def _page(request: web.Request, items: list[JsonDict]) -> list[JsonDict]:
    """v3's pager: page-size -1 is everything, else pages count from 1 (size 20 by default)."""
    size = int(request.query.get("page-size", "20"))
    page = int(request.query.get("page", "0"))
    if size == -1:
        return items
    if page < 1 or size < 1:
        return []
    return items[(page - 1) * size : page * size]


def routes(sim: NinaSimulator) -> list[web.RouteDef]:
    """Return the v3 plugin's routes the integration reads, served from `sim`'s state."""

    async def version(request: web.Request) -> web.Response:
        return _json({"Version": sim.plugin_version})

    async def application_start(request: web.Request) -> web.Response:
        return _json({"Time": net_time(sim.application_start)})

    async def events(request: web.Request) -> web.Response:
        return _json(_page(request, sim.history))

    async def image_history(request: web.Request) -> web.Response:
        if not sim.images:
            return _json({"Error": "Not Found", "Message": "No images available"}, 404)
        return _json(_page(request, sim.images))

    return [
        web.get("/v3/api/version", version),
        web.get("/v3/api/time/application-start", application_start),
        web.get("/v3/api/events", events),
        web.get("/v3/api/image/history", image_history),
    ]
