"""PictureCache: one download per key however many ask, and a byte bound kept by LRU."""

from __future__ import annotations

import asyncio

from custom_components.nina_session.engine.picture_cache import PictureCache


class _Source:
    """A slow picture source that counts what it was asked for."""

    def __init__(self, size: int = 100) -> None:
        self.size = size
        self.asked: list[int] = []
        self.release = asyncio.Event()

    async def fetch(self, key: int) -> bytes | None:
        self.asked.append(key)
        await self.release.wait()
        return None if key < 0 else bytes([key % 256]) * self.size


async def test_concurrent_requests_share_one_download() -> None:
    """Test that many waiters of one key cause one fetch and all get its picture."""
    source = _Source()
    cache: PictureCache[int] = PictureCache(source.fetch, 1000)
    waiters = [asyncio.create_task(cache.get(3)) for _ in range(20)]
    await asyncio.sleep(0)
    source.release.set()
    pictures = await asyncio.gather(*waiters)
    assert source.asked == [3]
    assert all(picture == bytes([3]) * 100 for picture in pictures)
    assert await cache.get(3) == pictures[0]
    assert source.asked == [3]


async def test_a_viewer_leaving_does_not_cancel_the_others_download() -> None:
    """Test that cancelling one waiter leaves the shared download running."""
    source = _Source()
    cache: PictureCache[int] = PictureCache(source.fetch, 1000)
    leaving = asyncio.create_task(cache.get(1))
    staying = asyncio.create_task(cache.get(1))
    await asyncio.sleep(0)
    leaving.cancel()
    source.release.set()
    assert await staying == bytes([1]) * 100
    assert source.asked == [1]


async def test_bytes_bound_drops_least_recently_used() -> None:
    """Test that the cache keeps within its bytes, dropping the picture used longest ago."""
    source = _Source(size=100)
    source.release.set()
    cache: PictureCache[int] = PictureCache(source.fetch, 250)
    await cache.get(1)
    await cache.get(2)
    await cache.get(1)  # 1 is now the most recent
    await cache.get(3)  # over 250 bytes: 2 goes
    assert cache.size == 200 and len(cache) == 2
    await cache.get(1)
    await cache.get(2)
    assert source.asked == [1, 2, 3, 2]


async def test_missing_pictures_and_oversized_ones_are_not_kept() -> None:
    """Test that None (no picture) and a picture over the whole budget are asked again."""
    source = _Source(size=300)
    source.release.set()
    cache: PictureCache[int] = PictureCache(source.fetch, 250)
    assert await cache.get(-1) is None
    assert await cache.get(5) == bytes([5]) * 300
    await cache.get(-1)
    await cache.get(5)
    assert source.asked == [-1, 5, -1, 5]
    assert cache.size == 0


async def test_clear_forgets_pictures_and_does_not_keep_a_download_in_flight() -> None:
    """Test that after clear() (NINA restarted) a key is downloaded again."""
    source = _Source()
    cache: PictureCache[int] = PictureCache(source.fetch, 1000)
    old = asyncio.create_task(cache.get(7))
    await asyncio.sleep(0)
    cache.clear()
    source.release.set()
    await old
    assert len(cache) == 0
    await cache.get(7)
    assert source.asked == [7, 7]
