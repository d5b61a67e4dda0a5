"""Find and download `homeassistant` wheels with pip (download only, never install)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import re
import subprocess
import sys

PACKAGE = "homeassistant"
# Newer releases need Python 3.14 (and 2025.5-2026.x need >= 3.13.2); older ones accept both.
PYTHON_VERSIONS = ("3.14", "3.13")
_VERSION = re.compile(r"^(\d{4})\.(\d{1,2})\.(\d+)$")


class IndexUnreachableError(Exception):
    """pip could not reach the package index (offline, DNS, proxy)."""


@dataclass(frozen=True, order=True)
class Version:
    """A Home Assistant release number (CalVer year.month.patch)."""

    year: int
    month: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Version | None:
        """Parse '2025.4.4'; None for pre-releases and the 0.x era."""
        match = _VERSION.match(text.strip())
        if not match:
            return None
        return cls(int(match[1]), int(match[2]), int(match[3]))

    def __str__(self) -> str:
        """Return the version as Home Assistant writes it, e.g. 2025.4.4."""
        return f"{self.year}.{self.month}.{self.patch}"


_NETWORK_HINTS = (
    "connection",
    "network",
    "name resolution",
    "temporary failure",
    "timed out",
    "max retries",
    "proxy",
    "ssl",
    "unreachable",
    "no route",
)


def _pip(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pip", *args, "--disable-pip-version-check", "--no-input"]
    cmd += ["--timeout", "30", "--retries", "2"]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603
    except subprocess.TimeoutExpired as err:
        raise IndexUnreachableError(f"pip timed out after {timeout:.0f} s") from err


def _failure(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("WARNING: Location")]
    return lines[-1] if lines else f"pip exited {proc.returncode}"


def _network_reason(text: str) -> str:
    """Return the most telling line of pip's output about a network failure."""
    match = re.search(
        r"(Failed to establish a new connection: [^'\")]+|\[Errno [^\]]+\][^'\")]*)", text
    )
    if match:
        return match[1].strip().rstrip(",")
    lines = [ln.strip() for ln in text.splitlines() if any(h in ln.lower() for h in _NETWORK_HINTS)]
    return lines[-1][:160] if lines else ""


def _raise_for(proc: subprocess.CompletedProcess[str]) -> None:
    text = proc.stderr + proc.stdout
    if any(hint in text.lower() for hint in _NETWORK_HINTS):
        raise IndexUnreachableError(_network_reason(text) or _failure(proc))
    raise RuntimeError(_failure(proc))


def available_versions(python_version: str = PYTHON_VERSIONS[0]) -> list[Version]:
    """Return the final releases the index offers for that Python version, oldest first."""
    proc = _pip(["index", "versions", PACKAGE, "--python-version", python_version], timeout=120)
    if proc.returncode != 0:
        text = (proc.stderr + proc.stdout).lower()
        if "no matching distribution" in text and not any(h in text for h in _NETWORK_HINTS):
            return []
        _raise_for(proc)
    for line in proc.stdout.splitlines():
        if line.startswith("Available versions:"):
            found = (Version.parse(v) for v in line.split(":", 1)[1].split(","))
            return sorted(v for v in found if v is not None)
    match = re.search(rf"^{PACKAGE} \(([^)]+)\)", proc.stdout, re.MULTILINE)
    single = Version.parse(match[1]) if match else None
    return [single] if single else []


def all_versions() -> list[Version]:
    """Releases installable on any of the Python versions we try, oldest first."""
    merged: set[Version] = set()
    for python in PYTHON_VERSIONS:
        merged.update(available_versions(python))
    return sorted(merged)


def newest_version() -> Version:
    """Return the newest final release on the index."""
    versions = all_versions()
    if not versions:
        raise RuntimeError(f"the index lists no release of {PACKAGE}")
    return versions[-1]


def first_of_each_month(versions: list[Version]) -> list[Version]:
    """Return the first release of every month (X.Y.0, or the lowest patch that exists)."""
    firsts: dict[tuple[int, int], Version] = {}
    for version in sorted(versions):
        firsts.setdefault((version.year, version.month), version)
    return sorted(firsts.values())


def wheel_path(cache: Path, version: Version) -> Path:
    """Where the wheel of a release lies in the cache."""
    return cache / "wheels" / f"{PACKAGE}-{version}-py3-none-any.whl"


def download(version: Version, cache: Path) -> Path:
    """Download one release's wheel into the cache (no dependencies, no install)."""
    target = wheel_path(cache, version)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    last = ""
    for python in PYTHON_VERSIONS:
        proc = _pip(
            [
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--python-version",
                python,
                "--dest",
                str(target.parent),
                f"{PACKAGE}=={version}",
            ]
        )
        if proc.returncode == 0:
            break
        text = (proc.stderr + proc.stdout).lower()
        if "no matching distribution" not in text and "requires-python" not in text:
            _raise_for(proc)
        last = _failure(proc)
    else:
        raise RuntimeError(f"cannot download {PACKAGE}=={version}: {last}")
    candidates = sorted(target.parent.glob(f"{PACKAGE}-{version}-*.whl"))
    if not candidates:
        raise RuntimeError(f"pip reported success but no wheel for {version} in {target.parent}")
    if candidates[0] != target:
        candidates[0].rename(target)
    return target
