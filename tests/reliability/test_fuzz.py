"""Bad input gets nowhere: random and mutated plugin messages through the real pipeline.

Every frame ends up exactly once as applied, duplicate or rejected; every rejection is counted
under a known reason; no exception escapes; nothing non-finite reaches the database; frames
over the size limit are refused before they are parsed. Hostile text and bytes (lone
surrogates, overlong and invalid UTF-8, NUL, BOM, RTL marks, 1 MB strings) in any key or value
cost at most their own message: the good ones around them are all stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
import contextlib
import copy
from datetime import UTC, datetime, timedelta
import json
import math
from pathlib import Path
import sqlite3
import subprocess
import sys
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.nina_session.engine.engine import EngineConfig, NinaEngine
from custom_components.nina_session.engine.errors import FrameError
from custom_components.nina_session.engine.pipeline import Pipeline, PipelineOptions
from custom_components.nina_session.engine.store import Store
from custom_components.nina_session.engine.wire import (
    MAX_FRAME_BYTES,
    parse_event_history,
    parse_socket_frame,
)
from simulator.night import history_item, image_record, preset_night, socket_message, to_rest
from simulator.server import NinaSimulator

T0 = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)
OPTIONS = PipelineOptions("fuzz", ZoneInfo("Europe/Berlin"))
FRAME_REASONS = {"not_json", "too_large", "bad_shape", "missing_event", "bad_time",
                 "plugin_error", "too_deep"}  # fmt: skip
HISTORY_REASONS = FRAME_REASONS | {"bad_history_item", "bad_image_record"}
#: A row the database refused (a lone surrogate that reached it): counted, the others stored.
STORE_REASONS = {"unstorable"}

# Real plugin messages: every event of the richest presets (all event kinds, old plugin too).
REAL_EVENTS = [e for name in ("full", "old_plugin", "osc") for e in preset_night(name).events]
REAL_MESSAGES = [socket_message(e) for e in REAL_EVENTS]
REAL_HISTORY = [to_rest(history_item(e)) for e in REAL_EVENTS]
REAL_IMAGES = [to_rest(image_record(e)) for e in REAL_EVENTS if e.name == "IMAGE-SAVE"]

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)
# .NET's DateTime.MinValue/MaxValue are kept out of `bad_times`: see EDGE_CASES below.
bad_times = st.one_of(
    st.text(max_size=40),
    st.integers(),
    st.floats(allow_nan=True),
    st.sampled_from([
        "", "Z", "yesterday", "2026-13-45T99:99:99", "2026-11-24T25:00:00+01:00",
        "2026-11-24 19:00:00", "2026-11-24T19:00:00.123456789012+01:00", "24/11/2026 19:00",
        "2026-11-24T19:00:00+25:00", "0001-01-02T00:00:00", "9999-12-30T23:59:59.9999999Z",
        "2026-11-24T19:00:00\x00", "\u0661\u0662:\u0660\u0660",
    ]),
)  # fmt: skip


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key/index path inside a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from _paths(item, (*prefix, index))


def _parent(root: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        root = root[step]
    return root


def _nested(depth: int) -> Any:
    value: Any = "junk"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


@st.composite
def mutated(draw: st.DrawFn, base: list[dict[str, Any]]) -> Any:
    """Return a real message with one to three mutations."""
    message: Any = copy.deepcopy(draw(st.sampled_from(base)))
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(message))
        kind = draw(st.sampled_from(["drop", "swap", "nonfinite", "huge", "nested", "time",
                                     "response", "root"]))  # fmt: skip
        if kind == "root":
            message = draw(json_values)
            continue
        if kind == "response" and isinstance(message, dict):
            message["Response"] = draw(json_values | st.lists(st.just({"Event": "X"})))
            continue
        if kind == "time":
            target = message.get("Response") if isinstance(message, dict) else None
            if not isinstance(target, dict):
                target = message if isinstance(message, dict) else None
            if target is not None:
                target["Time" if draw(st.booleans()) else "Date"] = draw(bad_times)
            continue
        if not paths:
            continue
        path = draw(st.sampled_from(paths))
        parent = _parent(message, path)
        if kind == "drop":
            del parent[path[-1]]
        elif kind == "swap":
            parent[path[-1]] = draw(json_values)
        elif kind == "nonfinite":
            parent[path[-1]] = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
        elif kind == "huge":
            parent[path[-1]] = "x" * draw(st.sampled_from([1_000, 50_000, 300_000]))
        elif kind == "nested":
            parent[path[-1]] = _nested(draw(st.integers(2, 60)))
    return message


@st.composite
def frame_texts(draw: st.DrawFn) -> str | bytes:
    """Return a frame: random text or bytes, random JSON or a mutated real message."""
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(st.text(max_size=200))
    if choice == 1:
        return draw(st.binary(max_size=200))
    if choice == 2:
        return json.dumps(draw(json_values))
    text = json.dumps(draw(mutated(REAL_MESSAGES)), ensure_ascii=draw(st.booleans()))
    if draw(st.integers(0, 9)) == 0:
        text = text[: draw(st.integers(0, len(text)))]  # cut short on the wire
    return text.encode() if draw(st.integers(0, 5)) == 0 else text


@contextlib.contextmanager
def fresh_pipeline(factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """Yield a pipeline on a new database; close the database afterwards."""
    store = Store(factory.mktemp("fuzz") / "fuzz.db")
    try:
        yield Pipeline(store, OPTIONS)
    finally:
        store.close()


def _strict(text: str) -> Any:
    def refuse(token: str) -> Any:
        raise AssertionError(f"non-finite {token} stored")

    return json.loads(text, parse_constant=refuse)


def assert_database_is_strict_json(path: Path) -> None:
    """Assert every JSON column in the database is strict JSON (no NaN or infinity)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        for data, frame in db.execute("SELECT data, frame FROM session_events"):
            _strict(data)
            if frame is not None:
                _strict(frame)
        for (summary,) in db.execute("SELECT summary FROM sessions"):
            _strict(summary)
        for (data,) in db.execute("SELECT data FROM session_state"):
            _strict(data)


def assert_accounted(pipeline: Pipeline, reasons: set[str]) -> None:
    """Assert every rejection is counted, under one of `reasons`."""
    counters = pipeline.counters
    assert counters.rejected == sum(counters.rejected_by_reason.values())
    assert set(counters.rejected_by_reason) <= reasons, counters.rejected_by_reason


# --------------------------------------------------------------------------- wire


@FUZZ
@given(raw=frame_texts())
def test_parse_socket_frame_returns_an_event_or_a_frame_error(raw: str | bytes) -> None:
    """Test that parsing a frame gives a named event or a FrameError with a known reason."""
    reason: str | None
    try:
        event = parse_socket_frame(raw, T0)
    except FrameError as err:
        reason = err.reason
    else:
        reason = None
        assert event.name and event.name == event.name.strip().upper()
        assert isinstance(event.data, dict)
    assert reason is None or reason in FRAME_REASONS


# --------------------------------------------------------------------------- live frames


@FUZZ
@given(batch=st.lists(frame_texts(), min_size=1, max_size=12), real=st.integers(0, 3))
def test_ingest_frames_accounts_for_every_frame(
    batch: list[str | bytes], real: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Test that every live frame is applied, a duplicate or rejected, and good ones get through."""
    # Good frames around the bad ones: the bad ones must not take the good ones down.
    good = [json.dumps(m) for m in REAL_MESSAGES[:real]]
    frames = [(raw, T0 + timedelta(seconds=i * 7)) for i, raw in enumerate(good + batch)]
    with fresh_pipeline(tmp_path_factory) as pipeline:
        result = pipeline.ingest_frames(frames)
        assert len(frames) == len(result.applied) + result.duplicates + result.rejected
        assert result.rejected == pipeline.counters.rejected
        assert len(result.applied) >= real  # the real frames went through
        assert_accounted(pipeline, FRAME_REASONS)
        assert_database_is_strict_json(pipeline.store.path)


@pytest.mark.parametrize("as_bytes", [False, True])
def test_huge_frames_are_refused_by_size_before_parsing(
    as_bytes: bool, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Test that frames over the size limit are rejected as too_large without being parsed."""
    # Not JSON at all: were it parsed, the reason would be not_json.
    junk = "{" + "x" * MAX_FRAME_BYTES
    deep = '{"Response": {"Event": "X", "v": ' + "[" * 600_000 + "]" * 600_000 + "}}"
    valid = json.dumps({"Response": {"Event": "X", "Blob": "y" * MAX_FRAME_BYTES}})
    texts: list[str | bytes] = [junk, deep, valid]
    if as_bytes:
        texts = [text.encode() for text in (junk, deep, valid)]
    with fresh_pipeline(tmp_path_factory) as pipeline:
        result = pipeline.ingest_frames([(text, T0) for text in texts])
        assert result.rejected == 3 and not result.applied
        assert pipeline.counters.rejected_by_reason == {"too_large": 3}
        assert pipeline.store.counts()["events"] == 0
    with pytest.raises(FrameError) as caught:
        parse_socket_frame(junk, T0)
    assert caught.value.reason == "too_large"


def test_a_frame_just_under_the_limit_is_parsed(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Test that a frame of exactly the size limit is parsed and applied."""
    head, tail = '{"Response": {"Event": "SOAK-BIG", "Blob": "', '"}, "Success": true}'
    text = head + "y" * (MAX_FRAME_BYTES - len(head) - len(tail)) + tail
    assert len(text) == MAX_FRAME_BYTES
    with fresh_pipeline(tmp_path_factory) as pipeline:
        assert len(pipeline.ingest_frames([(text, T0)]).applied) == 1


@pytest.mark.parametrize("depth", [2_000, 100_000])
def test_a_deeply_nested_frame_is_rejected_not_raised(
    depth: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Test that a deeply nested frame is rejected while the frames around it are applied."""
    deep = '{"Response": {"Event": "X", "v": ' + "[" * depth + "]" * depth + "}}"
    assert len(deep) < MAX_FRAME_BYTES  # small enough to be parsed
    good = [json.dumps(REAL_MESSAGES[0]), deep, json.dumps(REAL_MESSAGES[1])]
    with fresh_pipeline(tmp_path_factory) as pipeline:
        result = pipeline.ingest_frames(
            [(t, T0 + timedelta(seconds=i)) for i, t in enumerate(good)]
        )
        assert len(result.applied) == 2 and result.rejected == 1


def _envelope(response: Any) -> str:
    return json.dumps({"Response": response, "Success": True, "Type": "Socket"})


EDGE_CASES = [
    ("live Time", "Europe/Berlin", "0001-01-01T00:00:00"),
    ("live Time", "Europe/Berlin", "0001-01-01T00:00:00+01:00"),
    ("live Time", "America/Santiago", "9999-12-31T23:59:59.9999999"),
    ("live Date", "Europe/Berlin", "0001-01-01T00:00:00"),
    ("history Time", "Europe/Berlin", "0001-01-01T00:00:00"),
    ("history Time", "America/Santiago", "9999-12-31T23:59:59.9999999"),
    ("pairing", "Europe/Berlin", "9999-12-31T23:59:59.9999999+00:00"),
]


@pytest.mark.parametrize(("where", "tz", "text"), EDGE_CASES)
def test_edge_dotnet_times_are_rejected_not_raised(
    where: str, tz: str, text: str, tmp_path: Path
) -> None:
    """Test that .NET's DateTime.MinValue and MaxValue in live or history times do not raise."""
    store = Store(tmp_path / "edge.db")
    pipeline = Pipeline(store, PipelineOptions("fuzz", ZoneInfo(tz)))
    try:
        if where == "live Time":
            pipeline.ingest_frames([(_envelope({"Event": "TS-WAITSTART", "Time": text}), T0)])
        elif where == "live Date":
            stats = {"ExposureTime": 60.0, "ImageType": "LIGHT", "Date": text}
            message = _envelope({"Event": "IMAGE-SAVE", "ImageStatistics": stats})
            pipeline.ingest_frames([(message, T0)])
        elif where == "history Time":
            pipeline.ingest_history([{"Event": "GUIDER-DITHER", "Time": text}], [])
        else:  # one save, two records: paired by time, the slack added to the save time
            saved = "2026-11-24T20:00:00+01:00"
            pipeline.ingest_history([{"Event": "IMAGE-SAVE", "Time": text}],
                                    [{"Date": saved}, {"Date": saved}])  # fmt: skip
    finally:
        store.close()


async def test_one_edge_time_in_ninas_history_does_not_disable_backfill(
    sim: NinaSimulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Test that one edge time in NINA's history does not stop the rest of the backfill."""
    night = preset_night("simple")
    sim.history.append({"Event": "TS-WAITSTART", "Time": "0001-01-01T00:00:00"})
    await sim.play(night, speed=0)  # the whole night before Home Assistant starts
    config = EngineConfig("127.0.0.1", sim.port, tmp_path / "edge.db",
                          PipelineOptions("rig1", ZoneInfo(night.spec.tz)))  # fmt: skip
    engine = NinaEngine(config, session)
    await engine.start()
    try:
        async with asyncio.timeout(15):
            while not engine.health.connected:
                await asyncio.sleep(0.02)
        current = engine.current_session()
        assert current is not None
        assert current["frames"]["by_type"] == night.truth.frames_by_type
    finally:
        await engine.stop()


# --------------------------------------------------------------------------- history


@st.composite
def history_payloads(draw: st.DrawFn) -> tuple[Any, Any]:
    """Return event and image history payloads: real items, some mutated, in varied shapes."""

    def payload(items: list[Any]) -> Any:
        shape = draw(st.integers(0, 9))
        if shape == 0:
            return draw(json_values)  # not a list at all
        if shape == 1:
            return {"Response": items, "Success": draw(st.booleans()), "Type": "API"}
        return {"Response": items, "Success": True, "Type": "API"} if shape < 5 else items

    size = draw(st.integers(0, 25))
    start = draw(st.integers(0, len(REAL_HISTORY) - size))
    events: list[Any] = [
        draw(mutated([item])) if draw(st.integers(0, 3)) == 0 else item
        for item in REAL_HISTORY[start : start + size]
    ]
    saves = sum(1 for item in REAL_HISTORY[start : start + size] if item["Event"] == "IMAGE-SAVE")
    images: list[Any] = [
        draw(mutated([record])) if draw(st.integers(0, 3)) == 0 else record
        for record in REAL_IMAGES[:saves]
    ]
    return payload(events), payload(images)


@FUZZ
@given(payloads=history_payloads())
def test_ingest_history_accounts_for_every_item(
    payloads: tuple[Any, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Test that every history item is applied, a duplicate or rejected, or the payload refused."""
    events, images = payloads
    with fresh_pipeline(tmp_path_factory) as pipeline:
        reason: str | None
        try:
            result = pipeline.ingest_history(events, images)
        except FrameError as err:  # the whole payload is unusable: the engine counts it
            reason = err.reason
        else:
            reason = None
        if reason is not None:
            assert reason in FRAME_REASONS
            return
        items, bad = parse_event_history(events)
        assert len(items) + bad == len(result.applied) + result.duplicates + result.rejected
        assert_accounted(pipeline, HISTORY_REASONS)
        assert_database_is_strict_json(pipeline.store.path)


# --------------------------------------------------------------------------- hostile text

#: Text that is valid in a Python str or in JSON but breaks naive encoding, display or SQL.
HOSTILE_TEXT = [
    "\ud800", "x\udfffy", "\udc00\ud800", "\x00", "a\x00b", "\ufeff", "\ufeffIMAGE-SAVE",
    "\u202e", "\u200f\u202bfilter\u202c", "\U0010ffff", "\uffff\ufffe", "x" * 1_000_000,
]  # fmt: skip
#: Bytes no UTF-8 decoder may accept: overlong forms, an encoded surrogate, past U+10FFFF,
#: stray continuation and never-valid bytes, a sequence cut short, and a BOM in the middle.
BAD_UTF8 = [b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf0\x80\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
            b"\x80", b"\xff\xfe", b"\xe2\x82", b"\xef\xbb\xbf", b"\x00"]  # fmt: skip
#: Stands for the bad bytes while the message is still JSON text.
_MARK = "@@HOSTILE@@"


@st.composite
def with_hostile_text(draw: st.DrawFn, base: list[dict[str, Any]]) -> Any:
    """Return a real message with hostile text as one of its values or keys."""
    message: Any = copy.deepcopy(draw(st.sampled_from(base)))
    path = draw(st.sampled_from(list(_paths(message))))
    parent = _parent(message, path)
    text = draw(st.sampled_from(HOSTILE_TEXT))
    if isinstance(parent, dict) and draw(st.booleans()):
        parent[draw(st.sampled_from([text, path[-1] + text]))] = parent.pop(path[-1])
    else:
        value = parent[path[-1]]
        parent[path[-1]] = value + text if isinstance(value, str) and draw(st.booleans()) else text
    return message


@st.composite
def hostile_frames(draw: st.DrawFn) -> str | bytes:
    """Return a real message carrying hostile text, or hostile bytes inside one of its values."""
    if draw(st.booleans()):
        message = with_hostile_text(REAL_MESSAGES)
        return json.dumps(draw(message), ensure_ascii=draw(st.booleans()))
    message = copy.deepcopy(draw(st.sampled_from(REAL_MESSAGES)))
    path = draw(st.sampled_from(list(_paths(message))))
    _parent(message, path)[path[-1]] = _MARK
    head, tail = json.dumps(message, ensure_ascii=False).encode().split(_MARK.encode())
    frame = head + draw(st.sampled_from(BAD_UTF8)) + tail
    return b"\xef\xbb\xbf" + frame if draw(st.integers(0, 4)) == 0 else frame


def _apart(texts: list[str | bytes]) -> list[tuple[str | bytes, datetime]]:
    return [(raw, T0 + timedelta(seconds=i * 7)) for i, raw in enumerate(texts)]


@FUZZ
@given(hostile=st.lists(hostile_frames(), min_size=1, max_size=6), real=st.integers(1, 8))
def test_hostile_text_in_frames_costs_only_its_frame(
    hostile: list[str | bytes], real: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Test that hostile frames raise nothing and every real frame around them is stored."""
    good = [json.dumps(m) for m in REAL_MESSAGES[:real]]
    with fresh_pipeline(tmp_path_factory) as pipeline:
        result = pipeline.ingest_frames(_apart([*good, *hostile]))
        assert len(good) + len(hostile) == len(result.applied) + result.duplicates + result.rejected
        # The good frames first, each on its own time: none is a duplicate or refused.
        assert len(result.applied) >= real
        assert pipeline.store.counts()["events"] == len(result.applied)
        assert_accounted(pipeline, FRAME_REASONS | STORE_REASONS)
        assert_database_is_strict_json(pipeline.store.path)


@FUZZ
@given(
    hostile=st.lists(with_hostile_text(REAL_HISTORY), min_size=1, max_size=4),
    start=st.integers(0, len(REAL_HISTORY) - 12),
)
def test_hostile_text_in_history_costs_only_its_item(
    hostile: list[Any], start: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Test that hostile history items raise nothing and every real item is stored."""
    good = REAL_HISTORY[start : start + 12]
    with fresh_pipeline(tmp_path_factory) as pipeline:
        with fresh_pipeline(tmp_path_factory) as reference:  # the good items on their own
            expected = len(reference.ingest_history(copy.deepcopy(good), None).applied)
        result = pipeline.ingest_history([*good, *hostile], None)
        items, bad = parse_event_history([*good, *hostile])
        assert len(items) + bad == len(result.applied) + result.duplicates + result.rejected
        assert pipeline.store.counts()["events"] == len(result.applied) >= expected
        assert_accounted(pipeline, HISTORY_REASONS | STORE_REASONS)
        assert_database_is_strict_json(pipeline.store.path)


# --------------------------------------------------------------------------- atheris


def test_atheris_harness_runs_when_atheris_is_installed(tmp_path: Path) -> None:
    """Coverage-guided fuzzing of the same entry points (optional; `pip install atheris`)."""
    pytest.importorskip("atheris")

    harness = Path(__file__).with_name("fuzz_atheris.py")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for index, message in enumerate(REAL_MESSAGES[::7]):  # real frames to start from
        (corpus / f"real{index}").write_text(json.dumps(message))
    done = subprocess.run(
        [sys.executable, str(harness), "-atheris_runs=5000", "-seed=1", "-max_len=4096",
         f"-artifact_prefix={tmp_path}/", str(corpus)],
        cwd=Path(__file__).parents[2], capture_output=True, text=True, timeout=110, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
