"""Decoding a large JSON answer while it is read, one array item at a time.

NINA's event history is one JSON list of every event since NINA started: tens of MB on a long
night. Decoded whole, it becomes a graph of hundreds of thousands of dicts, and the garbage
collector's full passes over that graph hold the GIL (and so Home Assistant's event loop) for
a tenth of a second and more, even when the decoding runs on another thread. Here the text is
decoded from its bytes a piece at a time and the items of one array are handed to a callback
as each is decoded, and only the bytes and text of a piece or two are held besides what the
caller keeps. Every few items the GIL is given up so the event loop runs.

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

from .jsontext import may_hold_surrogates, storable

#: Bytes decoded to text at a time: one decode holds the GIL for its whole run.
PIECE_BYTES: Final = 256 * 1024
#: Items decoded between two yields of the GIL (a few hundred kB of a real history).
YIELD_EVERY: Final = 1_000
_DECODER: Final = json.JSONDecoder()
_WHITESPACE: Final = re.compile(r"[ \t\n\r]*")
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
        self._ended = False
        self._at_start = start == 0
        self.text = ""
        self.pos = 0
        #: The text held cannot decode to a lone surrogate: its values need no check each.
        self.clean = True
        #: Bytes of the body before `text`, and whether `text` is ASCII (one byte a character):
        #: then a position in it is that many bytes on (`offset`).
        self.dropped = start
        self.ascii = True

    def _append(self) -> bool:
        """Add the next piece of text; False when there is none left."""
        while not self._ended:
            piece = next(self._bytes, None)
            if piece is None:
                self._ended = True
                added = self._decoder.decode(b"", final=True)
            else:
                added = self._decoder.decode(piece)
            if self._at_start and piece:
                self._at_start = False
                if piece.startswith(codecs.BOM_UTF8):  # utf-8-sig drops it
                    self.dropped += len(codecs.BOM_UTF8)
                elif codecs.BOM_UTF8.startswith(piece):  # maybe one cut over two pieces
                    self.dropped = _UNKNOWN
            if added:
                gone = self.text[: self.pos]
                self.dropped += len(gone) if gone.isascii() else len(gone.encode())
                self.text = self.text[self.pos :] + added
                self.pos = 0
                self.clean = not may_hold_surrogates(self.text)
                self.ascii = self.text.isascii()
                return True
        return False

    def _grow(self) -> bool:
        """At least double the text ahead (a value longer than a piece needs fewer retries)."""
        wanted = 2 * max(len(self.text) - self.pos, PIECE_BYTES)
        grew = False
        while len(self.text) - self.pos < wanted and self._append():
            grew = True
        return grew

    def peek(self) -> str:
        """Skip whitespace; return the next character ('' at the end of the text)."""
        while True:
            match = _WHITESPACE.match(self.text, self.pos)
            assert match is not None  # the pattern matches the empty string
            self.pos = match.end()
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self._grow():
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
                if self._grow():  # cut off by the end of the text read so far
                    continue
                raise
            # A number or literal ending where the text read so far ends may go on.
            if end < len(self.text) or not self._grow():
                break
        if self.clean:
            self.pos = end
            return value
        raw, self.pos = self.text[self.pos : end], end
        return storable(value) if may_hold_surrogates(raw) else value

    def offset(self, pos: int) -> int:
        """Return the byte offset in the body of position `pos` of `text`; -1 if not known."""
        return self.dropped + pos if self.ascii and self.dropped >= 0 else -1

    def at_end(self) -> bool:
        """Return whether only whitespace is left."""
        return self.peek() == ""


def load_streaming(
    chunks: Iterable[bytes], key: str, on_item: Callable[..., None], *, offsets: bool = False
) -> Any:
    """Decode the JSON text in `chunks`, handing the items of the array at `key` to `on_item`.

    When the text is an object whose `key` holds an array, each item of that array is given to
    `on_item` as soon as it is decoded, and the returned object holds `STREAMED` under `key`.
    Any other text is decoded as `load_json` would.

    With `offsets`, `on_item(item, offset)` also gets the byte offset in the body where the
    item's text starts (a start for `load_streaming_from`); -1 for the rare item that is no
    object, does not lie whole in one piece of text, or lies in text that may hold a lone
    surrogate, and where the text before it is not all ASCII.
    """
    reader = _Reader(chunks)
    if reader.peek() != "{":
        result = reader.value()
    else:
        reader.pos += 1  # the "{"
        result = _members(reader, key, _taker(on_item, offsets=offsets), {})
    if not reader.at_end():
        raise json.JSONDecodeError("Extra data", reader.text, reader.pos)
    return result


def load_streaming_from(
    chunks: Iterable[bytes],
    start: int,
    head: dict[str, Any],
    key: str,
    on_item: Callable[..., None],
    *,
    offsets: bool = False,
) -> dict[str, Any]:
    """Decode as `load_streaming` does, but from byte `start`, where an item at `key` begins.

    For a body whose first `start` bytes are those of a body decoded before (the caller has
    proved it): `head` is what they held, the object's members before `key`. The items from
    `start` on go to `on_item`; the object is returned with `head`, `STREAMED` under `key`, and
    the members after the array. An offset given by `load_streaming` is such a start.
    """
    reader = _Reader(chunks, start)
    result = {**head, key: STREAMED}
    reader.peek()  # the first text read: the first item's text lies whole in it
    take = _taker(on_item, offsets=offsets)
    _stream_items(reader, take)
    result = _after_member(reader, key, take, result)
    if not reader.at_end():
        raise json.JSONDecodeError("Extra data", reader.text, reader.pos)
    return result


def _taker(on_item: Callable[..., None], *, offsets: bool) -> Callable[[_Reader], None]:
    """Return what hands the next array item to `on_item` (with its offset)."""

    def take(reader: _Reader) -> None:
        on_item(_item(reader)[0])

    def take_with_offset(reader: _Reader) -> None:
        item, start = _item(reader)
        on_item(item, reader.offset(start) if start >= 0 else -1)

    return take_with_offset if offsets else take


def _members(
    reader: _Reader, key: str, take: Callable[[_Reader], None], result: dict[str, Any]
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
                _stream_items(reader, take)
            result[name] = STREAMED
        else:
            result[name] = reader.value()
        if reader.peek() == "}":
            reader.pos += 1
            return result
        reader.expect(",", "',' delimiter")


def _after_member(
    reader: _Reader, key: str, take: Callable[[_Reader], None], result: dict[str, Any]
) -> dict[str, Any]:
    """Decode what follows a member of an object: its end, or a comma and more members."""
    if reader.peek() == "}":
        reader.pos += 1
        return result
    reader.expect(",", "',' delimiter")
    return _members(reader, key, take, result)


def _stream_items(reader: _Reader, take: Callable[[_Reader], None]) -> None:
    """Hand out array items from the first one on, through the array's "]"."""
    count = 0
    while True:
        take(reader)
        count += 1
        if count % YIELD_EVERY == 0:
            time.sleep(0)  # let the event loop's thread take the GIL
        text, pos = reader.text, reader.pos
        if pos < len(text) and text[pos] == ",":  # the usual case: no whitespace before it
            reader.pos = pos + 1
            continue
        if reader.peek() == "]":
            reader.pos += 1
            return
        reader.expect(",", "',' delimiter")


def _item(reader: _Reader) -> tuple[Any, int]:
    """Decode an array item; return it and where its text starts (-1: not known).

    Straight from the text when it ends inside it, else by `value`. Items are hundreds of
    bytes and pieces hundreds of kB: nearly every item takes the straight way, which costs a
    third of `value`'s checks, and only there does the item's text lie whole in
    `reader.text`, from the start returned to `reader.pos`.
    """
    text, pos = reader.text, reader.pos
    if pos < len(text) and text[pos] == " ":  # `json.dumps` writes one after each comma
        pos += 1
    if reader.clean and pos < len(text) and text[pos] == "{":
        try:
            item, end = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError:
            return reader.value(), -1  # cut off by the end of the text read so far
        reader.pos = end
        return item, pos
    return reader.value(), -1
