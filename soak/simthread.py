"""The NINA simulator on its own thread and event loop, as NINA runs on another PC.

The engine under test then has its event loop to itself, so the loop lag we measure is the
engine's, and the simulator's timing does not depend on how busy the engine is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
import threading
from typing import Any, TypeVar

from simulator.server import NinaSimulator

_T = TypeVar("_T")


class SimThread:
    """Start with `await start()`; drive the simulator with `run` (coroutines) and `call`."""

    def __init__(self, *, tz: str = "Europe/Berlin") -> None:
        """Prepare the thread and its loop; nothing runs before `start()`."""
        self._tz = tz
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="nina-simulator", daemon=True)
        self._sim: NinaSimulator | None = None

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    @property
    def sim(self) -> NinaSimulator:
        """The simulator; read its plain attributes freely, change it only through `run`."""
        assert self._sim is not None, "SimThread not started"
        return self._sim

    async def start(self) -> NinaSimulator:
        """Start the thread and the simulator on it; return the simulator."""
        self._thread.start()

        async def create() -> NinaSimulator:
            sim = NinaSimulator(tz=self._tz)
            await sim.start()
            return sim

        self._sim = await self.run(create())
        return self._sim

    async def run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        """Run a coroutine on the simulator's loop and wait for its result."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    def run_blocking(self, coro: Coroutine[Any, Any, _T]) -> _T:
        """Run a coroutine on the simulator's loop, blocking the calling thread (and its loop)."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    async def call(self, func: Callable[[], _T]) -> _T:
        """Run a plain function on the simulator's loop (its state is not thread-safe)."""

        async def wrapper() -> _T:
            return func()

        return await self.run(wrapper())

    async def stop(self) -> None:
        """Stop the simulator, then its loop and thread."""
        if self._sim is not None:
            await self.run(self._sim.stop())
            self._sim = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            await asyncio.to_thread(self._thread.join, 10.0)
        if not self._loop.is_running():
            self._loop.close()
