"""The engine must work without Home Assistant installed or imported."""

from __future__ import annotations

import ast
from pathlib import Path
import sys

import custom_components.nina_session.engine.cli
import custom_components.nina_session.engine.engine  # noqa: F401

ENGINE = Path(__file__).parents[2] / "custom_components" / "nina_session" / "engine"


def test_importing_the_engine_does_not_import_homeassistant() -> None:
    """Test that importing the engine and its CLI keeps homeassistant out of sys.modules."""
    assert "homeassistant" not in sys.modules


def test_no_engine_module_imports_homeassistant() -> None:
    """Test that no module of the engine package has an import of homeassistant."""
    offenders = []
    for path in ENGINE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("homeassistant")]
    assert offenders == []
