r"""Decoding JSON into text that can be stored.

JSON may escape a lone UTF-16 surrogate (`"X\ud800"` is valid JSON, and `json.loads` keeps it),
but UTF-8 cannot encode one: SQLite, Home Assistant's state writer and every log handler that
encodes would raise on it. So every piece of JSON we read from NINA or from a file is decoded
here, once, and any lone surrogate in a key or a value becomes U+FFFD. The walk over the decoded
data runs only when the raw text can hold one (a `\ud8..`-`\udf..` escape, or surrogates already
in the text), so the common case costs one regex scan.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

REPLACEMENT: Final = "\ufffd"

_SURROGATE: Final = re.compile("[\ud800-\udfff]")
#: A surrogate escape in JSON text, or surrogate code points in a str (a recording's own).
_TEXT_HINT: Final = re.compile("\\\\u[dD][89a-fA-F]|[\ud800-\udfff]")
#: A surrogate escape in JSON bytes, or a surrogate encoded as UTF-8 (`json.loads` of bytes
#: decodes with "surrogatepass", so those come through as surrogates too).
_BYTES_HINT: Final = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
#: Real data is nested a few levels; the wire models refuse anything past 32 (`wire.MAX_DEPTH`)
#: before it is stored, so the walk need not go deeper than that and its wrappers.
_MAX_WALK: Final = 40


def may_hold_surrogates(raw: str | bytes) -> bool:
    """Return whether decoding `raw` can give a lone surrogate (false positives are fine)."""
    if isinstance(raw, str):
        return _TEXT_HINT.search(raw) is not None
    return _BYTES_HINT.search(raw) is not None


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
    decoded = json.loads(raw)
    return storable(decoded) if may_hold_surrogates(raw) else decoded
