"""The Target Scheduler night and the unrecorded flat run: event shapes and ground truth."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
import itertools

import pytest

from simulator.events import SimEvent
from simulator.night import PRESETS, Night, generate_week, preset_night, truth_from_events
from simulator.wire import WireShape


@pytest.fixture(scope="module")
def ts() -> Night:
    """Return the `target_scheduler` preset night (generated once for the module)."""
    return preset_night("target_scheduler")


def names(night: Night) -> list[str]:
    """Return the night's event names, in order."""
    return [ev.name for ev in night.events]


def where(night: Night, name: str) -> list[int]:
    """Return the indexes of the events called `name`."""
    return [i for i, ev in enumerate(night.events) if ev.name == name]


def frames(night: Night, kind: str) -> list[SimEvent]:
    """Return the IMAGE-SAVE events of one image type."""
    return [
        ev
        for ev in night.events
        if ev.name == "IMAGE-SAVE" and ev.data["ImageStatistics"]["ImageType"] == kind
    ]


def test_no_sequence_start_and_one_finish_at_the_very_end(ts: Night) -> None:
    """Test that the night never starts a sequence and finishes it as its last event."""
    seq = names(ts)
    assert "SEQUENCE-STARTING" not in seq
    assert where(ts, "SEQUENCE-FINISHED") == [len(seq) - 1]


def test_the_night_starts_before_its_first_frame(ts: Night) -> None:
    """Test connects, a safe sky and a 4-5 minute autofocus before any target or frame."""
    seq = names(ts)
    first_work = seq.index("AUTOFOCUS-STARTING")
    assert {f"{d}-CONNECTED" for d in ("CAMERA", "MOUNT", "GUIDER", "SAFETY")} <= set(
        seq[:first_work]
    )
    safe = seq.index("SAFETY-CHANGED")
    assert safe < first_work and ts.events[safe].data == {"IsSafe": True}
    finished = seq.index("AUTOFOCUS-FINISHED")
    points = [ts.events[i] for i in range(first_work + 1, finished)]
    assert 8 <= len(points) <= 10
    assert {p.name for p in points} == {"AUTOFOCUS-POINT-ADDED"}
    assert all(set(p.data) == {"HFR", "Position"} for p in points)
    took = ts.events[finished].time - ts.events[first_work].time
    assert timedelta(minutes=4) <= took <= timedelta(minutes=5)
    first_light = seq.index("IMAGE-SAVE")
    assert finished < seq.index("TS-NEWTARGETSTART") < first_light
    after = ts.events[first_light].time - ts.events[0].time
    assert timedelta(minutes=15) <= after <= timedelta(minutes=20)


def test_target_scheduler_starts(ts: Night) -> None:
    """Test one TS-NEWTARGETSTART per target and a TS-TARGETSTART per plan cycle."""
    new = [ts.events[i].data["TargetName"] for i in where(ts, "TS-NEWTARGETSTART")]
    assert new == list(ts.spec.targets)
    cycles = [ts.events[i].data["TargetName"] for i in where(ts, "TS-TARGETSTART")]
    assert len(cycles) == len(ts.spec.targets) * ts.spec.plan_cycles
    for ev in ts.events:
        if ev.name.startswith("TS-") and "TargetEndTime" in ev.data:
            end = datetime.fromisoformat(ev.data["TargetEndTime"])
            assert end.tzinfo is None  # naive: UTC with the offset dropped
            # Read as local time it would lie before the start; as UTC it is the plan's end.
            assert timedelta(0) < end - ev.time.astimezone(UTC).replace(tzinfo=None)
            assert end - ev.time.astimezone(UTC).replace(tzinfo=None) < timedelta(hours=2)


def test_guider_is_stopped_before_focus_centering_and_flips(ts: Night) -> None:
    """Test that guiding is off at every autofocus, centering and flip, and stops dozens of times."""
    guiding = False
    for ev in ts.events:
        if ev.name in {"GUIDER-START", "GUIDER-STOP"}:
            guiding = ev.name == "GUIDER-START"
        elif ev.name in {"AUTOFOCUS-STARTING", "MOUNT-CENTER", "MOUNT-BEFORE-FLIP"}:
            assert not guiding, ev
    assert names(ts).count("GUIDER-STOP") >= 6
    assert names(ts).count("MOUNT-BEFORE-FLIP") == 1


def test_guider_start_comes_twice_milliseconds_apart(ts: Night) -> None:
    """Test that every GUIDER-START is followed by a second one within 20 ms."""
    starts = where(ts, "GUIDER-START")
    assert starts and len(starts) % 2 == 0
    for first, second in itertools.batched(starts, 2, strict=True):
        assert second == first + 1
        gap = ts.events[second].time - ts.events[first].time
        assert timedelta(milliseconds=1) < gap < timedelta(milliseconds=20)


def test_wait_homes_the_mount_and_is_silent_until_its_end(ts: Night) -> None:
    """Test TS-WAITSTART (offset WaitEndTime), guider stop, homing, silence, a new target."""
    (wait,) = where(ts, "TS-WAITSTART")
    end = datetime.fromisoformat(ts.events[wait].data["WaitEndTime"])
    assert end.utcoffset() == timedelta(hours=1)
    assert names(ts)[wait + 1 : wait + 4] == ["GUIDER-STOP", "MOUNT-HOMED", "TS-NEWTARGETSTART"]
    resumed = ts.events[wait + 3]
    assert timedelta(0) <= resumed.time - end < timedelta(seconds=10)
    assert resumed.time - ts.events[wait].time > timedelta(minutes=30)
    before = {ev.data["TargetName"] for ev in ts.events[:wait] if ev.name.startswith("TS-")}
    assert resumed.data["TargetName"] not in before


def test_autofocus_cut_by_an_unsafe_sky_then_dawn_flats(ts: Night) -> None:
    """Test the end: last light, autofocus cut by an unsafe sky, never finished, then flats."""
    seq = names(ts)
    last_light = ts.events.index(frames(ts, "LIGHT")[-1])
    focus = seq.index("AUTOFOCUS-STARTING", last_light)
    unsafe = seq.index("SAFETY-CHANGED", focus)
    assert ts.events[unsafe].data == {"IsSafe": False}
    assert set(seq[focus + 1 : unsafe]) == {"AUTOFOCUS-POINT-ADDED"}
    assert 3 <= unsafe - focus - 1 <= 4
    assert "AUTOFOCUS-FINISHED" not in seq[focus:]
    assert "SAFETY-CHANGED" not in seq[unsafe + 1 :]  # stays unsafe
    on, off = where(ts, "FLAT-LIGHT-TOGGLED")
    assert unsafe < on < off == len(seq) - 2
    flats = frames(ts, "FLAT")
    assert all(on < ts.events.index(ev) < off for ev in flats)


def test_dawn_flats_per_filter(ts: Night) -> None:
    """Test brightness in raw units, 7-15 flats of 0.2-3 s per filter, Previous == New changes."""
    on, off = where(ts, "FLAT-LIGHT-TOGGLED")
    run = ts.events[on:off]
    brightness = [ev.data["New"] for ev in run if ev.name == "FLAT-BRIGHTNESS-CHANGED"]
    assert len(brightness) == len(ts.spec.filters)
    assert all(80 <= b <= 4096 for b in brightness) and max(brightness) > 255
    changes = [ev.data for ev in run if ev.name == "FILTERWHEEL-CHANGED"]
    assert sum(c["Previous"] == c["New"] for c in changes) >= 3
    by_filter: dict[str, list[float]] = {}
    for ev in frames(ts, "FLAT"):
        stats = ev.data["ImageStatistics"]
        by_filter.setdefault(stats["Filter"], []).append(stats["ExposureTime"])
    assert set(by_filter) == set(ts.spec.filters)
    for exposures in by_filter.values():
        assert 7 <= len(exposures) <= 15
        assert all(0.2 <= e <= 3.0 for e in exposures)


def test_calibration_and_cloudy_frames_report_nothing_detected(ts: Night) -> None:
    """Test HFR 0 and Stars -1 on flats and on the last, cloudy light."""
    for ev in [*frames(ts, "FLAT"), frames(ts, "LIGHT")[-1]]:
        stats = ev.data["ImageStatistics"]
        assert (stats["HFR"], stats["Stars"]) == (0.0, -1)
    assert all(ev.data["ImageStatistics"]["Stars"] > 0 for ev in frames(ts, "LIGHT")[:-1])


def test_truth_of_the_scheduler_night(ts: Night) -> None:
    """Test the truth: runs count starts, one failed run, one pause, the session's states."""
    seq = names(ts)
    truth = ts.truth
    assert truth.autofocus_runs == seq.count("AUTOFOCUS-STARTING") == 4
    assert truth.autofocus_failed == 1  # the one the clouds cut
    assert truth.pauses == 1
    assert truth.errors == 0
    assert truth.targets == list(ts.spec.targets)
    assert truth.frames_by_type["LIGHT"] == 3 * 2 * 5 * 2
    assert truth.states == [
        ("imaging", "AUTOFOCUS-STARTING"),  # the evening autofocus opens the night's run
        ("waiting", "TS-WAITSTART"),
        ("imaging", "TS-NEWTARGETSTART"),
        ("paused", "SAFETY-CHANGED"),  # homing while unsafe keeps it paused
        ("flats", "FLAT-LIGHT-TOGGLED"),  # unsafe during panel flats is no pause
        ("idle", "SEQUENCE-FINISHED"),  # the panel went off inside the run: flats until here
    ]
    assert truth_from_events(ts.events) == truth


def test_flat_run_missing_from_image_history() -> None:
    """Test that the unrecorded flats are panel on, N frames, panel off, kept out of the images."""
    night = preset_night("flats_unrecorded")
    seq = names(night)
    on, off = where(night, "FLAT-LIGHT-TOGGLED")
    saves = where(night, "IMAGE-SAVE")
    assert len(saves) == night.spec.flats_per_filter * len(night.spec.filters) == 24
    assert all(on < i < off for i in saves)
    assert not any(night.events[i].in_image_history for i in saves)
    assert all(ev.in_image_history for ev in night.events if ev.name != "IMAGE-SAVE")
    assert "SEQUENCE-STARTING" not in seq
    assert night.truth.frames_by_type == {"FLAT": 24}
    assert night.truth.states == [("flats", "IMAGE-SAVE"), ("idle", "FLAT-LIGHT-TOGGLED")]


def test_week_with_scheduler_nights_keeps_the_classic_ones() -> None:
    """Test that scheduler_nights adds scheduler nights and leaves the others as they were."""
    start = date(2026, 11, 20)
    plain = generate_week(start, seed=3)
    mixed = generate_week(start, seed=3, scheduler_nights=True)
    kinds = [n.spec.scheduler_night for n in mixed]
    assert any(kinds) and not all(kinds)
    for before, after in zip(plain, mixed, strict=True):
        if not after.spec.scheduler_night:
            assert after.events == before.events
        else:
            assert after.spec.wire == WireShape.real(after.spec.seed)
            assert "SEQUENCE-STARTING" not in names(after)
        assert truth_from_events(after.events) == after.truth
    for night, following in itertools.pairwise(mixed):
        assert night.end < following.start


def test_scheduler_night_needs_targets() -> None:
    """Test that a scheduler night without targets is refused with a clear error."""
    assert PRESETS["target_scheduler"].scheduler_night
    with pytest.raises(ValueError, match="targets"):
        preset_night("target_scheduler", targets=())
