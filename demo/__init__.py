"""The `make demo` scripts: run.py (Home Assistant fed by the simulator) and brand.py."""
