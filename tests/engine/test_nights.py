"""Whole generated nights through the pipeline: exact counts against the generator's truth."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path
import random
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.nina_session.engine.pipeline import Pipeline, PipelineOptions
from custom_components.nina_session.engine.store import Store
from simulator.night import (
    PRESETS,
    Night,
    SimEvent,
    generate_night,
    generate_week,
    history_item,
    image_record,
    socket_text,
    to_rest,
    truth_from_events,
)
from simulator.wire import WireRenderer

DELAY = timedelta(milliseconds=50)


def open_pipeline(path: Path, night: Night) -> Pipeline:
    """Open a pipeline on a new store at `path`, in the night's time zone."""
    return Pipeline(Store(path), PipelineOptions("rig1", ZoneInfo(night.spec.tz)))


def live(pipeline: Pipeline, events: Sequence[SimEvent]) -> None:
    """Ingest `events` as live socket frames in batches of 50, received 50 ms late."""
    for start in range(0, len(events), 50):  # live-sized batches
        chunk = events[start : start + 50]
        pipeline.ingest_frames([(socket_text(e), e.time + DELAY) for e in chunk])


def backfill(pipeline: Pipeline, events: Sequence[SimEvent]) -> None:
    """Ingest `events` as the plugin serves them after a (re)connect: the NINA process's history."""
    history = [to_rest(history_item(e)) for e in events]
    images = [to_rest(image_record(e)) for e in events if e.name == "IMAGE-SAVE"]
    pipeline.ingest_history({"Response": history, "Success": True, "Type": "API"},
                            {"Response": images, "Success": True, "Type": "API"})  # fmt: skip


def epochs(night: Night) -> Iterator[list[SimEvent]]:
    """Yield the night's events split by NINA process (epoch), in order."""
    for epoch in sorted({e.epoch for e in night.events}):
        yield [e for e in night.events if e.epoch == epoch]


def assert_matches_truth(pipeline: Pipeline, night: Night) -> None:
    """Assert that the store holds one session whose counts equal the night's truth."""
    sessions = pipeline.store.sessions(newest_first=False)
    assert len(sessions) == 1
    session, truth = sessions[0], night.truth
    assert session["frames"]["by_type"] == truth.frames_by_type
    assert {k: v["count"] for k, v in session["frames"]["by_filter"].items()} == (
        truth.lights_by_filter
    )
    assert {k: v["seconds"] for k, v in session["frames"]["by_filter"].items()} == (
        truth.light_seconds_by_filter
    )
    assert session["integration_seconds"] == truth.integration_seconds
    counts = session["counts"]
    assert (counts["dithers"], counts["autofocus_runs"], counts["meridian_flips"],
            counts["pauses"], counts["errors"]) == (truth.dithers, truth.autofocus_runs,
            truth.meridian_flips, truth.pauses, truth.errors)  # fmt: skip
    # What the wire shows: old plugins send no TargetName, so their target is unknowable.
    assert session["targets"] == truth_from_events(night.events).targets


def stored_result(pipeline: Pipeline) -> Any:
    """Return what the store and pipeline hold: sessions, state and event count."""
    return (
        pipeline.store.sessions(newest_first=False),
        pipeline.state,
        pipeline.store.counts()["events"],
    )


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_live_night_matches_truth(preset: str, tmp_path: Path) -> None:
    """Test that each preset night, fed live, gives exactly the generator's counts."""
    night = generate_night(PRESETS[preset])
    pipeline = open_pipeline(tmp_path / "live.db", night)
    live(pipeline, night.events)
    assert_matches_truth(pipeline, night)


@pytest.mark.parametrize("preset", ["full", "simple", "calibration_only"])
def test_backfilled_night_matches_truth(preset: str, tmp_path: Path) -> None:
    """Test that a night backfilled from each NINA process's history gives the true counts."""
    night = generate_night(PRESETS[preset])
    pipeline = open_pipeline(tmp_path / "history.db", night)
    for events in epochs(night):  # NINA restarts: each process has its own history
        backfill(pipeline, events)
    assert_matches_truth(pipeline, night)


def test_full_night_states(tmp_path: Path) -> None:
    """Test the full night's states with their causes, and the one sequence restart anomaly."""
    night = generate_night(PRESETS["full"])
    pipeline = open_pipeline(tmp_path / "states.db", night)
    live(pipeline, night.events)
    history = pipeline.store.sessions()[0]["state_history"]
    assert [(h["state"], h["cause"]) for h in history] == [
        ("imaging", "SEQUENCE-STARTING"),
        ("paused", "SAFETY-CHANGED"),  # the cloud, until the sky is safe again
        ("imaging", "SAFETY-CHANGED"),
        # Guider stops before slews, the flip and the wind-down (park) are no pause or wait.
        ("idle", "SEQUENCE-FINISHED"),
        ("flats", "FLAT-LIGHT-TOGGLED"),
        ("idle", "FLAT-LIGHT-TOGGLED"),
        ("darks", "IMAGE-SAVE"),
    ]
    assert pipeline.tracker.fsm.anomalies == {"sequence_restarted": 1}  # after NINA's crash


def test_disconnect_gap_is_closed_by_backfill_exactly(tmp_path: Path) -> None:
    """Test that backfill fills a disconnect gap and a restart exactly, overlaps as duplicates."""
    night = generate_night(PRESETS["full"])
    first, second = list(epochs(night))
    pipeline = open_pipeline(tmp_path / "gap.db", night)
    cut = len(first) // 3
    live(pipeline, first[:cut])
    backfill(pipeline, first[: 2 * cut])  # reconnect: history overlaps what we saw live
    live(pipeline, first[2 * cut :])
    backfill(pipeline, second[:10])  # NINA restarted: a new, short history
    live(pipeline, second)
    assert_matches_truth(pipeline, night)
    assert pipeline.counters.duplicates == cut + 10


def test_a_week_gives_one_session_per_night(tmp_path: Path) -> None:
    """Test that a week gives seven sessions with the right frames, all but the last closed."""
    nights = generate_week(date(2026, 11, 20), nights=7, seed=7)
    pipeline = open_pipeline(tmp_path / "week.db", nights[0])
    for night in nights:
        live(pipeline, night.events)
    sessions = pipeline.store.sessions(newest_first=False, limit=100)
    assert len(sessions) == 7
    for session, night in zip(sessions, nights, strict=True):
        assert session["frames"]["by_type"] == night.truth.frames_by_type
        assert session["end"] is not None or session is sessions[-1]


def _deliveries(night: Night, seed: int, copies: int) -> list[tuple[str, Any]]:
    """Every frame once, some up to `copies` times more, re-delivered within the window."""
    rng = random.Random(seed)
    out = []
    for event in night.events:
        text, received = socket_text(event), event.time + DELAY
        out.append((text, received))
        out.extend(
            (text, received + timedelta(seconds=rng.uniform(0, 0.9)))
            for _ in range(rng.randrange(copies + 1))
        )
    out.sort(key=lambda item: item[1])
    return out


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10_000), copies=st.integers(1, 3), backfill_share=st.floats(0, 1))
def test_any_duplication_or_redelivery_gives_identical_results(
    seed: int, copies: int, backfill_share: float, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Test that random re-deliveries and a partial backfill store the same as one clean pass."""
    night = generate_night(PRESETS["simple"])
    folder = tmp_path_factory.mktemp("prop")
    reference = open_pipeline(folder / "once.db", night)
    live(reference, night.events)
    noisy = open_pipeline(folder / "noisy.db", night)
    deliveries = _deliveries(night, seed, copies)
    for start in range(0, len(deliveries), 7):
        noisy.ingest_frames(deliveries[start : start + 7])
    backfill(noisy, night.events[: int(len(night.events) * backfill_share)])
    assert stored_result(noisy) == stored_result(reference)
    reference.store.close()
    noisy.store.close()


def real_rig_live(pipeline: Pipeline, night: Night) -> None:
    """Ingest the night's socket frames as its rig writes them (key order, 0.0 numbers)."""
    render = WireRenderer(night.spec.wire)
    for start in range(0, len(night.events), 50):
        chunk = night.events[start : start + 50]
        pipeline.ingest_frames([(render.socket_text(e), e.time + DELAY) for e in chunk])


def real_rig_backfill(pipeline: Pipeline, night: Night) -> None:
    """Ingest the night's history as plugin 2.2.15 serves it.

    Placeholders, naive UTC TS times, whole numbers, no records for the frames it lacks.
    """
    render = WireRenderer(night.spec.wire)
    history = render.rest([render.history_item(e) for e in night.events])
    images = [
        image_record(e) for e in night.events if e.name == "IMAGE-SAVE" and e.in_image_history
    ]
    pipeline.ingest_history({"Response": history, "Success": True, "Type": "API"},
                            {"Response": render.rest(images), "Success": True, "Type": "API"})  # fmt: skip


def states_of(pipeline: Pipeline) -> list[tuple[str, str]]:
    """Return the (state, cause) history of the one stored session."""
    (session,) = pipeline.store.sessions(newest_first=False)
    return [(h["state"], h["cause"]) for h in session["state_history"]]


@pytest.mark.parametrize("how", ["live", "history", "live_then_history"])
def test_a_target_scheduler_night_gives_the_true_session(how: str, tmp_path: Path) -> None:
    """Test the real-shaped scheduler night live, from history alone, and live then history.

    No SEQUENCE-STARTING, waits, homing, an autofocus cut by an unsafe sky, dawn flats: the
    counts and the (state, cause) history are the generator's, and nothing is stored twice.
    """
    night = generate_night(PRESETS["target_scheduler"])
    pipeline = open_pipeline(tmp_path / "ts.db", night)
    if how != "history":
        real_rig_live(pipeline, night)
    if how != "live":
        real_rig_backfill(pipeline, night)
    assert_matches_truth(pipeline, night)
    assert states_of(pipeline) == night.truth.states
    (session,) = pipeline.store.sessions(newest_first=False)
    assert session["counts"]["autofocus_failed"] == night.truth.autofocus_failed
    assert pipeline.store.counts()["events"] == len(night.events) - repeats(night.events)


def repeats(events: Sequence[SimEvent]) -> int:
    """Count events sent again within a second (GUIDER-START twice): one event to the engine."""
    last: dict[str, SimEvent] = {}
    count = 0
    for event in events:
        text = socket_text(event)
        before = last.get(text)
        count += before is not None and (event.time - before.time) <= timedelta(seconds=1)
        last[text] = event
    return count


@pytest.mark.parametrize("how", ["history", "live_then_history"])
def test_flats_without_image_records_are_flats(how: str, tmp_path: Path) -> None:
    """Test a flat run whose image history is missing: 24 flats, never lights, stored once."""
    night = generate_night(PRESETS["flats_unrecorded"])
    pipeline = open_pipeline(tmp_path / "flats.db", night)
    if how != "history":
        real_rig_live(pipeline, night)
    real_rig_backfill(pipeline, night)
    (session,) = pipeline.store.sessions(newest_first=False)
    assert session["frames"]["by_type"] == night.truth.frames_by_type
    assert session["integration_seconds"] == 0
    assert pipeline.store.counts()["events"] == len(night.events)
