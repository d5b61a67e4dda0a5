"""`make demo`: a real Home Assistant with nina_session, fed by the NINA simulator.

What it does, from a fresh clone (run with the project's .venv Python):

1. installs the demo-only extras pinned in demo/requirements.txt (the frontend, the TOTP
   auth module's pyotp and PyQRCode, colorlog), building PyQRCode's wheel from its sdist;
2. lays out build/demo/config: demo/config/configuration.yaml, our integration linked in
   as custom_components/nina_session, the blueprints copied in;
3. starts `hass -c build/demo/config --skip-pip` (http, frontend, recorder, history,
   logbook; nothing is installed or fetched at run time);
4. onboards it over HA's HTTP API: owner user, analytics, integration step (core config is
   marked done in the config dir beforehand: the location is in configuration.yaml, and the
   step would start integrations whose requirements the demo does not install);
5. starts the simulator (`python -m simulator`) looping a night faster than real time, with
   a quiet "day" longer than the entry's idle gap between nights, so each is a session; its
   equipment connected (`--equipment`: camera, mount, guider, dome, weather...), and two
   finished earlier nights in NINA's history (`--history-nights`), which the integration's
   backfill stores: the night report and the targets across nights show from the start;
6. adds the NINA Session config entry by driving the config flow over HA's HTTP API, and
   narrows its duplicate window through the options flow to suit the faster-than-real night;
   once the earlier nights are stored, gives each target a goal per filter (twice what is
   stored) through `nina_session.set_target_goal`, so the goal progress sensor has a value;
7. waits for the equipment entities, then saves a dashboard (WebSocket
   `lovelace/config/save`): the session card with its equipment row (park the simulated
   mount from it), the last night's report picture, the target across nights, equipment;
8. prints the URL and the login, then the session live from `/api/nina_session/session`
   until Ctrl-C (or for `--duration` seconds), and stops everything cleanly.

Settings come from flags or environment variables: DEMO_SPEED (time factor, default 120),
DEMO_NIGHT (full, simple, week, ...; default full), DEMO_DURATION (seconds; run that long
without a terminal view and exit 0 only if the session view returned real data), DEMO_PORT
(HA's port, default 8123; 0 picks a free one), DEMO_PASSWORD.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping, Sequence
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
import importlib.metadata
import json
import math
import os
from pathlib import Path
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Any, TextIO

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "demo"
WHEELS = BUILD / "wheels"
TEMPLATE = ROOT / "demo" / "config"
REQUIREMENTS = ROOT / "demo" / "requirements.txt"
CONSTRAINTS = ROOT / "requirements" / "ha-2025.4.4-constraints.txt"
INTEGRATION = ROOT / "custom_components" / "nina_session"
BLUEPRINTS = ROOT / "blueprints"

DOMAIN = "nina_session"
USERNAME = "demo"
DEFAULT_PASSWORD = "nina-demo"  # noqa: S105  # printed for the user; HA binds 127.0.0.1 only
CARD_URL = f"/{DOMAIN}/nina-session-card.js"
#: In the workdir: the simulator port the config entry points at (reused with --keep).
SIM_PORT_FILE = "simulator-port"

HA_START_TIMEOUT = 240.0
POLL_SECONDS = 1.0
STOP_TIMEOUT = 30.0

Json = dict[str, Any]


#: The options flow's smallest idle gap: a night ends after this much quiet.
DEMO_IDLE_GAP_MINUTES = 5
#: Real seconds of quiet the looping simulator leaves between nights: past the idle gap, so
#: each looped night is a session of its own.
DEMO_DAY_SECONDS = DEMO_IDLE_GAP_MINUTES * 60 + 30
#: Earlier nights the simulator's NINA holds in its history when the demo starts.
DEMO_HISTORY_NIGHTS = 2
#: Equipment entities the dashboard shows; the demo waits for them (they appear once the
#: integration has read the simulator's devices).
EQUIPMENT_KEYS = (
    "cooler_temperature",
    "cooler_power",
    "parked",
    "tracking",
    "time_to_meridian_flip",
    "guider_state",
    "safety",
    "mount_park",
)
#: Insight entities: the current target across nights, its goal, the night's end.
INSIGHT_KEYS = ("target_integration", "target_goal_progress", "night_end")
ENTITIES_TIMEOUT = 60.0


def demo_dedup_window(speed: float) -> float:
    """Return a duplicate window for a night played `speed` times faster than real time.

    The default second is two simulated minutes at 120x: an autofocus retried after a failed
    one (about a minute later) would collapse into the first. Thirty simulated seconds, but
    not under the soak's 0.25 s: live copies and their history twins meet within a few ms.
    """
    return round(min(1.0, max(0.25, 30.0 / speed)), 3)


class DemoError(Exception):
    """A step of the demo failed; the message says which and what to look at."""


@dataclass
class Settings:
    """How to run the demo, from the flags and DEMO_* variables."""

    speed: float
    night: str
    port: int
    sim_port: int
    duration: float | None
    password: str
    keep: bool
    install: bool
    info: Path | None
    workdir: Path = BUILD

    @property
    def config(self) -> Path:
        """Return Home Assistant's config directory in the workdir."""
        return self.workdir / "config"

    @property
    def interactive(self) -> bool:
        """Return whether the demo runs until Ctrl-C (no --duration)."""
        return self.duration is None


# -- settings ------------------------------------------------------------------------------
def _env_float(name: str, default: float | None) -> float | None:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


def build_parser() -> argparse.ArgumentParser:
    """Return the command line parser."""
    parser = argparse.ArgumentParser(
        prog="demo/run.py",
        description="A real Home Assistant with nina_session and the NINA simulator.",
    )
    parser.add_argument("--speed", type=float, help="simulator time factor (DEMO_SPEED, 120)")
    parser.add_argument("--night", help="simulated night: full, simple, week, ... (DEMO_NIGHT)")
    parser.add_argument("--port", type=int, help="HA's port; 0: a free one (DEMO_PORT, 8123)")
    parser.add_argument("--sim-port", type=int, help="simulator port (DEMO_SIM_PORT, free)")
    parser.add_argument(
        "--duration",
        type=float,
        help="run this many seconds, no live view; exit 0 if real data came (DEMO_DURATION)",
    )
    parser.add_argument(
        "--check", action="store_true", help="same as --duration 20 (CI and `make e2e`)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="reuse build/demo/config (history, users) if there"
    )
    parser.add_argument(
        "--no-install", action="store_true", help="do not install demo/requirements.txt"
    )
    parser.add_argument("--info", type=Path, help="write URL, login and tokens here as JSON")
    parser.add_argument(
        "--workdir", type=Path, default=BUILD, help="config and logs (default build/demo)"
    )
    return parser


def settings_from(argv: Sequence[str] | None) -> Settings:
    """Return the settings: flags first, then DEMO_* variables, then defaults."""
    args = build_parser().parse_args(argv)
    duration = args.duration if args.duration is not None else _env_float("DEMO_DURATION", None)
    if args.check and duration is None:
        duration = 20.0
    speed = args.speed if args.speed is not None else _env_float("DEMO_SPEED", 120.0)
    port_default = 8123 if duration is None else 0
    port = (
        args.port if args.port is not None else int(os.environ.get("DEMO_PORT", str(port_default)))
    )
    sim_port = args.sim_port
    if sim_port is None:
        sim_port = int(os.environ.get("DEMO_SIM_PORT", "0"))
    workdir: Path = args.workdir.resolve()
    remembered = workdir / SIM_PORT_FILE
    if not sim_port and args.keep and remembered.is_file():
        # The kept config entry points at the simulator port of the earlier run.
        sim_port = int(remembered.read_text(encoding="utf-8").strip() or 0)
    return Settings(
        speed=speed if speed is not None else 120.0,
        night=args.night or os.environ.get("DEMO_NIGHT", "full"),
        port=port or free_port(),
        sim_port=sim_port or free_port(),
        duration=duration,
        password=os.environ.get("DEMO_PASSWORD") or DEFAULT_PASSWORD,
        keep=args.keep,
        install=not args.no_install,
        info=args.info,
        workdir=workdir,
    )


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_taken(port: int) -> bool:
    """Return whether something listens on 127.0.0.1:`port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def rel(path: Path) -> str:
    """Return the path relative to the repository when it is inside it."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def say(message: str) -> None:
    """Print a "[demo]" progress line."""
    print(f"[demo] {message}", flush=True)


# -- 1. demo extras ------------------------------------------------------------------------
def pinned_requirements() -> dict[str, str]:
    """`name==version` lines of demo/requirements.txt."""
    pins: dict[str, str] = {}
    for raw in REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if match := re.fullmatch(r"([A-Za-z0-9_.-]+)==([A-Za-z0-9_.+-]+)", line):
            pins[match[1]] = match[2]
    return pins


def missing_requirements() -> list[str]:
    """Return the pinned extras not installed at their pinned version."""
    missing = []
    for name, version in pinned_requirements().items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            missing.append(f"{name}=={version}")
    return missing


def require_requirements() -> None:
    """Raise DemoError if a pinned extra is not installed (for --no-install)."""
    if missing := missing_requirements():
        # Without the frontend `hass --skip-pip` starts in recovery mode.
        raise DemoError(f"not installed: {', '.join(missing)} (drop --no-install)")


def install_requirements() -> None:
    """Install the pinned extras into this interpreter's environment (the project .venv)."""
    missing = missing_requirements()
    if not missing:
        return
    say(f"installing demo extras into {sys.prefix}: {', '.join(missing)}")
    pip = [sys.executable, "-m", "pip"]
    pins = pinned_requirements()
    qr = "PyQRCode"
    if qr in pins and not any(WHEELS.glob("*qrcode*.whl")):
        # PyQRCode is published as an sdist only: build its wheel once, install from it.
        WHEELS.mkdir(parents=True, exist_ok=True)
        subprocess.run(  # noqa: S603  # our interpreter, fixed arguments
            [*pip, "wheel", "-q", "--no-deps", f"{qr}=={pins[qr]}", "-w", str(WHEELS)],
            check=True,
        )
    subprocess.run(  # noqa: S603  # our interpreter, fixed arguments
        [
            *pip,
            "install",
            "-q",
            "--find-links",
            str(WHEELS),
            "-r",
            str(REQUIREMENTS),
            "-c",
            str(CONSTRAINTS),
        ],
        check=True,
    )
    if still := missing_requirements():
        raise DemoError(f"could not install {', '.join(still)}")


# -- 2. configuration directory ------------------------------------------------------------
def prepare_config(settings: Settings) -> None:
    """Lay out the config dir: configuration.yaml, our integration linked in, blueprints."""
    config = settings.config
    if config.exists() and not settings.keep:
        shutil.rmtree(config)
    config.mkdir(parents=True, exist_ok=True)
    shutil.copy2(TEMPLATE / "configuration.yaml", config / "configuration.yaml")
    for name in ("automations.yaml", "scripts.yaml"):
        target = config / name
        if not target.exists():
            target.write_text("[]\n" if name == "automations.yaml" else "{}\n", encoding="utf-8")
    seed_onboarding(config)
    components = config / "custom_components"
    components.mkdir(exist_ok=True)
    link = components / DOMAIN
    if link.is_symlink() or link.exists():
        if link.is_symlink() or link.is_file():
            link.unlink()
        else:
            shutil.rmtree(link)
    link.symlink_to(INTEGRATION, target_is_directory=True)
    source = BLUEPRINTS / "automation" / DOMAIN
    if source.is_dir():
        target_dir = config / "blueprints" / "automation" / DOMAIN
        target_dir.mkdir(parents=True, exist_ok=True)
        for blueprint in source.glob("*.yaml"):
            shutil.copy2(blueprint, target_dir / blueprint.name)


def seed_onboarding(config: Path) -> None:
    """Mark onboarding's core-config step done before HA first starts.

    The location is in configuration.yaml, so the step has nothing to ask; but finishing it
    over the API starts flows for google_translate, met, radio_browser and shopping_list,
    whose requirements the demo does not install: tracebacks at the top of the HA log.
    """
    storage = config / ".storage"
    path = storage / "onboarding"
    if path.exists():
        return
    storage.mkdir(parents=True, exist_ok=True)
    data = {
        "version": 4,
        "minor_version": 1,
        "key": "onboarding",
        "data": {"done": ["core_config"]},
    }
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


# -- processes -----------------------------------------------------------------------------
@dataclass
class Child:
    """A child process in its own session (Ctrl-C reaches only us), logging to a file."""

    name: str
    process: asyncio.subprocess.Process
    log_path: Path
    log: TextIO
    stop_signal: int = signal.SIGTERM

    @classmethod
    async def start(
        cls,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str],
        stop_signal: int = signal.SIGTERM,
        cwd: Path = ROOT,
    ) -> Child:
        """Start `argv` in its own session, its output going to `log_path`."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = log_path.open("w", encoding="utf-8")
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return cls(name, process, log_path, log, stop_signal)

    @property
    def running(self) -> bool:
        """Return whether the process has not exited yet."""
        return self.process.returncode is None

    def tail(self, lines: int = 25) -> str:
        """Return the last lines of the log ('' if it cannot be read)."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    async def stop(self) -> None:
        """Stop the process with its stop signal (killed after STOP_TIMEOUT); close the log."""
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(self.stop_signal)
            try:
                await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                say(f"{self.name} did not stop in {STOP_TIMEOUT:.0f} s; killing it")
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        self.log.close()


def child_env(settings: Settings) -> dict[str, str]:
    """Return the children's environment: ours, plus HA's port and host, unbuffered output."""
    env = dict(os.environ)
    env.update(
        {
            "DEMO_HA_PORT": str(settings.port),
            "DEMO_HA_HOST": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


async def start_hass(settings: Settings) -> Child:
    """Start Home Assistant on the demo config; DemoError if its port is taken."""
    if port_taken(settings.port):
        raise DemoError(
            f"port {settings.port} is in use (another Home Assistant?); "
            "set DEMO_PORT to a free port, or 0 for any"
        )
    argv = [sys.executable, "-m", "homeassistant", "-c", str(settings.config), "--skip-pip"]
    log = f"{rel(settings.workdir)}/hass.log"
    say(f"starting Home Assistant on http://127.0.0.1:{settings.port} (log: {log})")
    # Not from the repository root: there `custom_components` would be imported from the
    # checkout instead of the config dir (the current directory comes first on sys.path).
    return await Child.start(
        "Home Assistant",
        argv,
        settings.workdir / "hass.log",
        child_env(settings),
        cwd=settings.config,
    )


async def start_simulator(settings: Settings) -> Child:
    """Start the simulator looping the chosen night at the chosen speed."""
    argv = [
        sys.executable,
        "-m",
        "simulator",
        "--port",
        str(settings.sim_port),
        "--speed",
        f"{settings.speed:g}",
        "--night",
        settings.night,
        "--loop",
        "--day",
        str(DEMO_DAY_SECONDS),
        # Camera, mount, guider, dome, weather...: the equipment devices and the card's row.
        "--equipment",
        # Finished nights in NINA's history: the backfill stores them, so the night report
        # and the targets across nights have something to show from the start.
        "--history-nights",
        str(DEMO_HISTORY_NIGHTS),
    ]
    say(
        f"starting the NINA simulator on 127.0.0.1:{settings.sim_port}: night "
        f"'{settings.night}' at {settings.speed:g}x (log: {rel(settings.workdir)}/simulator.log)"
    )
    return await Child.start(
        "simulator", argv, settings.workdir / "simulator.log", child_env(settings), signal.SIGINT
    )


async def wait_until(
    what: str,
    check: Any,
    limit: float,
    children: Sequence[Child] = (),
) -> None:
    """Await `check()` until it returns True; fail early when a child died."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        for child in children:
            if not child.running:
                raise DemoError(
                    f"{child.name} exited ({child.process.returncode}) while waiting for "
                    f"{what}; last lines of {child.log_path}:\n{child.tail()}"
                )
        with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
            if await check():
                return
        await asyncio.sleep(0.5)
    raise DemoError(f"timed out after {limit:.0f} s waiting for {what}")


# -- Home Assistant's HTTP API -------------------------------------------------------------
@dataclass
class HomeAssistantApi:
    """The few calls the demo makes, with token refresh."""

    session: aiohttp.ClientSession
    base: str
    access_token: str = ""
    refresh_token: str = ""

    @property
    def client_id(self) -> str:
        """Return the OAuth client id: HA's own URL, as the frontend uses."""
        return f"{self.base}/"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    async def answers(self) -> bool:
        """Return whether HA's HTTP server is up: the login providers answer without a token.

        They answer 400 with `onboarding_required` before onboarding.
        """
        async with self.session.get(f"{self.base}/auth/providers") as response:
            return response.status in (200, 400)

    async def onboarding_steps(self) -> dict[str, bool]:
        """Onboarding step → done. Once onboarded, HA no longer serves these views."""
        async with self.session.get(f"{self.base}/api/onboarding") as response:
            if response.status == 404:
                return dict.fromkeys(("user", "core_config", "analytics", "integration"), True)
            response.raise_for_status()
            steps: list[Json] = await response.json()
            return {str(step["step"]): bool(step["done"]) for step in steps}

    async def _token(self, data: Mapping[str, str]) -> None:
        async with self.session.post(f"{self.base}/auth/token", data=dict(data)) as response:
            body = await response.json(content_type=None)
            if response.status != 200:
                raise DemoError(f"token request refused: {response.status} {body}")
        self.access_token = body["access_token"]
        self.refresh_token = body.get("refresh_token", self.refresh_token)

    async def exchange_code(self, code: str) -> None:
        """Exchange an authorization code for the tokens."""
        await self._token(
            {"grant_type": "authorization_code", "code": code, "client_id": self.client_id}
        )

    async def refresh(self) -> None:
        """Get a new access token with the refresh token."""
        await self._token(
            {
                "grant_type": "refresh_token",
                "refresh_token": self.refresh_token,
                "client_id": self.client_id,
            }
        )

    async def request(
        self, method: str, path: str, payload: Any = None, *, expect: Sequence[int] = (200,)
    ) -> Any:
        """Send a JSON request with the access token (refreshed once on 401); return the body."""
        for attempt in range(2):
            async with self.session.request(
                method, f"{self.base}{path}", json=payload, headers=self._headers()
            ) as response:
                if response.status == 401 and attempt == 0 and self.refresh_token:
                    await self.refresh()
                    continue
                body = await response.json(content_type=None) if response.content_length else None
                if response.status not in expect:
                    raise DemoError(f"{method} {path}: HTTP {response.status} {body}")
                return body
        raise DemoError(f"{method} {path}: not authorized")

    async def get_json(self, path: str) -> tuple[int, Any]:
        """GET returning (status, body) without raising on HTTP errors (the live view)."""
        for attempt in range(2):
            async with self.session.get(f"{self.base}{path}", headers=self._headers()) as response:
                if response.status == 401 and attempt == 0 and self.refresh_token:
                    await self.refresh()
                    continue
                try:
                    body = await response.json(content_type=None)
                except (ValueError, aiohttp.ContentTypeError):
                    body = None
                return response.status, body
        return 401, None

    # -- onboarding and login ----------------------------------------------------------
    async def onboard(self, password: str) -> None:
        """Walk HA's onboarding: owner user, core config, analytics, integration step."""
        steps = await self.onboarding_steps()
        if not steps.get("user"):
            async with self.session.post(
                f"{self.base}/api/onboarding/users",
                json={
                    "client_id": self.client_id,
                    "name": "Demo",
                    "username": USERNAME,
                    "password": password,
                    "language": "en",
                },
            ) as response:
                body = await response.json(content_type=None)
                if response.status != 200:
                    raise DemoError(f"onboarding (user) refused: {response.status} {body}")
            await self.exchange_code(body["auth_code"])
        else:
            await self.login(password)
        if not steps.get("core_config"):
            await self.request("POST", "/api/onboarding/core_config", {})
        if not steps.get("analytics"):
            await self.request("POST", "/api/onboarding/analytics", {})
        if not steps.get("integration"):
            await self.request(
                "POST",
                "/api/onboarding/integration",
                {"client_id": self.client_id, "redirect_uri": f"{self.base}/?auth_callback=1"},
            )

    async def login(self, password: str) -> None:
        """Log in through HA's login flow (an instance onboarded by an earlier run)."""
        flow = await self._post_plain(
            "/auth/login_flow",
            {
                "client_id": self.client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": f"{self.base}/?auth_callback=1",
            },
        )
        result = await self._post_plain(
            f"/auth/login_flow/{flow['flow_id']}",
            {"client_id": self.client_id, "username": USERNAME, "password": password},
        )
        if result.get("type") != "create_entry":
            raise DemoError(
                f"login as {USERNAME!r} failed ({result.get('errors')}); remove "
                "build/demo/config or run without --keep"
            )
        await self.exchange_code(result["result"])

    async def _post_plain(self, path: str, payload: Json) -> Json:
        async with self.session.post(f"{self.base}{path}", json=payload) as response:
            body: Json = await response.json(content_type=None)
            if response.status != 200:
                raise DemoError(f"POST {path}: HTTP {response.status} {body}")
            return body

    async def remove_onboarding_entries(self) -> list[str]:
        """Remove what the core-config step set up on its own (weather, TTS, shopping list).

        They are not part of the demo, and their requirements are not installed.
        """
        entries: list[Json] = await self.request("GET", "/api/config/config_entries/entry")
        removed = []
        for entry in entries:
            if entry.get("source") == "onboarding":
                path = f"/api/config/config_entries/entry/{entry['entry_id']}"
                await self.request("DELETE", path)
                removed.append(str(entry["domain"]))
        return removed

    async def call_service(self, service: str, data: Json, *, response: bool = False) -> Any:
        """Call `nina_session.<service>`; its response data when `response` is set.

        DemoError with HA's message when the action is refused (e.g. the entry still loading).
        """
        query = "?return_response" if response else ""
        path = f"/api/services/{DOMAIN}/{service}{query}"
        for attempt in range(2):
            async with self.session.post(
                f"{self.base}{path}", json=data, headers=self._headers()
            ) as reply:
                if reply.status == 401 and attempt == 0 and self.refresh_token:
                    await self.refresh()
                    continue
                text = await reply.text()
                if reply.status != 200:
                    raise DemoError(f"{service}: HTTP {reply.status} {text[:200]}")
                body = json.loads(text) if text else None
                return body.get("service_response") if isinstance(body, dict) else body
        raise DemoError(f"{service}: not authorized")

    # -- the config flow ---------------------------------------------------------------
    async def entries(self) -> list[Json]:
        """Return the NINA Session config entries."""
        entries: list[Json] = await self.request(
            "GET", f"/api/config/config_entries/entry?domain={DOMAIN}"
        )
        return entries

    async def add_entry(self, host: str, port: int) -> str:
        """Create the NINA Session entry through the config flow; its entry id."""
        result = await self._complete_flow(
            "/api/config/config_entries/flow",
            {"handler": DOMAIN, "show_advanced_options": False},
            {"host": host, "port": port, "tls": False, "verify_tls": True, "name": "Observatory"},
        )
        entry_id: str = result["result"]["entry_id"]
        return entry_id

    async def set_options(self, entry_id: str, options: Json) -> None:
        """Save `options` (the rest keep their defaults) through the options flow."""
        await self._complete_flow(
            "/api/config/config_entries/options/flow", {"handler": entry_id}, options
        )

    async def _complete_flow(self, path: str, start: Json, answer: Json) -> Json:
        """Start the data entry flow at `path`, answer its one form; the flow's result."""
        flow: Json = await self.request("POST", path, start)
        if flow.get("type") != "form":
            raise DemoError(f"{path} did not show its form: {flow}")
        result: Json = await self.request("POST", f"{path}/{flow['flow_id']}", answer)
        if result.get("type") != "create_entry":
            raise DemoError(f"{path} did not finish: {result}")
        return result


# -- the WebSocket API (dashboard) ---------------------------------------------------------
async def websocket_calls(api: HomeAssistantApi, messages: Sequence[Json]) -> list[Any]:
    """Send commands over HA's WebSocket API, one after another; their results."""
    url = api.base.replace("http", "ws", 1) + "/api/websocket"
    results: list[Any] = []
    async with api.session.ws_connect(url) as ws:
        greeting = await ws.receive_json()
        if greeting.get("type") != "auth_required":
            raise DemoError(f"unexpected WebSocket greeting {greeting}")
        await ws.send_json({"type": "auth", "access_token": api.access_token})
        auth = await ws.receive_json()
        if auth.get("type") != "auth_ok":
            raise DemoError(f"WebSocket authentication failed: {auth}")
        for number, message in enumerate(messages, start=1):
            await ws.send_json({**message, "id": number})
            while True:
                reply = await ws.receive_json(timeout=30)
                if reply.get("id") == number and reply.get("type") == "result":
                    break
            if not reply.get("success"):
                raise DemoError(f"WebSocket {message['type']} failed: {reply.get('error')}")
            results.append(reply.get("result"))
    return results


def entities_by_key(entities: Sequence[Json]) -> dict[str, str]:
    """Return translation key → entity id (enabled entities only; the first of each key)."""
    by_key: dict[str, str] = {}
    for entity in entities:
        key = entity.get("translation_key")
        if key and not entity.get("disabled_by"):
            by_key.setdefault(key, entity["entity_id"])
    return by_key


def dashboard_config(entry_id: str, entities: Sequence[Json]) -> Json:
    """Return a one-view dashboard: the session card, the entities, their history."""
    by_key = entities_by_key(entities)
    wanted = (
        "session_state",
        "current_target",
        "current_filter",
        "session_frames",
        "integration_time",
        "last_hfr",
        "last_star_count",
        "guiding_rms",
        "camera_temperature",
        "connected",
        "guiding",
        "sequence_running",
    )
    listed = [by_key[key] for key in wanted if key in by_key]
    cards: list[Json] = [
        {"type": f"custom:{DOMAIN.replace('_', '-')}-card", "entry_id": entry_id},
    ]
    if listed:
        cards.append({"type": "entities", "title": "NINA entities", "entities": listed})
    if report := by_key.get("night_report"):
        # The picture has its own title ("Night of ..."); a name bar would cover its chart.
        cards.append({"type": "picture-entity", "entity": report, "show_name": False,
                      "show_state": False})  # fmt: skip
    targets = [by_key[key] for key in INSIGHT_KEYS if key in by_key]
    if targets:
        cards.append({"type": "entities", "title": "Target across nights", "entities": targets})
    equipment = [by_key[key] for key in EQUIPMENT_KEYS if key in by_key]
    if equipment:
        cards.append({"type": "entities", "title": "Equipment", "entities": equipment})
    graphs = [by_key[key] for key in ("guiding_rms", "last_hfr") if key in by_key]
    if graphs:
        cards.append({"type": "history-graph", "title": "Quality", "hours_to_show": 12,
                      "entities": graphs})  # fmt: skip
    return {
        "title": "Observatory",
        "views": [{"title": "Tonight", "path": "tonight", "type": "masonry", "cards": cards}],
    }


async def entry_entities(api: HomeAssistantApi, entry_id: str) -> list[Json]:
    """Return the entity registry entries of the config entry."""
    (entities,) = await websocket_calls(api, [{"type": "config/entity_registry/list"}])
    return [entity for entity in entities if entity.get("config_entry_id") == entry_id]


async def save_dashboard(api: HomeAssistantApi, entry_id: str) -> None:
    """Save the default dashboard with the entry's card and entities."""
    ours = await entry_entities(api, entry_id)
    await websocket_calls(
        api, [{"type": "lovelace/config/save", "config": dashboard_config(entry_id, ours)}]
    )


async def wait_for_equipment(api: HomeAssistantApi, entry_id: str) -> None:
    """Wait until the equipment entities exist (made when the devices are first read)."""
    wanted = {"parked", "mount_park", "cooler_temperature"}

    async def created() -> bool:
        return wanted <= entities_by_key(await entry_entities(api, entry_id)).keys()

    try:
        await wait_until("the equipment entities", created, ENTITIES_TIMEOUT)
    except DemoError as err:
        say(f"note: {err}; the dashboard shows what there is")


def goal_hours(seconds: float) -> float:
    """Return a goal for a filter: twice what is stored, in half hours (at least one)."""
    return max(1.0, math.ceil(2 * seconds / 1800) / 2)


async def set_goals(api: HomeAssistantApi, entry_id: str) -> None:
    """Give every stored target a goal per filter (nina_session.set_target_goal).

    Waits for the backfill to store the earlier nights first; the goals are twice what they
    hold, so the goal progress sensor starts half way and grows with tonight's frames.
    """
    answer: Json | None = None

    async def loaded() -> bool:
        # Never ask before: HA's REST API logs a refused action with a traceback.
        return any(
            e["entry_id"] == entry_id and e.get("state") == "loaded" for e in await api.entries()
        )

    async def stored() -> bool:
        nonlocal answer
        try:
            answer = await api.call_service(
                "get_targets", {"config_entry_id": entry_id}, response=True
            )
        except DemoError:  # the entry is still loading
            return False
        return bool((answer or {}).get("targets"))

    try:
        await wait_until("the config entry to load", loaded, ENTITIES_TIMEOUT)
        await wait_until("the earlier nights in the store", stored, ENTITIES_TIMEOUT)
    except DemoError as err:
        say(f"note: {err}; no target goals set")
        return
    goals = []
    for target in (answer or {}).get("targets", []):
        for name, slot in (target.get("by_filter") or {}).items():
            hours = goal_hours(float(slot.get("seconds") or 0.0))
            await api.call_service(
                "set_target_goal",
                {"config_entry_id": entry_id, "target": target["name"], "filter": name,
                 "hours": hours},
            )  # fmt: skip
            goals.append(f"{target['name']} {name} {hours:g} h")
    say(f"target goals through nina_session.set_target_goal: {', '.join(goals)}")


# -- the live view -------------------------------------------------------------------------
def _hm(seconds: float | None) -> str:
    if not seconds:
        return "0m"
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"


def _local_time(value: str | None) -> str:
    if not value:
        return "--:--"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.astimezone().strftime("%H:%M:%S")


def _number(value: Any, digits: int = 2, unit: str = "") -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-"
    return f"{value:.{digits}f}{unit}"


def has_real_data(session: Any) -> bool:
    """Return whether a session is real data (not a placeholder): state, id, frames or target."""
    if not isinstance(session, dict) or not session.get("state") or not session.get("id"):
        return False
    frames = session.get("frames") or {}
    current = session.get("current") or {}
    return bool(frames.get("total") or current.get("target") or session.get("targets"))


def render_session(session: Any, health: Any, status: int, width: int = 78) -> list[str]:
    """Render the session and health as terminal lines."""
    lines: list[str] = []
    if status != 200 or not isinstance(session, dict):
        code = session.get("error") if isinstance(session, dict) else None
        message = session.get("message") if isinstance(session, dict) else None
        lines.append(f"No open session yet ({status} {code or ''}: {message or 'waiting'})")
    else:
        history = session.get("state_history") or []
        since = history[-1] if history else {}
        state = str(session.get("state", "?")).upper()
        lines.append(
            f"State    {state:<12} since {_local_time(since.get('since'))}"
            f"  ({since.get('cause') or '-'})"
        )
        current = session.get("current") or {}
        lines.append(
            f"Target   {current.get('target') or '-':<12} filter {current.get('filter') or '-':<6}"
            f" {current.get('image_type') or ''} {_number(current.get('exposure'), 0, ' s')}"
            f"  last frame {_local_time(current.get('last_image_at'))}"
        )
        frames = session.get("frames") or {}
        by_type = ", ".join(f"{k} {v}" for k, v in (frames.get("by_type") or {}).items())
        lines.append(
            f"Frames   {frames.get('total', 0):<5} ({by_type or 'none yet'})"
            f"   integration {_hm(session.get('integration_seconds'))}"
        )
        by_filter: dict[str, Json] = frames.get("by_filter") or {}
        longest = max((slot.get("seconds") or 0.0 for slot in by_filter.values()), default=0.0)
        bar_width = max(10, width - 40)
        for name, slot in by_filter.items():
            seconds = slot.get("seconds") or 0.0
            filled = round(bar_width * seconds / longest) if longest else 0
            bar = "█" * filled + "░" * (bar_width - filled)
            lines.append(f"  {name:<6} {bar} {slot.get('count', 0):>3} x {_hm(seconds):>7}")
        quality = session.get("quality") or {}
        lines.append(
            f"Quality  HFR {_number(quality.get('hfr_last'))}"
            f" (mean {_number(quality.get('hfr_mean'))})"
            f"  stars {quality.get('stars_last') or '-'}"
            f"  guiding RMS {_number(quality.get('guiding_rms_last'), 2, '″')}"
            f" (mean {_number(quality.get('guiding_rms_mean'), 2, '″')})"
        )
        counts = session.get("counts") or {}
        lines.append(
            "Counts   " + "  ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items())
        )
        steps = [f"{step.get('state')} {_local_time(step.get('since'))[:5]}" for step in history]
        timeline = " ▸ ".join(steps[-6:])
        lines.append(f"Timeline {'… ' if len(steps) > 6 else ''}{timeline}")
        lines.append(
            f"Session  {session.get('id')}  targets {', '.join(session.get('targets') or [])}"
        )
    if isinstance(health, dict):
        events = health.get("events") or {}
        lines.append(
            f"NINA     {'connected' if health.get('connected') else 'DISCONNECTED'}"
            f"  plugin {health.get('plugin_version') or '?'}"
            f"  reconnects {health.get('reconnects', 0)}"
            f"  events {events.get('processed', 0)}/{events.get('received', 0)}"
            f" (backfilled {events.get('backfilled', 0)})"
        )
    return lines


@dataclass
class LiveView:
    """Polls the session view; redraws it on a terminal, prints changes otherwise."""

    api: HomeAssistantApi
    entry_id: str
    header: list[str]
    redraw: bool
    seen_real_data: bool = False
    polls: int = 0
    _last: list[str] = field(default_factory=list)

    async def poll(self) -> None:
        """Fetch the session and health once, and show them."""
        status, session = await self.api.get_json(f"/api/{DOMAIN}/session?entry_id={self.entry_id}")
        _, health = await self.api.get_json(f"/api/{DOMAIN}/health?entry_id={self.entry_id}")
        self.polls += 1
        if status == 200 and has_real_data(session):
            self.seen_real_data = True
        lines = render_session(session, health, status, shutil.get_terminal_size().columns)
        if self.redraw:
            now = datetime.now(UTC).astimezone().strftime("%H:%M:%S")
            screen = [*self.header, "", *lines, "", f"{now}  Ctrl-C stops the demo."]
            sys.stdout.write("\x1b[H\x1b[2J" + "\n".join(screen) + "\n")
            sys.stdout.flush()
        elif lines[:2] != self._last[:2]:
            # Without a terminal: one line when the state or the target/filter changed.
            print(" | ".join(line.strip() for line in lines[:3]), flush=True)
        self._last = lines


# -- the whole demo ------------------------------------------------------------------------
async def run(settings: Settings) -> int:
    """Run the demo: HA, onboarding, simulator, config entry, dashboard, live view."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    children: list[Child] = []
    base = f"http://127.0.0.1:{settings.port}"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            api = HomeAssistantApi(session, base)
            hass = await start_hass(settings)
            children.append(hass)

            async def hass_up() -> bool:
                return await api.answers()

            started = time.monotonic()
            await _until_or_stop(
                stop, wait_until("Home Assistant's HTTP API", hass_up, HA_START_TIMEOUT, [hass])
            )
            say(f"Home Assistant answers after {time.monotonic() - started:.0f} s; onboarding")
            await api.onboard(settings.password)

            sim = await start_simulator(settings)
            children.append(sim)

            async def sim_up() -> bool:
                url = f"http://127.0.0.1:{settings.sim_port}/v2/api/version"
                async with session.get(url) as response:
                    return response.status == 200

            await _until_or_stop(stop, wait_until("the simulator", sim_up, 60, [sim]))
            existing = await api.entries()
            if existing:
                entry_id = existing[0]["entry_id"]
                say(f"reusing config entry {entry_id}")
            else:
                entry_id = await api.add_entry("127.0.0.1", settings.sim_port)
                say(f"config entry {entry_id} created through the config flow")
                window = demo_dedup_window(settings.speed)
                await api.set_options(
                    entry_id,
                    {"dedup_window_seconds": window, "idle_gap_minutes": DEMO_IDLE_GAP_MINUTES},
                )
                say(f"duplicate window {window:g} s, idle gap {DEMO_IDLE_GAP_MINUTES} min through "
                    f"the options flow (night at {settings.speed:g}x, nights "
                    f"{DEMO_DAY_SECONDS} s apart)")  # fmt: skip
            if removed := await api.remove_onboarding_entries():
                say(f"removed the entries onboarding added on its own: {', '.join(removed)}")
            await _until_or_stop(stop, set_goals(api, entry_id))
            await _until_or_stop(stop, wait_for_equipment(api, entry_id))
            await save_dashboard(api, entry_id)
            card_status, _ = await api.get_json(CARD_URL)
            if card_status != 200:
                say(f"note: {CARD_URL} answered {card_status}: the session card is not served")
            header = [
                "NINA Session demo",
                f"  Home Assistant: {base}   login: {USERNAME} / {settings.password}",
                f"  simulator:      http://127.0.0.1:{settings.sim_port}  "
                f"(POST /sim/drop, /sim/restart?downtime=30, ...)",
                f"  night '{settings.night}' at {settings.speed:g}x;"
                f" logs in {rel(settings.workdir)}/",
            ]
            for line in header:
                print(line, flush=True)
            write_info(settings, api, entry_id)
            view = LiveView(api, entry_id, header, redraw=settings.interactive and _tty())
            return await _live(settings, view, stop, children)
    except DemoError as err:
        say(f"failed: {err}")
        return 1
    finally:
        for child in reversed(children):
            say(f"stopping {child.name}")
            await child.stop()
        if settings.info is not None:
            settings.info.unlink(missing_ok=True)
        say("stopped")


async def _until_or_stop(stop: asyncio.Event, work: Any) -> None:
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if task not in done:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise DemoError("interrupted")
    task.result()


def _tty() -> bool:
    return sys.stdout.isatty() and os.environ.get("TERM") != "dumb"


async def _live(
    settings: Settings, view: LiveView, stop: asyncio.Event, children: Sequence[Child]
) -> int:
    deadline = None if settings.duration is None else time.monotonic() + settings.duration
    while not stop.is_set():
        for child in children:
            if not child.running:
                say(f"{child.name} exited unexpectedly; last lines:\n{child.tail()}")
                return 1
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            await view.poll()
        if deadline is not None and time.monotonic() >= deadline:
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), POLL_SECONDS)
    if settings.duration is None:
        return 0
    if view.seen_real_data:
        say(f"check passed: the session view returned real data ({view.polls} polls)")
        return 0
    say(f"check FAILED: no real session data in {settings.duration:.0f} s ({view.polls} polls)")
    return 1


def write_info(settings: Settings, api: HomeAssistantApi, entry_id: str) -> None:
    """Write the URL, login, tokens and entry id to --info as JSON (atomically)."""
    if settings.info is None:
        return
    settings.info.parent.mkdir(parents=True, exist_ok=True)
    info = {
        "url": api.base,
        "username": USERNAME,
        "password": settings.password,
        "client_id": api.client_id,
        "access_token": api.access_token,
        "refresh_token": api.refresh_token,
        "entry_id": entry_id,
        "simulator": f"http://127.0.0.1:{settings.sim_port}",
        "card_url": CARD_URL,
        "night": settings.night,
        "speed": settings.speed,
    }
    tmp = settings.info.with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=2), encoding="utf-8")
    tmp.replace(settings.info)


def main(argv: Sequence[str] | None = None) -> int:
    """Install the extras, prepare the config and run the demo; return the exit status."""
    settings = settings_from(argv)
    try:
        if settings.install:
            install_requirements()
        else:
            require_requirements()
        prepare_config(settings)
        (settings.workdir / SIM_PORT_FILE).write_text(f"{settings.sim_port}\n", encoding="utf-8")
    except (DemoError, subprocess.CalledProcessError, OSError) as err:
        say(f"failed: {err}")
        return 1
    return asyncio.run(run(settings))


if __name__ == "__main__":
    sys.exit(main())
