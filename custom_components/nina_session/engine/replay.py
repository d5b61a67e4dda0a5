"""Read recorded input for the replay CLI: JSONL socket recordings and saved history files."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
import json
from pathlib import Path
from typing import Any

from .errors import FrameError
from .jsontext import load_json


def read_jsonl(path: Path) -> Iterator[tuple[Any, datetime] | FrameError]:
    """Yield (socket message, receive time) per line, or a FrameError for a bad line.

    Each line is ``{"t": "<ISO 8601 receive time with offset>", "frame": <raw message>}``,
    the format the integration's debug recording and the listen CLI's ``--record`` write.
    """
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = load_json(line)
                received = datetime.fromisoformat(record["t"])
                frame = record["frame"]
            except (ValueError, KeyError, TypeError) as err:
                yield FrameError("bad_recording_line", f"{path.name}:{number}: {err}")
                continue
            if received.tzinfo is None:
                received = received.replace(tzinfo=UTC)
            yield frame, received.astimezone(UTC)


def recording_line(frame: Any, received_at: datetime) -> str:
    """One JSONL line in the replay format (NaN kept as NINA sends it)."""
    return json.dumps({"t": received_at.isoformat(), "frame": frame}, separators=(",", ":"))


def read_json(path: Path) -> Any:
    """Read a saved history file (the plugin's JSON answer)."""
    with path.open(encoding="utf-8") as handle:
        return load_json(handle.read())
