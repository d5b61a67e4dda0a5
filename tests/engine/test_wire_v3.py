"""Plugin v3 frames and histories read into the same values as their v2 twins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from custom_components.nina_session.engine.errors import FrameError
from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.replay import read_jsonl, recording_line
from custom_components.nina_session.engine.wire import (
    MAX_FRAME_BYTES,
    WireEvent,
    parse_event_history,
    parse_image_history,
    parse_socket_frame,
    parse_socket_message,
)
from custom_components.nina_session.engine.wire_v3 import WIRE_V3, history_inputs, socket_frame
from tests.engine.frames import T0, event

_V3_IMAGE = {
    "ExposureTime": 300.0, "ImageType": "LIGHT", "Filter": "Ha", "RmsText": 'Tot: 0.62 (0.55")',
    "Temperature": "NaN", "CameraName": "ZWO ASI2600MM Pro", "TargetName": "M 31", "Gain": 100,
    "Offset": 50, "ExposureSave": "2026-11-24T19:05:00.1234567+01:00", "TelescopeName": "RC8",
    "FocalLength": 1624.0, "StDev": 80.1, "Mean": 900.2, "Median": 880.0, "Min": 120.0,
    "Max": 65535.0, "Stars": 1450, "HFR": 2.1, "HFRStDev": 0.4, "IsBayered": False,
    "BitDepth": 16, "Filename": "M31_Ha_0001.fits",
}  # fmt: skip
_V2_STATS = {
    **{key: value for key, value in _V3_IMAGE.items() if key != "ExposureSave"},
    "Date": _V3_IMAGE["ExposureSave"],
}
_CUSTOM_HEADERS = {"ProjectName": "M 31 LRGB", "Rotation": 0.0,
                   "Coordinates": {"RA": 0.712, "Dec": 41.27, "Epoch": "J2000"}}  # fmt: skip


def v3(name: str, data: Any = None) -> str:
    """Return a v3 socket frame as the plugin writes it (`Data` left out when null)."""
    return json.dumps({"Event": name} if data is None else {"Event": name, "Data": data})


def read_v3(text: str) -> WireEvent:
    """Read one v3 frame the way the pipeline does (tagged, through `wire`)."""
    return parse_socket_message(socket_frame(text, MAX_FRAME_BYTES), T0)


# (v3 frame, the v2 frame the plugin's v2 socket sends for the same happening)
TWINS: list[tuple[str, dict[str, Any]]] = [
    (v3("image-saved", _V3_IMAGE), event("IMAGE-SAVE", ImageStatistics=_V2_STATS)),
    (v3("sequence-started"), event("SEQUENCE-STARTING")),
    (v3("sequence-finished"), event("SEQUENCE-FINISHED")),
    (
        v3(
            "filterwheel-filter-changed",
            {"From": {"Name": "L", "Position": 0}, "To": {"Name": "Ha", "Position": 4}},
        ),
        event("FILTERWHEEL-CHANGED", Previous={"Name": "L", "Id": 0}, New={"Name": "Ha", "Id": 4}),
    ),
    (v3("guider-guiding-started"), event("GUIDER-START")),
    (v3("guider-guiding-stopped"), event("GUIDER-STOP")),
    (v3("guider-dither"), event("GUIDER-DITHER")),
    (v3("autofocus-started"), event("AUTOFOCUS-STARTING")),
    (
        v3("autofocus-point", {"X": 12040.0, "Y": 2.4}),
        event("AUTOFOCUS-POINT-ADDED", HFR=2.4, Position=12040.0),
    ),
    (
        v3("autofocus-ended", {"Filter": "L", "Position": 12040}),
        event("AUTOFOCUS-FINISHED", Filter="L", Position=12040),
    ),
    (
        v3("mount-flip-started", {"TargetCoordinates": _CUSTOM_HEADERS["Coordinates"]}),
        event("MOUNT-BEFORE-FLIP", TargetCoordinates=_CUSTOM_HEADERS["Coordinates"]),
    ),
    (v3("mount-flip-finished", {"Success": True}), event("MOUNT-AFTER-FLIP", Success=True)),
    (v3("mount-homed"), event("MOUNT-HOMED")),
    (v3("mount-parked"), event("MOUNT-PARKED")),
    (v3("mount-unparked"), event("MOUNT-UNPARKED")),
    (v3("safetymonitor-safety-changed", {"IsSafe": False}), event("SAFETY-CHANGED", IsSafe=False)),
    (v3("flatdevice-light-toggled"), event("FLAT-LIGHT-TOGGLED")),
    (v3("flatdevice-opened"), event("FLAT-COVER-OPENED")),
    (v3("flatdevice-closed"), event("FLAT-COVER-CLOSED")),
    (
        v3("flatdevice-brightness-changed", {"From": 0, "To": 2048}),
        event("FLAT-BRIGHTNESS-CHANGED", Previous=0, New=2048),
    ),
    (v3("dome-shutter-closed"), event("DOME-SHUTTER-CLOSED")),
    (v3("camera-download-timeout"), event("CAMERA-DOWNLOAD-TIMEOUT")),
    (v3("camera-disconnected"), event("CAMERA-DISCONNECTED")),
    (v3("flatdevice-connected"), event("FLAT-CONNECTED")),
    (v3("safetymonitor-connected"), event("SAFETY-CONNECTED")),
    (v3("filterwheel-disconnected"), event("FILTERWHEEL-DISCONNECTED")),
    (v3("user-focused"), event("FOCUSER-USER-FOCUSED")),
    (v3("image-prepared"), event("IMAGE-PREPARED")),
    (
        v3("rotator-moved", {"From": 1.0, "To": 2.0, "Mechanical": False}),
        event("ROTATOR-MOVED", From=1.0, To=2.0),
    ),
    (
        v3("rotator-moved", {"From": 1.0, "To": 2.0, "Mechanical": True}),
        event("ROTATOR-MOVED-MECHANICAL", From=1.0, To=2.0),
    ),
    (
        v3("sequence-entity-failed", {"Entity": "Center", "Error": "no solution"}),
        event("SEQUENCE-ENTITY-FAILED", Entity="Center", Error="no solution"),
    ),
    (v3("livestack-status-update", {"Status": "Running"}), event("STACK-STATUS", Status="Running")),
    (
        v3("ts-wait-started", {"SecondsUntilNextTarget": 600, "TargetName": "M 33"}),
        event("TS-WAITSTART", SecondsUntilNextTarget=600, TargetName="M 33"),
    ),
    (v3("ts-newtarget-started", _CUSTOM_HEADERS), event("TS-NEWTARGETSTART", **_CUSTOM_HEADERS)),
    (v3("ts-target-started", _CUSTOM_HEADERS), event("TS-TARGETSTART", **_CUSTOM_HEADERS)),
    (v3("ts-target-complete", _CUSTOM_HEADERS), event("TS-TARGETCOMPLETE", **_CUSTOM_HEADERS)),
    (
        v3("ts-container-stopped", {"StoppedAt": "2026-11-25T05:00:00Z"}),
        event("TS-CONTAINERSTOPPED", StoppedAt="2026-11-25T05:00:00Z"),
    ),
    (
        v3("sequence-custom-event", "dawn flats next"),
        {"Response": "dawn flats next", "Success": True, "Type": "Socket"},
    ),
]


@pytest.mark.parametrize(
    ("v3_frame", "v2_frame"), TWINS, ids=[json.loads(t)["Event"] for t, _ in TWINS]
)
def test_v3_frame_reads_as_its_v2_twin(v3_frame: str, v2_frame: dict[str, Any]) -> None:
    """Test that a v3 socket frame becomes the very WireEvent its v2 twin frame becomes."""
    assert read_v3(v3_frame) == parse_socket_frame(json.dumps(v2_frame), T0)


def test_v3_image_record_is_the_v2_record() -> None:
    """Test that a v3 image-history record reads as the same ImageRecord as v2's."""
    (v3_record,), rejected = WIRE_V3.image_history([_V3_IMAGE])
    assert rejected == 0
    assert (v3_record,) == tuple(parse_image_history([_V2_STATS])[0])
    assert v3_record.date_text == _V3_IMAGE["ExposureSave"]


def test_v3_names_without_a_v2_twin_pass_upper_cased() -> None:
    """Test that a v3-only event is kept, named in the v2 style, with its data."""
    wire = read_v3(v3("mount-slewed", {"From": "a", "To": "b"}))
    assert (wire.name, dict(wire.data)) == ("MOUNT-SLEWED", {"From": "a", "To": "b"})
    assert read_v3(v3("tppa-alignment-error", "1.5'")).data == {"Data": "1.5'"}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("not json", "not_json"),
        ('["image-saved"]', "bad_shape"),
        ('{"Sender": "Server", "RequestId": "1", "Data": "Subscribed"}', "missing_event"),
        ("x" * (MAX_FRAME_BYTES + 1), "too_large"),
    ],
)
def test_bad_v3_frames_raise_the_one_error_type(raw: str, reason: str) -> None:
    """Test that unusable v3 frames are refused with the same reasons as v2's."""
    with pytest.raises(FrameError) as caught:
        read_v3(raw)
    assert caught.value.reason == reason


def test_v3_history_gets_one_sparse_image_save_per_record_in_time_order() -> None:
    """Test that v3 history (no image-saved in it) gains a sparse IMAGE-SAVE per image.

    Timestamps are UTC (an offset-less one is said to be), ExposureSave is NINA-local; the
    saves land between the events by time, as v2's history holds them, and bad items count.
    """
    events = [
        {"Event": "sequence-started", "Timestamp": "2026-11-24T18:00:00.1234567Z"},
        {"Event": "guider-guiding-started", "Timestamp": "2026-11-24T18:01:00"},
        "junk",
        {"Event": "guider-dither"},
        {"Event": "sequence-finished", "Timestamp": "2026-11-24T18:20:00Z"},
    ]
    images = [
        {**_V3_IMAGE, "ExposureSave": "2026-11-24T19:10:00+01:00"},
        {**_V3_IMAGE, "ExposureSave": "2026-11-24T19:15:00+01:00"},
    ]
    tagged_events, tagged_images = history_inputs(events, images)
    wires, rejected = parse_event_history(tagged_events)
    assert [(w.name, w.time_text, dict(w.data)) for w in wires] == [
        ("SEQUENCE-STARTING", "2026-11-24T18:00:00.1234567Z", {}),
        ("GUIDER-START", "2026-11-24T18:01:00Z", {}),
        ("IMAGE-SAVE", "2026-11-24T19:10:00+01:00", {}),
        ("IMAGE-SAVE", "2026-11-24T19:15:00+01:00", {}),
        ("SEQUENCE-FINISHED", "2026-11-24T18:20:00Z", {}),
    ]
    assert rejected == 2
    records, bad = parse_image_history(tagged_images)
    assert ([r.date_text for r in records], bad) == ([i["ExposureSave"] for i in images], 0)


def test_v3_history_that_is_not_a_list_is_refused() -> None:
    """Test that a v3 history answer of the wrong shape raises, as a v2 one does."""
    tagged_events, _ = history_inputs({"Error": "Not Found"}, [])
    with pytest.raises(FrameError):
        parse_event_history(tagged_events)


def test_pipeline_takes_v3_frames_and_history_without_knowing(pipeline: Pipeline) -> None:
    """Test that tagged v3 input goes through the unchanged pipeline.

    A live frame and its history twin (the sparse save paired with its image record) are
    one stored frame.
    """
    live = pipeline.ingest_frames([(socket_frame(v3("image-saved", _V3_IMAGE), 1 << 20), T0)])
    assert [a.event.frame.filter for a in live.applied if a.event.frame] == ["Ha"]
    history = pipeline.ingest_history(*history_inputs([], [_V3_IMAGE]))
    assert (len(history.applied), history.duplicates, history.rejected) == (0, 1, 0)


def test_v3_recording_replays_as_v3(tmp_path: Path, pipeline: Pipeline) -> None:
    """Test that a recorded v3 frame says its API and comes back tagged, so replay reads it."""
    path = tmp_path / "night.jsonl"
    frame = socket_frame(v3("safetymonitor-safety-changed", {"IsSafe": True}), MAX_FRAME_BYTES)
    path.write_text(recording_line(frame, T0) + "\n" + recording_line('{"Resp', T0) + "\n")
    assert json.loads(path.read_text().splitlines()[0])["api"] == "v3"
    items = list(read_jsonl(path))
    assert all(not isinstance(item, FrameError) for item in items)
    result = pipeline.ingest_frames(items)  # type: ignore[arg-type]
    assert [a.event.name for a in result.applied] == ["SAFETY-CHANGED"]
    assert result.rejected == 1  # the second line was garbage text, recorded as text
