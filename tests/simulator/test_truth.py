"""truth_from_events: the session semantics of issue 15 on small hand-made event lists."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from simulator.events import JsonDict, SimEvent
from simulator.truth import GroundTruth, truth_from_events

T0 = datetime(2026, 11, 24, 21, 0, tzinfo=ZoneInfo("Europe/Berlin"))


def night(*steps: tuple[float, str] | tuple[float, str, JsonDict]) -> GroundTruth:
    """Return the truth of events given as (seconds after T0, name[, data])."""
    events = [
        SimEvent(T0 + timedelta(seconds=s[0]), s[1], s[2] if len(s) > 2 else {}) for s in steps
    ]
    return truth_from_events(events)


def light(seconds: float) -> tuple[float, str, JsonDict]:
    """Return a LIGHT frame's IMAGE-SAVE step."""
    stats = {"ImageType": "LIGHT", "ExposureTime": 60.0, "Filter": "L", "TargetName": "M 31"}
    return (seconds, "IMAGE-SAVE", {"ImageStatistics": stats})


def test_work_without_sequence_start_opens_a_run() -> None:
    """Test that guiding opens the run (no SEQUENCE-STARTING), connects and safety do not."""
    truth = night(
        (0, "CAMERA-CONNECTED"), (1, "SAFETY-CHANGED", {"IsSafe": True}), (5, "GUIDER-START"),
        light(70), (80, "SEQUENCE-FINISHED"),
    )  # fmt: skip
    assert truth.states == [("imaging", "GUIDER-START"), ("idle", "SEQUENCE-FINISHED")]


def test_unexplained_guider_stop_pauses_after_the_grace_period() -> None:
    """Test that a guider stop nothing explains for 180 s is a pause, left by frames."""
    truth = night((0, "GUIDER-START"), light(60), (61, "GUIDER-STOP"), light(400))
    assert truth.states == [
        ("imaging", "GUIDER-START"),
        ("paused", "GUIDER-STOP"),
        ("imaging", "IMAGE-SAVE"),
    ]
    assert truth.pauses == 1


def test_guider_stop_explained_after_or_before_it_is_no_pause() -> None:
    """Test stops explained by centering within the grace, or by a target start just before."""
    after = night((0, "GUIDER-START"), (60, "GUIDER-STOP"), (200, "MOUNT-CENTER"), light(600))
    before = night(
        (0, "GUIDER-START"), (60, "TS-NEWTARGETSTART"), (61, "GUIDER-STOP"),
        (400, "MOUNT-CENTER"), (420, "GUIDER-START"), light(600),
    )  # fmt: skip
    assert after.pauses == before.pauses == 0
    assert after.states == [("imaging", "GUIDER-START")]
    assert before.states == [("imaging", "GUIDER-START")]


def test_homing_and_waits() -> None:
    """Test waiting on TS-WAITSTART and on homing while running, left by the next work."""
    truth = night(
        (0, "TS-NEWTARGETSTART"), light(60), (70, "TS-WAITSTART"), (71, "GUIDER-STOP"),
        (100, "MOUNT-HOMED"), (2000, "TS-NEWTARGETSTART"), light(2100), (2110, "MOUNT-HOMED"),
        (2200, "MOUNT-UNPARKED"), (2300, "SEQUENCE-FINISHED"),
    )  # fmt: skip
    assert truth.states == [
        ("imaging", "TS-NEWTARGETSTART"),
        ("waiting", "TS-WAITSTART"),
        ("imaging", "TS-NEWTARGETSTART"),
        ("waiting", "MOUNT-HOMED"),
        ("imaging", "MOUNT-UNPARKED"),
        ("idle", "SEQUENCE-FINISHED"),
    ]
    assert truth.pauses == 0


def test_unsafe_sky_pauses_a_run_but_not_panel_flats() -> None:
    """Test one pause for an unsafe sky while running, none while the panel is lit, none idle."""
    flat = {"ImageStatistics": {"ImageType": "FLAT", "ExposureTime": 1.0, "Filter": "L"}}
    truth = night(
        (0, "SAFETY-CHANGED", {"IsSafe": False}),  # before any run: nothing
        (10, "AUTOFOCUS-STARTING"), (20, "SAFETY-CHANGED", {"IsSafe": False}),
        (30, "MOUNT-HOMED"), (40, "FLAT-LIGHT-TOGGLED"), (50, "IMAGE-SAVE", flat),
        (51, "SAFETY-CHANGED", {"IsSafe": False}), (60, "FLAT-LIGHT-TOGGLED"),
        (70, "SEQUENCE-FINISHED"),
    )  # fmt: skip
    assert truth.pauses == 1
    assert truth.states == [
        ("imaging", "AUTOFOCUS-STARTING"),
        ("paused", "SAFETY-CHANGED"),
        ("flats", "FLAT-LIGHT-TOGGLED"),
        ("idle", "SEQUENCE-FINISHED"),
    ]


def test_sparse_frame_under_a_lit_panel_is_a_flat() -> None:
    """Test that an IMAGE-SAVE with no statistics opens flats when the panel is lit."""
    truth = night((0, "FLAT-LIGHT-TOGGLED"), (5, "IMAGE-SAVE"), (9, "FLAT-LIGHT-TOGGLED"))
    assert truth.states == [("flats", "IMAGE-SAVE"), ("idle", "FLAT-LIGHT-TOGGLED")]
    assert truth.frames_by_type == {}  # no statistics: not counted as a frame type


def test_autofocus_runs_and_failures() -> None:
    """Test that every start is a run, and a failed run (error, restart, never done) counts once."""
    truth = night(
        (0, "AUTOFOCUS-STARTING"), (10, "ERROR-AF"), (11, "AUTOFOCUS-STARTING"),
        (20, "AUTOFOCUS-FINISHED"), (30, "AUTOFOCUS-STARTING"), (40, "AUTOFOCUS-STARTING"),
        (50, "AUTOFOCUS-FINISHED"), (60, "AUTOFOCUS-STARTING"), (70, "SEQUENCE-FINISHED"),
        (80, "AUTOFOCUS-STARTING"),
    )  # fmt: skip
    assert truth.autofocus_runs == 6
    assert truth.autofocus_failed == 4  # the error, the restarted, the unfinished, the last
    assert truth.errors == 1
