"""Reliability runs of the engine against the simulator: the soak with ground truth, and load.

`python -m soak [--quick] [--nights N] [--seed S]` plays generated nights under a seeded fault
schedule and compares the stored sessions with the simulator's truth; `--load` runs the load
scenario instead. See README, "Reliability".
"""

from soak.load import LoadConfig, LoadReport, run_load
from soak.runner import FAULT_KINDS, SoakConfig, SoakReport, run_soak

__all__ = [
    "FAULT_KINDS",
    "LoadConfig",
    "LoadReport",
    "SoakConfig",
    "SoakReport",
    "run_load",
    "run_soak",
]
