"""Calibration of the verdict engine: false alarms and power, synthetic and on this machine.

`python -m pytest_vidbench.calibrate synthetic` (or `nox -s calibrate`) prints the tables that
docs/calibration.md carries.
"""
