"""Prove our ruff configuration is Home Assistant core's, by comparing it with a release's own.

The rules live in HA's `pyproject.toml`, which the wheel does not carry but the source
distribution on the package index does. It is downloaded once into the compat cache (only that
file is kept) and compared with ours:

- every rule HA selects must be selected by us (exactly, or by a broader prefix we select);
- none of our global ignores may switch off part of what HA selects, unless HA ignores it too;
- the ruff we pin must satisfy HA's `required-version`.

Per-file relaxations on the integration are listed, not failed: each is explained in our
`pyproject.toml`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
import io
from pathlib import Path
import re
import tarfile
import tomllib
from typing import Any

from .hafetch import PACKAGE, Version, fetch_verified, file_url


@dataclass
class RuffComparison:
    """How our ruff configuration stands against HA's."""

    ha_selected: int = 0
    missing: list[str] = field(default_factory=list)
    extra_ignores: list[str] = field(default_factory=list)
    relaxed: list[str] = field(default_factory=list)
    version_problem: str | None = None

    @property
    def failed(self) -> bool:
        """Return whether HA's rule set is not fully applied."""
        return bool(self.missing or self.extra_ignores or self.version_problem)


def _covers(selector: str, code: str) -> bool:
    """Return whether a rule selector (a code or a prefix such as `PL`) covers a code."""
    return selector == "ALL" or code.startswith(selector)


def _overlaps(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


def compare(ours: Mapping[str, Any], ha: Mapping[str, Any], ruff_version: str) -> RuffComparison:
    """Compare two `[tool.ruff]` tables (ours, HA's) and our pinned ruff version."""
    our_lint, ha_lint = ours.get("lint", {}), ha.get("lint", {})
    our_select: list[str] = our_lint.get("select", [])
    our_ignore: list[str] = our_lint.get("ignore", [])
    ha_select: list[str] = ha_lint.get("select", [])
    ha_ignore: list[str] = ha_lint.get("ignore", [])
    result = RuffComparison(ha_selected=len(ha_select))
    result.missing = [
        code for code in ha_select if not any(_covers(sel, code) for sel in our_select)
    ]
    result.extra_ignores = [
        code
        for code in our_ignore
        if any(_overlaps(code, sel) for sel in ha_select)
        and not any(_covers(ignored, code) for ignored in ha_ignore)
    ]
    for pattern, codes in our_lint.get("per-file-ignores", {}).items():
        if pattern.startswith("custom_components"):
            result.relaxed.extend(f"{pattern}: {code}" for code in codes)
    result.version_problem = _version_problem(ha.get("required-version"), ruff_version)
    return result


def _version_problem(required: str | None, ours: str) -> str | None:
    """Say why `ours` does not meet a `>=X.Y.Z` requirement, or None when it does."""
    if not required:
        return None
    match = re.fullmatch(r"\s*>=\s*([\d.]+)\s*", required)
    if match is None:
        return None  # a form we do not parse is not ours to judge
    need = tuple(int(part) for part in match[1].split("."))
    have = tuple(int(part) for part in re.findall(r"\d+", ours)[:3])
    return None if have >= need else f"ruff {ours} is older than HA's {required}"


def pinned_ruff(requirements: Path) -> str:
    """Return the ruff version pinned in a requirements file."""
    for line in requirements.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\s*ruff\s*==\s*([\w.]+)", line)
        if match:
            return match[1]
    raise RuntimeError(f"{requirements} pins no ruff version")


def ha_pyproject(version: Version, cache: Path) -> Path:
    """Return HA's `pyproject.toml` of a release, downloaded once into the cache."""
    target = cache / "pyproject" / f"{PACKAGE}-{version}.toml"
    if target.is_file():
        return target
    sdist = fetch_verified(*file_url(f"{PACKAGE}-{version}.tar.gz"))
    archive = tarfile.open(fileobj=io.BytesIO(sdist), mode="r:gz")
    member = archive.extractfile(f"{PACKAGE}-{version}/pyproject.toml")
    if member is None:
        raise RuntimeError(f"{PACKAGE} {version}'s source has no pyproject.toml")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(member.read())
    return target


def report(result: RuffComparison, version: Version) -> list[str]:
    """Return the lines `make compat` prints for the comparison."""
    lines = [
        f"ruff: HA {version} selects {result.ha_selected} rules; ours covers "
        f"{result.ha_selected - len(result.missing)}, ignores none of them beyond HA's"
        if not result.extra_ignores
        else f"ruff: our ignores switch off rules HA {version} enforces: "
        + ", ".join(result.extra_ignores)
    ]
    if result.missing:
        lines.append("ruff: not selected by us: " + ", ".join(result.missing))
    if result.version_problem:
        lines.append(f"ruff: {result.version_problem}")
    lines.extend(
        f"ruff: per-file relaxation (explained in pyproject.toml) {r}" for r in result.relaxed
    )
    return lines


def ruff_table(path: Path) -> Mapping[str, Any]:
    """Return the `[tool.ruff]` table of a pyproject file."""
    table: Mapping[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))["tool"]["ruff"]
    return table


def check(version: Version, cache: Path, repo: Path) -> tuple[list[str], bool]:
    """Compare our ruff setup with HA `version`'s; return the report lines and failure."""
    theirs = ruff_table(ha_pyproject(version, cache))
    ours = ruff_table(repo / "pyproject.toml")
    result = compare(ours, theirs, pinned_ruff(repo / "requirements" / "test.txt"))
    return report(result, version), result.failed
