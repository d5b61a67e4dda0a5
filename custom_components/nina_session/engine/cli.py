"""`python -m custom_components.nina_session.engine replay|stats|listen`.

Results go to stdout as JSON; logs go to stderr.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
import itertools
import json
import logging
from pathlib import Path
import sys
from typing import Any
from zoneinfo import ZoneInfo

from .errors import FrameError
from .models import Source
from .pipeline import Pipeline, PipelineOptions
from .replay import read_json, read_jsonl
from .reports import legacy_view
from .store import Store, StoreError

_LOGGER = logging.getLogger(__package__)
_REPLAY_BATCH = 5000


def _timezone(name: str | None) -> tzinfo:
    if name:
        return ZoneInfo(name)
    local = datetime.now(UTC).astimezone().tzinfo
    return local or UTC


def _options(args: argparse.Namespace) -> PipelineOptions:
    return PipelineOptions(
        instance=args.instance,
        tz=_timezone(args.tz),
        idle_gap=timedelta(hours=args.idle_gap_hours),
        dedup_window=timedelta(seconds=args.dedup_window),
    )


def _print_sessions(pipeline: Pipeline, fmt: str) -> None:
    if fmt == "legacy":
        payload: Any = legacy_view(pipeline, None, datetime.now(UTC))
    else:
        payload = {"sessions": pipeline.store.sessions(limit=1_000_000, newest_first=False)}
    json.dump(payload, sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")


def _replay(pipeline: Pipeline, args: argparse.Namespace) -> None:
    if args.event_history:
        images = read_json(Path(args.image_history)) if args.image_history else None
        result = pipeline.ingest_history(read_json(Path(args.event_history)), images)
        _LOGGER.info("History: %d new, %d duplicates, %d rejected",
                     len(result.applied), result.duplicates, result.rejected)  # fmt: skip
    for name in args.files:
        lines = read_jsonl(Path(name))
        while chunk := list(itertools.islice(lines, _REPLAY_BATCH)):
            frames = [item for item in chunk if not isinstance(item, FrameError)]
            for bad in (item for item in chunk if isinstance(item, FrameError)):
                pipeline.counters.reject(bad.reason)
                _LOGGER.warning("Skipped %s", bad)
            pipeline.ingest_frames(frames, Source.REPLAY)
    counters = pipeline.counters
    _LOGGER.info("Replayed: %d received, %d processed, %d duplicates, %d rejected",
                 counters.received, counters.processed, counters.duplicates,
                 counters.rejected)  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m custom_components.nina_session.engine")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", required=True, help="SQLite file (created if missing)")
    common.add_argument("--instance", default="nina", help="instance name used in session ids")
    common.add_argument("--tz", help="NINA's timezone for times without an offset")
    common.add_argument("--idle-gap-hours", type=float, default=2.0)
    common.add_argument("--dedup-window", type=float, default=1.0, help="seconds")
    common.add_argument("--format", choices=("sessions", "legacy"), default="sessions")
    common.add_argument("-v", "--verbose", action="store_true")
    replay = sub.add_parser("replay", parents=[common], help="feed recordings through the pipeline")
    replay.add_argument("files", nargs="*", help="JSONL socket recordings")
    replay.add_argument("--event-history", help="saved /event-history response")
    replay.add_argument("--image-history", help="saved /image-history?all=true response")
    sub.add_parser("stats", parents=[common], help="print the sessions stored in a DB")
    listen = sub.add_parser("listen", parents=[common], help="run the live pipeline")
    listen.add_argument("--host", required=True)
    listen.add_argument("--port", type=int, default=1888)
    listen.add_argument("--tls", action="store_true")
    listen.add_argument("--record", help="also write every socket message to this JSONL file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command (replay, stats or listen) and return its exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "listen":
        from .listen import run_listen  # noqa: PLC0415 - aiohttp only when listening

        return run_listen(args, _options(args))
    try:
        store = Store(args.db)
    except StoreError as err:
        _LOGGER.error("Cannot open the database: %s", err)
        return 2
    try:
        pipeline = Pipeline(store, _options(args))
        if args.command == "replay":
            _replay(pipeline, args)
        _print_sessions(pipeline, args.format)
    finally:
        store.close()
    return 0
