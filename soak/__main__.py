"""`python -m soak [--quick] [--nights N] [--seed S]`, or `python -m soak --load [--quick]`."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
import logging
from pathlib import Path
import sys

from soak.load import LoadConfig, run_load
from soak.runner import SoakConfig, run_soak


def build_parser() -> argparse.ArgumentParser:
    """Return the command line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m soak",
        description="Play generated nights through the live engine under a seeded fault "
        "schedule and compare the stored sessions with the simulator's ground truth.",
    )
    parser.add_argument("--quick", action="store_true", help="short run (under a minute)")
    parser.add_argument("--nights", type=int, help="nights to play (default 7; quick: 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the nights and faults")
    parser.add_argument("--start", type=date.fromisoformat, help="first evening (2026-11-20)")
    parser.add_argument("--tz", help="NINA's time zone (default Europe/Berlin)")
    parser.add_argument("--faults", type=int, help="faults per night (default 12; quick: 14)")
    parser.add_argument("--speed", type=float, help="simulated seconds per second (2000)")
    parser.add_argument(
        "--frame-spacing",
        type=float,
        help="least seconds between frames (1.1; 0: squeeze frames like everything else)",
    )
    parser.add_argument(
        "--skew", type=float, help="NINA's clock minus ours in seconds (0: the same clock)"
    )
    parser.add_argument("--db", type=Path, help="keep the engine's database here (new file)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every fault")
    load = parser.add_argument_group("load (instead of the soak)")
    load.add_argument("--load", action="store_true", help="run the load scenario")
    load.add_argument("--rate", type=float, default=200.0, help="events per second (200)")
    load.add_argument("--seconds", type=float, help="duration (600; quick: 30)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the soak, or the load scenario with --load; return 0 if it passed."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    if args.db is not None and args.db.exists():
        print(f"{args.db} exists; give a new file", file=sys.stderr)
        return 2
    if args.load:
        seconds = args.seconds or (30.0 if args.quick else 600.0)
        report = asyncio.run(run_load(LoadConfig(rate=args.rate, seconds=seconds,
                                                 db_path=args.db)))  # fmt: skip
        return 0 if report.ok else 1
    config = SoakConfig.quick() if args.quick else SoakConfig()
    changes = {
        "nights": args.nights,
        "seed": args.seed,
        "start": args.start,
        "tz": args.tz,
        "faults_per_night": args.faults,
        "speed": args.speed,
        "frame_spacing": args.frame_spacing,
        "nina_clock_skew": args.skew,
        "db_path": args.db,
        "verbose": args.verbose or None,
    }
    config = replace(config, **{k: v for k, v in changes.items() if v is not None})
    soak_report = asyncio.run(run_soak(config))
    return 0 if soak_report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
