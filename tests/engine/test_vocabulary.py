"""The plugin's whole event vocabulary: every name parses, has a role, and the list is complete."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from custom_components.nina_session.engine.fsm import HANDLED_EVENTS
from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.vocabulary import (
    OTHER_EVENTS,
    PLUGIN_EVENTS,
    Role,
    role_of,
)
from custom_components.nina_session.engine.wire import parse_event_history, parse_socket_frame
from tests.engine.frames import T0, event, frames

# The event names of christian-photo/ninaAPI tag 2.2.15.0 (commit
# afbf2b42d5ba2f234e4434cb248a278dcd955011): every quoted upper-case name in its C# sources
# (`grep -rhoE '"[A-Z][A-Z0-9]*(-[A-Z0-9]+)+"' --include=*.cs ninaAPI`, 65 names, all passed to
# WebSocketV2.SendAndAddEvent), plus the three Target Scheduler topics TSWatcher forwards as
# `Topic.Replace("TargetScheduler", "TS").ToUpper()` (WaitStart, NewTargetStart, TargetStart).
# Cross-checked with the plugin's websocket_spec.yaml and /work/shared/nina-protocol.md.
PLUGIN_2_2_15_NAMES = [
    "API-CAPTURE-FINISHED",
    "AUTOFOCUS-FINISHED",
    "AUTOFOCUS-POINT-ADDED",
    "AUTOFOCUS-STARTING",
    "CAMERA-CONNECTED",
    "CAMERA-DISCONNECTED",
    "CAMERA-DOWNLOAD-TIMEOUT",
    "DOME-CONNECTED",
    "DOME-DISCONNECTED",
    "DOME-HOMED",
    "DOME-PARKED",
    "DOME-SHUTTER-CLOSED",
    "DOME-SHUTTER-OPENED",
    "DOME-SLEWED",
    "DOME-STOPPED",
    "DOME-SYNCED",
    "ERROR-AF",
    "ERROR-PLATESOLVE",
    "FILTERWHEEL-CHANGED",
    "FILTERWHEEL-CONNECTED",
    "FILTERWHEEL-DISCONNECTED",
    "FLAT-BRIGHTNESS-CHANGED",
    "FLAT-CONNECTED",
    "FLAT-COVER-CLOSED",
    "FLAT-COVER-OPENED",
    "FLAT-DISCONNECTED",
    "FLAT-LIGHT-TOGGLED",
    "FOCUSER-CONNECTED",
    "FOCUSER-DISCONNECTED",
    "FOCUSER-USER-FOCUSED",
    "GUIDER-CONNECTED",
    "GUIDER-DISCONNECTED",
    "GUIDER-DITHER",
    "GUIDER-START",
    "GUIDER-STOP",
    "IMAGE-PREPARED",
    "IMAGE-SAVE",
    "MOUNT-AFTER-FLIP",
    "MOUNT-BEFORE-FLIP",
    "MOUNT-CENTER",
    "MOUNT-CONNECTED",
    "MOUNT-DISCONNECTED",
    "MOUNT-HOMED",
    "MOUNT-PARKED",
    "MOUNT-UNPARKED",
    "PROFILE-ADDED",
    "PROFILE-CHANGED",
    "PROFILE-REMOVED",
    "ROTATOR-CONNECTED",
    "ROTATOR-DISCONNECTED",
    "ROTATOR-MOVED",
    "ROTATOR-MOVED-MECHANICAL",
    "ROTATOR-SYNCED",
    "SAFETY-CHANGED",
    "SAFETY-CONNECTED",
    "SAFETY-DISCONNECTED",
    "SEQUENCE-ENTITY-FAILED",
    "SEQUENCE-FINISHED",
    "SEQUENCE-STARTING",
    "STACK-STATUS",
    "STACK-UPDATED",
    "SWITCH-CONNECTED",
    "SWITCH-DISCONNECTED",
    "WEATHER-CONNECTED",
    "WEATHER-DISCONNECTED",
    "TS-WAITSTART",
    "TS-NEWTARGETSTART",
    "TS-TARGETSTART",
]

_COORDS = {"RA": 0.712, "RAString": "00:42:44", "RADegrees": 10.68, "Dec": 41.27,
           "DecString": "41° 16' 09\"", "Epoch": "J2000"}  # fmt: skip
_TARGET = {"TargetName": "M 31", "ProjectName": "M 31 LRGB", "Coordinates": _COORDS,
           "Rotation": 0.0, "TargetEndTime": "2026-11-25T04:10:00.1234567"}  # fmt: skip
_STATS = {"ExposureTime": 300.0, "ImageType": "LIGHT", "Filter": "Ha", "RmsText": "",
          "Temperature": float("nan"), "Date": "2026-11-24T19:05:00.1234567+01:00",
          "HFR": 2.1, "Stars": 1450, "TargetName": "M 31"}  # fmt: skip

#: The data keys each event carries on the socket (nina-protocol.md, checked in the C# code).
SOCKET_DATA: dict[str, dict[str, Any]] = {
    "IMAGE-SAVE": {"ImageStatistics": _STATS},
    "FILTERWHEEL-CHANGED": {"Previous": {"Name": "L", "Id": 0}, "New": {"Name": "Ha", "Id": 4}},
    "FLAT-BRIGHTNESS-CHANGED": {"Previous": 0, "New": 2048},
    "SAFETY-CHANGED": {"IsSafe": False},
    "AUTOFOCUS-POINT-ADDED": {"HFR": 2.4, "Position": 12040},
    "DOME-SLEWED": {"From": 120.0, "To": 182.5},
    "ROTATOR-MOVED": {"From": 10.0, "To": 92.0},
    "ROTATOR-MOVED-MECHANICAL": {"From": 10.0, "To": 92.0},
    "SEQUENCE-ENTITY-FAILED": {"Entity": "Center", "Error": "Plate solve failed"},
    "STACK-UPDATED": {"Filter": "Ha", "Target": "M 31", "IsMonochrome": True, "StackCount": 4},
    "STACK-STATUS": {"Status": "Running"},
    "TS-WAITSTART": {"WaitEndTime": "2026-11-24T21:00:00+01:00"},
    "TS-NEWTARGETSTART": _TARGET,
    "TS-TARGETSTART": _TARGET,
}


def history_data(name: str) -> dict[str, Any]:
    """Return the same event's data as an `/event-history` item holds it (plugin >= 2.2.12.1).

    IMAGE-SAVE items are sparse; nested objects come back as empty-array placeholders.
    """
    if name == "IMAGE-SAVE":
        return {}
    data = SOCKET_DATA.get(name, {})
    return {
        key: {inner: [] for inner in value} if isinstance(value, dict) else value
        for key, value in data.items()
    }


def test_the_vocabulary_is_the_plugins_list() -> None:
    """Test that the names we know are exactly the 68 the plugin 2.2.15.0 can send."""
    assert len(PLUGIN_2_2_15_NAMES) == len(set(PLUGIN_2_2_15_NAMES)) == 68
    assert set(PLUGIN_EVENTS) == set(PLUGIN_2_2_15_NAMES)
    assert not set(OTHER_EVENTS) & set(PLUGIN_EVENTS)


@pytest.mark.parametrize("name", PLUGIN_2_2_15_NAMES)
def test_every_plugin_event_parses_and_has_a_role(name: str) -> None:
    """Test that each name parses from a socket frame and a history item, and has a role."""
    live = parse_socket_frame(json.dumps(event(name, **SOCKET_DATA.get(name, {}))), T0)
    assert (live.name, live.time_text, live.received_at) == (name, None, T0)
    assert json.dumps(dict(live.data)) == json.dumps(SOCKET_DATA.get(name, {}))
    item = {"Event": name, **history_data(name), "Time": "2026-11-24T19:00:00.1234567+01:00"}
    envelope = {"Response": [item], "Error": "", "StatusCode": 200, "Success": True, "Type": "API"}
    (stored,), rejected = parse_event_history(envelope)
    assert (stored.name, stored.time_text, dict(stored.data), rejected) == (
        name,
        item["Time"],
        history_data(name),
        0,
    )
    assert role_of(name) in set(Role)


def test_ignored_names_say_why() -> None:
    """Test that every name we ignore on purpose carries its one-line reason."""
    for name, term in {**PLUGIN_EVENTS, **OTHER_EVENTS}.items():
        assert term.why, name
        assert "\n" not in term.why and len(term.why) <= 80, name


def test_unknown_names_pass_through_counted_and_logged_once(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    """Test that a name outside the vocabulary is stored, counted by name and logged once."""
    caplog.set_level(logging.DEBUG, logger="custom_components.nina_session.engine.health")
    result = pipeline.ingest_frames(
        frames(
            (1, event("SOMETHING-NEW", X=1)),
            (2, event("SOMETHING-NEW", X=2)),
            (3, event("SAFETY-CHANGED", IsSafe=True)),
            (4, event("OTHER-NEW")),
        )
    )
    assert [a.event.name for a in result.applied] == [
        "SOMETHING-NEW",
        "SOMETHING-NEW",
        "SAFETY-CHANGED",
        "OTHER-NEW",
    ]
    assert result.rejected == 0
    assert pipeline.counters.unknown_by_type == {"SOMETHING-NEW": 2, "OTHER-NEW": 1}
    assert pipeline.counters.as_dict(detailed=True)["unknown_by_type"] == {
        "OTHER-NEW": 1,
        "SOMETHING-NEW": 2,
    }
    logged = [r.getMessage() for r in caplog.records if "not in the plugin vocabulary" in r.message]
    assert len(logged) == 2


def test_every_state_event_is_one_the_state_machine_handles() -> None:
    """Test that the vocabulary's state events and the state machine's handlers agree."""
    handled = HANDLED_EVENTS
    said = {name for name in PLUGIN_EVENTS if role_of(name) == Role.STATE}
    assert said - handled == set()
