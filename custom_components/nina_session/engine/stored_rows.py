"""How events are kept in rows: their JSON text, and a frame only where the data cannot give it.

A live IMAGE-SAVE carries its statistics; the frame the normalizer made of them is read back
from the data (`normalize.own_frame`) instead of being stored a second time. A frame is stored
when that would not give it back: context filled a name in, history sent no statistics, the
capture time has no offset.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
import json
from json.encoder import encode_basestring_ascii
from typing import Any

from .models import FRAME_FINGERPRINT, Frame, NinaEvent
from .normalize import IMAGE_SAVE, own_frame

# One encoder for every write: json.dumps builds a new one per call when given options.
encode = json.JSONEncoder(separators=(",", ":")).encode
_float_text = float.__repr__
_int_text = int.__repr__
#: The text of finite non-zero floats seen lately: a frame's exposure, temperature and
#: guiding error take a few values a night, and the shortest repr costs thousands of
#: instructions each. Emptied when full, so it stays small in a long-running process.
_FLOAT_TEXTS: dict[float, str] = {}
_FLOAT_TEXTS_MAX = 4096
#: Where an exact frame's fingerprint has its capture time.
_TIME_AT = len(FRAME_FINGERPRINT)


def _text(value: object) -> str:
    """Return a text field as `encode` writes it (anything else through `encode` itself)."""
    if type(value) is str:
        return encode_basestring_ascii(value)
    return "null" if value is None else encode(value)


def _number(value: object) -> str:
    """Return a number field as `encode` writes it (NaN, infinities through `encode`)."""
    # Finite (NaN and infinities fail `value - value == 0`) and not zero: 0.0 and -0.0 are
    # one key to a dict but two texts.
    if type(value) is float and value - value == 0.0 and value:
        text = _FLOAT_TEXTS.get(value)
        if text is None:
            if len(_FLOAT_TEXTS) >= _FLOAT_TEXTS_MAX:
                _FLOAT_TEXTS.clear()
            text = _FLOAT_TEXTS[value] = _float_text(value)
        return text
    if value is None:
        return "null"
    if type(value) is float:
        return _float_text(value) if value == 0.0 else encode(value)
    return _int_text(value) if type(value) is int else encode(value)


def _count(value: object) -> str:
    """Return a whole-number field (a frame's stars) as `encode` writes it."""
    return _int_text(value) if type(value) is int else _number(value)


def _texts(values: Iterable[object]) -> str:
    return f"[{','.join([_text(value) for value in values])}]"


def _moment(value: datetime | None) -> str:
    if value is None:
        return "null"
    if value.tzinfo is UTC:  # a naive time formats faster; UTC's offset is always written so
        return f'"{value.replace(tzinfo=None).isoformat()}+00:00"'
    return encode_basestring_ascii(value.isoformat())


#: The text of a frame's leading fields (type, exposure, filter, target, camera, telescope)
#: by their values: a night's frames repeat a few dozen such sets, and writing the six fields
#: was half a history frame's text. Emptied when full, so it stays small.
_HEADS: dict[tuple[object, ...], str] = {}
_HEADS_MAX = 1024


def _head(frame: Frame) -> str:
    """Return the text of a frame's leading fields, up to the comma before `hfr`."""
    exposure = frame.exposure
    key = (frame.image_type, exposure, frame.filter, frame.target, frame.camera, frame.telescope)
    text = _HEADS.get(key)
    # Values equal as keys are not always one text (300 and 300.0, 0.0 and -0.0, True and
    # 1.0): only names that are texts or None and a non-zero float exposure (or None) are
    # kept, and only a float exposure (or None) reads a kept text.
    if text is not None and (exposure is None or type(exposure) is float):
        return text
    text = (
        f'{{"image_type":{_text(frame.image_type)},"exposure":{_number(exposure)},'
        f'"filter":{_text(frame.filter)},"target":{_text(frame.target)},'
        f'"camera":{_text(frame.camera)},"telescope":{_text(frame.telescope)},'
    )
    if (exposure is None or (type(exposure) is float and exposure)) and all(
        value is None or type(value) is str for value in key[:1] + key[2:]
    ):
        if len(_HEADS) >= _HEADS_MAX:
            _HEADS.clear()
        _HEADS[key] = text
    return text


def frame_json(frame: Frame | None, taken_at_text: str | None = None) -> str | None:
    """Return a frame as the JSON text of its fields (None for no frame).

    Byte for byte what `encode` makes of a dict of its fields in declaration order, with the
    capture time in ISO form and `inferred` as a list (rows written before read the same),
    written field by field: the encoder's dict walk was most of a history frame's write cost.
    `taken_at_text`: the capture time's ISO text, when the caller has it already (an exact
    frame's fingerprint holds it: see `frame_column`).
    """
    if frame is None:
        return None
    taken_at = frame.taken_at
    if taken_at is None or taken_at_text is None:
        moment = _moment(taken_at)
    else:
        moment = f'"{taken_at_text}"'
    # The usual types written inline, the rest through the helpers: a call per field was
    # half a history frame's text. A float's text is looked up only for a float (300 and
    # True are keys equal to 300.0 and 1.0, with other texts), and an int's is its `str`.
    texts = _FLOAT_TEXTS
    hfr, stars, rms, temperature = frame.hfr, frame.stars, frame.guiding_rms, frame.temperature
    filename, inferred = frame.filename, frame.inferred
    return (
        f'{_head(frame)}"hfr":{(type(hfr) is float and texts.get(hfr)) or _number(hfr)},'
        f'"stars":{stars if type(stars) is int else _count(stars)},'
        f'"guiding_rms":{(type(rms) is float and texts.get(rms)) or _number(rms)},'
        f'"temperature":'
        f"{(type(temperature) is float and texts.get(temperature)) or _number(temperature)},"
        f'"taken_at":{moment},"filename":'
        f"{encode_basestring_ascii(filename) if type(filename) is str else _text(filename)},"
        f'"inferred":{_texts(inferred) if inferred else "[]"}}}'
    )


def data_text(event: NinaEvent) -> str:
    """Return the JSON text an event's row keeps of its data: as received, else encoded."""
    if event.text is not None:
        return event.text
    # Most history events carry no data; the encoder costs microseconds even for that.
    return encode(event.data) if event.data else "{}"


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
    """Return what an event's row keeps of its frame: its JSON, or None when derivable.

    An exact frame's fingerprint is `FRAME_FINGERPRINT` and its capture time's ISO text
    (`frame_identity`, the only maker of exact frame events; copies keep both), which is what
    `_moment` writes of that time: the text is taken from there, not formatted again.
    """
    frame = event.frame
    if frame is None or event.frame_in_data:
        return None
    data = event.data
    # A sparse history frame has no data: nothing to give the frame back from.
    if data and derivable(data, frame):
        return None
    fingerprint = event.fingerprint
    if event.exact and fingerprint.startswith(FRAME_FINGERPRINT):
        return frame_json(frame, fingerprint[_TIME_AT:])
    return frame_json(frame)


def read_frame(name: str, data: Mapping[str, Any], text: str | None) -> Frame | None:
    """Return a row's frame: the stored one, or the one its data gives (IMAGE-SAVE)."""
    if text is not None:
        return frame_from_json(text)
    return own_frame(data) if name == IMAGE_SAVE else None
