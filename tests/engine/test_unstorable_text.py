r"""Text that UTF-8 cannot encode (lone UTF-16 surrogates, valid in JSON) costs nothing.

`{"Event":"X\ud800"}` is valid JSON; SQLite cannot store the string it decodes to. Such text
is made storable where the JSON is decoded, so it never reaches (and never breaks) a batch.
"""

from __future__ import annotations

import json
from pathlib import Path
import sqlite3

from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.replay import read_json
from tests.engine.frames import at, event, frames, image

# Raw JSON text as NINA (or an attacker) could send it: the escapes stay escapes.
LONE_IN_NAME = '{"Response":{"Event":"X\\ud800"},"Success":true,"Type":"Socket"}'
LONE_EVERYWHERE = (
    '{"Response":{"Event":"SAFETY-CHANGED","IsSafe":true,"Note\\udfff":"a\\udc00b",'
    '"List":["\\ud83d"]},"Success":true,"Type":"Socket"}'
)


def stored_names(db_path: Path) -> list[str]:
    """Return the names of the stored events, in time order."""
    with sqlite3.connect(db_path) as db:
        return [row[0] for row in db.execute("SELECT name FROM session_events ORDER BY ts, id")]


def test_a_lone_surrogate_in_a_live_batch_costs_nothing(pipeline: Pipeline, db_path: Path) -> None:
    """Test that a batch of 20 frames with lone surrogates in names, keys and values is stored."""
    good = frames((0, event("SEQUENCE-STARTING")), *((i + 1.0, image(float(i))) for i in range(17)))
    batch = [*good[:5], (LONE_IN_NAME, at(5.5)), (LONE_EVERYWHERE.encode(), at(5.6)), *good[5:]]
    assert len(batch) == 20
    result = pipeline.ingest_frames(batch)
    assert result.rejected == 0 and len(result.applied) == 20
    names = stored_names(db_path)
    assert len(names) == 20 and "X\ufffd" in names
    with sqlite3.connect(db_path) as db:
        data = db.execute("SELECT data FROM session_events WHERE name = 'SAFETY-CHANGED'")
        assert json.loads(data.fetchone()[0]) == {
            "IsSafe": True, "Note\ufffd": "a\ufffdb", "List": ["\ufffd"]
        }  # fmt: skip
    # The fold and the database agree: the session holds every frame.
    assert pipeline.current_session()["frames"]["total"] == 17  # type: ignore[index]
    assert pipeline.store.sessions()[0]["frames"]["total"] == 17


def test_a_history_with_one_such_item_stores_every_item(pipeline: Pipeline, tmp_path: Path) -> None:
    """Test that a saved history whose middle item has a lone surrogate stores all three."""
    history = tmp_path / "events.json"
    history.write_text(
        '{"Success":true,"Type":"API","Response":['
        '{"Event":"SEQUENCE-STARTING","Time":"2026-11-24T19:00:00.0000000+01:00"},'
        '{"Event":"TS-TARGETSTART","TargetName":"M\\ud83131","Time":"2026-11-24T19:01:00+01:00"},'
        '{"Event":"GUIDER-START","Time":"2026-11-24T19:02:00.0000000+01:00"}]}',
        encoding="utf-8",
    )
    result = pipeline.ingest_history(read_json(history), None)
    assert result.rejected == 0 and len(result.applied) == 3
    assert pipeline.store.counts()["events"] == 3
    assert pipeline.current_session()["targets"] == ["M\ufffd31"]  # type: ignore[index]
