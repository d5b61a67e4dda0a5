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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
import hashlib
from typing import Any


@dataclass(frozen=True, slots=True)
class KnownPrefix:
    """The first `size` bytes of a history answer read before, holding its first `count` items."""

    count: int
    size: int
    digest: bytes
    #: The answer's members before its list (the envelope's, when `Response` is not first).
    head: dict[str, Any]


class PrefixHash:
    """A running hash over the leading bytes of one answer's body, grown as asked."""

    def __init__(self, chunks: Sequence[bytes]) -> None:
        """Hash the body in `chunks` (held, not copied) from its first byte."""
        self._chunks = chunks
        self._hash = hashlib.sha256()
        self._hashed = 0
        self._chunk = 0  # the chunk holding byte `_hashed`, and where that chunk starts
        self._chunk_start = 0

    def digest(self, size: int) -> bytes | None:
        """Return the hash of the first `size` bytes; None if the body is shorter."""
        if size < self._hashed:  # fewer bytes than asked for before (rare): hash them anew
            self._hash, self._hashed, self._chunk, self._chunk_start = hashlib.sha256(), 0, 0, 0
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
