r"""The surrogate hint: where a `\u` escape of a lone surrogate may be, and nowhere less."""

from __future__ import annotations

import json
import re

import pytest

from custom_components.nina_session.engine import jsontext
from custom_components.nina_session.engine.jsontext import (
    PIECEWISE_FROM,
    REPLACEMENT,
    load_json,
    may_hold_surrogate_escapes,
    may_hold_surrogates,
)

#: Where a `\\u` escape of a code point D800-DFFF starts, in any letter case: the text the
#: hint must flag (its first three characters after the backslash decide).
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")

TEXTS = [
    r"\ud800", r"\uD800", r"\udbff", r"\uDC00", r"\udFfF", r"\uDe01", r"x\ud9AAy", r"\ud8",
    r"\\ud800", r"\ud7ff", r"\ue000", r"\uD7FF", r"\u0041", r"\u00e9", r"\uffff", r"\\",
    r"\u", r"\ud", "\\", "u\\d800", r"\x", "plain", "", "caf\u00e9", r"caf\u00e9 \ud83d",
]  # fmt: skip


@pytest.mark.parametrize("text", TEXTS)
def test_the_hint_flags_a_text_exactly_where_a_surrogate_escape_may_start(text: str) -> None:
    r"""Test that a text is flagged when, and only when, it holds `\u`, D and 8-F.

    An escaped backslash before one (`\\ud800`) is a false alarm: it costs only the walk.
    """
    expected = SURROGATE_ESCAPE.search(text) is not None
    assert may_hold_surrogates(text) is expected
    assert may_hold_surrogate_escapes(text) is expected
    assert may_hold_surrogates(text.encode()) is expected


@pytest.mark.parametrize("cut", range(-6, 3))
def test_an_escape_across_a_slice_of_the_scan_is_found(cut: int) -> None:
    """Test that an escape on the seam of two slices of a long text's scan is found."""
    slice_ = jsontext._SLICE  # noqa: SLF001  # the scan's slice, where a search window ends
    text = "a" * (slice_ + cut) + "\\ud800" + "a" * 16
    assert may_hold_surrogates(text) and may_hold_surrogate_escapes(text)
    assert not may_hold_surrogates(text.replace("\\ud800", "\\u0800"))


def test_a_lone_surrogate_escape_is_made_storable_and_a_pair_is_kept() -> None:
    """Test that load_json replaces a lone surrogate, keeps a pair, leaves other escapes."""
    text = '["a\\ud800b", "\\uD83D\\uDE00", "\\u00e9", "\\\\ud800", {"\\udfff": "\\uDBFFx"}]'
    assert load_json(text) == [
        f"a{REPLACEMENT}b", "\U0001f600", "\u00e9", "\\ud800", {REPLACEMENT: f"{REPLACEMENT}x"},
    ]  # fmt: skip
    assert load_json(text.encode()) == load_json(text)


def test_a_long_text_with_one_escape_at_its_end_is_made_storable() -> None:
    """Test that text parsed in pieces is scanned to its end (an escape past the first MiB)."""
    items = ["x" * 1000] * (PIECEWISE_FROM // 1000 + 8)
    text = json.dumps({"Response": [*items, "\\ud800"]}).replace("\\\\", "\\")
    assert len(text) > PIECEWISE_FROM
    assert load_json(text)["Response"][-1] == REPLACEMENT
