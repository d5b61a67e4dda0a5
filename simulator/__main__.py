"""Run the NINA simulator: `python -m simulator --port 1888 --speed 60 --night full`."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
import sys
from zoneinfo import ZoneInfo

from simulator.events import SimEvent
from simulator.night import PRESETS, Night, generate_night, generate_week, to_jsonl_lines
from simulator.server import NinaSimulator, rebased


def build_parser() -> argparse.ArgumentParser:
    """Return the command line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m simulator", description="Serve a simulated N.I.N.A. Advanced API plugin."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=1888, help="port (0: any free port)")
    parser.add_argument("--speed", type=float, default=60.0, help="time factor; 0: no waiting")
    parser.add_argument("--night", default="full", choices=[*PRESETS, "week"])
    parser.add_argument("--date", type=date.fromisoformat, help="evening date (default: today)")
    parser.add_argument("--tz", default="Europe/Berlin", help="time zone of NINA's PC")
    parser.add_argument("--seed", type=int, help="seed (default: the preset's)")
    parser.add_argument("--jsonl", type=Path, help="also write the night(s) as JSONL replay lines")
    parser.add_argument("--loop", action="store_true", help="play night after night until Ctrl-C")
    parser.add_argument(
        "--day",
        type=float,
        default=0.0,
        help="with --loop: real seconds of quiet between nights (a tracker's idle gap)",
    )
    parser.add_argument("--no-rebase", action="store_true", help="keep the simulated times")
    parser.add_argument("--plugin-version", default="2.2.9.0")
    parser.add_argument("--api", default="v2", choices=["v2", "v3"], help="v3: plugin v3 only")
    parser.add_argument(
        "--equipment",
        action="store_true",
        help="connect all eleven device classes at start (dome, weather, switch... too)",
    )
    parser.add_argument(
        "--history-nights",
        type=int,
        default=0,
        metavar="N",
        help="first put N earlier, finished nights into NINA's history (as a NINA running for "
        "days has them): a client's backfill stores them, e.g. for a night report at once",
    )
    return parser


def earlier_nights(args: argparse.Namespace, now: datetime) -> list[Night]:
    """Return `args.history_nights` nights that ended before `now`, oldest first.

    At their own dates (not moved to now), without the preset's NINA restart: a NINA that ran
    through them still holds all of their events. `play_history` squeezes them by `--speed`.
    """
    spec = PRESETS["full" if args.night == "week" else args.night]
    # Observing nights run noon to noon: before noon, "tonight" began yesterday evening.
    tonight = args.date or (now.astimezone(ZoneInfo(args.tz)) - timedelta(hours=12)).date()
    nights: list[Night] = []
    back = 1
    while len(nights) < args.history_nights:
        day = tonight - timedelta(days=back)
        night = generate_night(
            replace(spec, date=day, tz=args.tz, seed=spec.seed + 100 + back, nina_restart=False)
        )
        if night.end < now:
            nights.insert(0, night)
        back += 1
    return nights


def compressed(night: Night, speed: float) -> list[SimEvent]:
    """Return the night's events squeezed towards its start by `speed`, as a live one is.

    A night at its natural pace has quiet stretches (waits, a cloud pause, dawn) longer than
    the idle gap a client sets for nights played `speed` times faster: it would store it as
    several sessions. Exposure times stay as they are.
    """
    if speed <= 0:
        return list(night.events)
    start = night.start
    return [rebased(ev, start + (ev.time - start) / speed, 1 / speed) for ev in night.events]


async def play_history(sim: NinaSimulator, args: argparse.Namespace) -> None:
    """Play the earlier nights into the history at once; NINA has been up since before them."""
    nights = earlier_nights(args, datetime.now(UTC))
    if not nights:
        return
    for night in nights:
        events = compressed(night, args.speed)
        await sim.play(events, 0, rebase=False, follow_epochs=False)
        print(f"history: {night.spec.date}, {len(events)} events", flush=True)
    sim.application_start = nights[0].start - timedelta(minutes=10)


def nights_for(args: argparse.Namespace, round_no: int) -> list[Night]:
    """Generate the night(s) of one round; each round starts a day (a week) later."""
    first = args.date or datetime.now(ZoneInfo(args.tz)).date()
    day = first + timedelta(days=round_no * (7 if args.night == "week" else 1))
    if args.night == "week":
        return generate_week(
            day, seed=(args.seed or 0) + round_no, tz=args.tz, scheduler_nights=True
        )
    spec = PRESETS[args.night]
    seed = spec.seed if args.seed is None else args.seed
    return [generate_night(replace(spec, date=day, tz=args.tz, seed=seed + round_no))]


async def run(args: argparse.Namespace) -> None:
    """Serve the simulator and play the nights (again and again with --loop), until cancelled."""
    sim = NinaSimulator(args.host, args.port, args.plugin_version, tz=args.tz, api=args.api)
    await sim.start()
    await play_history(sim, args)
    if args.equipment:
        await sim.equipment.connect()
    try:
        print(f"NINA simulator, Advanced API plugin {sim.plugin_version}", flush=True)
        print(f"  REST:    {sim.api_url}", flush=True)
        print(f"  socket:  {sim.socket_url}", flush=True)
        print(
            f"  control: {sim.base_url}/sim/  POST drop[?abrupt=1], restart[?downtime=S], "
            "silent?on=1, refuse?on=1, delay?seconds=S, raw, version?v=X, "
            "equipment?connect=DOME|disconnect=X|front=1|fail=PATH; GET truth",
            flush=True,
        )
        print(f"  night:   {args.night}, speed {args.speed:g}", flush=True)
        round_no = 0
        while True:
            nights = nights_for(args, round_no)
            if args.jsonl is not None:
                lines = [line for night in nights for line in to_jsonl_lines(night.events)]
                args.jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
                print(f"  wrote {len(lines)} lines to {args.jsonl}", flush=True)
            for night in nights:
                span = night.end - night.start
                real = span.total_seconds() / args.speed if args.speed > 0 else 0.0
                print(
                    f"playing {night.spec.date} ({night.spec.targets or 'calibration'}): "
                    f"{len(night.events)} events over {span}, about {real:.0f} s",
                    flush=True,
                )
                await sim.play(night, args.speed, rebase=not args.no_rebase)
                truth = night.truth
                print(
                    f"  done: {truth.frames_by_type} lights {truth.lights_by_filter}",
                    flush=True,
                )
            round_no += 1
            if not args.loop:
                break
            if args.day > 0:
                # Nights are moved to now: without a quiet day between them, a tracker
                # sees one endless night.
                print(f"day: {args.day:g} s of quiet before the next night", flush=True)
                await asyncio.sleep(args.day)
        print("played; still serving (Ctrl-C stops)", flush=True)
        await asyncio.Event().wait()
    finally:
        await sim.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator until Ctrl-C; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        asyncio.run(run(args))
    except KeyboardInterrupt:
        print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
