"""Streaming JSON decoding: the same values as `load_json`, however the bytes are cut."""

from __future__ import annotations

import codecs
import json
import math
from typing import Any

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.nina_session.engine import jsonstream
from custom_components.nina_session.engine.jsonstream import (
    STREAMED,
    load_streaming,
    load_streaming_from,
)
from custom_components.nina_session.engine.jsontext import REPLACEMENT, load_json

ENVELOPE = (
    '\ufeff {"Success": true, "Response": [ {"Event":"A","Time":"t","N":12345},'
    ' 6789 , -1.5e3, NaN, true, null, "caf\\u00e9 \u00e9", [1,[2]], {"K":{"L":[]}},'
    ' "x\\ud800y", {"\\udfff":1} ] , "Error": "", "StatusCode": 200 }\n'
)


def streamed(raw: bytes, chunk: int) -> tuple[Any, list[Any]]:
    """Decode `raw` cut into chunks of `chunk` bytes; return the result and the items."""
    items: list[Any] = []
    chunks = [raw[i : i + chunk] for i in range(0, len(raw), chunk)]
    return load_streaming(chunks, "Response", lambda run, _: items.extend(run)), items


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 10_000])
def test_items_come_out_as_load_json_decodes_them_however_the_bytes_are_cut(chunk: int) -> None:
    """Test that every cut of the bytes (numbers, escapes, UTF-8, the BOM) decodes the same."""
    raw = ENVELOPE.encode()
    whole = load_json(raw.decode("utf-8-sig"))
    result, items = streamed(raw, chunk)
    assert result == {**whole, "Response": STREAMED}
    expected = whole["Response"]
    assert len(items) == len(expected)
    assert math.isnan(items[3])
    assert [i for n, i in enumerate(items) if n != 3] == [
        i for n, i in enumerate(expected) if n != 3
    ]
    assert items[9] == f"x{REPLACEMENT}y"  # a lone surrogate is made storable
    assert items[10] == {REPLACEMENT: 1}


def test_pieces_cut_inside_a_long_value_and_a_number_at_the_end_of_a_piece(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Test a value many pieces long, and numbers whose digits straddle two pieces."""
    monkeypatch.setattr(jsonstream, "PIECE_BYTES", 5)
    long_text = "y" * 1_000
    raw = json.dumps({"Response": [123456789, long_text, 98765], "Success": False}).encode()
    result, items = streamed(raw, 1 << 20)
    assert items == [123456789, long_text, 98765]
    assert result == {"Response": STREAMED, "Success": False}


@pytest.mark.parametrize("piece", range(1, 9))
def test_numbers_cut_after_their_point_or_exponent_are_read_whole(
    monkeypatch: pytest.MonkeyPatch, piece: int
) -> None:
    """Test numbers as array items, cut by the end of a piece anywhere, "." and "e-" too."""
    monkeypatch.setattr(jsonstream, "PIECE_BYTES", piece)
    monkeypatch.setattr(jsonstream, "_MARGIN", 0)  # no text read ahead: items are cut
    numbers = ["-2.5", "1e5", "1.5e-3", "7", "2E+2", "-0.125"] * 10
    raw = ('{"Response": [' + ",".join(numbers) + '], "N": 1.25}').encode()
    assert streamed(raw, 1 << 20) == (
        {"Response": STREAMED, "N": 1.25},
        json.loads(raw)["Response"],
    )


@pytest.mark.parametrize("piece", [3, 4, 5, 6, 7])
def test_a_surrogate_escape_cut_between_two_pieces_is_still_made_storable(
    monkeypatch: pytest.MonkeyPatch, piece: int
) -> None:
    """Test that text read later is checked for lone surrogates where it joins the text before.

    Only the new text is scanned when it is added: an escape whose first characters came
    with the piece before must be found all the same, wherever the cut falls in it.
    """
    monkeypatch.setattr(jsonstream, "PIECE_BYTES", piece)
    values = [{"N": "a" * n + "\\ud800" + "b"} for n in range(12)]
    raw = json.dumps({"Response": values}).replace("\\\\", "\\").encode()
    result, items = streamed(raw, 1 << 20)
    assert result == {"Response": STREAMED}
    assert items == [{"N": "a" * n + REPLACEMENT + "b"} for n in range(12)]


@pytest.mark.parametrize("piece", range(3, 12))
def test_text_read_so_far_ending_right_after_a_comma_goes_on_with_the_next_piece(
    monkeypatch: pytest.MonkeyPatch, piece: int
) -> None:
    """Test every cut of compact items, read with no text ahead, among them after a comma."""
    monkeypatch.setattr(jsonstream, "PIECE_BYTES", piece)
    monkeypatch.setattr(jsonstream, "_MARGIN", 0)
    values = [{"a": n % 10} for n in range(40)]
    raw = json.dumps({"Response": values}, separators=(",", ":")).encode()
    assert streamed(raw, 1 << 20) == ({"Response": STREAMED}, values)


@pytest.mark.parametrize(
    "text",
    [
        '{"Response": [1, 2',  # cut off
        '{"Response": [1 2]}',  # no comma
        '{"Response": [1,]}',
        '{"Response": []} x',  # extra data
        '{"Response" [1]}',
        "{Response: 1}",
        "",
    ],
)
def test_broken_json_raises_what_json_loads_raises(text: str) -> None:
    """Test that broken text is a ValueError, as `json.loads` gives, not a hang or a value."""
    with pytest.raises(ValueError):
        streamed(text.encode(), 3)


def test_invalid_utf8_raises_a_unicode_error_even_cut_in_a_sequence() -> None:
    """Test that bytes that are not UTF-8 are refused, wherever the cut falls."""
    with pytest.raises(UnicodeDecodeError):
        streamed(b'{"Response": ["\xc3\xa9", "\xe9t\xe9"]}', 2)


def test_other_shapes_decode_whole() -> None:
    """Test that an answer that is not an object, or whose key is no list, decodes whole."""
    assert streamed(b"[1, 2]", 1) == ([1, 2], [])
    assert streamed(b'{"Response": {"A": [1]}}', 4) == ({"Response": {"A": [1]}}, [])
    assert streamed(b'{"Response": "text", "Response2": [1]}', 4)[1] == []


def _no_batch(reader: Any, _items: list[Any], _offsets: list[int]) -> int:
    """Stand in for `jsonstream._batch`: every item decoded alone, as in the body's tail."""
    return len(reader.text)


def test_items_come_with_the_byte_offset_of_their_text_where_it_lies_whole_in_a_piece(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Test that an item's offset is where the bytes of its text start in the body.

    Items cut by the end of a piece (here: no text is read ahead of them before they are
    decoded), and items that are no object, come without one; past a byte order mark and a
    non-ASCII character (two bytes, one character) offsets count bytes.
    """
    monkeypatch.setattr(jsonstream, "PIECE_BYTES", 200)
    monkeypatch.setattr(jsonstream, "_MARGIN", 0)
    monkeypatch.setattr(jsonstream, "_batch", _no_batch)
    records = [{"Date": f"2026-11-24T22:{n:02d}:00+01:00", "Mean": n + 0.5} for n in range(60)]
    records[20]["T"] = "Hα"
    envelope = {"Success": True, "Response": [*records, 7]}
    text = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)
    body = codecs.BOM_UTF8 + text.encode()
    taken: list[tuple[Any, int]] = []
    load_streaming([body], "Response", lambda run, at: taken.extend(zip(run, at, strict=True)))
    assert [item for item, _ in taken] == [*records, 7]
    assert taken[-1][1] == -1
    known = [(item, offset) for item, offset in taken[:-1] if offset >= 0]
    assert len(records) // 3 < len(known) < len(records)
    for item, offset in known:
        own = json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode()
        assert body[offset:].startswith(own)


def test_text_is_read_ahead_of_the_items_so_that_few_are_cut_by_the_end_of_a_piece(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Test that items hundreds of bytes long, in pieces of a few kB, all come with offsets.

    An item cut off by the end of the text read so far has no known start (a read that
    resumes there would decode the whole answer again): more text is read before one is.
    """
    monkeypatch.setattr(jsonstream, "PIECE_BYTES", 4096)
    monkeypatch.setattr(jsonstream, "_batch", _no_batch)
    records = [
        {"Date": f"2026-11-24T22:{n % 60:02d}:00+01:00", "Text": "x" * 300} for n in range(400)
    ]
    body = json.dumps({"Response": records, "Success": True}).encode()
    chunks = [body[i : i + 1000] for i in range(0, len(body), 1000)]
    taken: list[tuple[Any, int]] = []
    load_streaming(chunks, "Response", lambda run, at: taken.extend(zip(run, at, strict=True)))
    assert [item for item, _ in taken] == records
    for item, offset in taken:
        assert offset >= 0 and body[offset:].startswith(json.dumps(item).encode())


@pytest.mark.parametrize("separators", [(", ", ": "), (",", ":")])
def test_a_long_array_is_decoded_in_batches_that_share_key_names(
    monkeypatch: pytest.MonkeyPatch, separators: tuple[str, str]
) -> None:
    """Test batches: the same items, one string per key name, a known start for each batch.

    A batch ends at a `},` that may lie inside a string or inside an item (an array of
    objects): such text is decoded item by item, to the same values.
    """
    monkeypatch.setattr(jsonstream, "_BATCH", 1000)
    monkeypatch.setattr(jsonstream, "_MARGIN", 50)
    monkeypatch.setattr(jsonstream, "_TAIL", 50)
    records: list[Any] = [
        {"Event": "IMAGE-SAVE", "Time": f"2026-11-24T22:{n % 60:02d}:00+01:00"} for n in range(300)
    ]
    records[40]["Text"] = "a},{b}, {c" * 150
    records[90]["Points"] = [{"P": n} for n in range(200)]
    records[150] = 7
    body = json.dumps({"Response": records, "Success": True}, separators=separators).encode()
    chunks = [body[i : i + 1000] for i in range(0, len(body), 1000)]
    taken: list[tuple[Any, int]] = []
    result = load_streaming(
        chunks, "Response", lambda run, at: taken.extend(zip(run, at, strict=True))
    )
    assert result == {"Response": STREAMED, "Success": True}
    assert [item for item, _ in taken] == records
    keys = {id(key) for item, _ in taken if isinstance(item, dict) for key in item}
    assert len(keys) < len(records) / 2  # a key name's string is shared within a batch
    known = [(item, offset) for item, offset in taken if offset >= 0]
    assert len(records) / 20 < len(known) < len(records) / 2
    for item, offset in known:
        assert body[offset:].startswith(json.dumps(item, separators=separators).encode())


def test_batches_in_text_that_is_not_ascii_start_at_known_byte_offsets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Test batches of items that all hold characters of two and more bytes.

    NINA writes names and paths as they are (Newtonsoft escapes no letter): a user folder
    named Jürgen puts one in every image record. Each batch still starts at a known byte
    offset, and a decode from one gives the rest as a whole decode does (a re-read resumes).
    """
    monkeypatch.setattr(jsonstream, "_BATCH", 1000)
    monkeypatch.setattr(jsonstream, "_MARGIN", 50)
    monkeypatch.setattr(jsonstream, "_TAIL", 50)
    records = [
        {"Filename": f"C:\\Users\\Jürgen\\M 31 — Hα\\LIGHT_{n:04d}.fits", "HFR": 2.5}
        for n in range(400)
    ]
    body = json.dumps({"Response": records}, ensure_ascii=False).encode()
    chunks = [body[i : i + 700] for i in range(0, len(body), 700)]
    taken: list[tuple[Any, int]] = []
    load_streaming(chunks, "Response", lambda run, at: taken.extend(zip(run, at, strict=True)))
    assert [item for item, _ in taken] == records
    known = [(index, offset) for index, (_, offset) in enumerate(taken) if offset >= 0]
    assert len(known) > len(body) // 2000  # about one per batch of 1,000 characters
    for index, offset in known:
        assert body[offset:].startswith(json.dumps(records[index], ensure_ascii=False).encode())
    index, start = known[len(known) // 2]
    later: list[Any] = []
    load_streaming_from(chunks, start, {}, "Response", lambda run, _: later.extend(run))
    assert later == records[index:]


def test_decoding_from_an_item_offset_gives_the_rest_as_a_whole_decode_does() -> None:
    """Test a decode from a known beginning: the same items after it, the same object."""
    records = [{"N": n, "Name": "é" * (n % 3)} for n in range(30)]
    body = json.dumps({"Success": True, "Response": records, "Type": "API"}).encode()
    taken: list[tuple[Any, int]] = []
    whole = load_streaming(
        [body], "Response", lambda run, at: taken.extend(zip(run, at, strict=True))
    )
    start = next(offset for _, offset in taken[10:] if offset >= 0)
    index = [offset for _, offset in taken].index(start)
    later: list[tuple[Any, int]] = []
    chunks = [body[i : i + 7] for i in range(0, len(body), 7)]
    head = {"Success": True}
    result = load_streaming_from(
        chunks, start, head, "Response", lambda run, at: later.extend(zip(run, at, strict=True))
    )
    assert result == whole == {"Success": True, "Response": STREAMED, "Type": "API"}
    assert [item for item, _ in later] == records[index:]
    assert later[0][1] == start  # the first item's offset is known: a next start
    with pytest.raises(ValueError):
        load_streaming_from([body], start + 1, head, "Response", lambda run, at: None)


def test_the_text_left_before_the_margin_is_one_shorter_batch_and_the_tail_item_by_item(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Test that few items are decoded alone, and that those at the body's end are, each known.

    Text read so far that holds less than a batch before the margin went item by item, a
    scanner call each (a fifth of a history): now it is a shorter batch. The body's last
    `_TAIL` characters still go item by item, each with its offset: a re-read resumes there.
    """
    monkeypatch.setattr(jsonstream, "PIECE_BYTES", 1500)
    monkeypatch.setattr(jsonstream, "_BATCH", 1000)
    monkeypatch.setattr(jsonstream, "_MARGIN", 100)
    monkeypatch.setattr(jsonstream, "_TAIL", 600)
    scan, calls = jsonstream._SCAN, []  # noqa: SLF001  # the calls it makes are the point

    def counted(text: str, at: int) -> tuple[Any, int]:
        calls.append(at)
        return scan(text, at)

    monkeypatch.setattr(jsonstream, "_SCAN", counted)
    records = [
        {"Event": "IMAGE-SAVE", "Time": f"2026-11-24T22:{n % 60:02d}:00Z"} for n in range(600)
    ]
    body = json.dumps({"Response": records}).encode()
    taken: list[tuple[Any, int]] = []
    load_streaming([body], "Response", lambda run, at: taken.extend(zip(run, at, strict=True)))
    assert [item for item, _ in taken] == records
    alone = len(calls) - calls.count(0)  # a batch is scanned from the start of its array
    # The tail's dozen items and about one an added piece (across the margin): not a third.
    assert alone < 12 + len(body) // 1500 + 1
    tail_start = len(body) - 600
    for item, offset in taken[-10:]:
        assert offset > tail_start and body[offset:].startswith(json.dumps(item).encode())


_TEXTS = st.text(
    alphabet=st.sampled_from(["a", " ", "}", ",", "{", "]", "[", '"', "\\", "é", "😀", "\ud800"]),
    max_size=8,
)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TEXTS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXTS, inner, max_size=3),
    max_leaves=6,
)
_ITEMS = st.lists(
    st.dictionaries(st.sampled_from(["Event", "Time", "N", "},"]), _VALUES, max_size=4) | _VALUES,
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(
    items=_ITEMS,
    compact=st.booleans(),
    ascii_only=st.booleans(),
    sizes=st.tuples(
        st.integers(1, 400), st.integers(1, 300), st.integers(0, 80), st.integers(0, 300)
    ),
)
def test_any_list_streams_as_load_json_decodes_it_with_true_offsets(
    items: list[Any], compact: bool, ascii_only: bool, sizes: tuple[int, int, int, int]
) -> None:
    """Test batches, shorter batches and the tail against `load_json`, in any cut of the text.

    Strings hold "}," and brackets (a cut a batch cannot take), lone surrogates (made
    storable), and letters of two and four bytes (offsets count bytes).
    """
    piece, batch, margin, tail = sizes
    separators = (",", ":") if compact else (", ", ": ")
    text = json.dumps({"Response": items, "N": 1}, separators=separators, ensure_ascii=ascii_only)
    body = text.replace("\ud800", "\\ud800").encode()  # a lone surrogate only escaped
    expected = load_json(body.decode())["Response"]
    taken: list[tuple[Any, int]] = []
    with pytest.MonkeyPatch.context() as patch:
        for name, value in [("PIECE_BYTES", piece), ("_BATCH", batch), ("_MARGIN", margin)]:
            patch.setattr(jsonstream, name, value)
        patch.setattr(jsonstream, "_TAIL", tail)
        result = load_streaming(
            [body], "Response", lambda run, at: taken.extend(zip(run, at, strict=True))
        )
    assert result == {"Response": STREAMED, "N": 1}
    assert [item for item, _ in taken] == expected
    for item, offset in taken:
        if offset >= 0:
            value, _ = json.JSONDecoder().raw_decode(body[offset:].decode())
            assert load_json(json.dumps(value)) == item  # where the item's text starts
