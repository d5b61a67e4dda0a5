"""Proving cheaply that a history answer starts with the bytes of the last one read.

NINA's event and image history only grow while its process runs, and the engine reads all of
them on every reconnect and every 15 minutes: tens of MB, nearly all of it taken in by the
read before. Decoding it again cost more than downloading it. A read remembers how
many leading items the next read will skip anyway (`history_resume`), how many bytes they
take, and a hash of those bytes; a next answer whose first bytes hash the same holds the same
items there, and only what follows them is decoded (`jsonstream.load_streaming_from`).
Hashing runs at C speed, several times faster than decoding the same bytes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
import hashlib
from operator import attrgetter
import threading
from typing import Any, Final


@dataclass(frozen=True, slots=True)
class KnownPrefix:
    """The first `size` bytes of a history answer read before, holding its first `count` items."""

    count: int
    size: int
    digest: bytes
    #: The answer's members before its list (the envelope's, when `Response` is not first).
    head: dict[str, Any]


#: Bytes the thread that hashes an answer ahead (`PrefixHash.hash_ahead`) takes per step. It
#: takes the GIL once per step (hashlib lets go of it while it hashes): while the writer
#: thread holds it, each step waits up to the interpreter's switch interval (5 ms), so steps of
#: one 64 kB chunk each would take longer than the merge they run beside. A digest asked later
#: hashes at most one step's bytes again.
AHEAD_STEP: Final = 512 * 1024


@dataclass(frozen=True, slots=True)
class _Mark:
    """The running hash's state where a step of hashing ahead ended."""

    hashed: int
    chunk: int
    chunk_start: int
    state: Any


class PrefixHash:
    """A running hash over the leading bytes of one answer's body, grown as asked."""

    def __init__(self, chunks: Sequence[bytes]) -> None:
        """Hash the body in `chunks` (held, not copied) from its first byte."""
        self._chunks = chunks
        self._hash = hashlib.sha256()
        self._hashed = 0
        self._chunk = 0  # the chunk holding byte `_hashed`, and where that chunk starts
        self._chunk_start = 0
        #: Hashing the rest of the body, and the states it passed (`hash_ahead`).
        self._ahead: threading.Thread | None = None
        self._marks: list[_Mark] = []

    def hash_ahead(self) -> None:
        """Hash the rest of the body on a thread of its own, while the caller decodes it.

        A read asks the digest of nearly all its bytes after merging them (`Decoded.known`):
        6 ms of a 20,000-event history on the writer thread. Hashed beside the decoding and
        the merge instead, that digest costs at most one step's bytes (`AHEAD_STEP`). A body
        with less left than two steps is hashed when asked, as before.
        """
        if self._ahead is None and self._size() - self._hashed > 2 * AHEAD_STEP:
            self._ahead = threading.Thread(
                target=self._hash_rest, name="nina-history-hash", daemon=True
            )
            self._ahead.start()

    def digest(self, size: int) -> bytes | None:
        """Return the hash of the first `size` bytes; None if the body is shorter."""
        if self._ahead is not None:  # its state is the running hash's: wait for it first
            self._ahead.join()
            self._ahead = None
        self._restart_near(size)
        chunks = self._chunks
        while self._hashed < size and self._chunk < len(chunks):
            chunk = chunks[self._chunk]
            end = min(len(chunk), size - self._chunk_start)
            self._hash.update(memoryview(chunk)[self._hashed - self._chunk_start : end])
            self._hashed = self._chunk_start + end
            if end == len(chunk):
                self._chunk += 1
                self._chunk_start += len(chunk)
        return self._hash.copy().digest() if self._hashed == size else None

    def same_start(self, known: KnownPrefix | None) -> bool:
        """Return whether the body starts with the bytes `known` describes."""
        return known is not None and self.digest(known.size) == known.digest

    def _size(self) -> int:
        return sum(len(chunk) for chunk in self._chunks)

    def _restart_near(self, size: int) -> None:
        """Go on from the last state kept at or before byte `size`, if nearer than this one.

        Fewer bytes than hashed so far go back to it (none kept: to the first byte).
        """
        at = bisect_right(self._marks, size, key=_HASHED) - 1
        if at >= 0 and (size < self._hashed or self._marks[at].hashed > self._hashed):
            mark = self._marks[at]
            self._hash, self._hashed = mark.state.copy(), mark.hashed
            self._chunk, self._chunk_start = mark.chunk, mark.chunk_start
        elif size < self._hashed:
            self._hash, self._hashed, self._chunk, self._chunk_start = hashlib.sha256(), 0, 0, 0

    def _hash_rest(self) -> None:
        """Hash the body to its end a step at a time, keeping the state after each step."""
        chunks = self._chunks
        marks = self._marks
        marks.append(_Mark(self._hashed, self._chunk, self._chunk_start, self._hash.copy()))
        while self._chunk < len(chunks):
            first, skip = self._chunk, self._hashed - self._chunk_start
            last, taken = first, len(chunks[first]) - skip
            while taken < AHEAD_STEP and last + 1 < len(chunks):
                last += 1
                taken += len(chunks[last])
            # One update per step: joined, its chunks are hashed with the GIL let go once.
            self._hash.update(
                b"".join([memoryview(chunks[first])[skip:], *chunks[first + 1 : last + 1]])
            )
            self._chunk_start += sum(len(chunk) for chunk in chunks[first : last + 1])
            self._hashed, self._chunk = self._chunk_start, last + 1
            marks.append(_Mark(self._hashed, self._chunk, self._chunk_start, self._hash.copy()))


_HASHED = attrgetter("hashed")


@dataclass(slots=True)
class Decoded:
    """Where the decoded items of a history list streamed from an answer lie in its bytes."""

    hash: PrefixHash | None = None
    #: The answer's members before its list (the envelope's, when `Response` is not first).
    head: dict[str, Any] = field(default_factory=dict)
    #: Leading items not decoded: the answer began with bytes a read before knew.
    skipped: int = 0
    #: Where each decoded item's text starts in the answer (-1: not known).
    offsets: list[int] = field(default_factory=list)
    #: Decodes the answer again, whole (for a read that needs the items skipped).
    whole: Callable[[], Any] | None = None

    def tail(self, at: int) -> Decoded:
        """Return this for the decoded items from the `at`-th on."""
        return Decoded(self.hash, self.head, self.skipped + at, self.offsets[at:])

    def known(self, count: int, total: int) -> KnownPrefix | None:
        """Return the bytes holding the first `count` of `total` items; None if not known.

        What the next read need not decode of an answer that starts like this one. At least one
        item is left to decode: the known bytes end where an item starts. Where that item's
        start is not known (items decoded in a batch: `jsonstream._batch`), the bytes end at
        the nearest known start before it: the next read decodes a few items more.
        """
        at = min(count, total - 1) - self.skipped
        offsets = self.offsets
        if self.hash is None or not 0 <= at < len(offsets):
            return None
        while at >= 0 and offsets[at] < 0:
            at -= 1
        if at < 0:
            return None
        digest = self.hash.digest(self.offsets[at])
        if digest is None:
            return None
        return KnownPrefix(at + self.skipped, self.offsets[at], digest, self.head)


@dataclass(frozen=True, slots=True)
class KnownHistory:
    """What the last read knew of each history answer's first bytes."""

    events: KnownPrefix | None = None
    images: KnownPrefix | None = None
