"""Print the compatibility table and summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .model import Finding, Row, Status

_CELL = {
    Status.OK: "yes",
    Status.DEPRECATED: "yes",
    Status.MISSING: "MISSING",
    Status.INCOMPATIBLE: "SIGNATURE",
    Status.UNKNOWN: "?",
}


@dataclass
class Summary:
    """Counts over the versions checked."""

    symbols: int
    missing: int
    incompatible: int
    deprecated: int
    unknown: int

    @property
    def failed(self) -> bool:
        """True when something is missing, incompatible or deprecated."""
        return bool(self.missing or self.incompatible or self.deprecated)


def _resolved(row: Row) -> bool:
    return any(f.status is not Status.UNKNOWN for f in row.findings.values())


def _worst(row: Row, versions: Sequence[str]) -> set[Status]:
    return {row.findings[v].status for v in versions if v in row.findings}


def summarize(rows: dict[str, Row], versions: Sequence[str]) -> Summary:
    """Count rows by their worst status over `versions`."""
    symbols = missing = incompatible = deprecated = unknown = 0
    for row in rows.values():
        if not _resolved(row):
            unknown += 1
            continue
        symbols += 1
        statuses = _worst(row, versions)
        if Status.MISSING in statuses:
            missing += 1
        elif Status.INCOMPATIBLE in statuses:
            incompatible += 1
        elif Status.DEPRECATED in statuses:
            deprecated += 1
    return Summary(symbols, missing, incompatible, deprecated, unknown)


def _usage_text(row: Row) -> str:
    if not row.usages:
        return ""
    first = row.usages[0]
    more = len({(u.file, u.line) for u in row.usages}) - 1
    return f"{first.file}:{first.line}" + (f" (+{more})" if more else "")


def table(rows: dict[str, Row], versions: Sequence[str], *, verbose: bool = False) -> list[str]:
    """Return the table lines: symbol, our usage, presence per version, deprecation."""
    header = ["symbol", "our usage", *versions, "deprecated"]
    body: list[list[str]] = []
    for label in sorted(rows):
        row = rows[label]
        if not _resolved(row) and not verbose:
            continue
        cells = [label, _usage_text(row)]
        for version in versions:
            finding = row.findings.get(version)
            cells.append(_CELL[finding.status] if finding else "-")
        deprecated_in = [v for v in versions if _is(row.findings.get(v), Status.DEPRECATED)]
        cells.append("in " + ", ".join(deprecated_in) if deprecated_in else "no")
        body.append(cells)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    widths[0] = min(widths[0], 90)

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    lines = [fmt(header), fmt(["-" * w for w in widths])]
    lines += [fmt(cells) for cells in body]
    return lines


def _is(finding: Finding | None, status: Status) -> bool:
    return finding is not None and finding.status is status


def problems(rows: dict[str, Row], versions: Sequence[str]) -> list[str]:
    """One line per problem: missing, incompatible call or deprecation, with the reason."""
    lines: list[str] = []
    for label in sorted(rows):
        row = rows[label]
        for version in versions:
            finding = row.findings.get(version)
            if finding is None or finding.status in {Status.OK, Status.UNKNOWN}:
                continue
            where = _usage_text(row)
            status = finding.status.value.upper()
            lines.append(f"  {status} in {version}: {label} [{where}]: {finding.detail}")
    return lines


def unknowns(rows: dict[str, Row]) -> list[str]:
    """Symbols that could not be resolved statically in any version."""
    lines = []
    for label in sorted(rows):
        row = rows[label]
        if not _resolved(row):
            detail = next(iter(row.findings.values())).detail if row.findings else ""
            lines.append(f"  {label} [{_usage_text(row)}]: {detail}")
    return lines


def summary_line(summary: Summary, first: str, last: str) -> str:
    """Return the closing line; incompatible signatures count as missing (the name is gone)."""
    return (
        f"compat: {summary.symbols} symbols, {summary.missing + summary.incompatible} missing, "
        f"{summary.deprecated} deprecated ({first} -> {last})"
    )
