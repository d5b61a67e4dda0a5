"""Coverage-guided fuzzing of the wire and pipeline with atheris (optional dependency).

    .venv/bin/python tests/reliability/fuzz_atheris.py -atheris_runs=200000 -max_len=8192

Any exception other than FrameError from parsing, or any exception at all from the pipeline
(which must count a bad frame, never raise), is a finding: atheris stops and writes the input.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
import sys
import tempfile
from zoneinfo import ZoneInfo

import atheris

sys.path.insert(0, str(Path(__file__).parents[2]))

with atheris.instrument_imports():
    from custom_components.nina_session.engine.errors import FrameError
    from custom_components.nina_session.engine.pipeline import Pipeline, PipelineOptions
    from custom_components.nina_session.engine.store import Store
    from custom_components.nina_session.engine.wire import parse_socket_frame

T0 = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)
_FOLDER = tempfile.mkdtemp(prefix="nina-atheris-")
_PIPELINE = Pipeline(Store(Path(_FOLDER) / "fuzz.db"), PipelineOptions("fuzz", ZoneInfo("UTC")))


def one_input(data: bytes) -> None:
    """Feed one input to the parser and the pipeline; raise if a frame is unaccounted for."""
    text = data.decode("utf-8", errors="replace")
    with contextlib.suppress(FrameError):
        parse_socket_frame(text, T0)
    before = _PIPELINE.counters.rejected
    result = _PIPELINE.ingest_frames([(text, T0), (data, T0)])
    accounted = len(result.applied) + result.duplicates + result.rejected
    if accounted != 2 or _PIPELINE.counters.rejected - before != result.rejected:
        raise AssertionError(f"frames not accounted for: {result}")


def main() -> None:
    """Run atheris on `one_input` with the command-line arguments."""
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
