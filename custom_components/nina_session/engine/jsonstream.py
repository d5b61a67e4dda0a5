"""Decoding a large JSON answer while it is read, a batch of array items at a time.

NINA's event history is one JSON list of every event since NINA started: tens of MB on a long
night. Decoded whole, it becomes a graph of hundreds of thousands of dicts, and the garbage
collector's full passes over that graph hold the GIL (and so Home Assistant's event loop) for
a tenth of a second and more, even when the decoding runs on another thread. Here the text is
decoded from its bytes a piece at a time and the items of one array are handed to a callback
in runs as they are decoded (about 128 kB of text per call of the C scanner), and only the
bytes and text of a piece or two are held besides what the caller keeps. Every thousand items
or so the GIL is given up so the event loop runs.

Decoding follows `json.loads` (NaN tokens accepted, as NINA writes them) and `load_json`: any
lone surrogate in the text becomes U+FFFD. Errors are those of `json.loads` (ValueError,
UnicodeDecodeError, RecursionError).
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterable, Iterator
import json
import re
import time
from typing import Any, Final

from .jsontext import may_hold_surrogate_escapes, storable

#: Bytes decoded to text at a time: one decode holds the GIL for its whole run.
PIECE_BYTES: Final = 256 * 1024
#: Items decoded between two yields of the GIL (a few hundred kB of a real history).
YIELD_EVERY: Final = 1_000
_DECODER: Final = json.JSONDecoder()
#: The C scanner behind `_DECODER.raw_decode`, without its wrapper: (value, end) at a position
#: (StopIteration where no value starts). typeshed knows neither it nor the scanner's type.
_SCAN: Final[Callable[[str, int], tuple[Any, int]]] = _DECODER.scan_once  # type: ignore[attr-defined]
_WHITESPACE: Final = re.compile(r"[ \t\n\r]*")
#: Text ahead below which a run of items stops to read more: an item cut off by the end of
#: the text costs two failed decodes, each raising a JSONDecodeError that counts the lines
#: of all the text before it.
_MARGIN: Final = 16 * 1024
#: Text decoded as one array by `_batch`, in characters (a few hundred items of a history).
_BATCH: Final = 128 * 1024
#: Text at the end of the body decoded item by item, each item with its offset: a re-read
#: of the same answer starts a minute or so before its end (`history_resume`'s overlap), at
#: an item whose offset is to be known; one not known makes it decode the whole last batch.
_TAIL: Final = 32 * 1024
#: `_Reader.dropped` when the byte offsets are not known: far below any offset added to it.
_UNKNOWN: Final = -(1 << 62)


class _Streamed:
    """Marks the value of the streamed key in the returned object: its items went out."""

    def __repr__(self) -> str:
        return "STREAMED"


STREAMED: Final = _Streamed()


def _pieces(chunks: Iterable[bytes], skip: int) -> Iterator[bytes]:
    for chunk in chunks:
        if skip >= len(chunk):
            skip -= len(chunk)
            continue
        for start in range(skip, len(chunk), PIECE_BYTES):
            yield chunk[start : start + PIECE_BYTES]
        skip = 0


class _Reader:
    """The text not decoded into values yet, grown from the bytes as the decoding needs."""

    def __init__(self, chunks: Iterable[bytes], start: int = 0) -> None:
        """Read the bytes of `chunks` from byte `start` on."""
        self._bytes = _pieces(chunks, start)
        # Past the start no byte order mark can come: the plain decoder, which keeps one.
        self._decoder = codecs.getincrementaldecoder("utf-8-sig" if start == 0 else "utf-8")()
        #: Every byte is decoded into `text`: the text ahead is all there is.
        self.ended = False
        self._at_start = start == 0
        self.text = ""
        self.pos = 0
        #: The text held cannot decode to a lone surrogate: its values need no check each.
        self.clean = True
        #: Bytes of the body before `text`, and whether `text` is ASCII (one byte a character):
        #: then a position in it is that many bytes on (`offset`).
        self.dropped = start
        self.ascii = True
        #: A position in `text` and its byte offset in the body, where `offset` last counted
        #: from: text that is not ASCII is counted in bytes from there, not from its start.
        self._counted = (0, start)

    def _next_text(self) -> str:
        """Decode the next piece of bytes (at the end, what the decoder still holds)."""
        piece = next(self._bytes, None)
        if piece is None:
            self.ended = True
            return self._decoder.decode(b"", final=True)
        if self._at_start and piece:
            self._at_start = False
            if piece.startswith(codecs.BOM_UTF8):  # utf-8-sig drops it
                self.dropped += len(codecs.BOM_UTF8)
            elif codecs.BOM_UTF8.startswith(piece):  # maybe one cut over two pieces
                self.dropped = _UNKNOWN
        return self._decoder.decode(piece)

    def grow(self) -> bool:
        """At least double the text ahead (a value longer than a piece needs fewer retries).

        The pieces are joined to the text at once, and only the new text is scanned for
        surrogates: bodies come in chunks of tens of kB, and the text ahead is hundreds.
        """
        ahead = len(self.text) - self.pos
        wanted = 2 * max(ahead, PIECE_BYTES)
        parts: list[str] = []
        while ahead < wanted and not self.ended:
            parts.append(self._next_text())
            ahead += len(parts[-1])
        added = "".join(parts)
        if not added:
            return False
        kept = self.text[self.pos :]
        if self.dropped >= 0:  # counted on from the last item's start, not the text's
            self.dropped = self.offset(self.pos)
        # An escape may be cut by the seam: the end of clean kept text is scanned again.
        seam = kept[-3:] if self.clean else kept
        self.clean = not may_hold_surrogate_escapes(seam + added)
        self.text = kept + added
        self.pos = 0
        self.ascii = self.text.isascii()
        self._counted = (0, self.dropped)
        return True

    def peek(self) -> str:
        """Skip whitespace; return the next character ('' at the end of the text)."""
        while True:
            match = _WHITESPACE.match(self.text, self.pos)
            assert match is not None  # the pattern matches the empty string
            self.pos = match.end()
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.grow():
                return ""

    def expect(self, char: str, what: str) -> None:
        """Consume `char` (after whitespace) or raise JSONDecodeError."""
        if self.peek() != char:
            raise json.JSONDecodeError(f"Expecting {what}", self.text, self.pos)
        self.pos += 1

    def value(self) -> Any:
        """Decode the next value (after whitespace), its text made storable."""
        text, pos = self.text, self.pos
        if pos >= len(text) or text[pos] in " \t\n\r":
            self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError:
                if self.grow():  # cut off by the end of the text read so far
                    continue
                raise
            # A number or literal ending where the text read so far ends may go on; so may a
            # number cut after its "." or "e" ("-2." decodes as -2 up to the "."), or "e-".
            if end + 2 < len(self.text) or not self.grow():
                break
        if self.clean:
            self.pos = end
            return value
        raw, self.pos = self.text[self.pos : end], end
        return storable(value) if may_hold_surrogate_escapes(raw) else value

    def offset(self, pos: int) -> int:
        """Return the byte offset in the body of position `pos` of `text`; -1 if not known.

        Text that is not ASCII (NINA writes letters as they are: a user folder "Jürgen", a
        declination's "°") is counted in bytes from the position counted last, so that the
        starts a read asks for in turn cost the text between them, once.
        """
        if self.dropped < 0:
            return -1
        if self.ascii:
            return self.dropped + pos
        at, offset = self._counted
        if pos < at:
            at, offset = 0, self.dropped
        offset += len(self.text[at:pos].encode())
        self._counted = (pos, offset)
        return offset

    def at_end(self) -> bool:
        """Return whether only whitespace is left."""
        return self.peek() == ""


#: Receives a run of decoded array items and where each one's text starts in the body.
OnItems = Callable[[list[Any], list[int]], None]


def load_streaming(chunks: Iterable[bytes], key: str, on_items: OnItems) -> Any:
    """Decode the JSON text in `chunks`, handing the items of the array at `key` to `on_items`.

    When the text is an object whose `key` holds an array, its items are given to `on_items`
    in runs as they are decoded, and the returned object holds `STREAMED` under `key`. Any
    other text is decoded as `load_json` would.

    `on_items(items, offsets)` also gets the byte offset in the body where each item's text
    starts (a start for `load_streaming_from`); -1 for the items of a batch after its first
    (`_batch`), and for the rare item that is no object, does not lie whole in one piece of
    text, is not followed by its "," or "]" at once, or lies in text that may hold a lone
    surrogate.
    """
    reader = _Reader(chunks)
    if reader.peek() != "{":
        result = reader.value()
    else:
        reader.pos += 1  # the "{"
        result = _members(reader, key, on_items, {})
    if not reader.at_end():
        raise json.JSONDecodeError("Extra data", reader.text, reader.pos)
    return result


def load_streaming_from(
    chunks: Iterable[bytes], start: int, head: dict[str, Any], key: str, on_items: OnItems
) -> dict[str, Any]:
    """Decode as `load_streaming` does, but from byte `start`, where an item at `key` begins.

    For a body whose first `start` bytes are those of a body decoded before (the caller has
    proved it): `head` is what they held, the object's members before `key`. The items from
    `start` on go to `on_items`; the object is returned with `head`, `STREAMED` under `key`,
    and the members after the array. An offset given by `load_streaming` is such a start.
    """
    reader = _Reader(chunks, start)
    result = {**head, key: STREAMED}
    reader.peek()  # the first text read: the first item's text lies whole in it
    _stream_items(reader, on_items)
    result = _after_member(reader, key, on_items, result)
    if not reader.at_end():
        raise json.JSONDecodeError("Extra data", reader.text, reader.pos)
    return result


def _members(
    reader: _Reader, key: str, on_items: OnItems, result: dict[str, Any]
) -> dict[str, Any]:
    """Decode an object's members after its "{" into `result`, streaming the array at `key`."""
    if reader.peek() == "}":
        reader.pos += 1
        return result
    while True:
        if reader.peek() != '"':
            raise json.JSONDecodeError("Expecting property name", reader.text, reader.pos)
        name = reader.value()
        reader.expect(":", "':' delimiter")
        if name == key and reader.peek() == "[":
            reader.pos += 1  # the "["
            if reader.peek() == "]":
                reader.pos += 1
            else:
                _stream_items(reader, on_items)
            result[name] = STREAMED
        else:
            result[name] = reader.value()
        if reader.peek() == "}":
            reader.pos += 1
            return result
        reader.expect(",", "',' delimiter")


def _after_member(
    reader: _Reader, key: str, on_items: OnItems, result: dict[str, Any]
) -> dict[str, Any]:
    """Decode what follows a member of an object: its end, or a comma and more members."""
    if reader.peek() == "}":
        reader.pos += 1
        return result
    reader.expect(",", "',' delimiter")
    return _members(reader, key, on_items, result)


def _stream_items(reader: _Reader, on_items: OnItems) -> None:
    """Hand out array items from the first one on, through the array's "]".

    Batches of items are decoded at once (`_batch`), else runs of items one by one straight
    from the text (`_run`); an item the run cannot take (one cut off by the end of the text
    read so far, whitespace around it) is decoded by `value`.
    """
    items: list[Any] = []
    offsets: list[int] = []
    while True:
        until = _batch(reader, items, offsets)
        if until is not None:
            if _run(reader, items, offsets, until):
                break
            past_cut = until < len(reader.text) and reader.pos >= until
            if past_cut or len(items) >= YIELD_EVERY:
                pass  # past the text a batch could not take, or time to hand items out
            elif len(reader.text) - reader.pos <= _MARGIN and reader.grow():
                continue  # the run stopped short of the end of the text read so far
            else:
                items.append(reader.value())
                offsets.append(-1)
                text, pos = reader.text, reader.pos
                if pos < len(text) and text[pos] == ",":
                    reader.pos = pos + 1
                elif reader.peek() == "]":
                    reader.pos += 1
                    break
                else:
                    reader.expect(",", "',' delimiter")
        if len(items) >= YIELD_EVERY:
            on_items(items, offsets)
            items, offsets = [], []
            time.sleep(0)  # let the event loop's thread take the GIL
    on_items(items, offsets)


def _batch(reader: _Reader, items: list[Any], offsets: list[int]) -> int | None:
    """Decode the items in the next `_BATCH` characters or so with one call.

    Return None when it did, else the position in the text before which the items are to be
    decoded one by one instead: the cut it could not take, or the end of the text when no
    batch fits in what is left.

    The text from the next item up to a `},` past `_BATCH` characters on (or the last one
    before the margin or `_TAIL` kept for `_run`, when the text read so far holds no such) is
    decoded as one array: where that `}` ends an item of this array, that gives its items, with the C
    scanner's loop, and with one string for each key name however many items hold it
    (the scanner shares key names within a call). A `}` that is not an item's end (inside a
    string, or in an item) leaves a string or a container open, and then the array is bad
    text: the items up to the cut are decoded one by one. Only the batch's first offset is
    known.
    """
    text, pos = reader.text, reader.pos
    if not reader.clean:  # their values need `value`'s check each
        return len(text)
    if text.startswith(" ", pos):  # `json.dumps` writes one after each comma
        pos += 1
    limit = max(0, len(text) - _TAIL) if reader.ended else len(text) - _MARGIN
    cut = text.find("},", pos + _BATCH, limit)
    if cut < 0:
        # Less than a batch is left before the limit: it goes in one shorter batch. One by
        # one, these items (a fifth of a history: the text read between two batches'
        # worth) cost twice as much each: a scanner call per item, key names made each time.
        cut = text.rfind("},", pos, limit)
        if cut < 0:
            return len(text)
    if not text.startswith("{", pos):
        return cut
    array = "[" + text[pos : cut + 1] + "]"
    try:
        batch, end = _SCAN(array, 0)
    except (StopIteration, json.JSONDecodeError):
        return cut
    if end != len(array):  # a "]" in the text closed the array before the cut
        return cut
    offsets.append(reader.offset(pos))
    offsets += [-1] * (len(batch) - 1)
    items += batch
    reader.pos = cut + 2
    return None


def _run(reader: _Reader, items: list[Any], offsets: list[int], until: int) -> bool:
    """Decode the items that lie whole in the text, each followed by "," or "]" at once.

    Up to YIELD_EVERY in `items`, those that start before position `until`, and not within
    `_MARGIN` of the end of the text read so far unless that is the end of the body; return
    whether the array's "]" was reached.
    These are the items no batch takes (the body's last `_TAIL` characters, those across the
    margin, those before a cut a batch could not take, an array of other values), an object
    each with its offset. This loop does the least per item: the C scanner's call, and no
    check that the delimiter right after the item makes needless (its text ends inside the
    text read: no number goes on).
    """
    if not reader.clean:  # their values need `value`'s check each
        return False
    text, pos = reader.text, reader.pos
    stop = min(until, len(text) if reader.ended else len(text) - _MARGIN)
    # An item's offset is the text's plus its position in ASCII text (a byte a character);
    # in other text the reader counts the bytes (`_Reader.offset`).
    base, ascii_text = reader.offset(0), reader.ascii
    append, place = items.append, offsets.append
    count = len(items)
    try:
        while count < YIELD_EVERY and pos < stop:
            start = pos + 1 if text[pos] == " " else pos  # `json.dumps` writes one
            item, end = _SCAN(text, start)
            after = text[end]
            if after not in ",]":  # one character: text[end] raised at the end
                break  # whitespace: `value` decodes it again
            append(item)
            if base < 0 or text[start] != "{":
                place(-1)
            else:
                place(base + start if ascii_text else reader.offset(start))
            count += 1
            pos = end + 1
            if after == "]":
                reader.pos = pos
                return True
    except (IndexError, StopIteration, json.JSONDecodeError):
        pass  # the end of the text read so far (or bad text: `value` raises the error)
    reader.pos = pos
    return False
