"""Targets across nights, from the real store, against what the simulator generated."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.store import Store
from custom_components.nina_session.engine.targets import RECENT_NIGHTS, TargetIndex
from simulator.night import Night, generate_week
from tests.engine.test_nights import live, open_pipeline

TZ = ZoneInfo("Europe/Berlin")


@pytest.fixture(scope="module")
def week() -> list[Night]:
    """Seven varied nights, Target Scheduler ones among them, all with target names."""
    nights = generate_week(date(2026, 11, 20), nights=7, seed=11, scheduler_nights=True)
    # Old plugins send no TargetName: their lights are "unknown", which the truth below
    # cannot name. This seed has none; the guard keeps the test honest if generation changes.
    assert not any(night.spec.old_plugin for night in nights)
    return nights


def truth(nights: Sequence[Night]) -> dict[str, dict[str, Any]]:
    """Per target: filter → [frames, seconds, nights]; projects; from the generated events."""
    result: dict[str, dict[str, Any]] = {}
    for night in nights:
        for event in night.events:
            if event.name in ("TS-NEWTARGETSTART", "TS-TARGETSTART"):
                entry = result.setdefault(event.data["TargetName"], {"filters": {}})
                entry["project"] = event.data["ProjectName"]
            stats = event.data.get("ImageStatistics")
            if event.name != "IMAGE-SAVE" or stats.get("ImageType") != "LIGHT":
                continue
            entry = result.setdefault(stats["TargetName"], {"filters": {}})
            slot = entry["filters"].setdefault(stats["Filter"] or "none", [0, 0.0, set()])
            slot[0] += 1
            slot[1] += stats["ExposureTime"]
            slot[2].add(night.spec.date.isoformat())
    return result


def feed(pipeline: Pipeline, nights: Sequence[Night]) -> None:
    """Play nights live, in order."""
    for night in nights:
        live(pipeline, night.events)


def test_targets_across_a_week_with_a_restart(week: list[Night], tmp_path: Path) -> None:
    """Test that a week played with a restart in the middle gives each target's true totals."""
    path = tmp_path / "week.db"
    first = open_pipeline(path, week[0])
    feed(first, week[:3])
    first.store.close()  # Home Assistant restarts: the same file is opened again
    second = Pipeline(Store(path), first.options)
    feed(second, week[3:])
    answer = TargetIndex(TZ).targets(second.store)["targets"]

    expected = truth(week)
    assert {t["name"] for t in answer} == {n for n, e in expected.items() if e["filters"]}
    for target in answer:
        want = expected[target["name"]]
        assert target["project"] == want.get("project")
        assert {f: (s["frames"], s["seconds"], s["nights"]) for f, s in target["by_filter"].items()} == {
            f: (count, seconds, len(nights)) for f, (count, seconds, nights) in want["filters"].items()
        }  # fmt: skip
        nights = sorted(set().union(*(slot[2] for slot in want["filters"].values())))
        assert (target["nights"], target["first_night"], target["last_night"]) == (
            len(nights), nights[0], nights[-1]
        )  # fmt: skip
        assert target["integration_seconds"] == sum(s[1] for s in want["filters"].values())
        assert all(s["hfr_mean"] is not None for s in target["by_filter"].values())
    # Everything lit is somewhere: the week's total equals the sessions' total.
    total = sum(s["integration_seconds"] for s in second.store.sessions(limit=100))
    assert sum(t["integration_seconds"] for t in answer) == total
    second.store.close()


def test_a_restart_changes_nothing(week: list[Night], tmp_path: Path) -> None:
    """Test that the restarted store answers exactly as one that ran through the week."""
    straight = open_pipeline(tmp_path / "straight.db", week[0])
    feed(straight, week)
    path = tmp_path / "restarted.db"
    first = open_pipeline(path, week[0])
    feed(first, week[:4])
    first.store.close()
    second = Pipeline(Store(path), first.options)
    feed(second, week[4:])
    assert TargetIndex(TZ).targets(second.store) == TargetIndex(TZ).targets(straight.store)


def test_the_index_follows_new_nights_and_rebuilds(week: list[Night], tmp_path: Path) -> None:
    """Test that cached sessions do not hide new nights, and a refold gives the same answer."""
    pipeline = open_pipeline(tmp_path / "index.db", week[0])
    index = TargetIndex(TZ)
    feed(pipeline, week[:2])
    early = index.targets(pipeline.store)
    feed(pipeline, week[2:])
    late = index.targets(pipeline.store)
    assert late != early
    assert late == TargetIndex(TZ).targets(pipeline.store)  # what the cache gave is fresh
    pipeline.rebuild()
    assert index.targets(pipeline.store) == late


def test_a_date_range_counts_only_its_nights(week: list[Night], tmp_path: Path) -> None:
    """Test that a date range takes only the sessions that start in it."""
    pipeline = open_pipeline(tmp_path / "range.db", week[0])
    feed(pipeline, week)
    start = datetime(2026, 11, 22, 12, tzinfo=TZ).timestamp()
    end = datetime(2026, 11, 24, 12, tzinfo=TZ).timestamp()
    answer = TargetIndex(TZ).targets(pipeline.store, start_ts=start, end_ts=end)["targets"]
    expected = truth(week[2:4])
    assert {t["name"]: t["frames"] for t in answer} == {
        name: sum(slot[0] for slot in entry["filters"].values())
        for name, entry in expected.items()
        if entry["filters"]
    }
    assert {t["first_night"] for t in answer} <= {"2026-11-22", "2026-11-23"}


def test_goals_give_progress_and_nights_at_the_recent_rate(
    week: list[Night], tmp_path: Path
) -> None:
    """Test a goal's progress, and nights to go from the mean of its latest imaging nights."""
    pipeline = open_pipeline(tmp_path / "goals.db", week[0])
    feed(pipeline, week)
    expected = truth(week)
    name, entry = max(expected.items(), key=lambda item: len(item[1]["filters"]))
    filter_name, (_, seconds, nights) = next(iter(sorted(entry["filters"].items())))
    per_night: dict[str, float] = {}
    for night in week:
        for event in night.events:
            stats = event.data.get("ImageStatistics")
            if (
                event.name == "IMAGE-SAVE"
                and stats.get("ImageType") == "LIGHT"
                and stats["TargetName"] == name
                and (stats["Filter"] or "none") == filter_name
            ):
                day = night.spec.date.isoformat()
                per_night[day] = per_night.get(day, 0.0) + stats["ExposureTime"]
    recent = [per_night[day] for day in sorted(per_night)[-RECENT_NIGHTS:]]
    rate = sum(recent) / len(recent)
    goal = seconds + 10 * 3600.0
    goals = {name: {filter_name: goal, "never": 3600.0}, "Nothing yet": {"L": 7200.0}}
    answer = {t["name"]: t for t in TargetIndex(TZ).targets(pipeline.store, goals=goals)["targets"]}

    progress = answer[name]["goals"][filter_name]
    assert progress["seconds"] == seconds
    assert progress["remaining_seconds"] == 10 * 3600.0
    assert progress["progress"] == round(seconds / goal, 4)
    assert progress["recent_seconds_per_night"] == round(rate, 3)
    assert progress["nights_to_goal"] == -(-36000 // rate)
    never = answer[name]["goals"]["never"]
    assert (never["progress"], never["nights_to_goal"]) == (0.0, None)
    assert answer["Nothing yet"]["frames"] == 0
    assert answer["Nothing yet"]["goals"]["L"]["remaining_seconds"] == 7200.0
    met = TargetIndex(TZ).targets(pipeline.store, goals={name: {filter_name: seconds / 2}})
    reached = next(t for t in met["targets"] if t["name"] == name)["goals"][filter_name]
    assert (reached["progress"], reached["nights_to_goal"]) == (1.0, 0)
    assert len(nights) >= 1
