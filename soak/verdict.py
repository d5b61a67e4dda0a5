"""Compare what the engine stored with the simulator's ground truth, night by night.

Events are compared by identity, as a multiset: a frame by its capture time (`Date`), any
other event by its name and data. An emitted event missing from the store is *lost*; a stored
copy beyond the emitted count is *duplicated*. Each night must be exactly one stored session
whose frames, frames per filter, integration time, counts and targets equal the truth counted
from the emitted events, and whose state history equals the one a clean, in-order fold of the
same events gives; any difference is a *wrong_state*.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
import sqlite3
import tempfile
from typing import Any

from custom_components.nina_session.engine.models import NinaEvent
from custom_components.nina_session.engine.normalize import clean_json, content_fingerprint
from custom_components.nina_session.engine.pipeline import Pipeline, PipelineOptions
from custom_components.nina_session.engine.store import Store
from simulator.night import SimEvent, socket_text, truth_from_events

#: Names of the events the soak injects itself (raw frames, not played by the simulator).
INJECTED = frozenset({"SOAK-UNKNOWN", "MESSAGE"})
_MARGIN = timedelta(minutes=1)

Identity = tuple[str, str]


def sim_identity(event: SimEvent) -> Identity:
    """Return what makes an emitted event itself: a frame's capture time, else its content.

    Content as the engine tells events apart (`content_fingerprint`): an event whose live copy
    was lost is stored from history, where recent plugins hide nested values behind `[]`
    placeholders; it is the same event, with what history could say of it.
    """
    stats = event.data.get("ImageStatistics") if event.name == "IMAGE-SAVE" else None
    if isinstance(stats, dict) and isinstance(stats.get("Date"), str):
        taken = datetime.fromisoformat(stats["Date"]).astimezone(UTC)
        return "IMAGE-SAVE", taken.isoformat()
    return content_identity(event.name, event.data)


def content_identity(name: str, data: Any) -> Identity:
    """Return a plain event's identity: its name and content as the engine fingerprints it."""
    return name, content_fingerprint(name, clean_json(data))


def stored_identity(event: NinaEvent) -> Identity:
    """Return what makes a stored event itself, as `sim_identity` does for emitted ones."""
    if event.frame is not None and event.frame.taken_at is not None:
        return "IMAGE-SAVE", event.frame.taken_at.astimezone(UTC).isoformat()
    return content_identity(event.name, event.data)


@dataclass(slots=True)
class NightPlayed:
    """One night as the simulator emitted it (rebased times), plus what the soak injected."""

    date: str
    events: list[SimEvent]
    injected: list[Identity] = field(default_factory=list)

    @property
    def start(self) -> datetime:
        """Return the time of the night's first event, in UTC."""
        return self.events[0].time.astimezone(UTC)

    @property
    def end(self) -> datetime:
        """Return the time of the night's last event, in UTC."""
        return self.events[-1].time.astimezone(UTC)

    def covers(self, moment: datetime) -> bool:
        """Return whether `moment` falls within the night, give or take a minute."""
        return self.start - _MARGIN <= moment <= self.end + _MARGIN


@dataclass(slots=True)
class Verdict:
    """What the comparison found: events lost or duplicated, wrong sessions or state."""

    events: int = 0
    lost: int = 0
    duplicated: int = 0
    wrong_state: int = 0
    injected_stored: int = 0
    injected_sent: int = 0
    #: Session ends the engines announced, and stored sessions that ended.
    ends_announced: int = 0
    sessions_ended: int = 0
    max_stamp_error: float = 0.0
    #: The largest stamp errors: (seconds, event name, night).
    worst_stamps: list[tuple[float, str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Return whether nothing was lost, duplicated or in a wrong state."""
        return self.lost == self.duplicated == self.wrong_state == 0


def _session_facts(session: dict[str, Any]) -> dict[str, Any]:
    frames = session["frames"]
    counts = session["counts"]
    return {
        "frames_by_type": frames["by_type"],
        "lights_by_filter": {k: v["count"] for k, v in frames["by_filter"].items()},
        "light_seconds_by_filter": {k: v["seconds"] for k, v in frames["by_filter"].items()},
        "integration_seconds": session["integration_seconds"],
        "dithers": counts["dithers"],
        "autofocus_runs": counts["autofocus_runs"],
        "meridian_flips": counts["meridian_flips"],
        "pauses": counts["pauses"],
        "errors": counts["errors"],
        "targets": session["targets"],
    }


def _truth_facts(events: Sequence[SimEvent]) -> dict[str, Any]:
    truth = truth_from_events(events)
    return {
        "frames_by_type": truth.frames_by_type,
        "lights_by_filter": truth.lights_by_filter,
        "light_seconds_by_filter": {
            k: round(v, 3) for k, v in truth.light_seconds_by_filter.items()
        },
        "integration_seconds": round(truth.integration_seconds, 3),
        "dithers": truth.dithers,
        "autofocus_runs": truth.autofocus_runs,
        "meridian_flips": truth.meridian_flips,
        "pauses": truth.pauses,
        "errors": truth.errors,
        "targets": truth.targets,
    }


def _states(session: dict[str, Any]) -> list[tuple[str, str]]:
    return [(item["state"], item["cause"]) for item in session["state_history"]]


def reference_fold(nights: Sequence[NightPlayed], options: PipelineOptions) -> tuple[
    list[dict[str, Any]], str
]:  # fmt: skip
    """Fold the emitted events, once each and in order, through a fresh pipeline.

    Return its sessions and its final state.
    """
    with tempfile.TemporaryDirectory(prefix="soak-ref-") as folder:
        store = Store(Path(folder) / "reference.db")
        try:
            pipeline = Pipeline(store, options)
            events = [event for night in nights for event in night.events]
            for start in range(0, len(events), 50):
                chunk = events[start : start + 50]
                pipeline.ingest_frames([(socket_text(e), e.time.astimezone(UTC)) for e in chunk])
            return store.sessions(newest_first=False, limit=100_000), pipeline.state.value
        finally:
            store.close()


def judge(
    db_path: Path,
    nights: Sequence[NightPlayed],
    options: PipelineOptions,
    say: Callable[[str], None],
    ended: Mapping[str, int] | None = None,
) -> Verdict:
    """Read the engine's database (after it stopped) and compare it with the truth.

    `ended` counts the session ends the engines announced, by session id: each stored session
    that ended must have been announced once, none twice.
    """
    verdict = Verdict()
    store = Store(db_path)
    try:
        stored = [event for _, event in store.iter_events()]
        sessions = store.sessions(newest_first=False, limit=100_000)
    finally:
        store.close()
    with closing(sqlite3.connect(db_path)) as db:
        row = db.execute("SELECT state FROM session_state WHERE id = 1").fetchone()
    final_state = row[0] if row else None
    reference, reference_state = reference_fold(nights, options)
    claimed: set[int] = set()
    for night in nights:
        mine = [i for i, e in enumerate(stored) if night.covers(e.time)]
        claimed.update(mine)
        _compare_events(night, [stored[i] for i in mine], verdict, say)
        _compare_sessions(night, sessions, reference, verdict, say)
    strays = [e for i, e in enumerate(stored) if i not in claimed]
    if strays:
        verdict.duplicated += len(strays)
        say(f"  {len(strays)} stored events outside every night, e.g. {strays[0].name}")
    if ended is not None:
        compare_ends(sessions, ended, verdict, say)
    if final_state != reference_state:
        verdict.wrong_state += 1
        say(f"  final state {final_state!r}, a clean fold gives {reference_state!r}")
    return verdict


def _compare_events(
    night: NightPlayed, stored: Iterable[NinaEvent], verdict: Verdict, say: Callable[[str], None]
) -> None:
    expected = Counter(sim_identity(e) for e in night.events)
    times: dict[Identity, list[datetime]] = {}
    for event in night.events:
        times.setdefault(sim_identity(event), []).append(event.time.astimezone(UTC))
    got: Counter[Identity] = Counter()
    got_times: dict[Identity, list[datetime]] = {}
    for item in stored:
        identity = stored_identity(item)
        if identity[0] in INJECTED:
            verdict.injected_stored += 1
            if identity not in night.injected:
                verdict.duplicated += 1
                say(f"  {night.date}: stored an injected event never sent: {identity}")
            got[identity] += 1
            continue
        got[identity] += 1
        got_times.setdefault(identity, []).append(item.time)
    verdict.events += sum(expected.values())
    verdict.injected_sent += len(night.injected)
    lost = expected - got
    extra = Counter({k: v for k, v in (got - expected).items() if k[0] not in INJECTED})
    extra_injected = sum(max(0, got[k] - 1) for k in got if k[0] in INJECTED)
    verdict.lost += sum(lost.values())
    verdict.duplicated += sum(extra.values()) + extra_injected
    for identity, count in list(lost.items())[:5]:
        say(f"  {night.date}: LOST {count} x {identity[0]} {identity[1][:80]}")
    for identity, count in list(extra.items())[:5]:
        say(f"  {night.date}: DUPLICATED {count} x {identity[0]} {identity[1][:80]}")
    for identity, stamps in got_times.items():
        truth = sorted(times.get(identity, []))
        for mine, real in zip(sorted(stamps), truth, strict=False):
            error = abs((mine - real).total_seconds())
            verdict.max_stamp_error = max(verdict.max_stamp_error, error)
            verdict.worst_stamps.append((error, identity[0], night.date))
    verdict.worst_stamps = sorted(verdict.worst_stamps, reverse=True)[:5]


def _compare_sessions(
    night: NightPlayed,
    sessions: Sequence[dict[str, Any]],
    reference: Sequence[dict[str, Any]],
    verdict: Verdict,
    say: Callable[[str], None],
) -> None:
    def within(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return [s for s in items if night.covers(datetime.fromisoformat(s["start"]))]

    mine, theirs = within(sessions), within(reference)
    if len(mine) != 1:
        verdict.wrong_state += 1
        say(f"  {night.date}: {len(mine)} stored sessions, expected 1")
        if not mine:
            return
    facts, truth = _session_facts(mine[0]), _truth_facts(night.events)
    for key, value in truth.items():
        if facts[key] != value:
            verdict.wrong_state += 1
            say(f"  {night.date}: {key} is {facts[key]}, truth {value}")
    if len(theirs) == 1 and _states(mine[0]) != _states(theirs[0]):
        verdict.wrong_state += 1
        say(f"  {night.date}: state history {_states(mine[0])}")
        say(f"  {' ' * len(night.date)}  clean fold    {_states(theirs[0])}")


def compare_ends(
    sessions: Sequence[dict[str, Any]],
    ended: Mapping[str, int],
    verdict: Verdict,
    say: Callable[[str], None],
) -> None:
    """Check that every stored session that ended was announced once, and none twice."""
    for session_id, count in ended.items():
        if count > 1:
            verdict.wrong_state += 1
            say(f"  session {session_id} was announced ended {count} times")
    verdict.ends_announced = sum(ended.values())
    verdict.sessions_ended = sum(1 for session in sessions if session["end"] is not None)
    if verdict.ends_announced != verdict.sessions_ended:
        verdict.wrong_state += 1
        say(f"  {verdict.ends_announced} session ends announced, {verdict.sessions_ended} ended")
