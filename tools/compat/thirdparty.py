"""Third-party modules our integration imports must come with each Home Assistant release.

A custom integration gets only what Home Assistant installs (the wheel's `Requires-Dist`) and
what its own manifest requires (ours: nothing). Home Assistant 2026.x dropped voluptuous for
probatio and, in `homeassistant/__init__.py`, aliases `import voluptuous` to probatio's shim,
which offers only the part of voluptuous probatio mirrors. So, per release:

- every module we import is the standard library, a `Requires-Dist` of the release, a manifest
  requirement, or aliased by Home Assistant itself;
- where Home Assistant swaps the implementation behind a module (an alias with a known
  surface), every name we take from it must be in that surface, read from the pinned
  provider's own wheel.

Names from packages Home Assistant ships itself (aiohttp) are that package's own API: their
rows say where the module comes from, not that each name was checked.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from dataclasses import dataclass
import json
from pathlib import Path
import re
import sys
from typing import Any
import zipfile

from .hasource import SourceTree
from .model import Chain, Finding, Row, Status, Usage

THIRD_PARTY = "(third-party)"


@dataclass(frozen=True)
class Alias:
    """Home Assistant installing another package under a module's name."""

    module: str  # the name our code imports
    marker: str  # what homeassistant/__init__.py calls to install it
    provider: str  # the distribution behind it
    surface_file: str | None  # provider's file listing the names it offers ...
    surface_name: str | None  # ... as this top-level tuple


ALIASES = (
    Alias(
        "voluptuous", "install_as_voluptuous(", "probatio", "probatio/_vol_shim/_surface.py", "TOP"
    ),
    Alias("httpx", "alias_httpx(", "httpx2", None, None),
)

SurfaceReader = Callable[[str, str, str, str], frozenset[str]]  # provider, version, file, name


@dataclass(frozen=True)
class Provision:
    """Where a release gets a module from, and the names it offers when we know them."""

    detail: str
    surface: frozenset[str] | None = None


def _top_module(name: str) -> str:
    return name.split(".", 1)[0]


def _is_ours(module: str) -> bool:
    return module in sys.stdlib_module_names or module in {"homeassistant", "__future__"}


def collect_imports(package_dir: Path, repo: Path | None = None) -> list[Usage]:
    """Our imports of third-party modules: one usage per module and per name taken from it."""
    usages: list[Usage] = []
    for path in sorted(package_dir.rglob("*.py")):
        rel = str(path.relative_to(repo)) if repo and path.is_relative_to(repo) else str(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for item in node.names:
                    top = _top_module(item.name)
                    if not _is_ours(top):
                        usages.append(Usage(Chain(module=top), rel, node.lineno))
                        aliases[item.asname or top] = top
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                top = _top_module(node.module)
                if not _is_ours(top):
                    usages.append(Usage(Chain(module=top), rel, node.lineno))
                    if node.module == top:
                        usages.extend(
                            Usage(Chain(module=f"{top}.{item.name}"), rel, node.lineno)
                            for item in node.names
                        )
        usages.extend(
            Usage(Chain(module=f"{aliases[node.value.id]}.{node.attr}"), rel, node.lineno)
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        )
    return usages


def read_manifest(package_dir: Path) -> dict[str, Any]:
    """Return our manifest.json, or {} when it is missing or unreadable."""
    try:
        manifest = json.loads((package_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def manifest_requirements(package_dir: Path) -> list[str]:
    """Return the `requirements` of our manifest."""
    requirements = read_manifest(package_dir).get("requirements") or []
    return [r for r in requirements if isinstance(r, str)]


def _distribution(requirement: str) -> tuple[str, str | None]:
    """Return the normalized name and the `==` pin of a requirement line."""
    match = re.match(r"\s*([A-Za-z0-9._-]+)", requirement)
    name = re.sub(r"[-_.]+", "_", match[1]).lower() if match else ""
    pin = re.search(r"==\s*([\w.]+)", requirement)
    return name, pin[1] if pin else None


def read_surface(wheel: Path, file: str, name: str) -> frozenset[str]:
    """Return the names a provider's wheel lists in a top-level tuple of one of its files."""
    with zipfile.ZipFile(wheel) as archive:
        if file not in archive.namelist():
            raise RuntimeError(f"{wheel.name} has no {file}: cannot tell which names it offers")
        tree = ast.parse(archive.read(file).decode("utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return frozenset(ast.literal_eval(node.value))
    raise RuntimeError(f"{wheel.name}: {file} defines no {name}")


@dataclass(frozen=True)
class Release:
    """What a release installs: its pinned requirements and its package `__init__` text."""

    required: dict[str, str | None]
    init: str

    @classmethod
    def of(cls, src: SourceTree) -> Release:
        """Read both once from a release's sources."""
        required = dict(_distribution(r) for r in src.requires_dist)
        return cls(required, src.text("homeassistant/__init__.py") or "")


def provision(
    module: str, release: Release, manifest: Iterable[str], surface: SurfaceReader
) -> Provision | None:
    """Return how a release provides `module`, or None when it does not."""
    required, init = release.required, release.init
    for alias in ALIASES:
        if alias.module == module and alias.marker in init:
            pin = required.get(_distribution(alias.provider)[0])
            detail = f"aliased by Home Assistant to {alias.provider}" + (f"=={pin}" if pin else "")
            if alias.surface_file is None or alias.surface_name is None or pin is None:
                return Provision(detail)
            return Provision(
                detail, surface(alias.provider, pin, alias.surface_file, alias.surface_name)
            )
    key = _distribution(module)[0]
    if key in required:
        pin = required[key]
        return Provision(f"{module}{'==' + pin if pin else ''}, required by Home Assistant")
    if key in {_distribution(r)[0] for r in manifest}:
        return Provision(f"{module}, required by our manifest")
    return None


def _finding(found: Provision | None, module: str, name: str) -> Finding:
    if found is None:
        return Finding(
            Status.MISSING, f"{module}: not installed by this release, not in our manifest"
        )
    if not name:
        return Finding(Status.OK, found.detail)
    if found.surface is None:
        return Finding(Status.OK, f"{found.detail}; its own API, not checked name by name")
    if name in found.surface:
        return Finding(Status.OK, found.detail)
    return Finding(Status.MISSING, f"not offered: {found.detail}")


def check(
    usages: list[Usage],
    sources: dict[str, SourceTree],
    manifest: Iterable[str],
    surface: SurfaceReader,
    rows: dict[str, Row],
) -> None:
    """Add one row per third-party module and per name taken from it, for every release."""
    ours: dict[str, tuple[str, str]] = {}  # row label -> (module, name or "")
    for usage in usages:
        module, _, name = usage.chain.module.partition(".")
        label = usage.chain.module if name else f"{module} {THIRD_PARTY}"
        rows.setdefault(label, Row(label)).usages.append(usage)
        ours[label] = (module, name)
    requirements = list(manifest)
    modules = {module for module, _ in ours.values()}
    for version, src in sources.items():
        release = Release.of(src)
        provided = {m: provision(m, release, requirements, surface) for m in modules}
        for label, (module, name) in ours.items():
            rows[label].findings[version] = _finding(provided[module], module, name)
