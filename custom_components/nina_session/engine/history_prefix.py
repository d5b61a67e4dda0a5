"""Proving cheaply that a history answer starts with the bytes of the last one read.

NINA's image history only grows while its process runs, and the engine reads all of it on
every reconnect and every 15 minutes: tens of MB of records, nearly all of them taken in by
the read before. Decoding them again cost more than downloading them. A read remembers how
many leading items the next read will skip anyway (`history_resume`), how many bytes they
take, and a hash of those bytes; a next answer whose first bytes hash the same holds the same
items there, and only what follows them is decoded (`jsonstream.load_streaming_from`).
Hashing runs at C speed, several times faster than decoding the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
