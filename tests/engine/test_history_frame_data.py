"""A history IMAGE-SAVE keeps its image record as its data, as its live copy keeps its statistics.

The event history's IMAGE-SAVE is sparse (`Event` and `Time`); its statistics come from the
image history. Stored as `{"ImageStatistics": <the record>}`, with the record's text as NINA
sent it, the frame is read back from that data (as a live frame's is) instead of being encoded
as JSON a second time; only a frame that context filled in keeps its own column. The text is
kept only where every reader reads it as the decoded record; anything else is stored strict.
"""

from __future__ import annotations

import json
from pathlib import Path
import sqlite3
from typing import Any

import aiohttp

from bench.workload import stretch
from custom_components.nina_session.engine.client import NinaClient
from custom_components.nina_session.engine.models import Frame, NinaEvent, Source
from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.store import Store
from custom_components.nina_session.engine.stored_rows import read_frame
from custom_components.nina_session.engine.wire import HistoryImages, parse_image_record
from simulator.night import history_item, image_record
from simulator.server import NinaSimulator
from tests.engine.conftest import OPTIONS
from tests.engine.test_received_text import strict


def stored_frames(db_path: Path) -> list[tuple[str, str | None, Frame | None]]:
    """Return (data text, frame column, frame read back) of every stored IMAGE-SAVE, in order."""
    with sqlite3.connect(db_path) as db:
        rows = db.execute(
            "SELECT data, frame FROM session_events WHERE name = 'IMAGE-SAVE' ORDER BY ts, id"
        ).fetchall()
    return [
        (data, frame, read_frame("IMAGE-SAVE", json.loads(data), frame)) for data, frame in rows
    ]


def saved(events: list[NinaEvent]) -> list[NinaEvent]:
    """Return the IMAGE-SAVE events of a batch, in time order."""
    return sorted((e for e in events if e.name == "IMAGE-SAVE"), key=lambda e: e.ts)


async def test_a_history_frame_keeps_its_record_as_sent_and_reads_its_frame_from_it(
    sim: NinaSimulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Test the stored text, the frame column only where context filled in, and the read-back.

    Then a database written the way it was before (sparse data, the frame in its column)
    reads its frames back the same.
    """
    nights = stretch(2_000)  # nights with and without a filter in the records
    sim.history.extend(history_item(event) for event in nights)
    sim.images.extend(image_record(event) for event in nights if event.name == "IMAGE-SAVE")
    read = await NinaClient(session, sim.host, sim.port).read_history()
    events, images, _ = read.parse()
    assert isinstance(images, HistoryImages)

    store = Store(tmp_path / "new.db")
    result = Pipeline(store, OPTIONS).ingest_history(events, images)
    store.close()
    frames = saved([item.event for item in result.applied])
    rows = stored_frames(tmp_path / "new.db")
    assert len(rows) == len(frames) == len(images.items) > 100
    for (data, column, frame), event, item, text in zip(
        rows, frames, images.items, images.texts, strict=True
    ):
        assert json.loads(data) == {"ImageStatistics": item}
        assert data == '{"ImageStatistics":' + text + "}"  # as sent: nothing encoded again
        assert (column is None) == (not event.frame.inferred)
        assert frame == event.frame
    assert {column is None for _, column, _ in rows} == {True, False}

    # Rows as written before: the sparse data, and the frame JSON in its own column.
    old = Store(tmp_path / "old.db")
    sparse = [event for event in events.events()[0] if event.name == "IMAGE-SAVE"]
    records = [parse_image_record(item) for item in images.items]  # without their item
    Pipeline(old, OPTIONS).ingest(sparse, Source.HISTORY, records)
    old.close()
    old_rows = stored_frames(tmp_path / "old.db")
    assert all(data == "{}" and column is not None for data, column, _ in old_rows)
    assert [frame for _, _, frame in old_rows] == [event.frame for event in frames]


#: One record's members (the plugin writes them compact); `%s` takes one more member.
_RECORD = (
    '{"ImageType":"LIGHT","Filter":"Ha","TargetName":"M 31","CameraName":"ZWO",'
    '"TelescopeName":"Esprit","Date":"2026-11-24T22:%02d:00.1234567+01:00","ExposureTime":300,'
    '"HFR":2.1,"Stars":1500,"RmsText":"Tot: 0.62 (0.55\\")",%s}'
)
#: (received text's extra member, whether the text is kept, Python's and SQLite's `$.X`).
#: The refused ones hold an `é`, which the store's encoder writes as `\u00e9`: text kept and
#: text encoded again differ.
_CASES: list[tuple[str, bool, Any, Any]] = [
    ('"X":"NaN","Mean":512.5', True, "NaN", "NaN"),  # REST's missing reading: a strict string
    ('"X":"é"', True, "é", "é"),
    ('"X":NaN,"N":"é"', False, None, None),  # a bare token: not strict JSON
    ('"X":1e999,"N":"é"', False, None, None),  # past a float's range: infinity
    ('"X":[],"N":"é"', False, None, None),  # a history placeholder: "not known"
    ('"X":1,"X":2,"N":"é"', False, 2, 2),  # SQLite would read the first, Python the last
    ('"X":"é\\":b"', False, 'é":b', 'é":b'),  # a `":` inside a string: refused, to be safe
    ('"X":{"Y":"é"}', False, {"Y": "é"}, '{"Y":"\\u00e9"}'),  # nested: refused, stored alike
]


def test_a_record_text_is_kept_only_where_every_reader_reads_it_as_decoded(
    pipeline: Pipeline, db_path: Path
) -> None:
    """Test each case: the text kept verbatim, or the record stored strict, read alike."""
    texts = [_RECORD % (minute, case[0]) for minute, case in enumerate(_CASES)]
    spaced = json.dumps(json.loads(_RECORD % (len(texts), '"X":3')))  # `": ` after every key
    texts.append(spaced)
    items = [json.loads(text) for text in texts]
    events = [
        {"Event": "IMAGE-SAVE", "Time": f"2026-11-24T22:{minute:02d}:01+01:00"}
        for minute in range(len(texts))
    ]
    result = pipeline.ingest_history(events, HistoryImages(items, list(texts)))
    assert result.rejected == 0 and len(result.applied) == len(texts)

    rows = stored_frames(db_path)
    with sqlite3.connect(db_path) as db:
        read_x = [
            row[0]
            for row in db.execute(
                "SELECT json_extract(data, '$.ImageStatistics.X') FROM session_events "
                "WHERE name = 'IMAGE-SAVE' ORDER BY ts"
            )
        ]
    expected = [*_CASES, ('"X":3', True, 3, 3)]
    for (data, column, frame), text, (_, kept, python_x, sqlite_x), read, event in zip(
        rows, texts, expected, read_x, saved([a.event for a in result.applied]), strict=True
    ):
        assert (data == '{"ImageStatistics":' + text + "}") == kept, text
        assert strict(data)["ImageStatistics"].get("X") == python_x, text  # SQLite refuses NaN
        assert read == sqlite_x, text
        assert column is None and frame == event.frame
        assert frame is not None and frame.filter == "Ha" and frame.hfr == 2.1
