"""Smoke test of `python -m bench.targets`: a tiny year runs and reports every figure.

No timing is asserted: tiny runs on noisy machines mean nothing.
"""

from __future__ import annotations

from bench.targets import run


def test_targets_bench_runs_on_a_tiny_year() -> None:
    """Test that the bench builds its year, finds lights in it and reports each figure."""
    figures = run(year_nights=6, lights=6)
    assert figures["nights"] == 6
    assert figures["light_frames"] > 0
    for key in ("targets_cold_ms", "targets_warm_ms", "targets_last_30_days_ms",
                "night_report_ms", "quality_ms"):  # fmt: skip
        assert isinstance(figures[key], float)
