"""Runs the card modules' unit tests (`*.test.mjs` here) with `node --test`; skipped without node."""

from __future__ import annotations

from pathlib import Path
import shutil
import subprocess

import pytest

HERE = Path(__file__).resolve().parent


def test_card_modules() -> None:
    """Test the card's equipment row (and any other *.test.mjs beside this file) in node."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    tests = sorted(str(path) for path in HERE.glob("*.test.mjs"))
    result = subprocess.run(
        [node, "--test", *tests], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
