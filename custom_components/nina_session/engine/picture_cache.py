"""A small LRU of pictures by key, bounded in bytes, that downloads each picture once.

A dashboard open on many screens asks for the same thumbnails at the same moment; the
observatory's link is often slow (a remote site over a phone line). Concurrent requests for
one key share one download; a finished picture is served from memory until it is pushed out
by newer ones. A picture larger than the whole budget is served but not kept.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable


class PictureCache[K: Hashable]:
    """Pictures by key: at most `max_bytes` kept, least recently used dropped first."""

    def __init__(self, fetch: Callable[[K], Awaitable[bytes | None]], max_bytes: int) -> None:
        """Download with `fetch(key)` (None: there is no such picture; not kept)."""
        self._fetch = fetch
        self.max_bytes = max_bytes
        self._items: OrderedDict[K, bytes] = OrderedDict()
        self._size = 0
        self._pending: dict[K, asyncio.Task[bytes | None]] = {}
        #: Downloads started (each a request to NINA); the rest were served from memory.
        self.downloads = 0

    @property
    def size(self) -> int:
        """Return the bytes kept."""
        return self._size

    def __len__(self) -> int:
        """Return how many pictures are kept."""
        return len(self._items)

    async def get(self, key: K) -> bytes | None:
        """Return the picture of `key`, downloading it unless kept or already on its way."""
        if (picture := self._items.get(key)) is not None:
            self._items.move_to_end(key)
            return picture
        task = self._pending.get(key)
        if task is None:
            self.downloads += 1
            task = self._pending[key] = asyncio.create_task(self._load(key))
        # A viewer that goes away must not cancel the download the others wait for.
        return await asyncio.shield(task)

    def clear(self) -> None:
        """Forget every picture (the keys now name other pictures, e.g. NINA restarted)."""
        self._items.clear()
        self._size = 0
        # Downloads on their way answer their waiters but are not kept (see `_load`).
        self._pending.clear()

    async def _load(self, key: K) -> bytes | None:
        try:
            picture = await self._fetch(key)
        finally:
            mine = self._pending.get(key) is asyncio.current_task()
            if mine:
                del self._pending[key]
        if picture is not None and mine:
            self._keep(key, picture)
        return picture

    def _keep(self, key: K, picture: bytes) -> None:
        if len(picture) > self.max_bytes:
            return
        if (old := self._items.pop(key, None)) is not None:
            self._size -= len(old)
        self._items[key] = picture
        self._size += len(picture)
        while self._size > self.max_bytes:
            _, dropped = self._items.popitem(last=False)
            self._size -= len(dropped)
