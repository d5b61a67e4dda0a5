"""Our ruff rules against Home Assistant core's (tools/compat/ruffrules.py)."""

from __future__ import annotations

from pathlib import Path

from tools.compat.hafetch import Version
from tools.compat.ruffrules import compare, pinned_ruff, report, ruff_table

REPO = Path(__file__).resolve().parents[2]
HA = {
    "required-version": ">=0.14.13",
    "lint": {
        "select": ["A001", "D", "PL", "PLC0415", "RUF100", "S608", "TC"],
        "ignore": ["D202", "PLR0913", "TC001"],
    },
}


def test_a_config_that_covers_ha_passes() -> None:
    """Test that broader prefixes cover HA's codes and HA's own ignores are allowed."""
    ours = {
        "lint": {
            "select": ["A001", "D", "PL", "RUF", "S", "TC"],
            "ignore": ["D202", "TC001", "S101"],
        }
    }
    result = compare(ours, HA, "0.14.14")
    assert not result.failed
    assert result.ha_selected == 7
    assert "ours covers 7" in report(result, Version(2026, 2, 3))[0]


def test_a_missing_rule_and_an_extra_ignore_fail() -> None:
    """Test that an unselected HA rule and an ignore that switches one off both fail."""
    ours = {"lint": {"select": ["A001", "D", "PL", "S608", "TC"], "ignore": ["PLC0415", "D1"]}}
    result = compare(ours, HA, "0.14.14")
    assert result.missing == ["RUF100"]
    assert result.extra_ignores == ["PLC0415", "D1"]
    assert result.failed
    lines = report(result, Version(2026, 2, 3))
    assert any("PLC0415, D1" in line for line in lines)
    assert any("RUF100" in line for line in lines)


def test_an_old_ruff_fails_and_relaxations_are_listed() -> None:
    """Test that a ruff older than HA requires fails and integration relaxations are listed."""
    ours = {
        "lint": {
            "select": ["A001", "D", "PL", "RUF100", "S608", "TC"],
            "per-file-ignores": {"custom_components/x/__init__.py": ["PLC0415"], "tests/**": ["D"]},
        }
    }
    result = compare(ours, HA, "0.11.6")
    assert result.version_problem == "ruff 0.11.6 is older than HA's >=0.14.13"
    assert result.relaxed == ["custom_components/x/__init__.py: PLC0415"]


def test_our_pyproject_and_pin_are_read() -> None:
    """Test that the real pyproject's rules and the pinned ruff are what the check compares."""
    ours = ruff_table(REPO / "pyproject.toml")
    assert "D" in ours["lint"]["select"]
    assert tuple(
        int(p) for p in pinned_ruff(REPO / "requirements" / "test.txt").split(".")[:2]
    ) >= (0, 14)
