"""`python -m tools.compat`: check our Home Assistant API usage against HA releases.

    python -m tools.compat                      # 2025.4.4 (what we test on) and the newest release
    python -m tools.compat --versions 2025.4.4,2026.1.x
    python -m tools.compat --monthly            # every month's first release, and the minimum

Wheels are downloaded (never installed) into `--cache` (default build/compat) and read in
place. Exit status: 0 when every symbol exists with a compatible signature and is not
deprecated in the versions checked, 1 otherwise; 0 with one `compat: skipped (...)` line when
the package index cannot be reached.
"""

from __future__ import annotations

import argparse
import ast
from collections.abc import Sequence
from pathlib import Path
import sys

from . import ruffrules, thirdparty
from .check import check_usages
from .hafetch import IndexUnreachableError, Version, all_versions, download, first_of_each_month
from .hasource import SourceTree
from .model import Chain, Finding, Row, Status, Usage
from .report import problems, summarize, summary_line, table, unknowns
from .symbols import collect

BASELINE = Version(2025, 4, 4)  # the release our test suite runs on
OLDEST_SEARCHED = Version(2024, 1, 0)
REPO = Path(__file__).resolve().parents[2]
PACKAGE_DIR = REPO / "custom_components" / "nina_session"
PYTHON_SYNTAX_LABEL = "python syntax"


def python_syntax_minimum(package_dir: Path) -> tuple[int, int]:
    """Lowest Python 3 minor version whose grammar parses all our modules."""
    sources = [(p, p.read_text(encoding="utf-8")) for p in sorted(package_dir.rglob("*.py"))]
    for minor in range(8, 15):
        try:
            for path, text in sources:
                ast.parse(text, filename=str(path), feature_version=(3, minor))
        except SyntaxError:
            continue
        return (3, minor)
    return (3, 99)


def _requires_python_floor(spec: str) -> tuple[int, int] | None:
    for raw in spec.split(","):
        part = raw.strip()
        if part.startswith(">="):
            numbers = part[2:].strip().split(".")
            if len(numbers) >= 2 and numbers[0].isdigit() and numbers[1].isdigit():
                return (int(numbers[0]), int(numbers[1]))
    return None


def manifest_usages(package_dir: Path, repo: Path) -> list[Usage]:
    """Integrations our manifest depends on must exist in Home Assistant."""
    path = package_dir / "manifest.json"
    manifest = thirdparty.read_manifest(package_dir)
    rel = str(path.relative_to(repo)) if path.is_relative_to(repo) else str(path)
    return [
        Usage(Chain(module=f"homeassistant.components.{domain}"), rel, 1)
        for key in ("dependencies", "after_dependencies")
        for domain in manifest.get(key, []) or []
        if isinstance(domain, str)
    ]


def check_versions(
    usages: list[Usage], sources: dict[str, SourceTree], syntax: tuple[int, int] | None = None
) -> dict[str, Row]:
    """Check all usages in each release; one Row per symbol."""
    rows: dict[str, Row] = {}
    for version, src in sources.items():
        check_usages(src, usages, version, rows)
        if syntax is not None:
            floor = _requires_python_floor(src.metadata.get("Requires-Python", ""))
            row = rows.setdefault(PYTHON_SYNTAX_LABEL, Row(PYTHON_SYNTAX_LABEL))
            needed = f"{syntax[0]}.{syntax[1]}"
            if floor is None:
                row.findings[version] = Finding(Status.UNKNOWN, "no Requires-Python in the wheel")
            elif floor < syntax:
                row.findings[version] = Finding(
                    Status.INCOMPATIBLE,
                    f"our code needs Python >= {needed}, this release allows Python "
                    f"{floor[0]}.{floor[1]}",
                )
            else:
                row.findings[version] = Finding(Status.OK, f"needs >= {needed}")
    return rows


class Runner:
    """Holds the collected usages and the wheel cache."""

    def __init__(self, package_dir: Path, cache: Path, *, verbose: bool = False) -> None:
        """Collect our usages of Home Assistant and the Python version our syntax needs."""
        self.package_dir = package_dir
        self.cache = cache
        self.verbose = verbose
        usages, self.errors = collect(
            package_dir, REPO if package_dir.is_relative_to(REPO) else None
        )
        self.usages = usages + manifest_usages(package_dir, REPO)
        self.imports = thirdparty.collect_imports(
            package_dir, REPO if package_dir.is_relative_to(REPO) else None
        )
        self.requirements = thirdparty.manifest_requirements(package_dir)
        self.syntax = python_syntax_minimum(package_dir)
        self._sources: dict[Version, SourceTree] = {}

    def source(self, version: Version) -> SourceTree:
        """Return the sources of one release (downloading its wheel once)."""
        if version not in self._sources:
            wheel = download(version, self.cache)
            self._sources[version] = SourceTree.from_wheel(wheel, str(version))
        return self._sources[version]

    def rows(self, versions: Sequence[Version]) -> dict[str, Row]:
        """Check the given releases: Home Assistant's names, then the third-party modules."""
        sources = {str(v): self.source(v) for v in versions}
        rows = check_versions(self.usages, sources, self.syntax)
        thirdparty.check(self.imports, sources, self.requirements, self.surface, rows)
        return rows

    def surface(self, provider: str, version: str, file: str, name: str) -> frozenset[str]:
        """Return the names a provider's release lists (its wheel downloaded once)."""
        wheel = download(version, self.cache, project=provider)
        return thirdparty.read_surface(wheel, file, name)

    def fails(self, version: Version) -> list[str]:
        """Symbols missing (or with an incompatible signature) in one release."""
        rows = self.rows([version])
        bad = []
        for label, row in sorted(rows.items()):
            finding = row.findings.get(str(version))
            if finding and finding.status in {Status.MISSING, Status.INCOMPATIBLE}:
                bad.append(f"{label} ({finding.status.value}: {finding.detail})")
        return bad


def resolve_requested(text: str, available: list[Version]) -> Version:
    """Return the release `text` names; X.Y.x is the newest patch of X.Y on the index."""
    text = text.strip()
    if text.endswith(".x"):
        year, month = (int(p) for p in text[:-2].split("."))
        matching = [v for v in available if (v.year, v.month) == (year, month)]
        if not matching:
            raise SystemExit(f"compat: no release {text} on the index")
        return matching[-1]
    version = Version.parse(text)
    if version is None:
        raise SystemExit(f"compat: not a release number: {text}")
    return version


def run_default(runner: Runner, versions: list[Version], *, ruff_of: Version | None = None) -> int:
    """Check a list of releases (first and last are named in the summary).

    With `ruff_of`, also check that our ruff rules are that release's (see `ruffrules`).
    """
    rows = runner.rows(versions)
    labels = [str(v) for v in versions]
    print(f"nina_session Home Assistant API usage: {len(runner.usages)} references in our code")
    print(f"our code parses as Python >= {runner.syntax[0]}.{runner.syntax[1]}")
    for line in table(rows, labels, verbose=runner.verbose):
        print(line)
    found = problems(rows, labels)
    if found:
        print("\nProblems:")
        for line in found:
            print(line)
    unresolved = unknowns(rows)
    if unresolved:
        print(f"\n{len(unresolved)} references could not be resolved statically (not counted):")
        for line in unresolved if runner.verbose else unresolved[:10]:
            print(line)
        if not runner.verbose and len(unresolved) > 10:
            print("  ... (--verbose lists all)")
    summary = summarize(rows, labels)
    if summary.incompatible:
        print(
            f"(missing includes {summary.incompatible} incompatible signature(s) or Python floor)"
        )
    ruff_failed = False
    if ruff_of is not None:
        lines, ruff_failed = ruffrules.check(ruff_of, runner.cache, REPO)
        print()
        for line in lines:
            print(line)
    for error in runner.errors:
        print(f"ERROR {error}")
    print(summary_line(summary, labels[0], labels[-1]))
    return 1 if summary.failed or runner.errors or ruff_failed else 0


def run_monthly(runner: Runner, available: list[Version]) -> tuple[int, Version | None]:
    """Every month's first release from the baseline on; then search the real minimum."""
    newest = available[-1]
    firsts = first_of_each_month([v for v in available if v >= OLDEST_SEARCHED])
    recent = sorted({BASELINE, newest, *(v for v in firsts if v > BASELINE)})
    print(f"checking {len(recent)} releases: {', '.join(map(str, recent))}")
    failing = 0
    for version in recent:
        rows = runner.rows([version])
        summary = summarize(rows, [str(version)])
        line = (
            f"  {version}: {summary.missing + summary.incompatible} missing, "
            f"{summary.deprecated} deprecated"
        )
        print(line)
        for problem in problems(rows, [str(version)]):
            print("    " + problem.strip())
        failing += summary.missing + summary.incompatible
    older = [v for v in firsts if v < BASELINE]
    minimum = search_minimum(runner, [*older, BASELINE])
    if minimum is None:
        print(f"compat: minimum not found (something is missing even in {BASELINE})")
        return 1, None
    index = [*older, BASELINE].index(minimum)
    if index > 0:
        before = [*older, BASELINE][index - 1]
        reasons = runner.fails(before)
        print(f"  {before} lacks: " + "; ".join(reasons[:8]) + (" ..." if len(reasons) > 8 else ""))
    else:
        print(f"  everything exists already in {minimum} (oldest release searched)")
    for error in runner.errors:
        print(f"ERROR {error}")
    print(f"compat: minimum Home Assistant version {minimum} (searched from {OLDEST_SEARCHED})")
    return (1 if failing or runner.errors else 0), minimum


def search_minimum(runner: Runner, candidates: list[Version]) -> Version | None:
    """Binary search: the oldest candidate where nothing is missing (assumes monotony)."""
    lo, hi = 0, len(candidates) - 1
    if runner.fails(candidates[hi]):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        ok = not runner.fails(candidates[mid])
        print(f"  search {candidates[mid]}: {'all symbols present' if ok else 'missing symbols'}")
        if ok:
            hi = mid
        else:
            lo = mid + 1
    return candidates[lo]


def _listed_versions() -> list[Version]:
    """Return the releases on the index; raise IndexUnreachableError if it lists none."""
    available = all_versions()
    if not available:
        raise IndexUnreachableError("no homeassistant release listed")
    return available


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.compat", description=__doc__.split("\n\n")[0]
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--newest", action="store_true", help="2025.4.4 and the newest release (default)"
    )
    group.add_argument("--versions", help="comma-separated releases; X.Y.x = newest patch of X.Y")
    group.add_argument(
        "--monthly", action="store_true", help="each month's first release + minimum"
    )
    parser.add_argument("--cache", type=Path, default=REPO / "build" / "compat")
    parser.add_argument("--package", type=Path, default=PACKAGE_DIR)
    parser.add_argument("--verbose", action="store_true", help="list unresolved references too")
    args = parser.parse_args(argv)

    runner = Runner(args.package, args.cache, verbose=args.verbose)
    try:
        available = _listed_versions()
        if args.monthly:
            return run_monthly(runner, available)[0]
        if args.versions:
            versions = [resolve_requested(v, available) for v in args.versions.split(",")]
        else:
            versions = sorted({BASELINE, available[-1]})
        return run_default(runner, versions, ruff_of=available[-1])
    except IndexUnreachableError as err:
        for error in runner.errors:
            print(f"ERROR {error}")
        print(f"compat: skipped (package index unreachable: {err})")
        return 1 if runner.errors else 0
    except RuntimeError as err:
        print(f"compat: error: {err}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
