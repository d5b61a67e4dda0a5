"""Find and download `homeassistant` releases from the package index (download only).

The index is read through its JSON simple API (PEP 691), not through `pip index`: pip filters
releases by the Python it is told to pretend to be, and HA's `Requires-Python` floors move in
patch steps (2026.3 and later need Python >= 3.14.2, which `--python-version 3.14` = 3.14.0
does not meet). That silently hid nine months of releases from "the newest". We only read a
release's sources, so every final release with a pure-Python wheel counts, whatever Python it
needs (the Python floor is checked separately, against the wheel's metadata).

The index is `$PIP_INDEX_URL` when set, else the `index-url` pip is configured with, else PyPI. Downloads are checked against the sha256
the index lists and written atomically into the cache, where they are reused.
"""

from __future__ import annotations

from dataclasses import dataclass
import functools
import hashlib
import json
import os
from pathlib import Path
import re
import subprocess
import sys
from typing import Any
import urllib.error
import urllib.parse
import urllib.request

PACKAGE = "homeassistant"
DEFAULT_INDEX = "https://pypi.org/simple"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
_VERSION = re.compile(r"^(\d{4})\.(\d{1,2})\.(\d+)$")
_WHEEL = re.compile(rf"^{PACKAGE}-(?P<version>[^-]+)-py3-none-any\.whl$")


class IndexUnreachableError(Exception):
    """The package index could not be reached (offline, DNS, proxy, timeout)."""


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


@functools.cache
def _pip_configured_index() -> str | None:
    """Return the `index-url` pip is configured with (pip.conf, a mirror), if any."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in proc.stdout.splitlines():
        key, _, value = line.partition("=")
        if key.strip().endswith(".index-url") and value.strip().strip("'\"").startswith("http"):
            return value.strip().strip("'\"")
    return None


def index_url() -> str:
    """Return the simple index to read: `$PIP_INDEX_URL`, pip's configured one, else PyPI."""
    return (os.environ.get("PIP_INDEX_URL") or _pip_configured_index() or DEFAULT_INDEX).rstrip("/")


def http_get(url: str, accept: str | None = None, timeout: float = 120) -> bytes:
    """GET a URL; any network failure becomes IndexUnreachableError."""
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return bytes(response.read())
    except urllib.error.HTTPError as err:
        if err.code == 404:
            raise RuntimeError(f"{url}: not on the index (404)") from err
        raise IndexUnreachableError(f"{url.split('/')[2]}: HTTP {err.code}") from err
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise IndexUnreachableError(f"{url.split('/')[2]}: {reason}") from err


def project_files(index: str | None = None, project: str = PACKAGE) -> list[dict[str, Any]]:
    """Return the index's file entries for a project (PEP 691 `files`), read once per run."""
    return list(_listing(index or index_url(), project))


@functools.cache
def _listing(base: str, project: str) -> tuple[dict[str, Any], ...]:
    """Fetch a project's listing (a few hundred kB for homeassistant) once per index."""
    try:
        listing = json.loads(http_get(f"{base}/{project}/", SIMPLE_JSON))
    except ValueError as err:
        raise RuntimeError(f"{base}/{project}/ did not answer PEP 691 JSON: {err}") from err
    files = listing.get("files") if isinstance(listing, dict) else None
    return tuple(item for item in files or [] if isinstance(item, dict))


def _live(item: dict[str, Any]) -> bool:
    """Return whether a file entry is not yanked."""
    return not item.get("yanked")


def wheels(files: list[dict[str, Any]]) -> dict[Version, dict[str, Any]]:
    """Return each final release's pure-Python wheel entry."""
    found: dict[Version, dict[str, Any]] = {}
    for item in files:
        match = _WHEEL.match(str(item.get("filename", "")))
        version = Version.parse(match["version"]) if match else None
        if version is not None and _live(item):
            found[version] = item
    return found


def all_versions(index: str | None = None) -> list[Version]:
    """Return every final release with a wheel on the index, oldest first (any Python)."""
    return sorted(wheels(project_files(index)))


def first_of_each_month(versions: list[Version]) -> list[Version]:
    """Return the first release of every month (X.Y.0, or the lowest patch that exists)."""
    firsts: dict[tuple[int, int], Version] = {}
    for version in sorted(versions):
        firsts.setdefault((version.year, version.month), version)
    return sorted(firsts.values())


def file_url(
    filename: str, index: str | None = None, project: str = PACKAGE
) -> tuple[str, str | None]:
    """Return the URL and listed sha256 of one of a project's files on the index."""
    page = f"{index or index_url()}/{project}/"
    for item in project_files(index, project):
        if item.get("filename") == filename and _live(item):
            hashes = item.get("hashes") or {}
            url = urllib.parse.urljoin(page, str(item["url"]))  # PEP 691 URLs may be relative
            return url, hashes.get("sha256") if isinstance(hashes, dict) else None
    raise RuntimeError(f"the index has no file {filename}")


def fetch_verified(url: str, sha256: str | None) -> bytes:
    """Download `url`, refusing content whose sha256 differs from the index's."""
    data = http_get(url, timeout=300)
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256.lower():
        raise RuntimeError(f"{url.rsplit('/', 1)[-1]}: sha256 differs from the index's")
    return data


def wheel_path(cache: Path, version: Version | str, project: str = PACKAGE) -> Path:
    """Where the pure-Python wheel of a release lies in the cache."""
    return cache / "wheels" / f"{project}-{version}-py3-none-any.whl"


def download(version: Version | str, cache: Path, project: str = PACKAGE) -> Path:
    """Download one release's pure-Python wheel into the cache (no dependencies, no install)."""
    target = wheel_path(cache, version, project)
    if target.is_file():
        return target
    data = fetch_verified(*file_url(target.name, project=project))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")  # a cut-off download is never reused
    partial.write_bytes(data)
    partial.replace(target)
    return target
