"""How events are kept in rows: their JSON text, and a frame only where the data cannot give it.

A live IMAGE-SAVE carries its statistics; the frame the normalizer made of them is read back
from the data (`normalize.own_frame`) instead of being stored a second time. A frame is stored
when that would not give it back: context filled a name in, history sent no statistics, the
capture time has no offset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime
import json
from typing import Any

from .models import Frame, NinaEvent
from .normalize import IMAGE_SAVE, own_frame

# One encoder for every write: json.dumps builds a new one per call when given options.
encode = json.JSONEncoder(separators=(",", ":")).encode
_FRAME_FIELDS = tuple(field.name for field in fields(Frame))


def frame_json(frame: Frame | None) -> str | None:
    """Return a frame as the JSON text of its fields (None for no frame)."""
    if frame is None:
        return None
    # Not dataclasses.asdict: it deep-copies every value and was a fifth of the write cost.
    values = {name: getattr(frame, name) for name in _FRAME_FIELDS}
    values["taken_at"] = frame.taken_at.isoformat() if frame.taken_at else None
    values["inferred"] = list(frame.inferred)
    return encode(values)


def data_text(event: NinaEvent) -> str:
    """Return the JSON text an event's row keeps of its data: as received, else encoded."""
    return event.text if event.text is not None else encode(event.data)


def stored_size(event: NinaEvent) -> int:
    """Return the characters of text `event` takes in its row (its data and frame JSON)."""
    frame = frame_column(event)
    return len(data_text(event)) + (len(frame) if frame is not None else 0)


def frame_from_json(text: str | None) -> Frame | None:
    """Return the frame `frame_json` wrote (None for no text)."""
    if text is None:
        return None
    values = json.loads(text)
    if values.get("taken_at"):
        values["taken_at"] = datetime.fromisoformat(values["taken_at"])
    values["inferred"] = tuple(values.get("inferred", ()))
    return Frame(**values)


def derivable(data: Mapping[str, Any], frame: Frame) -> bool:
    """Return whether `own_frame(data)` gives `frame` back (then the row stores no frame).

    The statistics' `ImageType` must also read as the frame's type verbatim: queries filter
    frames by type in SQL (`Store.session_frames`).
    """
    if frame.inferred:
        return False
    stats = data.get("ImageStatistics")
    if not isinstance(stats, Mapping) or stats.get("ImageType") != frame.image_type:
        return False
    return own_frame(data) == frame


def frame_column(event: NinaEvent) -> str | None:
    """Return what an event's row keeps of its frame: its JSON, or None when derivable."""
    frame = event.frame
    if frame is None or event.frame_in_data or derivable(event.data, frame):
        return None
    return frame_json(frame)


def read_frame(name: str, data: Mapping[str, Any], text: str | None) -> Frame | None:
    """Return a row's frame: the stored one, or the one its data gives (IMAGE-SAVE)."""
    if text is not None:
        return frame_from_json(text)
    return own_frame(data) if name == IMAGE_SAVE else None
