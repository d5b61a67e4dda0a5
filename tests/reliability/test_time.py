"""Time: NINA in other zones, a DST change in the night, clock skew, events out of order.

All through the real pipeline on real SQLite files. Live events are stamped by "our" clock
(the receive time handed to `ingest_frames`); history carries NINA's own `Time`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import closing
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
import re
import sqlite3
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from custom_components.nina_session.engine.pipeline import Pipeline, PipelineOptions
from custom_components.nina_session.engine.store import Store
from custom_components.nina_session.engine.timeutil import parse_nina_time
from simulator.night import (
    PRESETS,
    Night,
    NightSpec,
    SimEvent,
    generate_night,
    generate_week,
    history_item,
    image_record,
    net_time,
    socket_text,
    to_rest,
    truth_from_events,
)

DELAY = timedelta(milliseconds=40)


def open_pipeline(path: Path, tz: str, **options: Any) -> Pipeline:
    """Return a pipeline for instance rig1 in zone `tz` on a database at `path`."""
    return Pipeline(Store(path), PipelineOptions("rig1", ZoneInfo(tz), **options))


def live(pipeline: Pipeline, events: Sequence[SimEvent], skew: timedelta = timedelta(0)) -> None:
    """Live frames stamped on arrival by our clock (NINA's clock minus `skew`)."""
    for start in range(0, len(events), 25):
        chunk = events[start : start + 25]
        pipeline.ingest_frames(
            [(socket_text(e), e.time.astimezone(UTC) - skew + DELAY) for e in chunk]
        )


def history(events: Sequence[SimEvent]) -> tuple[list[Any], list[Any]]:
    """Return NINA's REST event history and image history of `events`."""
    items = [to_rest(history_item(e)) for e in events]
    images = [
        to_rest(image_record(e))
        for e in events
        if e.name == "IMAGE-SAVE" and isinstance(e.data.get("ImageStatistics"), dict)
    ]
    return items, images


def backfill(pipeline: Pipeline, events: Sequence[SimEvent]) -> None:
    """Ingest `events` as NINA's history (events and images)."""
    items, images = history(events)
    pipeline.ingest_history(items, images)


def nights_of(path: Path) -> list[str]:
    """Return the night of every stored session, oldest first."""
    with closing(sqlite3.connect(path)) as db:
        return [row[0] for row in db.execute("SELECT night FROM sessions ORDER BY start_ts")]


def facts(session: dict[str, Any]) -> tuple[Any, ...]:
    """Return the countable facts of a stored session."""
    counts = session["counts"]
    return (
        session["frames"]["by_type"],
        {k: (v["count"], v["seconds"]) for k, v in session["frames"]["by_filter"].items()},
        session["integration_seconds"],
        counts["dithers"], counts["autofocus_runs"], counts["meridian_flips"], counts["pauses"],
    )  # fmt: skip


def truth_facts(events: Sequence[SimEvent]) -> tuple[Any, ...]:
    """Return the same facts as `facts`, from the ground truth of `events`."""
    truth = truth_from_events(events)
    return (
        truth.frames_by_type,
        {k: (n, round(truth.light_seconds_by_filter[k], 3))
         for k, n in truth.lights_by_filter.items()},
        round(truth.integration_seconds, 3),
        truth.dithers, truth.autofocus_runs, truth.meridian_flips, truth.pauses,
    )  # fmt: skip


def states(session: dict[str, Any]) -> list[tuple[str, str]]:
    """Return the (state, cause) steps of a session's state history."""
    return [(h["state"], h["cause"]) for h in session["state_history"]]


def reference(tmp_path: Path, events: Sequence[SimEvent], tz: str) -> list[dict[str, Any]]:
    """Return the sessions of the same events once each, live, in order.

    That is what every other path must give.
    """
    pipeline = open_pipeline(tmp_path / f"reference-{len(events)}.db", tz)
    live(pipeline, events)
    return pipeline.store.sessions(newest_first=False)


# --------------------------------------------------------------------------- zones


@pytest.mark.parametrize(
    ("tz", "start_hour"),
    [
        ("Asia/Tokyo", 19.0),  # UTC+9: the whole night is the previous UTC afternoon
        ("America/Santiago", 21.5),  # UTC-3: the night starts after UTC midnight
        ("Pacific/Auckland", 20.0),  # UTC+13 in summer: the evening is the UTC morning
    ],
)
def test_sessions_belong_to_the_evening_in_ninas_zone(
    tz: str, start_hour: float, tmp_path: Path
) -> None:
    """Test that sessions are filed under the evening in NINA's zone, started on our clock."""
    nights = [
        replace(night, spec=night.spec)
        for night in generate_week(date(2026, 11, 20), nights=3, seed=11, tz=tz)
    ]
    nights = [generate_night(replace(n.spec, start_hour=start_hour)) for n in nights]
    pipeline = open_pipeline(tmp_path / "zone.db", tz)
    for night in nights:
        live(pipeline, night.events)
    assert nights_of(tmp_path / "zone.db") == [n.spec.date.isoformat() for n in nights]
    sessions = pipeline.store.sessions(newest_first=False)
    for session, night in zip(sessions, nights, strict=True):
        assert facts(session) == truth_facts(night.events)
        opening = next(e for e in night.events if e.name == "SEQUENCE-STARTING")
        stamp = (opening.time.astimezone(UTC) + DELAY).replace(microsecond=0)
        assert session["start"] == stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("tz", ["Asia/Tokyo", "America/Santiago"])
def test_offsetless_history_is_read_in_ninas_zone(tz: str, tmp_path: Path) -> None:
    """Test that history times without an offset are read in NINA's zone: every twin collapses."""
    night = generate_night(replace(PRESETS["simple"], tz=tz))
    pipeline = open_pipeline(tmp_path / "naive.db", tz)
    live(pipeline, night.events)
    items, images = history(night.events)
    strip = re.compile(r"[+-]\d\d:\d\d$")
    for item in items:
        item["Time"] = strip.sub("", item["Time"])
    for record in images:
        record["Date"] = strip.sub("", record["Date"])
    pipeline.ingest_history(items, images)
    assert pipeline.store.counts()["events"] == len(night.events)  # every twin collapsed
    assert facts(pipeline.store.sessions()[0]) == truth_facts(night.events)


# --------------------------------------------------------------------------- DST

# Europe/Berlin falls back on 2026-10-25 at 03:00 CEST -> 02:00 CET: 02:00-03:00 happens twice.
DST_SPEC = NightSpec(
    date=date(2026, 10, 24), tz="Europe/Berlin", seed=31, targets=("M 31",),
    filters=("L", "R", "G", "B"), light_exposure=300.0, lights_per_filter=12, dither_every=2,
    start_hour=22.5, flats_per_filter=3,
)  # fmt: skip


def _naive(text: str) -> str:
    return re.sub(r"[+-]\d\d:\d\d$", "", text)


def dst_night() -> Night:
    """Return a night across a fall-back DST change (checked to span it)."""
    night = generate_night(DST_SPEC)
    offsets = {e.time.utcoffset() for e in night.events}
    assert offsets == {timedelta(hours=2), timedelta(hours=1)}, "the night spans the change"
    return night


def test_dst_night_live_and_history_with_offsets(tmp_path: Path) -> None:
    """Test that a DST night, live then as history with offsets, counts once and in order."""
    night = dst_night()
    pipeline = open_pipeline(tmp_path / "dst.db", "Europe/Berlin")
    live(pipeline, night.events)
    backfill(pipeline, night.events)
    assert pipeline.store.counts()["events"] == len(night.events)
    (session,) = pipeline.store.sessions()
    assert facts(session) == truth_facts(night.events)
    assert nights_of(tmp_path / "dst.db") == ["2026-10-24"]
    times = [h["since"] for h in session["state_history"]]
    assert times == sorted(times)


def test_dst_night_from_offsetless_history_alone(tmp_path: Path) -> None:
    """No live twins: the repeated hour's events land an hour early, but nothing is lost."""
    night = dst_night()
    pipeline = open_pipeline(tmp_path / "dst-naive.db", "Europe/Berlin")
    items, images = history(night.events)
    for item in items:
        item["Time"] = _naive(item["Time"])
    for record in images:
        record["Date"] = _naive(record["Date"])
    pipeline.ingest_history(items, images)
    (session,) = pipeline.store.sessions()
    assert session["frames"]["by_type"] == truth_from_events(night.events).frames_by_type
    assert pipeline.store.counts()["events"] == len(night.events)


def test_dst_night_live_then_offsetless_history_counts_once(tmp_path: Path) -> None:
    """Test that a DST night live, then as offset-less history, counts every event once."""
    night = dst_night()
    pipeline = open_pipeline(tmp_path / "dst-mixed.db", "Europe/Berlin")
    live(pipeline, night.events)
    items, images = history(night.events)
    for item in items:
        item["Time"] = _naive(item["Time"])
    for record in images:
        record["Date"] = _naive(record["Date"])
    pipeline.ingest_history(items, images)
    assert pipeline.store.counts()["events"] == len(night.events)
    (session,) = pipeline.store.sessions()
    assert facts(session) == truth_facts(night.events)


# --------------------------------------------------------------------------- clock skew


@pytest.mark.parametrize("seconds", [-90.0, -3.0, 0.4, 3.0, 90.0])
def test_skewed_nina_clock_live_then_history_counts_once(seconds: float, tmp_path: Path) -> None:
    """NINA's clock is `seconds` ahead of ours: history times (and image Dates) are late.

    The engine measures the offset from frames seen both ways and moves history onto our
    clock, so the plain events' twins fall inside the dedup window again.
    """
    skew = timedelta(seconds=seconds)
    night = generate_night(PRESETS["full"])
    first = [e for e in night.events if e.epoch == 0]
    pipeline = open_pipeline(tmp_path / "skew.db", night.spec.tz)
    cut = len(first) // 2
    live(pipeline, first[:cut], skew)
    backfill(pipeline, first[: cut + 20])  # reconnect: history overlaps live, 20 new
    live(pipeline, first[cut + 20 :], skew)
    backfill(pipeline, first)  # another reconnect: everything is a twin now
    assert pipeline.store.counts()["events"] == len(first)
    (session,) = pipeline.store.sessions()
    assert facts(session) == truth_facts(first)
    assert states(session) == states(reference(tmp_path, first, night.spec.tz)[0])
    if abs(seconds) > 0.5:
        assert pipeline.clock.offset == pytest.approx(seconds, abs=0.2)


def test_skewed_clock_on_first_connect_counts_the_overlap_once(tmp_path: Path) -> None:
    """Test that with a skewed clock, live events also in the first history count once."""
    skew = timedelta(seconds=30)
    night = generate_night(PRESETS["simple"])
    pipeline = open_pipeline(tmp_path / "skew-first.db", night.spec.tz)
    backfill(pipeline, night.events)  # HA starts late in the night: history first
    live(pipeline, night.events[-6:], skew)  # the frames that were also read live
    assert pipeline.store.counts()["events"] == len(night.events)


@pytest.mark.parametrize("seconds", [-30.0, 30.0])
def test_skewed_clock_history_first_then_live_then_reconnect_counts_once(
    seconds: float, tmp_path: Path
) -> None:
    """Test that history read before the offset was known is moved onto our clock later.

    HA starts mid-night (history first, on NINA's clock), the night goes on live, and the
    reconnect's backfill measures the offset from the live frames: the first backfill's
    events must then match their twins in the second instead of being stored again.
    """
    skew = timedelta(seconds=seconds)
    night = generate_night(PRESETS["full"])
    first = [e for e in night.events if e.epoch == 0]
    pipeline = open_pipeline(tmp_path / "skew-late.db", night.spec.tz)
    cut = len(first) // 3
    backfill(pipeline, first[:cut])
    live(pipeline, first[cut:], skew)
    backfill(pipeline, first)
    assert pipeline.store.counts()["events"] == len(first)
    (session,) = pipeline.store.sessions()
    assert facts(session) == truth_facts(first)
    assert pipeline.clock.offset == pytest.approx(seconds, abs=0.2)


def test_history_read_before_any_frame_meets_its_live_twins_once_the_offset_is_known(
    tmp_path: Path,
) -> None:
    """Test that history stored on NINA's skewed clock is merged with its live twins later.

    A reconnect before the night's first frame reads history with nothing to measure the
    clock by: its events miss their live twins (30 s apart) and are stored. When frames later
    give the offset, those events move onto our clock and the ones with a live twin go.
    """
    skew = timedelta(seconds=30)
    night = generate_night(PRESETS["full"])
    first = [e for e in night.events if e.epoch == 0]
    k = next(i for i, e in enumerate(first) if e.name == "IMAGE-SAVE")
    pipeline = open_pipeline(tmp_path / "before-frames.db", night.spec.tz)

    def jittered(events: Sequence[SimEvent]) -> None:
        """Ingest live, each delivery 40-52 ms late: no two arrive equally late."""
        pipeline.ingest_frames(
            [
                (
                    socket_text(e),
                    e.time.astimezone(UTC) - skew + DELAY + timedelta(milliseconds=i % 13),
                )
                for i, e in enumerate(events)
            ]
        )

    jittered(first[:k])  # the evening starts live: no frame yet
    backfill(pipeline, first[:k])  # a reconnect: no frame twin, the offset is unknown
    assert not pipeline.clock.measured
    jittered(first[k:])
    backfill(pipeline, first)  # frames seen both ways: measured, the first read moves
    assert pipeline.clock.measured
    assert pipeline.store.counts()["events"] == len(first)
    (session,) = pipeline.store.sessions()
    assert facts(session) == truth_facts(first)
    assert states(session) == states(reference(tmp_path, first, night.spec.tz)[0])


def test_a_few_stalled_frames_after_a_nina_restart_do_not_move_the_offset(
    tmp_path: Path,
) -> None:
    """Test that the clock offset is the median of many frames, not of one short history.

    After a NINA restart its history starts empty, so the next backfill's only twins are the
    few frames since; if those arrived late (a stall on our side), an offset taken from them
    alone would move the whole read by the stall and miss every plain twin.
    """
    skew, stall = timedelta(seconds=30), timedelta(seconds=1.2)
    night = generate_night(PRESETS["full"])
    first = [e for e in night.events if e.epoch == 0]
    after = [e for e in night.events if e.epoch == 1]
    saves = [i for i, e in enumerate(after) if e.name == "IMAGE-SAVE"]
    head = after[: saves[1] + 1]
    pipeline = open_pipeline(tmp_path / "stall.db", night.spec.tz)
    live(pipeline, first, skew)
    backfill(pipeline, first)
    assert pipeline.clock.offset == pytest.approx(30.0, abs=0.2)
    late = {id(e): stall for e in head if e.name == "IMAGE-SAVE"}
    pipeline.ingest_frames(
        [
            (socket_text(e), e.time.astimezone(UTC) - skew + DELAY + late.get(id(e), timedelta()))
            for e in head
        ]
    )
    backfill(pipeline, head)  # the new epoch's history: its only twins are the late frames
    assert pipeline.clock.offset == pytest.approx(30.0, abs=0.2)
    assert pipeline.store.counts()["events"] == len(first) + len(head)


# --------------------------------------------------------------------------- out of order


@pytest.mark.parametrize("tz", ["Europe/Berlin", "America/Santiago"])
def test_history_before_midnight_arriving_after_live_events_past_midnight(
    tz: str, tmp_path: Path
) -> None:
    """Test that evening history arriving after live events past midnight rebuilds the session."""
    night = generate_night(replace(PRESETS["full"], tz=tz, start_hour=22.0))
    events = [e for e in night.events if e.epoch == 0]
    local = [e.time.astimezone(ZoneInfo(tz)) for e in events]
    assert local[0].date() != local[-1].date(), "the night crosses local midnight"
    midnight = next(i for i, t in enumerate(local) if t.date() != local[0].date())
    pipeline = open_pipeline(tmp_path / "midnight.db", tz)
    live(pipeline, events[midnight:])  # we joined after midnight
    backfill(pipeline, events[: midnight + 5])  # the evening arrives late, out of order
    assert pipeline.late_events > 0 and pipeline.rebuilds >= 1
    (session,) = pipeline.store.sessions()
    (expected,) = reference(tmp_path, events, tz)
    assert facts(session) == facts(expected) == truth_facts(events)
    assert states(session) == states(expected)
    assert nights_of(tmp_path / "midnight.db") == [night.spec.date.isoformat()]


def slew_to_second_target(events: Sequence[SimEvent]) -> int:
    """Index of MOUNT-CENTER in TS-TARGETSTART, GUIDER-STOP, MOUNT-CENTER, GUIDER-START."""
    names = [e.name for e in events]
    for i in range(2, len(names) - 1):
        if names[i - 2 : i + 2] == ["TS-TARGETSTART", "GUIDER-STOP", "MOUNT-CENTER",
                                    "GUIDER-START"] and "IMAGE-SAVE" in names[:i]:  # fmt: skip
            return i
    raise AssertionError("no slew to a second target")


def swapped_on_the_wire(
    events: list[SimEvent],
) -> tuple[list[SimEvent], list[tuple[str, datetime]]]:
    """Return the night with guiding restarting 50 ms after the slew, and its live frames.

    In the frames those two messages are swapped on the wire (each stamped when it arrived:
    the held one just after the other).
    """
    center = slew_to_second_target(events)
    quick = replace(events[center + 1], time=events[center].time + timedelta(milliseconds=50))
    events = [*events[: center + 1], quick, *events[center + 2 :]]
    frames = [(socket_text(e), e.time.astimezone(UTC) + DELAY) for e in events]
    (slew, _), (guide, guide_at) = frames[center], frames[center + 1]
    frames[center : center + 2] = [(guide, guide_at), (slew, guide_at + timedelta(milliseconds=1))]
    return events, frames


def test_a_guider_restart_overtaking_the_slew_changes_nothing(tmp_path: Path) -> None:
    """Live events carry no time: a guider restart read before the slew it follows.

    The guider stop before the slew is explained within its grace period either way, so the
    swap neither pauses the session nor counts an interruption.
    """
    night = generate_night(PRESETS["full"])
    events, frames = swapped_on_the_wire([e for e in night.events if e.epoch == 0])
    pipeline = open_pipeline(tmp_path / "swap.db", night.spec.tz)
    pipeline.ingest_frames(frames)
    (session,) = pipeline.store.sessions()
    (expected,) = reference(tmp_path, events, night.spec.tz)
    assert states(session) == states(expected)
    assert session["counts"]["pauses"] == expected["counts"]["pauses"] == 1


def test_history_corrects_the_order_of_swapped_live_events(tmp_path: Path) -> None:
    """Test that a backfill corrects the order of two live events swapped on the wire."""
    night = generate_night(PRESETS["full"])
    events, frames = swapped_on_the_wire([e for e in night.events if e.epoch == 0])
    pipeline = open_pipeline(tmp_path / "swap-fix.db", night.spec.tz)
    pipeline.ingest_frames(frames)
    backfill(pipeline, events)  # a reconnect later: NINA's history has the true times
    assert pipeline.store.counts()["events"] == len(events)
    (session,) = pipeline.store.sessions()
    (expected,) = reference(tmp_path, events, night.spec.tz)
    assert states(session) == states(expected)
    assert facts(session) == facts(expected)


def test_net_time_round_trips_through_the_engine_in_every_zone() -> None:
    """Test that a .NET time written in any zone parses back to the same instant."""
    for tz in ("Asia/Tokyo", "America/Santiago", "Europe/Berlin", "Asia/Kolkata", "UTC"):
        moment = datetime(2026, 10, 25, 0, 30, 12, 345678, tzinfo=UTC)
        for hours in range(6):
            local = (moment + timedelta(hours=hours)).astimezone(ZoneInfo(tz))
            parsed = parse_nina_time(net_time(local), ZoneInfo("UTC"))
            assert parsed == local.astimezone(UTC)
