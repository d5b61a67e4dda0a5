"""The night generator: determinism, realism of the event order, ground truth, wire shapes."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
import itertools
import json
import math
import re

import pytest

from simulator.night import (
    OLD_PLUGIN_MISSING,
    PRESETS,
    Night,
    SimEvent,
    generate_night,
    generate_week,
    history_item,
    image_record,
    net_time,
    preset_night,
    socket_message,
    to_jsonl_lines,
    to_rest,
    truth_from_events,
)

STAT_KEYS = {
    "ExposureTime", "ImageType", "Filter", "RmsText", "Temperature", "CameraName", "TargetName",
    "Gain", "Offset", "Date", "TelescopeName", "FocalLength", "StDev", "Mean", "Median", "Min",
    "Max", "Stars", "HFR", "HFRStDev", "IsBayered", "Filename",
}  # fmt: skip
NET_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?[+-]\d\d:\d\d$")


@pytest.fixture(scope="module")
def full() -> Night:
    """Return the `full` preset night (generated once for the module)."""
    return preset_night("full")


def names(night: Night) -> list[str]:
    """Return the night's event names, in order."""
    return [ev.name for ev in night.events]


def stats_of(night: Night) -> list[dict[str, object]]:
    """Return the ImageStatistics of every IMAGE-SAVE event."""
    return [ev.data["ImageStatistics"] for ev in night.events if ev.name == "IMAGE-SAVE"]


def index_after(seq: list[str], name: str, start: int) -> int:
    """Return the index of `name` in `seq`, searching from `start`."""
    return seq.index(name, start)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_same_seed_same_night(preset: str) -> None:
    """Test that a preset generates the same events and truth every time."""
    a, b = preset_night(preset), preset_night(preset)
    assert to_jsonl_lines(a.events) == to_jsonl_lines(b.events)
    assert a.events == b.events
    assert a.truth == b.truth


def test_other_seed_other_night() -> None:
    """Test that another seed changes the details but not the plan or the truth."""
    a = preset_night("simple")
    b = preset_night("simple", seed=PRESETS["simple"].seed + 1)
    assert to_jsonl_lines(a.events) != to_jsonl_lines(b.events)
    assert names(a) == names(b)  # same plan, other details
    assert a.truth == b.truth


@pytest.mark.parametrize("preset", sorted(set(PRESETS) - {"old_plugin"}))
def test_truth_matches_the_event_list(preset: str) -> None:
    """Test that the truth counted while generating equals the one read from the events."""
    night = preset_night(preset)
    assert truth_from_events(night.events) == night.truth


def test_old_plugin_truth_matches_except_targets() -> None:
    """Test that old-plugin frames lack the newer keys, so only the targets cannot be derived."""
    night = preset_night("old_plugin")
    derived = truth_from_events(night.events)
    assert derived.targets == []  # no TargetName on the wire, no Target Scheduler
    assert replace(derived, targets=night.truth.targets) == night.truth
    for stats in stats_of(night):
        assert not set(OLD_PLUGIN_MISSING) & set(stats)


def test_truth_counts_by_hand(full: Night) -> None:
    """Test the full night's truth against counts worked out from its spec and events."""
    seq = names(full)
    spec = full.spec
    lights = spec.lights_per_filter * len(spec.targets)
    assert full.truth.lights_by_filter == dict.fromkeys(spec.filters, lights)
    assert full.truth.light_seconds_by_filter == dict.fromkeys(
        spec.filters, lights * spec.light_exposure
    )
    assert full.truth.frames_by_type == {
        "LIGHT": lights * len(spec.filters),
        "FLAT": spec.flats_per_filter * len(spec.filters),
        "DARK": spec.darks,
        "BIAS": spec.bias,
    }
    assert full.truth.targets == list(spec.targets)
    assert full.truth.dithers == seq.count("GUIDER-DITHER") > 0
    # Every start counts, a failed run that is retried too; the failed ones end in ERROR-AF.
    assert (
        full.truth.autofocus_runs
        == seq.count("AUTOFOCUS-STARTING")
        > seq.count("AUTOFOCUS-FINISHED")
    )
    assert full.truth.autofocus_failed == seq.count("ERROR-AF") > 0
    assert full.truth.meridian_flips == seq.count("MOUNT-AFTER-FLIP") == 1
    assert full.truth.pauses == 1
    assert full.truth.errors == seq.count("ERROR-AF") > 0
    assert full.truth.states == [
        ("imaging", "SEQUENCE-STARTING"),
        ("paused", "SAFETY-CHANGED"),  # the cloud: parking while unsafe keeps it paused
        ("imaging", "SAFETY-CHANGED"),
        ("waiting", "MOUNT-PARKED"),  # parked at the end, before SEQUENCE-FINISHED
        ("idle", "SEQUENCE-FINISHED"),
        ("flats", "FLAT-LIGHT-TOGGLED"),
        ("idle", "FLAT-LIGHT-TOGGLED"),
        ("darks", "IMAGE-SAVE"),
    ]
    assert full.truth.nina_restarts == 1
    assert full.truth.integration_seconds == sum(full.truth.light_seconds_by_filter.values())


def test_times_increase_in_ninas_zone(full: Night) -> None:
    """Test that event times are unique, increasing and in NINA's zone, and epochs only go up."""
    times = [ev.time for ev in full.events]
    assert times == sorted(times)
    assert len(set(times)) == len(times)
    assert all(t.utcoffset() == timedelta(hours=1) for t in times)  # CET in November
    local_start = full.events[0].time
    assert local_start.date() == full.spec.date
    assert local_start.hour == int(full.spec.start_hour)
    epochs = [ev.epoch for ev in full.events]
    assert epochs == sorted(epochs)
    assert set(epochs) == {0, 1}


def test_night_shape(full: Night) -> None:
    """Test the order of a night: connections, start, targets, frames, filter changes, autofocus."""
    seq = names(full)
    first_light = next(i for i, ev in enumerate(full.events) if ev.name == "IMAGE-SAVE")
    assert seq[:7] == [f"{d}-CONNECTED" for d in ("CAMERA", "FILTERWHEEL", "FOCUSER", "MOUNT")] + [
        "GUIDER-CONNECTED",
        "FLAT-CONNECTED",
        "SAFETY-CONNECTED",
    ]
    assert seq.index("MOUNT-UNPARKED") < seq.index("SEQUENCE-STARTING") < first_light
    assert seq.index("TS-TARGETSTART") < seq.index("MOUNT-CENTER") < seq.index("GUIDER-START")
    # every IMAGE-SAVE directly follows its IMAGE-PREPARED
    for i, name in enumerate(seq):
        if name == "IMAGE-SAVE":
            assert seq[i - 1] == "IMAGE-PREPARED"
    # no FILTERWHEEL-CHANGED for the first selection: the first change leaves the first filter
    first_change = full.events[seq.index("FILTERWHEEL-CHANGED")]
    assert first_change.data["Previous"] == {"Name": full.spec.filters[0], "Id": 0}
    assert first_change.data["New"] == {"Name": full.spec.filters[1], "Id": 1}
    assert seq.index("FILTERWHEEL-CHANGED") > first_light
    # autofocus: starting, five points, finished (or a failed run with ERROR-AF)
    start = seq.index("AUTOFOCUS-STARTING")
    assert seq[start + 1 : start + 7] == ["AUTOFOCUS-POINT-ADDED"] * 5 + ["AUTOFOCUS-FINISHED"]
    point = full.events[start + 1].data
    assert set(point) == {"HFR", "Position"}
    error = seq.index("ERROR-AF")
    assert seq[error + 1] == "AUTOFOCUS-STARTING"


def test_meridian_flip_and_cloud_pause(full: Night) -> None:
    """Test the event order and duration of the meridian flip and the cloud pause."""
    seq = names(full)
    flip = seq.index("MOUNT-BEFORE-FLIP")
    assert seq[flip - 1] == "GUIDER-STOP"
    assert seq[flip + 1 : flip + 4] == ["MOUNT-AFTER-FLIP", "MOUNT-CENTER", "GUIDER-START"]
    took = full.events[flip + 1].time - full.events[flip].time
    assert timedelta(minutes=2) < took < timedelta(minutes=4)
    unsafe = next(
        i
        for i, ev in enumerate(full.events)
        if ev.name == "SAFETY-CHANGED" and not ev.data["IsSafe"]
    )
    assert seq[unsafe + 1 : unsafe + 3] == ["GUIDER-STOP", "MOUNT-PARKED"]
    safe = index_after(seq, "SAFETY-CHANGED", unsafe + 1)
    assert full.events[safe].data == {"IsSafe": True}
    assert seq[safe + 1 : safe + 4] == ["MOUNT-UNPARKED", "MOUNT-CENTER", "GUIDER-START"]
    paused = full.events[safe].time - full.events[unsafe].time
    assert timedelta(minutes=15) < paused < timedelta(minutes=30)


def test_nina_restart(full: Night) -> None:
    """Test that a NINA restart reconnects the equipment and restarts the sequence."""
    first = next(i for i, ev in enumerate(full.events) if ev.epoch == 1)
    seq = names(full)
    assert seq[first] == "CAMERA-CONNECTED"
    assert "SEQUENCE-STARTING" in seq[first : first + 10]
    assert len(full.application_starts) == 2
    before, after = full.events[first - 1].time, full.events[first].time
    assert before < full.application_starts[1] < after
    assert full.application_starts[0] < full.events[0].time
    assert seq.count("SEQUENCE-STARTING") == 2
    assert seq.count("SEQUENCE-FINISHED") == 1


def test_end_of_night_and_calibration(full: Night) -> None:
    """Test the end of the sequence, then flats under the flat light, darks and bias."""
    seq = names(full)
    end = seq.index("SEQUENCE-FINISHED")
    assert seq[end - 2 : end] == ["GUIDER-STOP", "MOUNT-PARKED"]
    types_after = [s.get("ImageType") for s in stats_of(full)][-(5 * 6 + 5 + 10) :]
    assert types_after == ["FLAT"] * 30 + ["DARK"] * 5 + ["BIAS"] * 10
    cover = seq.index("FLAT-COVER-CLOSED")
    on = seq.index("FLAT-LIGHT-TOGGLED")
    off = index_after(seq, "FLAT-LIGHT-TOGGLED", on + 1)
    assert end < cover < on < off
    assert seq[on:off].count("FLAT-BRIGHTNESS-CHANGED") == len(full.spec.filters)
    flats = [
        i
        for i, ev in enumerate(full.events)
        if ev.name == "IMAGE-SAVE" and ev.data["ImageStatistics"]["ImageType"] == "FLAT"
    ]
    assert all(on < i < off for i in flats)
    assert "FLAT-COVER-OPENED" not in seq[cover:]
    brightness = full.events[seq.index("FLAT-BRIGHTNESS-CHANGED")].data
    assert set(brightness) == {"Previous", "New"}


def test_image_statistics(full: Night) -> None:
    """Test the keys and values of ImageStatistics for lights and flats."""
    all_stats = stats_of(full)
    for stats in all_stats:
        assert set(stats) == STAT_KEYS
        assert NET_TIME.match(str(stats["Date"]))
    lights = [s for s in all_stats if s["ImageType"] == "LIGHT"]
    assert all(str(s["RmsText"]).startswith("Tot: ") for s in lights)
    assert all(isinstance(s["Stars"], int) and s["Stars"] > 0 for s in lights)
    assert {s["TargetName"] for s in lights} == set(full.spec.targets)
    flats = [s for s in all_stats if s["ImageType"] == "FLAT"]
    assert all(s["RmsText"] == "" and math.isnan(float(str(s["HFR"]))) for s in flats)
    filenames = [s["Filename"] for s in all_stats]
    assert len(set(filenames)) == len(filenames)


def test_image_date_is_save_time_by_default(full: Night) -> None:
    """Test that the image Date is the save time, or the exposure start when asked."""
    saves = [ev for ev in full.events if ev.name == "IMAGE-SAVE"]
    for ev in saves:
        stamp = datetime.fromisoformat(ev.data["ImageStatistics"]["Date"])
        assert timedelta(0) < ev.time - stamp < timedelta(seconds=1)
    night = preset_night("simple", date_is_exposure_start=True)
    for ev in night.events:
        if ev.name == "IMAGE-SAVE":
            stats = ev.data["ImageStatistics"]
            took = ev.time - datetime.fromisoformat(stats["Date"])
            assert timedelta(seconds=stats["ExposureTime"]) < took
            assert took < timedelta(seconds=stats["ExposureTime"] + 5)


def test_image_date_offset_is_right_in_the_repeated_dst_hour() -> None:
    """Test that frames saved in the hour that repeats when summer time ends carry its offset.

    Wall-clock arithmetic in the zone used to give the second pass the first pass's +02:00,
    an hour off, which the engine then keyed an hour early and stored twice.
    """
    spec = replace(PRESETS["full"], date=date(2026, 10, 24), tz="Europe/Berlin", start_hour=22.5)
    saves = [ev for ev in generate_night(spec).events if ev.name == "IMAGE-SAVE"]
    assert {ev.time.utcoffset() for ev in saves} == {timedelta(hours=2), timedelta(hours=1)}
    for ev in saves:
        stamp = datetime.fromisoformat(ev.data["ImageStatistics"]["Date"])
        assert stamp.utcoffset() == ev.time.utcoffset()
        assert timedelta(0) < ev.time - stamp < timedelta(seconds=1)


def test_calibration_only_has_no_sequence() -> None:
    """Test that a calibration-only night has no sequence, guiding or mount moves."""
    night = preset_night("calibration_only")
    seq = names(night)
    moves = [n for n in seq if n.startswith(("SEQUENCE-", "GUIDER-", "MOUNT-"))]
    assert moves == ["MOUNT-CONNECTED", "GUIDER-CONNECTED"]
    assert night.truth.frames_by_type == {"FLAT": 20, "DARK": 5, "BIAS": 10}
    assert night.truth.lights_by_filter == {}
    assert seq.count("FILTERWHEEL-CHANGED") == 3


def test_osc_frames_have_no_filter() -> None:
    """Test that OSC frames carry an empty filter name on the socket and over REST.

    NINA sends "" when the rig has no filter wheel (nina-protocol.md, "Real rigs").
    """
    night = preset_night("osc")
    assert night.truth.lights_by_filter == {"none": 6}
    assert "FILTERWHEEL-CONNECTED" not in names(night)
    save = next(ev for ev in night.events if ev.name == "IMAGE-SAVE")
    assert save.data["ImageStatistics"]["Filter"] == ""
    assert save.data["ImageStatistics"]["IsBayered"] is True
    assert '"Filter": ""' in json.dumps(socket_message(save))
    assert to_rest(image_record(save))["Filter"] == ""


def test_wire_helpers(full: Night) -> None:
    """Test the socket message, history item and image record shapes (copies of the data)."""
    save = next(ev for ev in full.events if ev.name == "IMAGE-SAVE")
    change = next(ev for ev in full.events if ev.name == "FILTERWHEEL-CHANGED")
    message = socket_message(change)
    assert message == {
        "Response": {"Event": "FILTERWHEEL-CHANGED", **change.data},
        "Error": "",
        "StatusCode": 200,
        "Success": True,
        "Type": "Socket",
    }
    assert history_item(change) == {
        "Event": "FILTERWHEEL-CHANGED",
        **change.data,
        "Time": net_time(change.time),
    }
    assert history_item(save) == {"Event": "IMAGE-SAVE", "Time": net_time(save.time)}
    assert image_record(save) == save.data["ImageStatistics"]
    with pytest.raises(TypeError):
        image_record(change)
    message["Response"]["Previous"]["Name"] = "changed"  # a copy, not the event's data
    assert change.data["Previous"]["Name"] != "changed"


def test_jsonl_lines_round_trip(full: Night) -> None:
    """Test that JSONL replay lines carry the frame and its receive time."""
    lines = to_jsonl_lines(full.events, receive_delay=timedelta(milliseconds=80))
    assert len(lines) == len(full.events)
    assert any(": NaN" in line for line in lines)  # bare NaN, as Newtonsoft writes it
    for line, ev in zip(lines, full.events, strict=True):
        item = json.loads(line)
        assert set(item) == {"t", "frame"}
        received = datetime.fromisoformat(item["t"])
        assert received - ev.time == timedelta(milliseconds=80)
        assert item["frame"]["Response"]["Event"] == ev.name
        assert item["frame"]["Type"] == "Socket"


def test_net_time_format() -> None:
    """Test that net_time writes .NET's round-trip format and parses back exactly."""
    night = preset_night("simple")
    for ev in night.events:
        text = net_time(ev.time)
        assert NET_TIME.match(text), text
        assert datetime.fromisoformat(text) == ev.time  # the 7th digit is below a microsecond
    zone = night.events[0].time.tzinfo
    assert net_time(datetime(2026, 11, 24, 21, 3, 5, tzinfo=zone)) == "2026-11-24T21:03:05+01:00"
    summer = datetime(2026, 7, 1, 22, 0, 0, 123456, tzinfo=zone)
    assert net_time(summer).startswith("2026-07-01T22:00:00.123456")
    assert net_time(summer).endswith("+02:00")


def test_to_rest() -> None:
    """Test that to_rest writes non-finite floats as strings and drops nulls."""
    payload = {"a": math.nan, "b": None, "c": [math.inf, -math.inf, 1.5], "d": {"e": None}}
    assert to_rest(payload) == {"a": "NaN", "c": ["Infinity", "-Infinity", 1.5], "d": {}}


def test_week() -> None:
    """Test that a week is reproducible, consecutive and consistent with its truth."""
    start = date(2026, 11, 20)
    week = generate_week(start, seed=7)
    again = generate_week(start, seed=7)
    assert [to_jsonl_lines(n.events) for n in week] == [to_jsonl_lines(n.events) for n in again]
    assert [n.spec.date for n in week] == [start + timedelta(days=i) for i in range(7)]
    for night, following in itertools.pairwise(week):
        assert night.end < following.start
    for night in week:
        assert truth_from_events(night.events) == night.truth
    assert len({n.spec.seed for n in week}) == 7
    assert generate_week(start, nights=2, seed=8)[0].events != week[0].events


def test_spec_accepts_lists_and_stays_hashable() -> None:
    """Test that lists in a spec become tuples, so specs and events stay hashable."""
    spec = replace(PRESETS["simple"], targets=["M 1"], filters=["L"])
    assert spec.targets == ("M 1",)
    assert hash(spec) == hash(replace(spec))
    night = generate_night(spec)
    assert night.truth.targets == ["M 1"]
    ev = night.events[0]
    assert isinstance(ev, SimEvent)
    assert hash(ev) == hash(replace(ev))
