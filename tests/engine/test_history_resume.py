"""A history re-read of the same NINA process parses only what the last read did not take in."""

from __future__ import annotations

from datetime import UTC
import hashlib
from pathlib import Path
import threading
from typing import Any

import aiohttp
import pytest

from bench.workload import stretch
from custom_components.nina_session.engine import jsonstream
from custom_components.nina_session.engine.batch_result import BatchResult
from custom_components.nina_session.engine.client import NinaClient
from custom_components.nina_session.engine.history_prefix import AHEAD_STEP, Decoded, PrefixHash
from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.store import Store
from custom_components.nina_session.engine.wire import HistoryEvents, HistoryImages
from simulator.night import SimEvent, history_item, image_record, preset_night, socket_text
from simulator.server import NinaSimulator
from tests.engine.conftest import OPTIONS
from tests.engine.frames import envelope

#: Items at the start of a re-read that the pipeline must not parse again (they would be
#: rejected if it did): far more than the overlap before the last item taken.
HIDDEN = 10


def _read(pipeline: Pipeline, events: list[SimEvent], hide: int = 0) -> BatchResult:
    items: list[Any] = [history_item(event) for event in events]
    items[:hide] = [{"Event": 7}] * hide  # no Time: unreadable
    images = [image_record(event) for event in events if event.name == "IMAGE-SAVE"]
    return pipeline.ingest_history(envelope(items), envelope(images))


def _measured_pipeline(db_path: Path) -> tuple[Store, Pipeline, list[SimEvent]]:
    """Return a pipeline that read half a night from history, on a measured clock."""
    events = preset_night("simple").events
    store = Store(db_path)
    pipeline = Pipeline(store, OPTIONS)
    half = events[: len(events) // 2]
    pipeline.ingest_frames([(socket_text(e), e.time.astimezone(UTC)) for e in half[:40]])
    _read(pipeline, half)
    assert pipeline.clock.measured
    return store, pipeline, events


def test_a_re_read_parses_only_the_items_after_the_last_read(db_path: Path) -> None:
    """Test that a re-read skips what was taken in, stores what is new, and counts alike.

    Then a history whose last item taken is no longer in its place is read whole.
    """
    store, pipeline, events = _measured_pipeline(db_path)
    received = pipeline.counters.received
    result = _read(pipeline, events, hide=HIDDEN)
    assert result.rejected == 0
    assert pipeline.counters.rejected == 0
    assert pipeline.counters.received == received + len(events)
    later = events[len(events) // 2 :]
    assert len(result.applied) == len(later)
    assert result.duplicates == len(events) - len(later)
    assert store.counts()["events"] == len(events)

    shifted = [events[0], *events]  # one more item in front: every index moved
    result = _read(pipeline, shifted, hide=HIDDEN)
    assert result.rejected == HIDDEN
    assert store.counts()["events"] == len(events)
    store.close()


class _GrowingHistory:
    """A simulator's history that grows, read into a pipeline as the engine reads it.

    1,500 events; the pipeline (on a real file) took the first 40 live; `read(upto)` serves the
    first `upto` of them and reads them.
    """

    def __init__(self, sim: NinaSimulator, session: aiohttp.ClientSession, db_path: Path) -> None:
        self.sim = sim
        self.events = stretch(1_500)
        self.store = Store(db_path)
        self.pipeline = Pipeline(self.store, OPTIONS)
        self.pipeline.ingest_frames(
            [(socket_text(e), e.time.astimezone(UTC)) for e in self.events[:40]]
        )
        self.client = NinaClient(session, sim.host, sim.port)

    async def read(
        self, upto: int, first_hfr: float | None = None, folder: str | None = None
    ) -> tuple[HistoryEvents, HistoryImages, BatchResult]:
        """Serve the first `upto` events and read them.

        The first record's HFR is changed if `first_hfr` is given; every record's file lies
        in `folder` if one is given.
        """
        events, sim = self.events[:upto], self.sim
        sim.history[:] = [history_item(event) for event in events]
        sim.images[:] = [image_record(e) for e in events if e.name == "IMAGE-SAVE"]
        if first_hfr is not None:
            sim.images[0]["HFR"] = first_hfr
        for record in sim.images if folder is not None else ():
            record["Filename"] = f"{folder}\\{record['Filename']}"
        read = await self.client.read_history()
        history, images, _ = read.parse(self.pipeline.known_history)
        assert isinstance(history, HistoryEvents) and isinstance(images, HistoryImages)
        return history, images, self.pipeline.ingest_history(history, images)


async def test_a_re_read_decodes_only_what_follows_the_known_bytes_of_each_answer(
    sim: NinaSimulator, session: aiohttp.ClientSession, db_path: Path
) -> None:
    """Test that grown histories are decoded from where the last read's known bytes end.

    The events before the overlap and the image records in those bytes are not decoded (and
    what is new is stored all the same); an answer whose first bytes changed is decoded whole,
    and so is one that a read needs whole (another NINA process).
    """
    grown = _GrowingHistory(sim, session, db_path)
    events, store, pipeline, read = grown.events, grown.store, grown.pipeline, grown.read
    half = len(events) // 2
    history, images, _ = await read(half)
    assert history.source.skipped == images.source.skipped == 0
    known = pipeline.known_history
    assert known.events is not None and known.images is not None
    assert half - 20 < known.events.count < half and known.images.count > len(images) - 10

    history, images, result = await read(len(events))
    assert history.source.skipped == known.events.count
    assert images.source.skipped == known.images.count
    assert len(history.items) == len(events) - known.events.count
    assert len(images.items) == len(images) - known.images.count
    assert len(result.applied) == len(events) - half
    assert store.counts()["events"] == len(events)
    later = [a.event for a in result.applied if a.event.name == "IMAGE-SAVE"]
    records = [image_record(e) for e in events[half:] if e.name == "IMAGE-SAVE"]
    assert [event.frame.filename for event in later if event.frame] == [
        record["Filename"] for record in records
    ]  # each new save paired with its record, decoded after the known bytes

    history, images, result = await read(len(events), first_hfr=9.75)  # other first bytes
    assert history.source.skipped > 0 and images.source.skipped == 0
    assert len(images.items) == len(images) and not result.applied
    assert pipeline.known_history.images is not None

    pipeline.epoch += 1  # NINA restarted: nothing may be skipped, though the bytes match
    history, images, result = await read(len(events), first_hfr=9.75)
    assert history.source.skipped > 0 and images.source.skipped > 0  # decoded again, whole
    assert not result.applied and result.duplicates == len(events)
    assert pipeline.counters.rejected == 0 and store.counts()["events"] == len(events)
    store.close()


async def test_a_re_read_of_records_with_letters_of_several_bytes_decodes_only_what_is_new(
    sim: NinaSimulator,
    session: aiohttp.ClientSession,
    db_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Test a history whose every image record holds a letter of two bytes in UTF-8.

    NINA writes paths as they are (a user folder "Jürgen"): byte and character positions part
    at the first record, yet a re-read still skips the events and records it knows, and takes
    the new ones with their paths.
    """
    monkeypatch.setattr(jsonstream, "_BATCH", 3000)
    monkeypatch.setattr(jsonstream, "_MARGIN", 100)
    folder = "C:\\Users\\Jürgen\\Bilder\\N.I.N.A"
    grown = _GrowingHistory(sim, session, db_path)
    events, store, pipeline = grown.events, grown.store, grown.pipeline
    half = len(events) // 2
    await grown.read(half, folder=folder)
    known = pipeline.known_history
    assert known.events is not None and known.images is not None and known.images.count > 0
    history, images, result = await grown.read(len(events), folder=folder)
    assert history.source.skipped == known.events.count
    assert images.source.skipped == known.images.count
    assert len(result.applied) == len(events) - half
    assert store.counts()["events"] == len(events)
    frames = [a.event.frame for a in result.applied if a.event.frame is not None]
    assert frames and all(f.filename and f.filename.startswith(folder) for f in frames)
    store.close()


async def test_a_re_read_of_a_history_decoded_in_batches_starts_at_a_batch_it_knows(
    sim: NinaSimulator,
    session: aiohttp.ClientSession,
    db_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Test a history decoded in batches, where only each batch's first item has a known start.

    The known bytes end at the start of the batch that holds the item the next read would
    resume at: that read decodes only from there on, and stores what is new once.
    """
    monkeypatch.setattr(jsonstream, "_BATCH", 3000)
    monkeypatch.setattr(jsonstream, "_MARGIN", 100)
    grown = _GrowingHistory(sim, session, db_path)
    events, store, pipeline, read = grown.events, grown.store, grown.pipeline, grown.read
    half = len(events) // 2
    history, images, _ = await read(half)
    assert -1 in history.source.offsets and -1 in images.source.offsets  # batches
    known = pipeline.known_history
    assert known.events is not None and known.images is not None
    assert half - 100 < known.events.count < half and 0 < known.images.count < len(images)
    history, images, result = await read(len(events))
    assert history.source.skipped == known.events.count
    assert images.source.skipped == known.images.count
    assert len(result.applied) == len(events) - half
    assert store.counts()["events"] == len(events)
    assert pipeline.counters.rejected == 0
    store.close()


def test_a_prefix_hash_is_the_hash_of_the_leading_bytes_however_they_are_chunked() -> None:
    """Test the running hash against hashing the joined bytes, growing, shrinking, past the end."""
    body = bytes(range(256)) * 40
    chunks = [body[i : i + 97] for i in range(0, len(body), 97)]
    prefix = PrefixHash(chunks)
    for size in (0, 1, 96, 97, 98, 5_000, 300, len(body)):
        assert prefix.digest(size) == hashlib.sha256(body[:size]).digest(), size
    assert prefix.digest(len(body) + 1) is None


def test_a_large_answer_is_hashed_ahead_on_a_thread_and_every_prefix_hash_stays_right() -> None:
    """Test hashing a body ahead while the caller goes on, then digests of any prefix.

    A read's digest of nearly all its bytes cost 6 ms of a 20,000-event history on the writer
    thread; hashed ahead, a digest goes on from the state kept nearest before its size, back
    or forth, and still equals the hash of the joined bytes. A small body is not hashed ahead.
    """
    body = bytes(range(251)) * (16 * AHEAD_STEP // 251)
    chunks = [body[i : i + 65_536] for i in range(0, len(body), 65_536)]
    prefix = PrefixHash(chunks)
    assert prefix.digest(1_000) == hashlib.sha256(body[:1_000]).digest()

    prefix.hash_ahead()

    assert "nina-history-hash" in {thread.name for thread in threading.enumerate()}
    step = AHEAD_STEP
    for size in (len(body) - 7, 3 * step + 5, 2_000, 999, 5 * step, 0, len(body), 9 * step + 1):
        assert prefix.digest(size) == hashlib.sha256(body[:size]).digest(), size
    assert prefix.digest(len(body) + 1) is None
    small = PrefixHash([body[:step]])
    small.hash_ahead()
    assert "nina-history-hash" not in {thread.name for thread in threading.enumerate()}
    assert small.digest(step) == hashlib.sha256(body[:step]).digest()


def test_known_bytes_end_at_the_nearest_known_item_start_before_the_one_asked_for() -> None:
    """Test that items without a known start (decoded in a batch) still leave a known prefix.

    The bytes end at the last item start known at or before the item asked for; with none
    known there, nothing is known.
    """
    body = b'{"Response": [{"N": 0}, {"N": 1}, {"N": 2}, {"N": 3}, {"N": 4}]}'
    starts = [body.index(b'{"N": %d}' % n) for n in range(5)]
    decoded = Decoded(PrefixHash([body]), {"Success": True}, 0, [starts[0], -1, -1, starts[3], -1])
    for count, at in ((0, 0), (2, 0), (3, 3), (4, 3)):
        known = decoded.known(count, 5)
        assert known is not None
        assert (known.count, known.size) == (at, starts[at])
        assert known.digest == hashlib.sha256(body[: starts[at]]).digest()
        assert known.head == {"Success": True}
    assert Decoded(PrefixHash([body]), {}, 0, [-1, -1, starts[2]]).known(1, 3) is None
