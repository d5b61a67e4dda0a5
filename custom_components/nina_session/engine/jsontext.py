r"""Decoding JSON into text that can be stored.

JSON may escape a lone UTF-16 surrogate (`"X\ud800"` is valid JSON, and `json.loads` keeps it),
but UTF-8 cannot encode one: SQLite, Home Assistant's state writer and every log handler that
encodes would raise on it. So every piece of JSON we read from NINA or from a file is decoded
here, once, and any lone surrogate in a key or a value becomes U+FFFD. The walk over the decoded
data runs only when the raw text can hold one (a `\ud8..`-`\udf..` escape, or surrogates already
in the text), so the common case costs one scan.

Large text (the event history: tens of MB) is parsed a value at a time: one `json.loads` of it
would hold the GIL, and so block the event loop, for its whole run even on another thread.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

REPLACEMENT: Final = "\ufffd"

_SURROGATE: Final = re.compile("[\ud800-\udfff]")
#: A surrogate escape in JSON text; surrogate code points in a str (a recording's own) are
#: `_SURROGATE`. Two searches: one pattern with both alternatives scans 4-40x slower.
#: The backslash alone is matched, the rest looked ahead: the same texts match (searches
#: only ask whether one does), but a one-character literal prefix is scanned for with a
#: tight loop where `\\u` took the general prefix search, twice the time over a history.
_ESCAPE_HINT: Final = re.compile(r"\\(?=u[dD][89a-fA-F])")
#: A surrogate escape in JSON bytes, or a surrogate encoded as UTF-8 (`json.loads` of bytes
#: decodes with "surrogatepass", so those come through as surrogates too).
_BYTES_HINT: Final = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
#: Real data is nested a few levels; the wire models refuse anything past 32 (`wire.MAX_DEPTH`)
#: before it is stored, so the walk need not go deeper than that and its wrappers.
_MAX_WALK: Final = 40
#: Text longer than this is scanned and parsed in pieces (see the module's docstring).
PIECEWISE_FROM: Final = 1 << 20
_SLICE: Final = 1 << 20
_DECODER: Final = json.JSONDecoder()
_WHITESPACE: Final = re.compile(r"[ \t\n\r]*")
_SPACES: Final = frozenset(" \t\n\r")


def _search(pattern: re.Pattern[Any], raw: Any) -> bool:
    """Search `raw` a slice at a time (slices overlap by a hint's length)."""
    for start in range(0, len(raw), _SLICE):
        if pattern.search(raw, max(0, start - 8), start + _SLICE) is not None:
            return True
    return False


def may_hold_surrogates(raw: str | bytes) -> bool:
    """Return whether decoding `raw` can give a lone surrogate (false positives are fine)."""
    if isinstance(raw, str):
        if raw.isascii():  # O(1) for str: no surrogate code points, maybe escapes
            return "\\u" in raw and _search(_ESCAPE_HINT, raw)
        return _search(_ESCAPE_HINT, raw) or _search(_SURROGATE, raw)
    return _search(_BYTES_HINT, raw)


def may_hold_surrogate_escapes(text: str) -> bool:
    """`may_hold_surrogates` for text decoded from UTF-8 bytes by a strict decoder.

    That decoder refuses an encoded surrogate, so only an escape can give one: the search for
    surrogate code points, most of the check's cost on text that is not ASCII (a history with
    one "°" is stored two bytes a character), is left out.
    """
    return _search(_ESCAPE_HINT, text)


def storable(value: Any, _level: int = 0) -> Any:
    """Return decoded JSON with every lone surrogate in keys and strings replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub(REPLACEMENT, value)
    if _level > _MAX_WALK:
        return value
    if isinstance(value, dict):
        return {storable(k): storable(v, _level + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(item, _level + 1) for item in value]
    return value


def load_json(raw: str | bytes) -> Any:
    """`json.loads` (NaN tokens accepted, as NINA writes them) giving only storable text.

    Raises what `json.loads` raises.
    """
    if isinstance(raw, str) and len(raw) > PIECEWISE_FROM:
        decoded = _loads_piecewise(raw)
    else:
        decoded = json.loads(raw)
    return storable(decoded) if may_hold_surrogates(raw) else decoded


def _skip(text: str, index: int) -> int:
    # Most often no whitespace, or the one space `json.dumps` writes: no regex call then.
    if text[index : index + 1] not in _SPACES:
        return index
    if text[index + 1 : index + 2] not in _SPACES:
        return index + 1
    match = _WHITESPACE.match(text, index)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _loads_piecewise(text: str) -> Any:
    """Return `json.loads(text)`, parsing the pieces of the envelope's list one by one.

    A top-level object's values and the items of arrays at the top two levels are each
    parsed by their own call; between calls other threads (the event loop) get the GIL.
    """
    value, index = _piece(text, _skip(text, 0), 0)
    index = _skip(text, index)
    if index != len(text):
        raise json.JSONDecodeError("Extra data", text, index)
    return value


def _piece(text: str, index: int, level: int) -> tuple[Any, int]:
    """Parse the value at `index` (no whitespace before it); return it and where it ends."""
    char = text[index : index + 1]
    if char == "[" and level <= 1:
        return _array(text, index, level)
    if char == "{" and level == 0:
        return _object(text, index)
    return _DECODER.raw_decode(text, index)


def _array(text: str, index: int, level: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    index = _skip(text, index + 1)
    if text.startswith("]", index):
        return items, index + 1
    while True:
        item, index = _piece(text, index, level + 1)
        items.append(item)
        index = _skip(text, index)
        if text.startswith("]", index):
            return items, index + 1
        if not text.startswith(",", index):
            raise json.JSONDecodeError("Expecting ',' delimiter", text, index)
        index = _skip(text, index + 1)


def _object(text: str, index: int) -> tuple[dict[str, Any], int]:
    result: dict[str, Any] = {}
    index = _skip(text, index + 1)
    if text.startswith("}", index):
        return result, index + 1
    while True:
        if not text.startswith('"', index):
            raise json.JSONDecodeError("Expecting property name", text, index)
        key, index = _DECODER.raw_decode(text, index)
        index = _skip(text, index)
        if not text.startswith(":", index):
            raise json.JSONDecodeError("Expecting ':' delimiter", text, index)
        result[key], index = _piece(text, _skip(text, index + 1), 1)
        index = _skip(text, index)
        if text.startswith("}", index):
            return result, index + 1
        if not text.startswith(",", index):
            raise json.JSONDecodeError("Expecting ',' delimiter", text, index)
        index = _skip(text, index + 1)
