"""Polling helpers: wait for a condition the engine or the simulator does not signal."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(check: Callable[[], bool], within: float, interval: float = 0.02) -> bool:
    """Poll `check` until it is true (True) or `within` seconds have passed (False)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        if check():
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(interval)


async def sleep_until(moment: float) -> None:
    """Sleep until the running loop's clock reads `moment` (never wakes early)."""
    loop = asyncio.get_running_loop()
    while True:
        wait = moment - loop.time()
        if wait <= 0:
            return
        await asyncio.sleep(wait)
