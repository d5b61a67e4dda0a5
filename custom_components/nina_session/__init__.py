"""NINA Session: N.I.N.A. imaging sessions in Home Assistant."""
