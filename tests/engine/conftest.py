"""Engine fixtures: a real SQLite file per test, a pipeline on it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from custom_components.nina_session.engine.pipeline import Pipeline, PipelineOptions
from custom_components.nina_session.engine.store import Store

BERLIN = ZoneInfo("Europe/Berlin")
OPTIONS = PipelineOptions(instance="rig1", tz=BERLIN, idle_gap=timedelta(hours=2))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Return the path of a not yet created SQLite file in the test's temp dir."""
    return tmp_path / "nina.db"


@pytest.fixture
def pipeline(db_path: Path) -> Iterator[Pipeline]:
    """Yield a pipeline on a fresh store at `db_path`; close the store afterwards."""
    store = Store(db_path)
    yield Pipeline(store, OPTIONS)
    store.close()
