"""Read recorded input for the replay CLI: JSONL socket recordings and saved history files."""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
from datetime import UTC, datetime
import json
from pathlib import Path
from typing import Any

from .errors import FrameError
from .jsontext import load_json
from .wire import Foreign, WireFormat
from .wire_v3 import WIRE_V3

#: Readers of recorded frames by the `api` their line names; a line without one is v2.
_FORMATS: dict[str, WireFormat] = {WIRE_V3.name: WIRE_V3}


def read_jsonl(path: Path) -> Iterator[tuple[Any, datetime] | FrameError]:
    """Yield (socket message, receive time) per line, or a FrameError for a bad line.

    Each line is ``{"t": "<ISO 8601 receive time with offset>", "frame": <raw message>}``,
    the format the integration's debug recording and the listen CLI's ``--record`` write;
    a frame recorded from another API than v2 adds ``"api": "v3"`` and comes back tagged.
    """
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = load_json(line)
                received = datetime.fromisoformat(record["t"])
                frame = record["frame"]
                api = record.get("api")
                if api is not None:
                    frame = Foreign(_FORMATS[api], frame)
            except (ValueError, KeyError, TypeError) as err:
                yield FrameError("bad_recording_line", f"{path.name}:{number}: {err}")
                continue
            if received.tzinfo is None:
                received = received.replace(tzinfo=UTC)
            yield frame, received.astimezone(UTC)


def recording_line(raw: str | Foreign | Any, received_at: datetime) -> str:
    """One JSONL line in the replay format (NaN kept as NINA sends it).

    `raw` is socket text (kept as text when it is not JSON), a decoded message, or a
    `Foreign` frame, whose API the line names.
    """
    record: dict[str, Any] = {"t": received_at.isoformat()}
    if isinstance(raw, Foreign):
        record["api"] = raw.wire_format.name
        raw = raw.payload
    if isinstance(raw, str | bytes):
        with contextlib.suppress(ValueError):  # garbage is recorded as the text it was
            raw = json.loads(raw)
    record["frame"] = raw
    return json.dumps(record, separators=(",", ":"))


def read_json(path: Path) -> Any:
    """Read a saved history file (the plugin's JSON answer)."""
    with path.open(encoding="utf-8") as handle:
        return load_json(handle.read())
