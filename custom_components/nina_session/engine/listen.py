"""`listen`: the whole live pipeline without Home Assistant, to check an observatory."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from pathlib import Path
import signal

import aiohttp

from .engine import EngineConfig, EngineUpdate, NinaEngine
from .pipeline import PipelineOptions

_LOGGER = logging.getLogger(__package__)


async def _listen(args: argparse.Namespace, options: PipelineOptions) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    config = EngineConfig(
        host=args.host,
        port=args.port,
        tls=args.tls,
        db_path=Path(args.db),
        options=options,
        record_path=Path(args.record) if args.record else None,
    )
    async with aiohttp.ClientSession() as session:
        engine = NinaEngine(config, session)
        last_state: list[str] = []

        def report(update: EngineUpdate) -> None:
            pipeline = engine.pipeline
            state = (
                "disconnected"
                if not engine.health.connected
                else str(pipeline.state if pipeline else "?")
            )
            if [state] != last_state:
                last_state[:] = [state]
                _LOGGER.info("State: %s", state)
            if update.reason == "connection":
                health = engine.health
                _LOGGER.info(
                    "Connection: %s (reconnects %d, last error %s)",
                    "up" if health.connected else "down",
                    health.reconnects,
                    health.last_error,
                )

        engine.subscribe(report)
        await engine.start()
        _LOGGER.info("Listening to %s; Ctrl-C to stop", engine.client.socket_url)
        await stop.wait()
        _LOGGER.info("Stopping")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(engine.stop(), timeout=1.5)
        counters = engine.health.events
        _LOGGER.info(
            "Stopped: %d received, %d processed, %d duplicates, %d rejected",
            counters.received,
            counters.processed,
            counters.duplicates,
            counters.rejected,
        )


def run_listen(args: argparse.Namespace, options: PipelineOptions) -> int:
    """Run the live pipeline until Ctrl-C or SIGTERM, logging what changes; return 0."""
    asyncio.run(_listen(args, options))
    return 0
