"""Event-loop lag: a ticker task that measures how much later than asked each sleep ends."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
import math


@dataclass(frozen=True, slots=True)
class LagSummary:
    """Event-loop lag over the ticks, in milliseconds."""

    samples: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    def __str__(self) -> str:
        """Return the figures as one line."""
        return (
            f"p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms, max {self.max_ms:.2f} ms "
            f"({self.samples} ticks)"
        )


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of `values` (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


class LagMonitor:
    """Run on the loop to be measured: `start()`, work, `await stop()`, then `summary()`."""

    def __init__(self, interval: float = 0.01) -> None:
        """Prepare a ticker that sleeps `interval` seconds at a time."""
        self.interval = interval
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start ticking on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._tick(), name="soak lag")

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.interval)
            self.samples.append(max(0.0, loop.time() - before - self.interval))

    async def stop(self) -> None:
        """Stop ticking."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def summary(self) -> LagSummary:
        """Return the lag of the ticks so far."""
        ms = [sample * 1000 for sample in self.samples]
        return LagSummary(len(ms), percentile(ms, 0.5), percentile(ms, 0.99), max(ms, default=0.0))
