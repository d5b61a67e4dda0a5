"""The quick soak in-process: a seeded fault schedule, ground truth compared exactly.

`python -m soak` is the long run (a week of nights); this is `python -m soak --quick`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from soak import FAULT_KINDS, SoakConfig, run_soak
from soak.runner import pick_nights, plan_faults, planned_times
from soak.verdict import Verdict, compare_ends

_LOGGER = logging.getLogger(__name__)


@pytest.mark.parametrize("skew", [0.0, 30.0], ids=["same_clock", "nina_clock_30s_ahead"])
async def test_quick_soak_loses_nothing_and_counts_nothing_twice(
    skew: float, tmp_path: Path
) -> None:
    """Test that the quick soak, with every fault kind, loses, duplicates and misstates nothing.

    Also with NINA's clock 30 s ahead of ours: history, read after every reconnect and NINA
    restart, must still meet its live twins (the engine measures and applies the offset).
    """
    lines: list[str] = []
    config = SoakConfig.quick(db_path=tmp_path / "soak.db", nina_clock_skew=skew)
    report = await run_soak(config, say=lines.append)
    _LOGGER.info("%s", "\n".join(lines))  # shown with --log-level=INFO (or --log-cli-level)
    verdict = report.verdict
    assert verdict.events > 0
    assert set(report.faults) >= set(FAULT_KINDS), "every fault kind was injected"
    assert (verdict.lost, verdict.duplicated, verdict.wrong_state) == (0, 0, 0), "\n".join(lines)
    # Garbage and oversized frames were refused and counted, not stored.
    assert report.rejected_by_reason.get("too_large", 0) >= 1
    assert report.reconnects >= 1 and report.engine_starts >= 2
    assert verdict.ends_announced == verdict.sessions_ended >= 1  # every night but the last
    assert lines[-1] == report.summary
    assert report.summary.startswith(f"soak: faults={sum(report.faults.values())} ")


def test_the_fault_schedule_is_reproducible_and_covers_every_kind() -> None:
    """Test that a seed always plans the same faults, of every kind, and another seed differs."""
    config = SoakConfig.quick()
    nights = pick_nights(config)
    first, again = plan_faults(nights, config), plan_faults(pick_nights(config), config)
    assert first == again
    assert {fault.kind for fault in first} == set(FAULT_KINDS)
    other = plan_faults(nights, SoakConfig.quick(seed=1))
    assert other != first


def test_night_n_gets_the_same_faults_whatever_the_number_of_nights() -> None:
    """Test that a night's faults do not depend on how many nights are planned."""
    short, longer = SoakConfig(nights=2), SoakConfig(nights=4)
    two = plan_faults(pick_nights(short), short)
    four = plan_faults(pick_nights(longer), longer)
    assert [f for f in four if f.night < 2] == two


def test_identical_events_are_paced_further_apart_than_the_dedup_window() -> None:
    """Test that identical events are planned their spacing apart, over twice the dedup window."""
    config = SoakConfig()
    assert config.spacing > 2 * config.dedup_window
    for night in pick_nights(SoakConfig(nights=3)):
        times = planned_times(night.events, config)
        last: dict[str, float] = {}
        for event, at in zip(night.events, times, strict=True):
            if event.name == "IMAGE-SAVE":
                key = "frame"
                gap = config.frame_spacing
            else:
                key = event.name + repr(sorted(event.data.items()))
                gap = config.spacing
            if key in last:
                assert at - last[key] >= gap - 1e-9
            last[key] = at


def test_the_verdict_is_ok_only_when_nothing_was_lost_duplicated_or_wrong() -> None:
    """Test that a verdict is ok only with nothing lost, duplicated or in a wrong state."""
    assert Verdict(events=10).ok
    assert not Verdict(events=10, lost=1).ok
    assert not Verdict(events=10, duplicated=1).ok
    assert not Verdict(events=10, wrong_state=1).ok


def test_each_ended_session_must_be_announced_once() -> None:
    """Test that the verdict wants every ended session announced once: never twice, never not."""
    stored = [{"id": "a", "end": "2026-11-21T05:00:00Z"}, {"id": "b", "end": None}]
    once, lines = Verdict(), []
    compare_ends(stored, {"a": 1}, once, lines.append)
    assert once.ok and (once.ends_announced, once.sessions_ended) == (1, 1)
    twice = Verdict()
    compare_ends(stored, {"a": 2}, twice, lines.append)
    assert twice.wrong_state == 2  # announced twice, and more ends than ended sessions
    never = Verdict()
    compare_ends(stored, {}, never, lines.append)
    assert never.wrong_state == 1
    assert any("announced ended 2 times" in line for line in lines)
